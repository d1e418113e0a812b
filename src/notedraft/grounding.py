"""Grounding: every clinical fact a draft states must be linked to the dictation it came from.

The draft is read back with the same extractor as the dictation, and each fact — drug, dose, side, guidance,
confirmation, recorded images, ICD-10 code, level, purpose, every number, and the boilerplate ("No complications",
"Consent was obtained": boilerplate.py) — is looked up in the dictation.
Anything unlinked is an error finding ("unsupported: 80 mg methylprednisolone"). This is what lets an LLM write
prose while notedraft guarantees the prose invents nothing.
"""

from __future__ import annotations

import re

from . import boilerplate
from . import lexicon as lx
from .context import read
from .reading import matches
from .extract import extract_facts
from .models import Facts, Finding, Span

_NUMBER = re.compile(r"(?<![A-Za-z\d.])\d+(?:\.\d+)?|(?<![A-Za-z\d])\.\d+")
RULE = "grounding.unsupported"


def _finding(what: str, evidence: list[Span]) -> Finding:
    return Finding(
        rule=RULE,
        severity="error",
        message=f"unsupported: {what}",
        fix="Remove it from the draft, or ask the physician to dictate it.",
        evidence=evidence,
    )


def numbers(text: str) -> set[float]:
    return {float(n) for n in _NUMBER.findall(text)}


def _extra_sides(dictated: Facts, drafted: Facts) -> set[str]:
    """Sides the draft names that the dictation never performed, except a side both say was not injected, with the
    same status ("left extra-articular spread only" drafted as "Left side: periarticular placement")."""
    not_done = {(e.side, e.status) for e in dictated.events if e.status != "performed"}
    kept = {e.side for e in drafted.events if e.status != "performed" and (e.side, e.status) in not_done}
    return set(drafted.named_sides) - dictated.performed_sides() - kept


def ground(note: str, dictation: str, dictated: Facts | None = None, drafted: Facts | None = None) -> list[Finding]:
    dictated = dictated if dictated is not None else extract_facts(dictation)
    drafted = drafted if drafted is not None else extract_facts(note)
    out: list[Finding] = []

    out += medication_findings(dictated, drafted)
    said_events = {(e.side, e.status) for e in dictated.events}
    for e in drafted.events if drafted.side == dictated.side else ():  # (side, status): an aborted side is never drafted as injected, nor the reverse
        if e.side != "unsided" and said_events and (e.side, e.status) not in said_events:
            out.append(_finding(f"{e.side} side {e.status}", (e.status_evidence or e.evidence)[:1]))
    for kind in drafted.named_procedures:  # a procedure named anywhere, even where the draft contradicts itself
        if kind != dictated.procedure and kind != drafted.procedure and kind not in dictated.named_procedures:
            out.append(_finding(f"procedure {kind.replace('_', ' ')}",
                                [drafted.procedure_span] if drafted.procedure_span else []))
    if drafted.procedure != "unstated" and drafted.procedure != dictated.procedure:
        what = drafted.procedure.replace("_", " ")
        out.append(_finding(f"procedure {what}", [drafted.procedure_span] if drafted.procedure_span else []))
    if drafted.side != "unstated" and drafted.side != dictated.side:
        out.append(_finding(f"side {drafted.side}", drafted.side_spans[:1]))
    elif _extra_sides(dictated, drafted):  # a side named anywhere, even in a conflict
        extra = _extra_sides(dictated, drafted)
        what = "bilateral" if extra == {"left", "right"} or set(drafted.named_sides) == {"left", "right"} else extra.pop()
        out.append(_finding(f"side {what}", drafted.side_spans[:1]))
    if drafted.guidance != "unstated" and drafted.guidance != dictated.guidance:
        out.append(_finding(f"guidance {drafted.guidance}", drafted.guidance_spans[:1]))
    # Every imaging modality the note names, not only the one the reader settles on: "fluoroscopy confirmed the
    # ultrasound-guided needle" states fluoroscopy, and "fluoroscopy was not used" is a claim the dictation must make.
    said = _modalities(dictation)
    for kind, spans in _modalities(note).items():
        if kind not in said and kind != drafted.guidance:
            out.append(_finding(f"guidance {kind} ({spans[0].text!r})", spans[:1]))
    if drafted.purpose != "unstated" and drafted.purpose != dictated.purpose:
        out.append(_finding(f"purpose {drafted.purpose}", [drafted.purpose_span] if drafted.purpose_span else []))
    for name in ("needle_confirmation", "contrast", "images_recorded", "guidance_description"):
        span = getattr(drafted, name)
        if span is not None and getattr(dictated, name) is None:
            if name == "images_recorded" and "images_saved" in boilerplate.dictated(dictation):
                continue  # "imgs saved": the boilerplate reader's shorthand for the same fact
            out.append(_finding(f"{name.replace('_', ' ')} ({span.text!r})", [span]))

    dictated_codes = {d.code for d in dictated.diagnoses if d.code}
    for dx in drafted.diagnoses:
        if dx.code and dx.code not in dictated_codes:
            out.append(_finding(f"diagnosis code {dx.code}", [dx.span] if dx.span else []))
    dictated_levels = {f.value.replace(" ", "").upper() for f in dictated.levels}
    for level in drafted.levels:
        if level.value.replace(" ", "").upper() not in dictated_levels:
            out.append(_finding(f"level {level.value}", [level.span] if level.span else []))
    if drafted.complications and drafted.complications.value != "none" and not dictated.complications:
        out.append(_finding(f"complication {drafted.complications.value}", [drafted.complications.span] if drafted.complications.span else []))

    dictated_pain = {p.value for p in (dictated.pain_pre, dictated.pain_post) if p}
    for score in (drafted.pain_pre, drafted.pain_post):
        if score and score.value not in dictated_pain:
            out.append(_finding(f"pain score {score.value}", [score.span] if score.span else []))

    allowed = numbers(dictation)
    for d in dictated.medications:  # "1/2 cc" is 0.5 mL; "Kenalog-40 2 mL" is 80 mg: the dictated facts' own values
        allowed |= numbers(" ".join(x for x in (d.dose, d.volume, d.concentration) if x))
    for m in _NUMBER.finditer(note):
        if float(m.group()) not in allowed and not _inside_code(note, m.start()):
            out.append(_finding(f"number {m.group()}", [Span(start=m.start(), end=m.end(), text=m.group())]))
    # Boilerplate ("No complications.", "Consent was obtained.") is a fact too. A statement already named above
    # (images recorded, a complication) keeps its one finding, unless the dictation says the opposite.
    named = [e for f in out if f.message.startswith(("unsupported: images recorded", "unsupported: complication "))
             for e in f.evidence]
    for f in boilerplate.findings(note, dictation):
        if "the dictation says" in f.message or not any(_overlaps(f.evidence[0], e) for e in named):
            out.append(f)
    return _dedupe(out)


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


# A medication fact is the tuple Medication.fact(): (drug, salt, dose, concentration, volume, per side/total, use).
_ATTRS = ("drug", "salt", "dose", "concentration", "volume", "basis", "use")
_ATTR_WORDS = {"salt": "salt", "dose": "dose", "concentration": "strength", "volume": "volume",
               "basis": "per side/total", "use": "use"}


def medication_findings(dictated: Facts, drafted: Facts) -> list[Finding]:
    """Each drug the draft states must equal, attribute by attribute, a drug the dictation states. An amount
    borrowed from another drug ("triamcinolone 40 mg in 2 mL of 0.5%" when the 2 mL of 0.5% was the ropivacaine's)
    is a misattribution; a value no dictated drug has is invented. Leaving out a salt is not a new fact; leaving
    out "per side", a volume or a strength changes what the amount means, so it is."""
    out: list[Finding] = []
    said = [d.fact() for d in dictated.medications]
    for med in drafted.medications:
        ev = [med.span] if med.span else []
        fact = med.fact()
        same = [f for f in said if f[0] == fact[0]]
        if not same:
            out.append(_finding(f"{med.dose_text() or ''} {med.name}".strip(), ev))
            continue
        if any(_equal(fact, f) for f in same):
            continue
        best = max(same, key=lambda f: sum(a == b for a, b in zip(fact, f)))
        details = []
        for k in range(1, len(_ATTRS)):
            if fact[k] == best[k] or (k == 1 and fact[k] is None):
                continue
            owners = [f[0] for f in said if f[0] != fact[0] and fact[k] is not None and f[k] == fact[k]]
            if owners:  # a number borrowed from another drug
                details.append(f"{fact[k]} was dictated for {owners[0]}")
            elif _ATTRS[k] in ("salt", "basis", "use") or fact[k] is None:
                details.append(f"{_ATTR_WORDS[_ATTRS[k]]}: {fact[k] or 'left out'}, dictated: {best[k] or 'none'}")
        amount = med.dose_text() or (med.dose if med.computed_dose else None) or ""
        what = f"{amount} {med.name}".strip()
        out.append(_finding(what + (f" ({'; '.join(details)})" if details else ""), ev))
    return out


def _equal(drafted: tuple, dictated: tuple) -> bool:
    return all(a == b or (k == 1 and a is None) for k, (a, b) in enumerate(zip(drafted, dictated)))


def _modalities(text: str) -> dict[str, list[Span]]:
    """Each imaging modality the text names, affirmed or negated (plans, histories and consent talk do not count)."""
    ctx = read(text)  # the text's one reading, shared with extraction (a note's and a dictation's are read there)
    found: dict[str, list[Span]] = {}
    mentions = [("fluoroscopy", m) for m in matches(lx.GUIDANCE_TERMS["fluoroscopy"], text)]
    mentions += [("ct", m) for m in matches(lx.GUIDANCE_TERMS["ct"], text)]
    mentions += [("ultrasound", m) for m in lx.ultrasound_mentions(text, scan=lambda p: matches(p, text))]
    for kind, m in mentions:
        if ctx.status(m.start(), m.end()) in ("affirmed", "negated"):
            found.setdefault(kind, []).append(Span(start=m.start(), end=m.end(), text=m.group()))
    return found


def _inside_code(note: str, pos: int) -> bool:
    # "x/10" pain scales and ICD codes carry digits that are not free-standing numbers
    return note[pos : pos + 4].startswith("10") and note[max(0, pos - 1) : pos] == "/"


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[str] = set()
    out = []
    for f in findings:
        if f.message not in seen:
            seen.add(f.message)
            out.append(f)
    return out
