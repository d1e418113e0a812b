"""Facts → note text through the Jinja templates in templates/.

Every sentence comes from a fact read from the dictation; a missing fact becomes a visible [... NEEDED]
placeholder (and, in the drafter, a physician query). Never a default value.
"""

from __future__ import annotations

from jinja2 import Environment, StrictUndefined

from . import icd10
from . import lexicon as lx
from .models import Diagnosis, Facts, Medication
from .resources import loader as resource_loader

# The procedures the note template drafts ("unstated": the SI template with the procedure as a placeholder).
COVERED_PROCEDURES = ("si_joint_injection", "unstated")


_env: Environment | None = None


def _templates() -> Environment:
    global _env
    if _env is None:
        _env = Environment(loader=resource_loader("templates"), undefined=StrictUndefined, keep_trailing_newline=True,
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
