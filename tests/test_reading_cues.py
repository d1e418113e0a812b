"""Spec tests for reader cues and lexicon phrasings (issue 16: well-documented notes must not be refused, and no
new wording may establish a fact that was not affirmatively documented)."""

from __future__ import annotations

import pytest

from notedraft.extract import extract_facts


def _guidance(text: str) -> tuple[str, list[str]]:
    f = extract_facts(text)
    return f.guidance, [c.kind for c in f.conflicts]


# --- the alternative not taken --------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Right SIJ injection. Ultrasound was preferred over fluoroscopy to spare radiation. Under ultrasound a 22 g needle"
     " entered the right SI joint. 40 mg Kenalog injected.", "ultrasound"),
    ("Left SI joint injection. Under C-arm guidance, in place of the ultrasound probe, a needle entered the left SI"
     " joint. Kenalog 40 mg injected.", "fluoroscopy"),
    ("Left SI joint injection without imaging. Landmark technique was used as opposed to ultrasound. The needle"
     " entered the left SI joint by palpation. 2 mL 1% lidocaine injected.", "none"),
])
def test_the_modality_not_chosen_is_no_second_guidance(text, expected):
    guidance, conflicts = _guidance(text)
    assert guidance == expected and "guidance" not in conflicts


def test_the_modality_not_chosen_still_conflicts_when_it_is_also_stated_as_used():
    # "chosen over" negates only what follows it; fluoroscopy stated as used elsewhere still conflicts with ultrasound
    text = ("Left SI joint injection. Ultrasound was chosen over fluoroscopy. Under fluoroscopic guidance the needle"
            " entered the left SI joint. Kenalog 40 mg injected.")
    guidance, conflicts = _guidance(text)
    assert guidance != "fluoroscopy" and "guidance" in conflicts


def test_a_room_that_was_closed_is_not_the_guidance():
    text = ("Left SI joint injection by palpation, no imaging. The needle entered the left SI joint. 2 mL 1% lidocaine"
            " injected. Landmarks were used since the CT scanner was booked all day.")
    guidance, conflicts = _guidance(text)
    assert guidance == "none" and conflicts == []


# --- imaging names -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Right SI joint injection. Under pulsed fluoroscopy the needle entered the right SI joint. Kenalog 40 mg injected.",
     "fluoroscopy"),
    ("Right SI joint injection. Ultrasonographic guidance was used; the needle entered the right SI joint."
     " Kenalog 40 mg injected.", "ultrasound"),
    ("Right SI joint injection. Quick check CT confirmed the needle in the right SI joint. Kenalog 40 mg injected.", "ct"),
    ("Right SI joint injection. Sequential axial CT guided the needle into the right SI joint. Kenalog 40 mg injected.",
     "ct"),
])
def test_imaging_named_by_its_technique(text, expected):
    assert _guidance(text) == (expected, [])


@pytest.mark.parametrize("text", [
    "Right SI joint injection. Pulsed fluoroscopy was not used; the needle entered the right SI joint by palpation.",
    "Right SI joint injection. Ultrasonography was unavailable. The needle entered the right SI joint by palpation.",
    "Right SI joint injection by palpation. Intermittent CT was considered but not done.",
])
def test_imaging_names_keep_their_negations(text):
    assert _guidance(text)[0] in ("none", "unstated")


# --- a side stated in the impression ------------------------------------------------------------------------------

_BODY = ("Procedure: SIJ injection, fluoroscopy.\nDescription: Under fluoroscopy a 22 g needle entered the {side}"
         "sacroiliac joint; contrast outlined it; 40 mg methylprednisolone injected.\n")


def test_an_impression_that_says_what_was_done_today_names_the_side():
    f = extract_facts(_BODY.format(side="") + "Impression: sacroiliitis. Rt SIJ injection completed today.")
    assert f.side == "right" and f.conflicts == []


@pytest.mark.parametrize("impression", [
    "Impression: right sacroiliitis; consider a right SIJ injection in 3 months.",
    "Impression: right SIJ injection to be performed today if the patient consents.",
    "Impression: right sacroiliitis.",
])
def test_an_impression_that_does_not_say_it_was_done_names_no_side(impression):
    assert extract_facts(_BODY.format(side="") + impression).side == "unstated"


def test_an_impression_side_that_differs_from_the_procedure_texts_is_a_question():
    f = extract_facts(_BODY.format(side="left ") + "Impression: Rt SIJ injection completed today.")
    assert f.side == "unstated" and [c.kind for c in f.conflicts] == ["side"]


# --- medications: a brand in parentheses with a trailing amount; table cells -------------------------------------


def _meds(text: str):
    return [(m.name, m.dose, m.concentration, m.volume) for m in extract_facts(text).medications]


@pytest.mark.parametrize("text, expected", [
    ("Right SIJ injected under fluoroscopy with ropivacaine (Naropin) 0.2%, 3 mL and Kenalog 40 mg.",
     ("ropivacaine", None, "0.2%", "3 mL")),
    ("Right SIJ injected under fluoroscopy: Sensorcaine (bupivacaine) 0.5%, 1.5 mL, then Kenalog 40 mg.",
     ("bupivacaine", None, "0.5%", "1.5 mL")),
    ("Procedure | Right SI joint injection | fluoroscopy |\nDrugs | Kenalog 40 mg; ropivacaine 0.2%, 3 mL |\n",
     ("ropivacaine", None, "0.2%", "3 mL")),
    ("Procedure\tRight SI joint injection under fluoroscopy\nDrugs\tKenalog 40 mg; ropivacaine 0.2%, 3 mL\n",
     ("ropivacaine", None, "0.2%", "3 mL")),
])
def test_an_amount_set_off_by_a_comma_after_a_name_or_in_a_cell_is_the_drugs(text, expected):
    assert expected in _meds(text)


def test_a_trailing_amount_that_names_the_next_drug_is_not_taken():
    meds = _meds("Right SIJ injected under fluoroscopy with ropivacaine (Naropin) 0.2%, 3 mL lidocaine 1% at the skin.")
    assert ("ropivacaine", None, "0.2%", "3 mL") not in meds


@pytest.mark.parametrize("text, expected", [
    ("Procedure\tRight SI joint injection\nGuidance\tnone, landmarks palpated\n", "none"),
    ("Procedure\tRight SI joint injection\nImaging\tN/A\n", "none"),
    ("Procedure\tRight SI joint injection\nGuidance\tFluoroscopy\n", "fluoroscopy"),
])
def test_a_guidance_cell_in_a_table_row(text, expected):
    assert extract_facts(text).guidance == expected


# --- a correction of the side ---------------------------------------------------------------------------------------

_MISLABELLED = ("Procedure: Left SIJ injection, fluoroscopic guidance.\nNarrative: under fluoroscopy a needle entered"
                " the right sacroiliac joint; contrast outlined it; 40 mg Depo-Medrol injected.\n\n")


@pytest.mark.parametrize("correction", [
    "Erratum: the right joint was injected; the word 'left' in the heading is incorrect.",
    "Amendment (same day): procedure done on the RIGHT. The 'Left' above was mistyped.",
])
def test_a_correction_that_names_the_side_and_calls_the_other_an_error_supersedes_it(correction):
    f = extract_facts(_MISLABELLED + correction)
    assert f.side == "right" and f.conflicts == []


def test_a_correction_on_its_own_line_without_a_blank_line_before_it():
    f = extract_facts(_MISLABELLED.rstrip() + "\nLATE ENTRY (Dr. A, 14:10): corrected - right SI joint was injected;"
                      " the left in the procedure line is a dictation error.")
    assert f.side == "right" and f.conflicts == []


def test_a_line_that_merely_mentions_a_correction_mid_sentence_is_no_correction():
    f = extract_facts(_MISLABELLED.rstrip() + "\nThe patient asked whether the right joint was the correct one;"
                      " left was an error in the schedule.")
    assert [c for c in f.conflicts if c.kind == "side"]


@pytest.mark.parametrize("tail", [
    "Addendum: the right joint was injected.",  # says the side but calls nothing an error
    "Addendum: the left joint label is wrong.",  # calls the left an error, but affirms no side
    "Erratum: the right joint was injected; 'left' above is incorrect.\n\nTechnique (continued): the needle was then"
    " advanced into the left SI joint and 40 mg Depo-Medrol injected.",  # the other side stated after the correction
])
def test_anything_short_of_that_stays_a_side_question(tail):
    f = extract_facts(_MISLABELLED + tail)
    assert f.side != "right" or [c for c in f.conflicts if c.kind == "side"]


@pytest.mark.parametrize("text, expected", [
    ("Left SIJ under fluoroscopy: Depo-Medrol 80 mg/mL, 0.5 mL (40 mg) injected.", ("methylprednisolone", "40 mg")),
    ("Left SIJ under fluoroscopy: Kenalog 10 mg/mL, 2 mL (20 mg total) was given.", ("triamcinolone", "20 mg")),
])
def test_a_trailing_volume_with_its_dose_restated_in_parentheses(text, expected):
    meds = [(m.name, m.dose, m.ambiguous_amount) for m in extract_facts(text).medications]
    assert (*expected, None) in meds


def test_a_restated_dose_that_disagrees_with_strength_times_volume_stays_ambiguous():
    meds = extract_facts("Left SIJ under fluoroscopy: Kenalog 40 mg/mL, 1 mL (80 mg) injected.").medications
    assert meds and meds[0].ambiguous_amount


# --- ultrasound images: modifiers belong to the image mention ----------------------------------------------------

_US_NOTE = ("Procedure: Left SIJ injection, real-time ultrasound guidance. Dx M46.1. Therapeutic.\nTechnique: under"
            " real-time ultrasound the needle tip was seen entering the left sacroiliac joint. {images} 40 mg"
            " triamcinolone and 2 mL 0.25% bupivacaine were injected.")


def _us_supported(images: str) -> bool:
    from notedraft.validate import validate

    return validate(_US_NOTE.format(images=images), ["20552-LT", "76942"]).supported


@pytest.mark.parametrize("images", [
    "No hard copy images were retained.", "No hard-copy image was stored.", "No representative still images were saved.",
])
def test_a_determiner_before_the_images_modifiers_denies_the_record(images):
    assert not _us_supported(images)


@pytest.mark.parametrize("images", ["A hard-copy image is kept in the chart.", "Representative still images were stored."])
def test_modified_images_recorded(images):
    assert _us_supported(images)
