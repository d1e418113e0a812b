"""Physician queries: one precise question per missing fact, derived from the facts and the report's findings."""

from __future__ import annotations

from .coverage import QUESTIONS as COVERAGE_QUESTIONS
from .icd10 import billable_children
from .models import Facts, ValidationReport

# rule id (after the code) → question; facts fill in the specifics
QUESTIONS = {
    "diagnosis.documented": "What is the diagnosis (with ICD-10-CM code) that establishes medical necessity?",
    "purpose.stated": "Was the injection diagnostic, therapeutic, or both?",
    "side.stated": "Which side was injected: left, right, or bilateral?",
    "guidance.stated": "What guided the needle: fluoroscopy, CT, ultrasound, or no imaging (landmarks)?",
    "medications.documented": "Which medications were injected, and at what doses?",
    "guidance.needle_confirmation": "How was intra-articular needle placement confirmed (e.g. contrast under fluoroscopy)?",
    "si.ultrasound_needle_confirmation": "How did ultrasound confirm the needle placement (e.g. needle tip seen entering the joint)?",
    "si.ultrasound_confirmation_denied": "Did ultrasound confirm the needle in the joint (e.g. needle tip seen entering the joint)?",
    "images.permanently_recorded": "Were the ultrasound images permanently recorded (e.g. saved to PACS)?",
    "guidance.described": "How did ultrasound localize the needle (real-time view, probe, in-plane or out-of-plane)?",
    "diagnosis.hip_pain_is_not_si": "M25.55- is hip pain: what is the SI joint diagnosis (e.g. M46.1 sacroiliitis)?",
    "medicare.pain_scores": "What was the pain score before and after the injection, on the same named scale (e.g. NRS 7/10 "
                            "before, 2/10 after)?",
    "medicare.lcd.repeat_relief_duration": "How long did the last SI joint injection's relief last (weeks or months)?",
    **COVERAGE_QUESTIONS,  # the Medicare SI LCD criteria (--payer medicare)
}


# The guidance each code can be billed with: a question about a code that cannot apply to the dictated guidance is
# never asked (an ultrasound dictation is not asked how contrast under fluoroscopy confirmed the needle).
CODE_GUIDANCE = {"27096": {"fluoroscopy", "ct"}, "77002": {"fluoroscopy"}, "77003": {"fluoroscopy"}, "77012": {"ct"},
                 "76942": {"ultrasound"}, "20552": {"ultrasound", "none"}, "20553": {"ultrasound", "none"}}


_ASKED_ON_WARNING = {"si.ultrasound_needle_confirmation"}


def _applies(code: str, facts: Facts) -> bool:
    allowed = CODE_GUIDANCE.get(code)
    return allowed is None or facts.guidance in ("unstated",) or facts.guidance in allowed


def queries_for(facts: Facts, report: ValidationReport) -> list[str]:
    out: list[str] = []

    def ask(q: str) -> None:
        if q not in out:
            out.append(q)

    for f in report.findings:
        code, _, rest = f.rule.partition(".")
        key = rest if code[:1].isdigit() or code.startswith("G0") else f.rule
        # A warning is asked about only when it names a missing fact (how ultrasound confirmed the needle, where
        # the sources disagree); a dose outside its label range or a payer note is not a question.
        if f.severity != "error" and key not in _ASKED_ON_WARNING:
            continue
        if not _applies(code, facts):
            continue
        if key == "medications.dosed":
            for m in facts.medications:
                if m.injectate and not m.dosed:  # the dose requirement is about the injectate only
                    label = f"{m.name} ({m.as_written})" if m.as_written.lower() != m.name else m.name
                    ask(_dose_question(m, label))
        elif key == "diagnosis.billable":
            for d in facts.diagnoses:
                if d.billable is False:
                    ask(f"{d.code} ({d.text}) is not billable: which code applies ({billable_children(d.code or '')})?")
        elif key in QUESTIONS:
            ask(QUESTIONS[key])
    for m in facts.medications:  # an injectate without its amount is always a question, whatever the target code
        if m.injectate and not m.dosed:
            label = f"{m.name} ({m.as_written})" if m.as_written.lower() != m.name else m.name
            ask(_dose_question(m, label))
    for conflict in facts.conflicts:  # never resolved by notedraft: the physician says which statement holds
        ask(conflict.question)
    for span in facts.unread_amounts:
        ask(f"Which drug is {span.text!r}?")
    if facts.procedure == "unstated":
        ask("What procedure was performed (e.g. left SI joint injection)?")
    return out


def _dose_question(m, label: str) -> str:
    """The one amount missing: the volume of a stated strength, the strength of a stated volume, else the dose."""
    if m.concentration and not m.volume:
        return f"Volume of {m.concentration} {label}?"
    if m.volume and not m.concentration:
        return f"{m.volume} of what strength of {label} (mg or %), or what dose?"
    return f"Dose of {label}?"
