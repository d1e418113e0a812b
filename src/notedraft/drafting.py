"""Dictation → Draft, by one of three strategies, always ending in the same deterministic checks.

- template (default, offline): extractor → Facts → Jinja template.
- llm-extract: the LLM returns Facts through structured output; only facts grounded in the dictation are kept,
  and the template writes the note.
- llm-compose: the LLM writes the note; validator + grounding findings are sent back for a bounded number of
  re-asks; if the note still fails, the template draft is used and the result says so.

Whatever the strategy, the final note is validated against its code lines and grounded against the dictation:
a note that states an unsupported fact is never returned as the draft.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Literal


from . import boilerplate
from . import family_render
from . import fidelity
from . import lexicon as lx
from . import spoken
from .codes import parse_code_lines
from .context import read
from .reading import matches
from .extract import extract_facts
from .family import procedure_label
from .grounding import ground
from .models import Attempt, Draft, Facts, Finding, Span
from .queries import queries_for
from .render import COVERED_PROCEDURES, render_note
from .rulepack import load_packs
from .strategies import MAX_REPAIRS, Checked, ExtractedFacts, LLMUnusable, llm_compose, llm_extract, prompt  # noqa: F401 (re-exported)
from .validate import suggest, validate

if TYPE_CHECKING:
    from .llm import LLMClient


Strategy = Literal["template", "llm-extract", "llm-compose"]


# --- public entry ----------------------------------------------------------------------------------------------


def draft(
    dictation: str,
    codes: list[str] | None = None,
    strategy: Strategy = "template",
    llm: "LLMClient | None" = None,
    payer: str | None = None,
    fallback: bool = True,
) -> Draft:
    """`fallback=False`: when the LLM step gives nothing usable, raise LLMUnusable instead of using the template."""
    if not dictation or not dictation.strip():
        raise ValueError("the dictation is empty")
    lines = parse_code_lines(codes or [])  # raises CodeError (a ValueError) on a bad code line
    if strategy != "template" and llm is None:
        raise ValueError(f"strategy {strategy!r} needs an LLM client")
    original = dictation
    # "left, no sorry, right": the later value is what was dictated; the withdrawn one is blanked out before anything
    # reads the dictation (same length, so every span still indexes the original), and an unclear correction is asked
    corrected = spoken.resolve(original)
    dictation = corrected.text
    dictated = extract_facts(dictation)  # what the dictation itself states: every draft is grounded against this
    if fidelity.not_a_dictation(dictation, dictated) and not corrected.findings:
        return _not_a_dictation(original, strategy, dictated, llm)
    facts = dictated
    conflict = _guidance_conflict(dictation, facts)
    if conflict:  # "US guided ... no imaging": neither statement is written; the physician is asked
        facts = facts.model_copy(update={"guidance": "unstated", "guidance_spans": []})
    targets = [str(line) for line in lines] or _drafted_lines(facts, payer, dictation)
    attempts: list[Attempt] = []
    notes: list[str] = []
    raw_findings: list[Finding] = []

    if strategy == "llm-extract":
        facts, raw_findings, why_not = llm_extract(dictation, facts, llm, attempts)  # type: ignore[arg-type]
        if why_not and not fallback:
            raise LLMUnusable(why_not, attempts)
        if why_not:
            notes.append(f"{why_not}; the deterministic reading of the dictation was used")
        if raw_findings:
            notes.append(f"dropped {len(raw_findings)} fact(s) the LLM stated but the dictation does not")
        if not codes:
            targets = _drafted_lines(facts, payer, dictation)
    said = boilerplate.read_all(dictation)  # the boilerplate the note may state: only what the dictation affirms
    note = render_note(facts, said, payer=payer, dictation=dictation)
    result = _check(dictation, note, dictated, facts, targets, payer)

    if strategy == "llm-compose":
        if result.report.supported:
            composed = llm_compose(dictation, dictated, targets, payer, llm, attempts, raw_findings,  # type: ignore[arg-type]
                                   check=lambda text: _check(dictation, text, dictated, dictated, targets, payer))
            if isinstance(composed, Checked):
                result = composed
            elif not fallback:
                raise LLMUnusable(composed, attempts)
            else:
                notes.append(f"{composed}; fell back to the template draft")
        else:
            notes.append("the dictation lacks facts the code lines need, so no LLM note was requested; "
                         "the template draft shows what is missing")

    instructions = _instruction_findings(original)
    unread = corrected.findings + _unread_findings(dictated)
    # "no comps ... small vasovagal episode": the note states neither, and the physician is asked which is true
    said_both = boilerplate.conflict_findings(dictation)
    report = result.report
    if instructions or conflict or unread or said_both:
        report = report.model_copy(
            update={"findings": instructions + conflict + said_both + unread + report.findings, "supported": False})
    if instructions:
        notes.append("the dictation contains instructions addressed to the tool; they were treated as data and not followed")
    covered = facts.procedure in COVERED_PROCEDURES or family_render.drafts(facts.procedure)
    faithful = fidelity.review(dictation, dictated, result.note) if covered else fidelity.Review()
    if faithful.errors or faithful.warnings:  # amounts to confirm, placeholders, a second procedure not drafted
        report = report.model_copy(update={"findings": faithful.errors + report.findings + faithful.warnings,
                                           "supported": report.supported and not faithful.errors})
        if faithful.errors:  # like a conflict: no line is suggested until the physician settles the amount
            report = report.model_copy(update={"suggested_codes": []})
    notes += faithful.notes
    if family_render.drafts(facts.procedure):  # a second procedure the family's note does not cover: said, not dropped
        for other in [p for p in dictated.procedures if p != facts.procedure]:
            text = f"also dictated: {procedure_label(other)}, not drafted"
            if any(text.split(",")[0] in n for n in notes):
                continue
            notes.append(text)
            report = report.model_copy(update={"findings": report.findings + [Finding(
                rule="draft.other_procedure_not_drafted", severity="warning", message=text,
                fix="Document this procedure in its own note; its drugs are not listed in this one.")]})
    if not covered:
        # The family's own rule packs still read the dictation: name the code its facts support, if any.
        pointed = [str(line) for line in suggest(dictated, payer, dictation)] if not dictated.conflicts else []
        supports = (f" Its facts support {', '.join(pointed)}; write the note by hand and check it with "
                    f"'notedraft validate'." if pointed else "")
        report = report.model_copy(update={"supported": False, "findings": [Finding(
            rule="draft.procedure_not_covered", severity="error",
            message=f"The dictation reads as {procedure_label(facts.procedure)}; notedraft has no note template for "
                    f"that procedure (it drafts SI joint injections and the validated procedure families).{supports}",
            fix="Write this note by hand, or dictate a procedure notedraft drafts (notedraft codes --family).",
            evidence=[facts.procedure_span] if facts.procedure_span else [])] + report.findings})
    # Questions only help when answering them can make the note billable: not for a procedure notedraft does not draft.
    queries = _queries(facts, report) if covered else []
    queries += [q for q in faithful.queries if q not in queries]
    queries += [q for q in boilerplate.conflict_questions(dictation) if said_both and q not in queries]
    queries += [q for q in corrected.questions if q not in queries]
    if covered and not report.supported and set(targets) != set(_intended(facts, dictation)):
        # The asked-for code cannot be supported; also ask what the code the facts point to still needs.
        intended = validate(result.note, _intended(facts, dictation), payer)
        queries += [q for q in _queries(facts, intended) if q not in queries]
    if corrected.changed:
        notes.append("the dictation corrects itself; the corrected value was drafted and the withdrawn one left out: "
                     + ", ".join(repr(w.text) for w in corrected.withdrawn))
    return Draft(
        dictation=original,
        note=result.note,
        strategy=strategy,
        model=llm.config.model if llm is not None else None,
        facts=facts,
        codes=targets,
        report=report,
        queries=queries,
        attempts=attempts,
        refused=not report.supported,
        notes=notes,
        raw_findings=raw_findings,
    )


def _queries(facts: Facts, report) -> list[str]:
    """A family's own questions first (its data), then the generic ones for the findings it does not ask about."""
    asked, rest = family_render.queries(facts, report)
    return list(dict.fromkeys(asked + queries_for(facts, rest)))


def _not_a_dictation(dictation: str, strategy: str, facts: Facts, llm: "LLMClient | None") -> Draft:
    """One refusal, no note: text that describes no procedure is not drafted into a page of placeholders."""
    from .models import ValidationReport

    finding = Finding(
        rule="draft.not_a_dictation", severity="error",
        message="the text does not read as a procedure dictation (no procedure, side, guidance, drug, diagnosis "
                "or purpose); nothing was drafted.",
        fix="Dictate the procedure: side, joint, guidance, drugs with doses, diagnosis and purpose.")
    report = ValidationReport(supported=False, codes=[], findings=[finding], satisfied=[], suggested_codes=[],
                              facts=facts)
    return Draft(dictation=dictation, note="", strategy=strategy, model=llm.config.model if llm is not None else None,
                 facts=facts, codes=[], report=report, refused=True)


def llm_client_for(model: str | None = None, base_url: str | None = None, timeout: float = 60.0) -> "LLMClient | None":
    """The configured LLM, or None when no endpoint is configured (offline)."""
    from .llm import LLMClient, LLMConfig

    config = LLMConfig.from_env(model=model, base_url=base_url)
    if config is None:
        return None
    extra = os.environ.get("NOTEDRAFT_LLM_EXTRA_BODY")
    update: dict = {"timeout": timeout}
    if extra:
        try:
            update["extra_body"] = json.loads(extra)
        except json.JSONDecodeError as exc:
            raise ValueError(f"NOTEDRAFT_LLM_EXTRA_BODY is not JSON: {exc.msg}") from None
    return LLMClient(config.model_copy(update=update))


# --- the checks every strategy ends with -------------------------------------------------------------------------


def _check(dictation: str, note: str, dictated: Facts, facts: Facts, targets: list[str], payer: str | None) -> Checked:
    """Validate the note against its code lines and ground it against the dictation's own reading (`dictated`),
    never against facts an LLM proposed (`facts`, which only picks the code to check against when none is given)."""
    report = validate(note, targets or _intended(facts, dictation), payer)
    grounding = ground(note, dictation, dictated=dictated, drafted=report.facts)
    if not targets:
        grounding.insert(0, Finding(
            rule="claim.no_supported_code", severity="error",
            message="The dictation does not support any code line notedraft knows.",
            fix="Answer the physician queries; the draft can be billed once its facts support a code."))
    if grounding:
        report = report.model_copy(update={"findings": grounding + report.findings, "supported": False})
    if not targets:
        report = report.model_copy(update={"codes": []})
    return Checked(note=note, report=report)


def _drafted_lines(facts: Facts, payer: str | None, dictation: str) -> list[str]:
    """The suggested lines for the procedure the draft writes: in a dictation of two procedures, a line of the other
    one's family (a knee injection beside the SI joint) is not the drafted note's to support."""
    from .validate import facts_for_line

    packs = load_packs()
    lines = suggest(facts, payer, dictation)
    return [str(x) for x in lines if facts_for_line(facts, packs[x.code], lines).procedure == facts.procedure]


def _intended(facts: Facts, dictation: str | None = None) -> list[str]:
    # With no code given and none supported, check against the code the guidance points to, so the queries
    # name exactly what is missing. A family's dictation: the family's best-matching primary code (its data).
    from .validate import lines_for

    if family_render.drafts(facts.procedure):
        return family_render.intended_lines(facts, dictation)

    pack = load_packs()["20552" if facts.guidance in ("ultrasound", "none") else "27096"]
    return [str(line) for line in lines_for(pack, facts)]


# Saying outright that no imaging was used ("no imaging", "without image guidance"); landmarks and palpation are
# left out because they are also named while scanning ("sonographic landmarks").
_NO_IMAGING_SAID = re.compile(r"\b(?:no|without|w/o)\s+(?:image|imaging)\b(?:\s+guidance\b)?", re.IGNORECASE)


def _guidance_conflict(dictation: str, facts: Facts) -> list[Finding]:
    """A dictation that names an imaging modality and also says no imaging was used states no guidance at all."""
    if facts.guidance not in ("fluoroscopy", "ct", "ultrasound"):
        return []
    ctx = read(dictation)
    said_none = [m for m in matches(_NO_IMAGING_SAID, dictation) if ctx.status(m.start(), m.end()) == "affirmed"]
    if not said_none:
        return []
    named = facts.guidance_spans[0]
    return [Finding(
        rule="dictation.guidance_conflict", severity="error",
        message=f"The dictation names {facts.guidance} ({named.text!r}) and also says {said_none[0].group()!r}; "
                "the draft states neither.",
        fix="Ask the physician which guidance was used, and dictate only that.",
        evidence=[named, Span(start=said_none[0].start(), end=said_none[0].end(), text=said_none[0].group())])]


def _unread_findings(facts: Facts) -> list[Finding]:
    # A dictated amount with no drug we know ("40 mg TA", a misspelled name) must not vanish from the note.
    return [
        Finding(rule="dictation.unrecognized_amount", severity="error",
                message=f"The dictation gives an amount notedraft could not attach to a known drug: {s.text!r}.",
                fix="Name the drug (generic or brand) next to its dose.", evidence=[s])
        for s in facts.unread_amounts
    ]


def _instruction_findings(dictation: str) -> list[Finding]:
    out = []
    for m in matches(lx.INSTRUCTION, dictation):  # the reading scanned for instructions already
        out.append(Finding(
            rule="dictation.instructions_ignored", severity="error",
            message="The dictation contains an instruction to the tool; it was treated as data, not followed.",
            fix="Remove the instruction and dictate only what was done.",
            evidence=[Span(start=m.start(), end=m.end(), text=m.group())]))
    return out
