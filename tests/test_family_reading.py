"""Reader categories the family harnesses (tests/metamorphic/families.py, tests/styles/families.py) and the real
notes exposed: each fix with its fail-closed counterpart."""

from __future__ import annotations

import pytest

from notedraft.extract import extract_facts
from notedraft.family_facts import normal_level
from notedraft.validate import validate

CERVICAL_TECHNIQUE_ONLY = (
    "PROCEDURE NOTE: The patient was placed in a prone position. A lidocaine skin wheal was raised over the C5-6 "
    "interspace. A 20-gauge Tuohy needle was used. Loss of resistance was obtained using hanging drop technique. "
    "This was followed by 2 mL of contrast material which showed spread of the dye into the epidural space. A total "
    "of 5 mL containing 4 mL of 0.25% bupivacaine and 80 mg of methylprednisolone acetate were then infiltrated.")


def errors(r) -> set[str]:
    return {f.rule for f in r.findings if f.severity == "error"}


def test_the_technique_alone_names_the_interlaminar_epidural_without_imaging():
    r = validate(CERVICAL_TECHNIQUE_ONLY, ["62320"])
    assert r.supported and r.suggested_codes == ["62320"]
    assert "62320.guidance.contrast_without_imaging" in {f.rule for f in r.findings}  # a warning: name the imaging
    assert not validate(CERVICAL_TECHNIQUE_ONLY, ["62321"]).supported  # contrast seen is no imaging guidance


@pytest.mark.parametrize("edit", [
    lambda t: t.replace("Loss of resistance was obtained", "Loss of resistance was not obtained"),
    lambda t: "HISTORY: " + t.replace("PROCEDURE NOTE: ", "").replace(". ", "; ") + "\nNo procedure today.",
    lambda t: t + " Then a right knee injection was performed with triamcinolone 40 mg.",
])
def test_technique_words_do_not_name_a_procedure_denied_past_or_beside_another(edit):
    assert not validate(edit(CERVICAL_TECHNIQUE_ONLY), ["62320"]).supported


def test_loss_of_resistance_beside_a_named_joint_is_that_joints_technique():
    text = ("L SIJ: needle placed by palpation, loss of resistance into joint, 40 mg kenalog + 2 mL 1% lido, dx M53.3 "
            "left SI joint dysfunction, therapeutic")
    assert extract_facts(text).procedure == "si_joint_injection"


FACET_TECHNIQUE_LEVEL = (
    "DIAGNOSIS: Cervical spondylosis (M47.812).\nPROCEDURE: Bilateral cervical facet joint injections under "
    "fluoroscopic guidance.\nDESCRIPTION: A 25-gauge spinal needle was passed down to the C4-5 facet joint on each "
    "side. Bupivacaine 0.5% 0.5 mL and Celestone 3 mg were injected at each joint.")


def test_a_level_named_only_in_the_technique_sentence_is_the_level():
    assert validate(FACET_TECHNIQUE_LEVEL, ["64490-50"]).supported


def test_a_level_named_only_in_an_imaging_finding_stays_a_question():
    text = FACET_TECHNIQUE_LEVEL.replace(" to the C4-5 facet joint", " to each facet joint").replace(
        "DIAGNOSIS: Cervical spondylosis (M47.812).", "HISTORY: MRI shows C4-5 facet arthropathy.\nDIAGNOSIS: "
        "Cervical spondylosis (M47.812).")
    r = validate(text, ["64490-50"])
    assert not r.supported and "64490.levels.named" in errors(r)


@pytest.mark.parametrize("written,read", [("L4/5", "L4-5"), ("L45", "L4-5"), ("L34", "L3-4"), ("C56", "C5-6"),
                                          ("L5S1", "L5-S1"), ("L4 - 5", "L4-5"), ("T12", "T12"), ("L4", "L4"),
                                          ("L46", "L46"), ("C78", "C7-8")])
def test_level_spellings(written, read):
    assert normal_level(written) == read


def test_run_together_levels_bill_their_units():
    text = ("DIAGNOSIS: Lumbar spondylosis (M47.816).\nPROCEDURE: Bilateral L34, L45 and L5S1 facet joint injections "
            "under fluoroscopic guidance.\nDESCRIPTION: A 22-gauge needle was advanced into each facet joint. "
            "Bupivacaine 0.25% 0.5 mL and triamcinolone 10 mg were injected at each level.")
    assert validate(text, ["64493-50", "64494-50", "64495-50"]).supported
    two = text.replace("L34, L45 and L5S1", "L45 and L5S1")
    assert validate(two, ["64493-50", "64494-50"]).supported
    assert not validate(two, ["64493-50", "64494-50", "64495-50"]).supported


ILESI = ("PROCEDURE: Right L5-S1 interlaminar epidural steroid injection under fluoroscopic guidance.\nDESCRIPTION: "
         "The subcutaneous and interligamentous region was anesthetized with 4% lidocaine. A Tuohy needle was "
         "advanced to the epidural space by loss of resistance. Contrast confirmed epidural spread. Depo-Medrol "
         "120 mg with saline was injected.")


def test_tissue_anesthetized_on_the_way_in_is_no_injectate():
    assert validate(ILESI, ["62323"]).supported


def test_the_target_anesthetized_is_the_injectate_and_needs_its_amount():
    text = ("PROCEDURE: Right L4-5 facet joint injection under fluoroscopic guidance.\nDESCRIPTION: A 22-gauge "
            "needle was advanced into the facet joint. The L4-5 facet joint was anesthetized with bupivacaine. "
            "Triamcinolone 10 mg was injected.")
    r = validate(text, ["64493-RT"])
    assert not r.supported and "64493.injectate.dosed" in errors(r)


@pytest.mark.parametrize("tail", ["Today: follow-up visit only; no procedure was performed.", "No procedure today.",
                                  "This will be scheduled; nothing was performed today."])
def test_a_note_that_says_no_procedure_was_done_supports_none(tail):
    text = ("DIAGNOSIS: Lumbar radiculopathy (M54.16).\nPROCEDURE: Left L5-S1 transforaminal epidural steroid "
            "injection under fluoroscopic guidance.\nDESCRIPTION: A 22-gauge needle was advanced to the left L5-S1 "
            "foramen. Contrast outlined the nerve root. Dexamethasone 10 mg was injected.")
    assert validate(text, ["64483-LT"]).supported
    assert not validate(text + "\n" + tail, ["64483-LT"]).supported


def test_a_trigger_point_line_with_a_side_modifier_must_match_the_muscles_side():
    text = ("DIAGNOSIS: Myalgia (M79.18).\nPROCEDURE: Trigger point injections.\nDESCRIPTION: Taut bands were found "
            "in the right trapezius and right rhomboid. 1% lidocaine 1 mL was injected into each trigger point.")
    assert validate(text, ["20552-RT"]).supported and validate(text, ["20552"]).supported
    assert not validate(text, ["20552-LT"]).supported
    assert not validate(text, ["20552-50"]).supported


def test_medial_branch_rfa_at_l5_spaced_s1_is_the_facet_rfa():
    text = ("PROCEDURE: Right L4 - L5 and L5 - S1 medial branch radiofrequency ablation under fluoroscopic guidance."
            "\nDESCRIPTION: Sensory and motor stimulation confirmed placement; lesions at 80 degrees for 90 seconds.")
    assert extract_facts(text).procedure == "facet_rfa"
    assert validate(text, ["64635-RT", "64636-RT"]).supported


def test_right_wrist_injection_names_its_side_but_a_wrist_iv_does_not():
    text = ("DIAGNOSIS: Osteoarthritis (M19.031).\nPROCEDURE: Right wrist injection.\nDESCRIPTION: Triamcinolone "
            "40 mg and 1% lidocaine 1 mL were injected.")
    assert validate(text, ["20605-RT"]).supported
    assert not validate(text.replace("Right wrist injection.", "Wrist injection. An IV was placed in the right "
                                                              "wrist."), ["20605-RT"]).supported
