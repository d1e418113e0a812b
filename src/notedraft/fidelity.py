"""Checks that keep a draft a faithful restatement of its dictation (issue 9 part 2), run by the drafter after the
note is written: amounts whose owner the dictation leaves open, implausible amounts, a second procedure the note
does not cover, skin local anaesthetic without a volume, placeholders left in the note, and text that is not a
procedure dictation at all. Each becomes a finding and, where the physician can settle it, one precise question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import lexicon as lx
from .dose_ranges import assess
from .extract import other_procedures
from .models import Facts, Finding, Medication
from .reading import matches

PLACEHOLDER = re.compile(r"\[[A-Z][A-Z -]*NEEDED\]")


@dataclass
class Review:
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def ask(self, q: str) -> None:
        if q not in self.queries:
            self.queries.append(q)


def _label(m: Medication) -> str:
    return f"{m.name} ({m.as_written})" if m.as_written.lower() != m.name else m.name


def not_a_dictation(dictation: str, facts: Facts) -> bool:
    """Nothing in the text describes a procedure: no procedure, side, guidance, drug, amount, diagnosis, purpose or
    level ("hello world"). Such text gets a one-line refusal, never a note of placeholders."""
    if matches(lx.INSTRUCTION, dictation):  # the reading of the dictation scanned for them already
        return False  # instructions to the tool have their own refusal
    return (facts.procedure == "unstated" and not facts.named_sides and facts.side == "unstated"
            and facts.guidance == "unstated" and not facts.medications and not facts.unread_amounts
            and not facts.diagnoses and facts.purpose == "unstated" and not facts.levels and not facts.muscles
            and facts.needle_confirmation is None and facts.contrast is None)


def review(dictation: str, dictated: Facts, note: str) -> Review:
    r = Review()
    sides = len(dictated.performed_sides()) or 1
    ambiguous: dict[str, list[Medication]] = {}
    for m in dictated.medications:
        if m.ambiguous_amount:
            ambiguous.setdefault(m.ambiguous_amount, []).append(m)
        if m.use == "other_procedure":
            continue
        off = assess(m, sides)
        if off is not None and off.tier == "implausible":
            r.errors.append(Finding(
                rule="medication.dose_implausible", severity="error", message=off.message,
                fix="Confirm the amount with the physician; notedraft never drafts an amount this far outside the "
                    "label range (a slip of the amount or its unit).",
                evidence=[m.span] if m.span else []))
            r.ask(f"Please confirm the amount of {_label(m)}: the dictation says {off.amount}, which is far outside "
                  f"its label range ({off.range}). What was injected?")
        elif off is not None:
            r.warnings.append(Finding(
                rule="medication.dose_outside_label", severity="warning", message=off.message,
                fix=f"The note documents the amount as dictated; confirm it if it was not intended (source: "
                    f"{off.source}).",
                evidence=[m.span] if m.span else []))
        if m.use == "skin_local" and not m.dosed:
            r.warnings.append(Finding(
                rule="medication.skin_local_volume", severity="warning",
                message=f"The skin local anesthetic {_label(m)} has no volume; the note documents it as dictated.",
                fix="Add the volume used for the skin and needle tract, if it is to be documented.",
                evidence=[m.span] if m.span else []))
            r.ask(f"How much {m.concentration + ' ' if m.concentration else ''}{_label(m)} was used for the skin?")
    for amount, meds in ambiguous.items():
        names = " or ".join(dict.fromkeys(m.name for m in meds))
        if len(meds) == 1:
            names = meds[0].name
        r.errors.append(Finding(
            rule="medication.ambiguous_amount", severity="error",
            message=f"The dictation does not say whose amount {amount!r} is ({names}); the draft does not guess.",
            fix="Dictate each drug with its own amount ('40 mg Kenalog and 2 mL 0.5% ropivacaine').",
            evidence=[m.span for m in meds if m.span][:2]))
        r.ask(f"Which drug is {amount!r} for: {names}?" if len(meds) > 1 else
              f"Is {amount!r} the amount of {names}? (The dictation's arithmetic does not agree.)")
    for start, end, label in other_procedures(dictation):
        drugs = [m for m in dictated.medications if m.use == "other_procedure" and m.belongs_to == label]
        with_drugs = (" with " + ", ".join(f"{m.name} {m.dose_text() or ''}".strip() for m in drugs)) if drugs else ""
        text = f"also dictated: {label}{with_drugs}, not drafted"
        r.notes.append(text)
        from .models import Span

        r.warnings.append(Finding(
            rule="draft.other_procedure_not_drafted", severity="warning", message=text,
            fix="Document this procedure in its own note; its drugs are not listed as SI joint injectate.",
            evidence=[Span(start=start, end=end, text=dictation[start:end])]))
    # A placeholder left in the note is the validator's own error (note.placeholder): every draft is validated.
    return r
