"""Facts → note text through the Jinja templates in templates/.

Every sentence comes from a fact read from the dictation; a missing fact becomes a visible [... NEEDED]
placeholder (and, in the drafter, a physician query). Never a default value.
"""

from __future__ import annotations

from jinja2 import Environment, StrictUndefined

from . import boilerplate
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


def render_note(facts: Facts, said: dict[str, boilerplate.Statements] | None = None, payer: str | None = None,
                dictation: str | None = None) -> str:
    """`said`: the dictation's boilerplate (boilerplate.read_all(dictation)); without it the note states none.
    `payer` "medicare" with the `dictation`: the note also states the SI LCD criteria the dictation gives, in its
    own words (coverage.statement_lines; templates/_medicare_criteria.txt.j2)."""
    from . import family_render

    if family_render.drafts(facts.procedure):  # a validated family: its own template and data (family_render.py)
        return family_render.render_note(facts, said, dictation)
    if facts.procedure not in COVERED_PROCEDURES:
        return _templates().get_template("unsupported_procedure.txt.j2").render(procedure=facts.procedure.replace("_", " "))
    criteria: list[str] = []
    if payer == "medicare" and dictation:
        from .coverage import statement_lines  # the overlay's reader, imported only for Medicare

        criteria = statement_lines(dictation)
    return _templates().get_template("si_joint_injection.txt.j2").render(**note_view(facts, said or {}), payer=payer,
                                                                          medicare_criteria=criteria)


def note_view(facts: Facts, said: dict[str, boilerplate.Statements] | None = None) -> dict:
    """Every sentence of the note from the facts; a missing fact becomes a visible placeholder.

    Boilerplate ("Consent was obtained.", "Complications: None.") is written only when the dictation affirms it
    and never says its opposite; otherwise it is left out, not offered as a placeholder: a `[... NEEDED]` would
    refuse every note whose dictation skips a sentence no code line requires, and invite a scribe to fill it by
    habit, which is the invention this rule exists to stop."""
    said = said or {}

    def affirmed(key: str) -> bool:
        s = said.get(key)
        return bool(s and s.affirmed and not s.opposed)

    def opposed(key: str) -> bool:
        s = said.get(key)
        return bool(s and s.opposed)

    side = {"left": "Left", "right": "Right", "bilateral": "Bilateral"}.get(facts.side, "[SIDE NEEDED]")
    if facts.procedure == "si_joint_injection":
        procedure = f"{side} sacroiliac joint injection" + (" (left and right joints)" if facts.side == "bilateral" else "")
    else:  # the dictation does not say what was injected: never assume the joint
        procedure = f"[PROCEDURE NEEDED], side: {side}"
    technique = boilerplate_sentences(said, "before") + [_guidance_sentence(facts)]
    for event in facts.events:  # what was not done stays not done
        if event.status == "aborted":
            technique.append(f"{event.side.capitalize()} side: not injected (aborted).")
        elif event.status == "periarticular":
            technique.append(f"{event.side.capitalize()} side: periarticular placement; intra-articular placement "
                             "was not confirmed.")
    # Fluoroscopy and CT (27096) need the confirmation stated: a placeholder until the physician answers. For
    # ultrasound the sources disagree (20552.toml): the sentence is left out and the physician is asked.
    if facts.guidance in ("fluoroscopy", "ct") or (facts.guidance == "ultrasound" and facts.needle_confirmation):
        technique.append(_confirmation_sentence(facts))
    if facts.guidance_description and facts.guidance == "ultrasound":
        technique.append(f"Ultrasound technique as dictated: {facts.guidance_description.text}.")
    if facts.images_recorded and not opposed("images_saved"):  # "images saved ... images not saved": neither
        technique.append(f"Image documentation as dictated: {facts.images_recorded.text}.")
    technique += boilerplate_sentences(said, "technique")
    purpose = {
        "diagnostic": "Diagnostic injection.",
        "therapeutic": "Therapeutic injection.",
        "diagnostic_and_therapeutic": "Diagnostic and therapeutic injection.",
    }.get(facts.purpose, "[PURPOSE NEEDED]")
    return {
        "procedure_line": procedure,
        "diagnosis_line": "; ".join(_diagnosis(d) for d in _distinct_diagnoses(facts.diagnoses)) or "[DIAGNOSIS NEEDED]",
        "purpose_line": purpose,
        "technique": technique,
        "medications": [_medication(m) for m in facts.medications if m.injectate] or ["[MEDICATIONS NEEDED]"],
        "other_medications": _other_medication_lines(facts.medications),
        "pain_line": _pain(facts),
        "complications_line": _complications(facts, affirmed("no_complications"), said),
        "after": boilerplate_sentences(said, "after"),
    }


def boilerplate_sentences(said: dict[str, boilerplate.Statements], place: str) -> list[str]:
    return [f.sentence.replace("{dictated}", said[f.key].affirmed[0].text) for f in boilerplate.load_facts()
            if f.sentence and f.place == place and f.key in said and said[f.key].affirmed and not said[f.key].opposed]


def _complications(facts: Facts, none_said: bool, said: dict[str, boilerplate.Statements]) -> str | None:
    """"None." only when the dictation affirms it; a complication as dictated, unless the dictation also says
    there were none (a conflict: neither is written, the drafter asks)."""
    if facts.complications is None:
        return None
    if facts.complications.value == "none":
        return "None." if none_said else None
    no_comps = said.get("no_complications")
    return None if no_comps and no_comps.affirmed else facts.complications.value


def _guidance_sentence(facts: Facts) -> str:
    if facts.guidance == "fluoroscopy":
        return "The needle was placed under fluoroscopic guidance."
    if facts.guidance == "ct":
        return "The needle was placed under CT guidance."
    if facts.guidance == "ultrasound":
        return "The needle was placed under ultrasound guidance."
    if facts.guidance == "none":
        said = " ".join(s.text.lower() for s in facts.guidance_spans)
        if not any(w in said for w in ("imag", "landmark", "palpation", "blind")):
            # the dictation said which modality was NOT used, not that no imaging was: say exactly that
            named = [name for word, name in (("fluoro", "Fluoroscopic"), ("c-arm", "Fluoroscopic"), ("ct", "CT"),
                                             ("ultra", "Ultrasound"), ("us", "Ultrasound")) if word in said]
            return f"{named[0] if named else 'Image'} guidance was not used."
        how = " using anatomic landmarks" if "landmark" in said else (" by palpation" if "palpation" in said else "")
        return f"No imaging guidance was used; the needle was placed{how}." if how else "No imaging guidance was used."
    return "[GUIDANCE NEEDED] for needle placement."


def _confirmation_sentence(facts: Facts) -> str:
    if not facts.needle_confirmation:
        return "[INTRA-ARTICULAR CHECK NEEDED]"
    modality = {"fluoroscopy": "fluoroscopic", "ct": "CT", "ultrasound": "ultrasound"}[facts.guidance]
    with_contrast = " with contrast" if facts.contrast else ""
    return f"Intra-articular needle placement was confirmed under {modality} guidance{with_contrast}."


def _distinct_diagnoses(dx: list[Diagnosis]) -> list[Diagnosis]:
    # "Diagnosis is sacroiliitis M46.1": the words name the coded diagnosis, so the code's title says them once
    titles = [(icd10.title(d.code) or "").lower() for d in dx if d.code]
    return [d for d in dx if d.code or not d.text or not any(d.text.lower() in t for t in titles)]


def _diagnosis(d: Diagnosis) -> str:
    if d.code:
        title = icd10.title(d.code)
        return f"{title} ({d.code})" if title else d.code
    return d.text or ""


def _brand_name(m: Medication) -> str | None:
    if m.as_written.lower() not in lx.BRANDS:
        return None
    return m.as_written.title() if m.as_written.islower() else m.as_written


def _medication(m: Medication) -> str:
    """One drug as dictated: generic name and salt, the amount with its own volume and strength, per side or in
    total, and the product. "triamcinolone acetonide 40 mg (Kenalog-40, 1 mL)", "bupivacaine 2 mL of 0.25%
    (Marcaine)", "methylprednisolone acetate 80 mg (Depo-Medrol 80 mg/mL, 1 mL)". The dose sits right after the
    name so the note reads back to the same fact."""
    name = f"{m.name} {m.salt}" if m.salt else m.name
    brand = m.product or _brand_name(m)
    per_ml = (m.concentration or "").endswith("mg/mL")
    basis = {"per_side": " per side", "total": " in total"}.get(m.basis or "", "")
    if m.computed_dose and per_ml and m.volume:
        # "Kenalog-40, 1 mL": the strength and the volume as dictated; the mg they multiply to was not dictated, and
        # writing it would state a fact the physician did not (the validator takes strength x volume as the dose)
        shown = f" ({brand})" if brand else ""
        return f"{name} {m.volume} of {m.concentration}{basis}{shown}"
    if m.dose and per_ml and m.volume:
        # the strength and volume the dose comes from, so the arithmetic can be checked
        strength = "" if m.product else f" {m.concentration}"
        label = f"{brand}{strength}" if brand else f"{m.concentration}"
        return f"{name} {m.dose}{basis} ({label}, {m.volume})"
    if m.dose and per_ml and not m.volume:
        # "Kenalog 40 mg/mL, 40 mg": the dose with the strength it was dictated with
        strength = "" if m.product else f" {m.concentration}"
        label = f"{brand}{strength}" if brand else f"{m.concentration}"
        return f"{name} {m.dose}{basis} ({label.strip()})"
    if m.volume and m.concentration:
        amount = f"{m.volume} of {m.concentration}"
    elif m.dose and m.volume:
        amount = f"{m.dose} in {m.volume}"
    else:
        amount = m.dose or m.volume or m.concentration or ""
    shown = f" ({brand})" if brand else ""
    if not amount:
        return f"{name} [DOSE NEEDED]{shown}"
    if m.concentration and not (m.dose or m.volume):
        if m.product:  # "Kenalog-40" states its strength in its name; "40 mg/mL" beside it reads like a dose
            return f"{name} [VOLUME NEEDED]{shown}"
        return f"{name} {amount} [VOLUME NEEDED]{shown}"
    return f"{name} {amount}{basis}{shown}"


def _other_medication_lines(meds: list[Medication], each=None) -> list[str]:
    """Drugs that were not the injectate, each documented as dictated and never with a placeholder: a missing
    skin-local volume or contrast volume is a query, not a blank in the note. An amount dictated per side or in
    total says so ("skin lido 1% 2 mL each site"); `each(words, m)` rewords the basis as the dictation did."""
    lines: list[str] = []
    for m in meds:
        name = f"{m.name} {m.salt}" if m.salt else m.name
        brand = _brand_name(m)
        shown = f" ({brand})" if brand else ""
        amount = m.dose_text() or m.concentration or ""
        if m.basis:  # (a basis with no amount read, "Omnipaque per site", is still what was dictated)
            amount = (amount + {"per_side": " per side", "total": " in total"}[m.basis]).strip()
            if each is not None:
                amount = each(amount, m)
        amount = f" {amount}" if amount else ""
        if m.use == "skin_local":
            lines.append(f"Local anesthesia: {name}{amount}{shown} for skin anesthesia.")
        elif m.use == "contrast" or m.role == "contrast":
            lines.append(f"Contrast: {name}{amount}{shown}.")
        elif m.use == "sedation":
            lines.append(f"Sedation: {name}{amount}{shown}.")
    return lines


def _pain(facts: Facts) -> str | None:
    parts = []
    if facts.pain_pre:
        parts.append(f"{facts.pain_pre.value} before")
    if facts.pain_post:
        parts.append(f"{facts.pain_post.value} after")
    return ", ".join(parts) or None
