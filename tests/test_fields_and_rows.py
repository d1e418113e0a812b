"""Guidance, sides and amounts written as practices lay them out: table rows, checkbox rows, equipment records, one
side at a time. Each layout states the same fact a sentence would, and each has a twin that states nothing (an
unchecked box, zero acquisitions) which must stay unestablished."""

from __future__ import annotations

import pytest

from notedraft.extract import extract_facts
from notedraft.validate import validate

MEDS_DX = "Diagnosis: M46.1\nPurpose: Therapeutic\nMedications injected: 40 mg Kenalog; 1% lidocaine, 2 mL\n"


def _pipe(guidance: str) -> str:
    return ("| Field | Value |\n| --- | --- |\n| Procedure | Left sacroiliac joint injection |\n| Side | Left |\n"
            f"| Guidance | {guidance} |\n| Diagnosis | M46.1 |\n| Purpose | Therapeutic |\n"
            "| Medications injected | 40 mg Kenalog; lidocaine 1%, 3 mL |\n")


def _boxes(none_box: str) -> str:
    return ("SI JOINT INJECTION\nSide: [X] Left [ ] Right [ ] Bilateral\n"
            f"Guidance: [ ] Fluoroscopy [ ] CT [ ] Ultrasound {none_box} None (landmarks)\n" + MEDS_DX)


@pytest.mark.parametrize("note", [_pipe("None (palpation of landmarks)"), _pipe("None"), _boxes("[X]"), _boxes("☒")],
                         ids=["pipe-none-palpation", "pipe-none", "checkbox-x", "checkbox-glyph"])
def test_a_guidance_row_that_says_none_states_no_imaging(note):
    report = validate(note, ["20552-LT"])
    assert report.facts.guidance == "none"
    assert report.supported, [f.rule for f in report.findings]


def test_an_unchecked_none_box_states_nothing():
    report = validate(_boxes("[ ]"), ["20552-LT"])
    assert report.facts.guidance == "unstated"
    assert not report.supported


def test_a_none_row_beside_another_negative_cell_is_not_read_as_the_guidance():
    note = _pipe("None (palpation of landmarks) | not performed")
    assert not validate(note, ["20552-LT"]).supported


@pytest.mark.parametrize("row", ["| Guidance | CT |", "Guidance\tCT"])
def test_a_table_row_naming_ct_alone_is_ct_guidance(row):
    note = (f"Procedure: Left sacroiliac joint injection\n{row}\n"
            "Needle confirmation: CT images showed the needle tip within the joint.\n" + MEDS_DX.replace("Therapeutic", "Diagnostic"))
    report = validate(note, ["27096-LT"])
    assert report.facts.guidance == "ct"
    assert report.supported, [f.rule for f in report.findings]


_EQUIPMENT = ("PROCEDURE: Left sacroiliac joint injection.\nDIAGNOSIS: M46.1.\nPURPOSE: Diagnostic.\n"
              "TECHNIQUE: Under imaging guidance, a 22-gauge spinal needle was advanced into the left sacroiliac joint. "
              "2 mL of 0.5% bupivacaine was injected.\nEQUIPMENT: CT scanner. CT: {n} intermittent acquisitions.\n")


def test_ct_acquisitions_made_during_the_procedure_are_ct_use():
    assert extract_facts(_EQUIPMENT.format(n=4)).guidance == "ct"


@pytest.mark.parametrize("n", ["0", "zero"])
def test_a_scanner_in_the_equipment_list_with_no_acquisition_is_not_guidance(n):
    facts = extract_facts(_EQUIPMENT.format(n=n))
    assert facts.guidance != "ct"
    assert not validate(_EQUIPMENT.format(n=n), ["27096-LT"]).supported


def test_ct_images_of_the_needle_name_the_imaging_that_guided_it():
    note = _EQUIPMENT.format(n=4).replace("EQUIPMENT: CT scanner. CT: 4 intermittent acquisitions.\n", "") \
        + "CT images showed the needle tip within the joint.\n"
    assert extract_facts(note).guidance == "ct"


def test_prior_ct_images_are_history_not_guidance():
    note = _EQUIPMENT.format(n=4).replace("EQUIPMENT: CT scanner. CT: 4 intermittent acquisitions.\n", "") \
        + "HISTORY: Prior CT images showed the needle tract from the 2023 injection.\n"
    assert extract_facts(note).guidance != "ct"


@pytest.mark.parametrize("tail", ["The same was repeated on the right.", "This was then repeated on the right side."])
def test_a_bilateral_injection_narrated_one_side_at_a_time_is_bilateral(tail):
    note = ("PROCEDURE: Bilateral sacroiliac joint injections under fluoroscopic guidance.\nDIAGNOSIS: M46.1.\n"
            "PURPOSE: Diagnostic.\nTECHNIQUE: The left sacroiliac joint was injected first. Under fluoroscopic "
            "guidance, a 22-gauge spinal needle was advanced into the left sacroiliac joint. Contrast outlined the "
            f"joint, confirming intra-articular needle placement. 1 mL of 0.5% bupivacaine was injected. {tail}\n")
    report = validate(note, ["27096-50"])
    assert report.facts.side == "bilateral"
    assert report.supported, [f.rule for f in report.findings]


def test_repeating_the_procedure_is_not_read_into_a_side_that_was_only_examined():
    note = ("PROCEDURE: Left sacroiliac joint injection under fluoroscopic guidance. Contrast confirmed "
            "intra-articular placement. 1 mL of 0.5% bupivacaine was injected. Dx M46.1. Diagnostic.\n"
            "EXAM: tenderness was repeated on the right with FABER.\n")
    assert validate(note, ["27096-LT"]).facts.side == "left"


@pytest.mark.parametrize("joiner", ["+", "plus"])
def test_a_volume_set_off_by_a_comma_before_the_next_drug_is_the_first_drugs(joiner):
    facts = extract_facts(f"L SIJ inj, fluoro, Kenalog 40 mg/mL, 2 mL {joiner} 2 mL of 0.25% bupivacaine, dx M46.1")
    amounts = {m.name: (m.volume, m.concentration) for m in facts.medications}
    assert amounts == {"triamcinolone": ("2 mL", "40 mg/mL"), "bupivacaine": ("2 mL", "0.25%")}
    assert facts.unread_amounts == []


@pytest.mark.parametrize("sentence", ["The procedure was performed on the right side.",
                                      "The injection was repeated on the right side after the needle was redirected."])
def test_a_side_stated_twice_is_not_two_sides(sentence):
    note = ("Under fluoroscopy a 22-gauge needle entered the right sacroiliac joint; contrast confirmed intra-articular "
            f"placement. {sentence} 40 mg Kenalog injected. Dx M46.1. Therapeutic.")
    report = validate(note, ["27096-50"])
    assert report.facts.side == "right"
    assert not report.supported


def test_a_statement_before_a_colon_is_not_a_field_label_its_value_can_doubt():
    dictation = ("bilateral SIJ injections under fluoroscopy: left side aborted due to patient discomfort; right SIJ "
                 "entered, intra-articular spread confirmed with contrast, 80 mg depo-medrol injected on the right, "
                 "dx M46.1, therapeutic")
    facts = extract_facts(dictation)
    assert facts.guidance == "fluoroscopy"
    assert [(e.side, e.status) for e in facts.events] == [("left", "aborted"), ("right", "performed")]


@pytest.mark.parametrize("field", ["Fluoroscopy used: No", "Fluoroscopy: not available today",
                                   "C-arm guidance used: unable to obtain"])
def test_a_short_label_is_still_read_by_its_value(field):
    assert extract_facts(f"Left SIJ injection. {field}. Kenalog 40 mg. Dx M46.1.").guidance != "fluoroscopy"


_EACH_SIDE = ("PROCEDURE: Bilateral sacroiliac joint injections under fluoroscopic guidance.\nDIAGNOSIS: Bilateral "
              "sacroiliitis (M46.1).\nPURPOSE: Diagnostic.\nDESCRIPTION: Left side first: under fluoroscopic guidance a "
              "22-gauge needle was advanced into the left sacroiliac joint; 0.5 mL Omnipaque 240 showed an "
              "intra-articular arthrogram; 1.5 mL 0.5% bupivacaine injected. Right side: {right}\n")


def test_a_side_narrated_without_its_own_confirmation_is_not_confirmed():
    note = _EACH_SIDE.format(right="a fluoroscopically guided 22-gauge needle was advanced into the right "
                                   "sacroiliac joint; 1.5 mL 0.5% bupivacaine injected.")
    report = validate(note, ["27096-50"])
    assert [(e.side, e.needle_confirmation) for e in report.facts.events] == [("left", True), ("right", False)]
    assert not report.supported
    assert "27096.guidance.needle_confirmation" in {f.rule for f in report.findings}


@pytest.mark.parametrize("right", [
    "identical technique; 1.5 mL 0.5% bupivacaine injected.",
    "a 22-gauge needle was advanced into the right sacroiliac joint; 0.5 mL Omnipaque 240 showed an intra-articular "
    "arthrogram; 1.5 mL 0.5% bupivacaine injected.",
])
def test_each_side_confirmed_or_done_the_same_way_is_confirmed(right):
    report = validate(_EACH_SIDE.format(right=right), ["27096-50"])
    assert report.supported, [f.rule for f in report.findings]


def test_one_confirmation_said_of_both_sides_confirms_both():
    note = ("Bilateral sacroiliac joint injections under fluoroscopy. Needles were advanced into the left and right "
            "sacroiliac joints. Contrast confirmed intra-articular spread. 40 mg Kenalog injected into each joint. "
            "Dx M46.1. Therapeutic.")
    assert validate(note, ["27096-50"]).supported


def test_a_time_out_on_the_other_side_is_a_wrong_site_question_not_a_second_side():
    note = ("Today we performed a diagnostic left sacroiliac joint block for sacroiliitis (M46.1). Per the checklist "
            "the {side} side was marked and confirmed at time-out. Using fluoroscopy, a 22-gauge needle was placed "
            "into the left SI joint; an arthrogram with 0.5 mL Omnipaque confirmed the needle was intra-articular. "
            "2 mL of 0.5% bupivacaine was injected.")
    wrong = validate(note.format(side="right"), ["27096-LT"])
    assert not wrong.supported and any(c.kind == "side" for c in wrong.facts.conflicts)
    assert not validate(note.format(side="right"), ["27096-50"]).supported
    assert validate(note.format(side="left"), ["27096-LT"]).supported
