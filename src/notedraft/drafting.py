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
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, Field

from . import icd10
from . import lexicon as lx
from .codes import parse_code_lines
from .context import TextContext
from .extract import extract_facts
from .grounding import RULE as GROUNDING_RULE
from .grounding import ground
from .models import Attempt, Diagnosis, Draft, Facts, Finding, Medication, Span, ValidationReport
from .queries import queries_for
from .rulepack import load_packs
from .validate import suggest, validate

if TYPE_CHECKING:
    from .llm import LLMClient

ROOT = Path(os.environ.get("NOTEDRAFT_HOME", Path(__file__).resolve().parents[2]))
TEMPLATES = ROOT / "templates"
PROMPTS = ROOT / "prompts"
MAX_REPAIRS = 2
# The procedures the note template drafts ("unstated": the SI template with the procedure as a placeholder).
COVERED_PROCEDURES = ("si_joint_injection", "unstated")

Strategy = Literal["template", "llm-extract", "llm-compose"]


# --- public entry ----------------------------------------------------------------------------------------------


def draft(
    dictation: str,
    codes: list[str] | None = None,
    strategy: Strategy = "template",
    llm: "LLMClient | None" = None,
    payer: str | None = None,
) -> Draft:
    if not dictation or not dictation.strip():
        raise ValueError("the dictation is empty")
    lines = parse_code_lines(codes or [])  # raises CodeError (a ValueError) on a bad code line
    if strategy != "template" and llm is None:
        raise ValueError(f"strategy {strategy!r} needs an LLM client")
    dictated = extract_facts(dictation)  # what the dictation itself states: every draft is grounded against this
    facts = dictated
    conflict = _guidance_conflict(dictation, facts)
    if conflict:  # "US guided ... no imaging": neither statement is written; the physician is asked
        facts = facts.model_copy(update={"guidance": "unstated", "guidance_spans": []})
    targets = [str(line) for line in lines] or [str(line) for line in suggest(facts, payer)]
    attempts: list[Attempt] = []
    notes: list[str] = []
    raw_findings: list[Finding] = []

    if strategy == "llm-extract":
        facts, raw_findings, why_not = _llm_extract(dictation, facts, llm, attempts)  # type: ignore[arg-type]
        if why_not:
            notes.append(f"{why_not}; the deterministic reading of the dictation was used")
        if raw_findings:
            notes.append(f"dropped {len(raw_findings)} fact(s) the LLM stated but the dictation does not")
        if not codes:
            targets = [str(line) for line in suggest(facts, payer)]
    note = render_note(facts)
    result = _check(dictation, note, dictated, facts, targets, payer)

    if strategy == "llm-compose":
        if result.report.supported:
            composed = _llm_compose(dictation, dictated, targets, payer, llm, attempts, raw_findings)  # type: ignore[arg-type]
            if isinstance(composed, _Checked):
                result = composed
            else:
                notes.append(f"{composed}; fell back to the template draft")
        else:
            notes.append("the dictation lacks facts the code lines need, so no LLM note was requested; "
                         "the template draft shows what is missing")

    instructions = _instruction_findings(dictation)
    unread = _unread_findings(dictated)
    report = result.report
    if instructions or conflict or unread:
        report = report.model_copy(
            update={"findings": instructions + conflict + unread + report.findings, "supported": False})
    if instructions:
        notes.append("the dictation contains instructions addressed to the tool; they were treated as data and not followed")
    covered = facts.procedure in COVERED_PROCEDURES
    if not covered:
        report = report.model_copy(update={"supported": False, "findings": [Finding(
            rule="draft.procedure_not_covered", severity="error",
            message=f"The dictation reads as {facts.procedure.replace('_', ' ')}; notedraft drafts SI joint injection notes only.",
            fix="Write this note by hand, or dictate the SI joint injection that was performed.",
            evidence=[facts.procedure_span] if facts.procedure_span else [])] + report.findings})
    # Questions only help when answering them can make the note billable: not for a procedure notedraft does not draft.
    queries = queries_for(facts, report) if covered else []
    if covered and not report.supported and set(targets) != set(_intended(facts)):
        # The asked-for code cannot be supported; also ask what the code the facts point to still needs.
        queries += [q for q in queries_for(facts, validate(result.note, _intended(facts), payer)) if q not in queries]
    return Draft(
        dictation=dictation,
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


class _Checked(BaseModel):
    note: str
    report: ValidationReport


def _check(dictation: str, note: str, dictated: Facts, facts: Facts, targets: list[str], payer: str | None) -> _Checked:
    """Validate the note against its code lines and ground it against the dictation's own reading (`dictated`),
    never against facts an LLM proposed (`facts`, which only picks the code to check against when none is given)."""
    report = validate(note, targets or _intended(facts), payer)
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
    return _Checked(note=note, report=report)


def _intended(facts: Facts) -> list[str]:
    # With no code given and none supported, check against the code the guidance points to, so the queries
    # name exactly what is missing.
    from .validate import lines_for

    pack = load_packs()["20552" if facts.guidance in ("ultrasound", "none") else "27096"]
    return [str(line) for line in lines_for(pack, facts)]


# Saying outright that no imaging was used ("no imaging", "without image guidance"); landmarks and palpation are
# left out because they are also named while scanning ("sonographic landmarks").
_NO_IMAGING_SAID = re.compile(r"\b(?:no|without|w/o)\s+(?:image|imaging)\b(?:\s+guidance\b)?", re.IGNORECASE)


def _guidance_conflict(dictation: str, facts: Facts) -> list[Finding]:
    """A dictation that names an imaging modality and also says no imaging was used states no guidance at all."""
    if facts.guidance not in ("fluoroscopy", "ct", "ultrasound"):
        return []
    ctx = TextContext(dictation)
    said_none = [m for m in _NO_IMAGING_SAID.finditer(dictation) if ctx.status(m.start(), m.end()) == "affirmed"]
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
    for m in lx.INSTRUCTION.finditer(dictation):
        out.append(Finding(
            rule="dictation.instructions_ignored", severity="error",
            message="The dictation contains an instruction to the tool; it was treated as data, not followed.",
            fix="Remove the instruction and dictate only what was done.",
            evidence=[Span(start=m.start(), end=m.end(), text=m.group())]))
    return out


# --- template ----------------------------------------------------------------------------------------------------

_env: Environment | None = None


def _templates() -> Environment:
    global _env
    if _env is None:
        _env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                           autoescape=False)
    return _env


def render_note(facts: Facts) -> str:
    if facts.procedure not in COVERED_PROCEDURES:
        return _templates().get_template("unsupported_procedure.txt.j2").render(procedure=facts.procedure.replace("_", " "))
    return _templates().get_template("si_joint_injection.txt.j2").render(**note_view(facts))


def note_view(facts: Facts) -> dict:
    """Every sentence of the note from the facts; a missing fact becomes a visible placeholder."""
    side = {"left": "Left", "right": "Right", "bilateral": "Bilateral"}.get(facts.side, "[SIDE NEEDED]")
    if facts.procedure == "si_joint_injection":
        procedure = f"{side} sacroiliac joint injection" + (" (left and right joints)" if facts.side == "bilateral" else "")
    else:  # the dictation does not say what was injected: never assume the joint
        procedure = f"[PROCEDURE NEEDED], side: {side}"
    technique = [_guidance_sentence(facts)]
    if facts.guidance in ("fluoroscopy", "ct", "ultrasound"):
        technique.append(_confirmation_sentence(facts))
    if facts.guidance_description and facts.guidance == "ultrasound":
        technique.append(f"Ultrasound technique as dictated: {facts.guidance_description.text}.")
    if facts.images_recorded:
        technique.append(f"Image documentation as dictated: {facts.images_recorded.text}.")
    purpose = {
        "diagnostic": "Diagnostic injection.",
        "therapeutic": "Therapeutic injection.",
        "diagnostic_and_therapeutic": "Diagnostic and therapeutic injection.",
    }.get(facts.purpose, "[PURPOSE NEEDED]")
    return {
        "procedure_line": procedure,
        "diagnosis_line": "; ".join(_diagnosis(d) for d in facts.diagnoses) or "[DIAGNOSIS NEEDED]",
        "purpose_line": purpose,
        "technique": technique,
        "medications": [_medication(m) for m in facts.medications] or ["[MEDICATIONS NEEDED]"],
        "pain_line": _pain(facts),
        "complications_line": "None." if facts.complications and facts.complications.value == "none" else (
            facts.complications.value if facts.complications else None),
    }


def _guidance_sentence(facts: Facts) -> str:
    if facts.guidance == "fluoroscopy":
        return "The needle was placed under fluoroscopic guidance."
    if facts.guidance == "ct":
        return "The needle was placed under CT guidance."
    if facts.guidance == "ultrasound":
        return "The needle was placed under ultrasound guidance."
    if facts.guidance == "none":
        said = " ".join(s.text.lower() for s in facts.guidance_spans)
        how = " using anatomic landmarks" if "landmark" in said else (" by palpation" if "palpation" in said else "")
        return f"No imaging guidance was used; the needle was placed{how}." if how else "No imaging guidance was used."
    return "[GUIDANCE NEEDED] for needle placement."


def _confirmation_sentence(facts: Facts) -> str:
    if not facts.needle_confirmation:
        return "[INTRA-ARTICULAR CHECK NEEDED]"
    modality = {"fluoroscopy": "fluoroscopic", "ct": "CT", "ultrasound": "ultrasound"}[facts.guidance]
    with_contrast = " with contrast" if facts.contrast else ""
    return f"Intra-articular needle placement was confirmed under {modality} guidance{with_contrast}."


def _diagnosis(d: Diagnosis) -> str:
    if d.code:
        title = icd10.title(d.code)
        return f"{title} ({d.code})" if title else d.code
    return d.text or ""


def _medication(m: Medication) -> str:
    # "triamcinolone 40 mg (Kenalog)": the dose sits right after the generic name so the note reads back the same.
    brand = f" ({m.as_written.title() if m.as_written.islower() else m.as_written})" if m.as_written.lower() in lx.BRANDS else ""
    kind = " (contrast)" if m.role == "contrast" else ""
    dose = m.dose_text()
    if dose:
        return f"{m.name} {dose}{brand}{kind}"
    if m.concentration:
        return f"{m.name} {m.concentration} [VOLUME NEEDED]{brand}{kind}"
    return f"{m.name} [DOSE NEEDED]{brand}{kind}"


def _pain(facts: Facts) -> str | None:
    parts = []
    if facts.pain_pre:
        parts.append(f"{facts.pain_pre.value} before")
    if facts.pain_post:
        parts.append(f"{facts.pain_post.value} after")
    return ", ".join(parts) or None


# --- prompts -----------------------------------------------------------------------------------------------------

_prompt_env = SandboxedEnvironment(loader=FileSystemLoader(PROMPTS), undefined=StrictUndefined, autoescape=False)


def prompt(name: str, **values) -> tuple[str, str]:
    """Render prompts/NAME.j2 in a sandbox; returns (text, version) — the version is recorded with every call."""
    source = (PROMPTS / f"{name}.j2").read_text(encoding="utf-8")
    version = source.split("version:", 1)[1].split()[0] if "version:" in source else f"{name}-unversioned"
    return _prompt_env.get_template(f"{name}.j2").render(**values).strip(), version


def _delimit(dictation: str) -> str:
    # The dictation is data: it must not be able to close its own delimiter.
    return dictation.replace("<", "‹").replace(">", "›")


# --- llm-extract -------------------------------------------------------------------------------------------------


class _AskForEveryField(BaseModel):
    """The schema sent to the model lists every field as required (so a grammar-constrained server writes each one,
    in order, instead of wandering); parsing still accepts a reply that leaves a defaulted field out."""

    @classmethod
    def model_json_schema(cls, *args, **kwargs) -> dict:
        schema = super().model_json_schema(*args, **kwargs)
        for part in [schema, *schema.get("$defs", {}).values()]:
            if "properties" in part:
                part["required"] = list(part["properties"])
        return schema


# Bounded strings and arrays: a small model cannot run a field on until max_tokens cuts the JSON off.
class LLMMedication(_AskForEveryField):
    name: str = Field(max_length=40)
    dose: str | None = Field(default=None, max_length=30)


class LLMDiagnosis(_AskForEveryField):
    code: str | None = Field(default=None, max_length=8)
    text: str | None = Field(default=None, max_length=80)


class ExtractedFacts(_AskForEveryField):
    """What the LLM returns in llm-extract: the JSON schema sent as structured output."""

    procedure: Literal["si_joint_injection", "other", "unstated"] = "unstated"
    side: Literal["left", "right", "bilateral", "unstated"] = "unstated"
    guidance: Literal["fluoroscopy", "ct", "ultrasound", "none", "unstated"] = "unstated"
    needle_placement_confirmed: bool = False
    images_recorded: bool = False
    purpose: Literal["diagnostic", "therapeutic", "diagnostic_and_therapeutic", "unstated"] = "unstated"
    medications: list[LLMMedication] = Field(default_factory=list, max_length=6)
    diagnoses: list[LLMDiagnosis] = Field(default_factory=list, max_length=4)


def _llm_extract(
    dictation: str, facts: Facts, llm: "LLMClient", attempts: list[Attempt]
) -> tuple[Facts, list[Finding], str | None]:
    """The LLM's facts are kept only where the dictation grounds them; the deterministic reading wins conflicts.

    Returns (facts, findings on what the LLM stated but the dictation does not, why the LLM's facts were not used).
    """
    from .llm import LLMError

    system, _ = prompt("system")
    user, version = prompt("extract", dictation=_delimit(dictation))
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    try:
        result = llm.complete(messages, purpose="extract", prompt_version=version, response_model=ExtractedFacts)
    except LLMError as exc:
        attempts.append(exc.attempt)
        return facts, [], f"the LLM call failed ({exc.attempt.error})"
    attempts.append(result.attempt)
    if not isinstance(result.parsed, ExtractedFacts):
        return facts, [], f"the LLM's facts were unusable (outcome {result.attempt.outcome}: {result.attempt.error})"
    merged, raw = merge_grounded(dictation, facts, result.parsed)
    return merged, raw, None


# A phrase the LLM calls a diagnosis is kept only if it reads as one: a clinical finding, not any words of the dictation.
_DIAGNOSIS_WORD = re.compile(
    r"itis\b|pathy\b|algia\b|osis\b|\bpain\b|dysfunction|syndrome|disorder|arthr|spondyl|sprain|strain|instabilit"
    r"|degenerat|injur|lesion|fusion|stenosis|disease",
    re.IGNORECASE,
)


def merge_grounded(dictation: str, facts: Facts, llm_facts: ExtractedFacts) -> tuple[Facts, list[Finding]]:
    raw: list[Finding] = []

    def unsupported(what: str) -> None:
        raw.append(Finding(rule=GROUNDING_RULE, severity="error", message=f"unsupported: {what}",
                           fix="Dropped: the dictation does not state it."))

    for name in ("side", "guidance", "purpose"):
        said = getattr(llm_facts, name)
        if said != "unstated" and said != getattr(facts, name):
            unsupported(f"{name} {said}")
    if llm_facts.procedure == "si_joint_injection" and facts.procedure != "si_joint_injection":
        unsupported("procedure si joint injection")
    if llm_facts.needle_placement_confirmed and not facts.needle_confirmation:
        unsupported("needle placement confirmation")
    if llm_facts.images_recorded and not facts.images_recorded:
        unsupported("recorded images")
    known = {m.name for m in facts.medications}
    doses = {(m.name, n) for m in facts.medications for n in _numbers(m.dose_text() or "")}
    for med in llm_facts.medications:
        named = lx.DRUG_PATTERN.search(med.name)
        generic = lx.DRUGS[named.group("drug").lower()][0] if named else med.name.strip().lower()
        if generic not in known:
            unsupported(f"{med.dose or ''} {med.name}".strip())
        elif any((generic, n) not in doses for n in _numbers(f"{med.dose or ''} {med.name}")):
            unsupported(f"{med.dose} {med.name}")
    merged = facts.model_copy(deep=True)
    ctx = TextContext(dictation)
    taken = _fact_spans(facts)
    have = {(d.code or "").upper() for d in facts.diagnoses} | {(d.text or "").lower() for d in facts.diagnoses}
    for dx in llm_facts.diagnoses:
        for value, is_code in ((dx.code, True), (dx.text, False)):
            key = (value or "").strip()
            if not key or (key.upper() if is_code else key.lower()) in have:
                continue
            at = dictation.lower().find(key.lower())
            if at < 0:
                unsupported(f"diagnosis {key}")
                continue
            end = at + len(key)
            if is_code or not _DIAGNOSIS_WORD.search(key) or ctx.status(at, end) != "affirmed" \
                    or any(a < end and at < b for a, b in taken):
                # A code the reader did not take is negated or historical; a phrase must read as a diagnosis and
                # be free words of the dictation, not its side, drug, guidance or procedure renamed a diagnosis.
                unsupported(f"diagnosis {key}")
                continue
            # a diagnosis the rules missed but the dictation states verbatim: keep it, with its span
            have.add(key.lower())
            span = Span(start=at, end=end, text=dictation[at:end])
            merged.diagnoses.append(Diagnosis(text=span.text, span=span))
    return merged, raw


def _fact_spans(facts: Facts) -> list[tuple[int, int]]:
    spans = [*facts.side_spans, *facts.guidance_spans, *(m.span for m in facts.medications)]
    spans += [facts.procedure_span, facts.purpose_span, facts.needle_confirmation, facts.contrast,
              facts.images_recorded, facts.guidance_description]
    return [(s.start, s.end) for s in spans if s is not None]


def _numbers(text: str) -> set[float]:
    from .grounding import numbers

    return numbers(text)


# --- llm-compose -------------------------------------------------------------------------------------------------


def _requirements(targets: list[str], facts: Facts, payer: str | None) -> list[str]:
    """What the note must state for these code lines: the error rules that apply to these facts and this payer
    (a Medicare-only or a bilateral-only requirement is not sent for a commercial left-sided injection)."""
    from .checks import Claim
    from .validate import _holds

    packs = load_packs()
    lines = parse_code_lines(targets)
    seen: list[str] = []
    for line in lines:
        claim = Claim(facts=facts, line=line, lines=lines, payer=payer)
        for rule in packs[line.code].rules:
            if rule.severity != "error" or not rule.require or rule.requirement in seen:
                continue
            if all(_holds(c, claim).ok for c in rule.when):
                seen.append(rule.requirement)
    return seen


# The compose prompt asks for a plain-text note under these headings; a reply that is markup, or chat about a note
# ("The procedure note for this dictation is: <pre>...</pre>"), is not a note even when its facts check out.
COMPOSE_HEADINGS = ("Procedure", "Diagnosis", "Purpose", "Technique", "Medications injected")
_MARKUP = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>|^\s*```|^\s*#{1,6}\s|\*\*", re.MULTILINE)


def _format_findings(text: str) -> list[Finding]:
    out = []
    markup = _MARKUP.search(text)
    if markup:
        out.append(Finding(rule="compose.format", severity="error",
                           message=f"The note contains markup ({markup.group().strip()!r}); it must be plain text.",
                           fix="Write plain text only: no HTML, no Markdown.",
                           evidence=[Span(start=markup.start(), end=markup.end(), text=markup.group())]))
    missing = [h for h in COMPOSE_HEADINGS
               if not re.search(rf"^\s*{re.escape(h)}\s*:", text, re.IGNORECASE | re.MULTILINE)]
    if missing:
        out.append(Finding(rule="compose.format", severity="error",
                           message=f"The note lacks the heading(s): {', '.join(missing)}.",
                           fix="Start each section on its own line with its heading and a colon, e.g. 'Technique:'."))
    return out


def _llm_compose(dictation: str, facts: Facts, targets: list[str], payer: str | None, llm: "LLMClient",
                 attempts: list[Attempt], raw_findings: list[Finding]) -> _Checked | str:
    """The LLM's note once it passes validation and grounding; otherwise why not (the caller falls back)."""
    from .llm import LLMError

    system, _ = prompt("system")
    user, version = prompt("compose", dictation=_delimit(dictation), codes=targets,
                           requirements=_requirements(targets, facts, payer),
                           facts_json=_delimit(json.dumps(facts.summary(), separators=(",", ":"))))
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    purpose = "compose"
    for round_ in range(MAX_REPAIRS + 1):
        try:
            result = llm.complete(messages, purpose=purpose, prompt_version=version)  # type: ignore[arg-type]
        except LLMError as exc:
            attempts.append(exc.attempt)
            return f"the LLM {purpose} call failed ({exc.attempt.error})"
        attempts.append(result.attempt)
        if result.attempt.outcome != "ok" or not result.text.strip():
            return f"the LLM's {purpose} reply was not a usable note (outcome {result.attempt.outcome})"
        checked = _check(dictation, result.text, facts, facts, targets, payer)
        errors = _format_findings(result.text) + [f for f in checked.report.findings if f.severity == "error"]
        raw_findings += [f for f in errors if f.rule == GROUNDING_RULE and f.message not in
                         {r.message for r in raw_findings}]
        if not errors:
            return checked
        if round_ == MAX_REPAIRS:
            break
        repair, version = prompt("repair", note=_delimit(result.text),
                                 findings=[_delimit(f"{f.message} Fix: {f.fix}") for f in errors[:8]])
        # The repair prompt carries the note (delimited), so the reply is not repeated as an assistant turn: one
        # copy of the note per request keeps a re-ask near the happy path's prompt size.
        messages = messages[:2] + [{"role": "user", "content": repair}]
        purpose = "repair"
    return f"the LLM's note still failed validation or grounding after {MAX_REPAIRS} re-ask(s)"
