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
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, Field

from . import icd10
from . import lexicon as lx
from .codes import parse_code_lines
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
ABBREVIATIONS = {"bupi", "bupiv", "lido", "ropi"}

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
    facts = extract_facts(dictation)
    targets = [str(line) for line in lines] or [str(line) for line in suggest(facts, payer)]
    attempts: list[Attempt] = []
    notes: list[str] = []
    raw_findings: list[Finding] = []

    if strategy == "llm-extract":
        facts, raw_findings = _llm_extract(dictation, facts, llm, attempts)  # type: ignore[arg-type]
        if not codes:
            targets = [str(line) for line in suggest(facts, payer)]
    note = render_note(facts)
    result = _check(dictation, note, facts, targets, payer)

    if strategy == "llm-compose":
        if result.report.supported:
            composed = _llm_compose(dictation, facts, targets, payer, llm, attempts, raw_findings)  # type: ignore[arg-type]
            if composed is not None:
                result = composed
            else:
                notes.append(f"the LLM's note still failed validation or grounding after {MAX_REPAIRS} re-ask(s); "
                             "fell back to the template draft")
        else:
            notes.append("the dictation lacks facts the code lines need, so no LLM note was requested; "
                         "the template draft shows what is missing")

    injected = _instruction_findings(dictation)
    report = result.report
    if injected:
        report = report.model_copy(update={"findings": injected + report.findings, "supported": False})
        notes.append("the dictation contains instructions addressed to the tool; they were treated as data and not followed")
    queries = queries_for(facts, report)
    if not report.supported and set(targets) != set(_intended(facts)):
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


def _check(dictation: str, note: str, facts: Facts, targets: list[str], payer: str | None) -> _Checked:
    report = validate(note, targets or _intended(facts), payer)
    grounding = ground(note, dictation, dictated=facts, drafted=report.facts)
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
    if facts.procedure not in ("si_joint_injection", "unstated"):
        return _templates().get_template("unsupported_procedure.txt.j2").render(procedure=facts.procedure.replace("_", " "))
    return _templates().get_template("si_joint_injection.txt.j2").render(**note_view(facts))


def note_view(facts: Facts) -> dict:
    """Every sentence of the note from the facts; a missing fact becomes a visible placeholder."""
    side = {"left": "Left", "right": "Right", "bilateral": "Bilateral"}.get(facts.side, "[SIDE NEEDED]")
    procedure = f"{side} sacroiliac joint injection" + (" (left and right joints)" if facts.side == "bilateral" else "")
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
    written = m.as_written.lower()
    brand = f" ({m.as_written.title() if m.as_written.islower() else m.as_written})" if written != m.name and written not in ABBREVIATIONS else ""
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


class LLMMedication(BaseModel):
    name: str
    dose: str | None = None


class LLMDiagnosis(BaseModel):
    code: str | None = None
    text: str | None = None


class ExtractedFacts(BaseModel):
    """What the LLM returns in llm-extract: the JSON schema sent as structured output."""

    procedure: Literal["si_joint_injection", "other", "unstated"] = "unstated"
    side: Literal["left", "right", "bilateral", "unstated"] = "unstated"
    guidance: Literal["fluoroscopy", "ct", "ultrasound", "none", "unstated"] = "unstated"
    needle_placement_confirmed: bool = False
    images_recorded: bool = False
    purpose: Literal["diagnostic", "therapeutic", "diagnostic_and_therapeutic", "unstated"] = "unstated"
    medications: list[LLMMedication] = Field(default_factory=list, max_length=6)
    diagnoses: list[LLMDiagnosis] = Field(default_factory=list, max_length=4)


def _llm_extract(dictation: str, facts: Facts, llm: "LLMClient", attempts: list[Attempt]) -> tuple[Facts, list[Finding]]:
    """The LLM's facts are kept only where the dictation grounds them; the deterministic reading wins conflicts."""
    from .llm import LLMError

    system, _ = prompt("system")
    user, version = prompt("extract", dictation=_delimit(dictation))
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    try:
        result = llm.complete(messages, purpose="extract", prompt_version=version, response_model=ExtractedFacts)
    except LLMError as exc:
        attempts.append(exc.attempt)
        return facts, []
    attempts.append(result.attempt)
    if not isinstance(result.parsed, ExtractedFacts):
        return facts, []
    return merge_grounded(dictation, facts, result.parsed)


def merge_grounded(dictation: str, facts: Facts, llm_facts: ExtractedFacts) -> tuple[Facts, list[Finding]]:
    raw: list[Finding] = []

    def unsupported(what: str) -> None:
        raw.append(Finding(rule=GROUNDING_RULE, severity="error", message=f"unsupported: {what}",
                           fix="Dropped: the dictation does not state it."))

    for name in ("side", "guidance", "purpose"):
        said = getattr(llm_facts, name)
        if said != "unstated" and said != getattr(facts, name):
            unsupported(f"{name} {said}")
    if llm_facts.needle_placement_confirmed and not facts.needle_confirmation:
        unsupported("needle placement confirmation")
    if llm_facts.images_recorded and not facts.images_recorded:
        unsupported("recorded images")
    known = {m.name for m in facts.medications}
    doses = {(m.name, n) for m in facts.medications for n in _numbers(m.dose_text() or "")}
    for med in llm_facts.medications:
        generic = lx.DRUGS.get(med.name.strip().lower(), (med.name.strip().lower(), ""))[0]
        if generic not in known:
            unsupported(f"{med.dose or ''} {med.name}".strip())
        elif any((generic, n) not in doses for n in _numbers(med.dose or "")):
            unsupported(f"{med.dose} {med.name}")
    merged = facts.model_copy(deep=True)
    lowered = dictation.lower()
    have = {(d.code or "").upper() for d in facts.diagnoses} | {(d.text or "").lower() for d in facts.diagnoses}
    for dx in llm_facts.diagnoses:
        for value, is_code in ((dx.code, True), (dx.text, False)):
            if not value or value.strip() == "":
                continue
            key = value.strip()
            at = lowered.find(key.lower())
            if at < 0:
                unsupported(f"diagnosis {key}")
            elif (key.upper() if is_code else key.lower()) not in have:
                # a diagnosis the rules missed but the dictation states verbatim: keep it, with its span
                have.add(key.upper() if is_code else key.lower())
                span = Span(start=at, end=at + len(key), text=dictation[at : at + len(key)])
                code = key.upper() if is_code else None
                merged.diagnoses.append(Diagnosis(code=code, text=None if is_code else span.text,
                                                  billable=icd10.billable(code) if code else None, span=span))
    return merged, raw


def _numbers(text: str) -> set[float]:
    from .grounding import numbers

    return numbers(text)


# --- llm-compose -------------------------------------------------------------------------------------------------


def _requirements(targets: list[str]) -> list[str]:
    packs = load_packs()
    seen: list[str] = []
    for line in parse_code_lines(targets):
        for rule in packs[line.code].rules:
            if rule.severity == "error" and rule.require and rule.requirement not in seen:
                seen.append(rule.requirement)
    return seen


def _llm_compose(dictation: str, facts: Facts, targets: list[str], payer: str | None, llm: "LLMClient",
                 attempts: list[Attempt], raw_findings: list[Finding]) -> _Checked | None:
    from .llm import LLMError

    system, _ = prompt("system")
    user, version = prompt("compose", dictation=_delimit(dictation), codes=targets,
                           requirements=_requirements(targets),
                           facts_json=json.dumps(facts.summary(), separators=(",", ":")))
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    purpose = "compose"
    for round_ in range(MAX_REPAIRS + 1):
        try:
            result = llm.complete(messages, purpose=purpose, prompt_version=version)  # type: ignore[arg-type]
        except LLMError as exc:
            attempts.append(exc.attempt)
            return None
        attempts.append(result.attempt)
        if result.attempt.outcome != "ok" or not result.text.strip():
            return None
        checked = _check(dictation, result.text, facts, targets, payer)
        errors = [f for f in checked.report.findings if f.severity == "error"]
        if round_ == 0:
            raw_findings += [f for f in errors if f.rule == GROUNDING_RULE]
        if not errors:
            return checked
        if round_ == MAX_REPAIRS:
            return None
        repair, version = prompt("repair", note=_delimit(result.text),
                                 findings=[f"{f.message} Fix: {f.fix}" for f in errors[:8]])
        messages = messages + [{"role": "assistant", "content": result.text}, {"role": "user", "content": repair}]
        purpose = "repair"
    return None
