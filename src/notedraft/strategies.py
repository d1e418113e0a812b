"""The LLM strategies: llm-extract (the LLM reads the facts) and llm-compose (the LLM writes the note).

Both sit behind `notedraft.llm.LLMClient` (transport retries live there); the bounded re-ask loop on validation and
grounding findings lives here. Prompts are Jinja files in prompts/, rendered in a sandbox, each with a version
that is recorded with every call; the dictation is always passed as delimited data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, Field

from . import lexicon as lx
from .codes import parse_code_lines
from .context import read
from .grounding import RULE as GROUNDING_RULE
from .models import Attempt, Diagnosis, Facts, Finding, Span, ValidationReport
from .resources import file as resource_file, loader as resource_loader
from .rulepack import load_packs

if TYPE_CHECKING:
    from .llm import LLMClient

MAX_REPAIRS = 2


class LLMUnusable(Exception):
    """The LLM step gave nothing usable and the caller asked for no template fallback (`draft(fallback=False)`).

    Not a ValueError: it is not bad input, and callers that map ValueError to "bad request" must not catch it.
    """

    def __init__(self, why: str, attempts: list[Attempt]):
        super().__init__(why)
        self.attempts = attempts


def _one_line(text: str | None) -> str:
    # Fallback notes are printed one per line; an error text from a server must not break that.
    return " ".join((text or "").split())


class Checked(BaseModel):
    """A note and its report after validation and grounding."""

    note: str
    report: ValidationReport


# --- prompts -----------------------------------------------------------------------------------------------------

_prompt_env: SandboxedEnvironment | None = None  # built on first use: a broken install fails at the call, not import


def prompt(name: str, **values) -> tuple[str, str]:
    """Render prompts/NAME.j2 in a sandbox; returns (text, version) — the version is recorded with every call."""
    global _prompt_env
    if _prompt_env is None:
        _prompt_env = SandboxedEnvironment(loader=resource_loader("prompts"), undefined=StrictUndefined, autoescape=False)
    source = resource_file("prompts", f"{name}.j2").read_text(encoding="utf-8")
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


def _procedures() -> tuple[str, ...]:
    """The procedure ids the LLM may name: every family's (families/*/family.toml), then "unstated"."""
    from .family import families

    return tuple(dict.fromkeys([f.procedure for f in families()] + ["other", "unstated"]))


class ExtractedFacts(_AskForEveryField):
    """What the LLM returns in llm-extract: the JSON schema sent as structured output."""

    procedure: Literal[_procedures()] = "unstated"  # type: ignore[valid-type]
    side: Literal["left", "right", "bilateral", "unstated"] = "unstated"
    guidance: Literal["fluoroscopy", "ct", "ultrasound", "none", "unstated"] = "unstated"
    needle_placement_confirmed: bool = False
    images_recorded: bool = False
    purpose: Literal["diagnostic", "therapeutic", "diagnostic_and_therapeutic", "unstated"] = "unstated"
    medications: list[LLMMedication] = Field(default_factory=list, max_length=6)
    diagnoses: list[LLMDiagnosis] = Field(default_factory=list, max_length=4)
    # A family's own facts: each level, muscle and site (joint, bursa, nerves) as written. Kept only where the
    # deterministic reading of the dictation states the same; anything else is an unsupported fact and dropped.
    levels: list[str] = Field(default_factory=list, max_length=8)
    muscles: list[str] = Field(default_factory=list, max_length=8)
    sites: list[str] = Field(default_factory=list, max_length=6)


def llm_extract(
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
        return facts, [], f"the LLM call failed ({exc.attempt.outcome}: {_one_line(exc.attempt.error)})"
    attempts.append(result.attempt)
    if not isinstance(result.parsed, ExtractedFacts):
        return facts, [], (f"the LLM's facts were unusable (outcome {result.attempt.outcome}: "
                           f"{_one_line(result.attempt.error)})")
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
    if llm_facts.procedure not in ("unstated", "other") and llm_facts.procedure != facts.procedure:
        unsupported(f"procedure {llm_facts.procedure.replace('_', ' ')}")
    from .muscles import name as muscle_name

    said_levels = {_level(f.value) for f in facts.levels}
    for level in llm_facts.levels:
        if _level(level) not in said_levels:
            unsupported(f"level {level}")
    said_muscles = {f.value.lower() for f in facts.muscles} | {muscle_name(f.value).lower() for f in facts.muscles}
    for muscle in llm_facts.muscles:
        if muscle.strip().lower() not in said_muscles:
            unsupported(f"muscle {muscle}")
    for site in llm_facts.sites:
        if site.strip() and site.strip().lower() not in dictation.lower():
            unsupported(f"site {site}")
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
    ctx = read(dictation)  # the dictation's one reading, shared with extraction
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


def _level(value: str) -> str:
    return re.sub(r"[\s/]+", "", value).upper().replace("–", "-")


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


def llm_compose(dictation: str, facts: Facts, targets: list[str], payer: str | None, llm: "LLMClient",
                attempts: list[Attempt], raw_findings: list[Finding], check: Callable[[str], Checked]) -> Checked | str:
    """The LLM's note once it passes validation and grounding; otherwise why not (the caller falls back)."""
    from .llm import LLMError

    system, _ = prompt("system")
    from .family import procedure_label

    user, version = prompt("compose", dictation=_delimit(dictation), codes=targets,
                           procedure=procedure_label(facts.procedure) if facts.procedure != "unstated" else "unstated",
                           requirements=_requirements(targets, facts, payer),
                           facts_json=_delimit(json.dumps(facts.summary(), separators=(",", ":"))))
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    purpose = "compose"
    for round_ in range(MAX_REPAIRS + 1):
        try:
            result = llm.complete(messages, purpose=purpose, prompt_version=version)  # type: ignore[arg-type]
        except LLMError as exc:
            attempts.append(exc.attempt)
            return f"the LLM {purpose} call failed ({exc.attempt.outcome}: {_one_line(exc.attempt.error)})"
        attempts.append(result.attempt)
        if result.attempt.outcome != "ok" or not result.text.strip():
            # Not re-asked: findings cannot fix a refusal, a cut-off or oversize reply, or a body that was not JSON.
            why = f": {_one_line(result.attempt.error)}" if result.attempt.error else ""
            return f"the LLM's {purpose} reply was not a usable note (outcome {result.attempt.outcome}{why})"
        checked = check(result.text)
        errors = _format_findings(result.text) + [f for f in checked.report.findings if f.severity == "error"]
        raw_findings += [f for f in errors if f.rule == GROUNDING_RULE and f.message not in
                         {r.message for r in raw_findings}]
        if not errors:
            return checked
        if round_ == MAX_REPAIRS:
            break
        # The note sent back is bounded: llm.py rejects a reply longer than max_tokens allows as "oversize".
        repair, version = prompt("repair", note=_delimit(result.text),
                                 findings=[_delimit(f"{f.message} Fix: {f.fix}") for f in errors[:8]])
        # The repair prompt carries the note (delimited), so the reply is not repeated as an assistant turn: one
        # copy of the note per request keeps a re-ask near the happy path's prompt size.
        messages = messages[:2] + [{"role": "user", "content": repair}]
        purpose = "repair"
    return f"the LLM's note still failed validation or grounding after {MAX_REPAIRS} re-ask(s)"
