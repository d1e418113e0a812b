"""Grounding: every fact a note states is linked to the dictation, and anything unlinked is a named finding.

Each test edits one fact of a faithful note and expects exactly that invention to be named, with evidence that
points at the invented text in the note.
"""

from __future__ import annotations

import pytest

from notedraft.drafting import draft
from notedraft.grounding import RULE, ground

DICTATION = "L SIJ inj, fluoro, IA confirmed w contrast, 40 kenalog + 2cc 0.25% bupi, dx M46.1, dx + therapeutic"
US_DICTATION = ("R SIJ inj, US guided, needle tip seen entering joint in-plane, images saved to PACS, depo-medrol 80, "
                "dx M46.1, therapeutic")

# Faithful prose, worded differently from the dictation and from the template.
PROSE = """Procedure: Left sacroiliac joint injection.
Diagnosis: Sacroiliitis (M46.1).
Purpose: diagnostic and therapeutic.
Technique: Under fluoroscopic guidance the needle was advanced into the left SI joint. Intra-articular placement was
confirmed with contrast.
Medications injected: Kenalog 40 mg and 2 mL of 0.25% bupivacaine.
"""
US_PROSE = ("Right SI joint injection, therapeutic, for M46.1. Under ultrasound guidance the needle was advanced "
            "in-plane and the needle tip was seen entering the joint. Images were saved to PACS. Injected: "
            "methylprednisolone (Depo-Medrol) 80 mg.")


def messages(note: str, dictation: str = DICTATION) -> list[str]:
    findings = ground(note, dictation)
    assert all(f.rule == RULE and f.severity == "error" for f in findings)
    return [f.message for f in findings]


def edit(note: str, old: str, new: str) -> str:
    assert old in note, old
    return note.replace(old, new, 1)


# --- faithful notes have no findings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dictation",
    [
        DICTATION,
        US_DICTATION,
        "bilat SIJ inj, CT guided, IA placement confirmed, depo-medrol 80 + 2cc 0.25 bupi, dx M46.1, diagnostic",
        "R SIJ inj by landmarks, no imaging, depo-medrol 80, 2cc 1% lido, dx M46.1, therapeutic",
        "L SIJ inj, fluoro, IA confirmed w contrast, 40 kenalog, dx M46.1, therapeutic, pain 8/10 -> 2/10, no complications",
    ],
)
def test_a_template_note_is_grounded(dictation):
    assert messages(draft(dictation).note, dictation) == []


@pytest.mark.parametrize("note, dictation", [(PROSE, DICTATION), (US_PROSE, US_DICTATION)])
def test_faithful_prose_in_other_words_is_grounded(note, dictation):
    assert messages(note, dictation) == []


# --- each invention is named ----------------------------------------------------------------------------------------


def test_an_invented_dose_is_named():
    dictation = "L SIJ inj, fluoro, IA confirmed w contrast, depo-medrol 40, dx M46.1, therapeutic"
    note = edit(draft(dictation).note, "methylprednisolone acetate 40 mg", "methylprednisolone acetate 80 mg")

    findings = ground(note, dictation)

    assert "unsupported: 80 mg methylprednisolone" in [f.message for f in findings]
    [dose] = [f for f in findings if f.message == "unsupported: 80 mg methylprednisolone"]
    assert dose.evidence and "80 mg" in dose.evidence[0].text
    assert note[dose.evidence[0].start : dose.evidence[0].end] == dose.evidence[0].text
    assert "unsupported: number 80" in [f.message for f in findings]


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("Kenalog 40 mg", "Depo-Medrol 80 mg", "unsupported: 80 mg methylprednisolone"),
        ("Kenalog 40 mg", "Kenalog 80 mg", "unsupported: 80 mg triamcinolone"),
        ("2 mL of 0.25%", "2 mL of 0.5%", "unsupported: 2 mL of 0.5% bupivacaine"),
        ("2 mL of 0.25%", "3 mL of 0.25%", "unsupported: 3 mL of 0.25% bupivacaine"),
        ("bupivacaine.", "bupivacaine and 1 mL of 1% lidocaine.", "unsupported: 1 mL of 1% lidocaine"),
        ("Procedure: Left", "Procedure: Bilateral", "unsupported: side bilateral"),
        ("Under fluoroscopic guidance", "Under ultrasound guidance", "unsupported: guidance ultrasound"),
        ("Under fluoroscopic guidance", "Under CT guidance", "unsupported: guidance ct"),
        ("(M46.1)", "(M46.1, M54.50)", "unsupported: diagnosis code M54.50"),
        ("left SI joint.", "left SI joint at L5-S1.", "unsupported: level L5-S1"),
        ("diagnostic and therapeutic.", "diagnostic.", "unsupported: purpose diagnostic"),
        ("bupivacaine.\n", "bupivacaine.\nImages were saved to PACS.\n",
         "unsupported: images recorded ('Images were saved to PACS')"),
        ("bupivacaine.\n", "bupivacaine.\nThree passes were made with a 22 gauge needle.\n", "unsupported: number 22"),
        ("bupivacaine.\n", "bupivacaine.\nComplications: vasovagal reaction.\n", "unsupported: complication vasovagal"),
        ("bupivacaine.\n", "bupivacaine.\nPain 7/10 before.\n", "unsupported: pain score 7/10"),
        ("sacroiliac joint injection.", "sacroiliac joint radiofrequency ablation.", "unsupported: procedure si rfa"),
    ],
)
def test_each_invented_fact_is_named(old, new, expected):
    assert expected in messages(edit(PROSE, old, new))


def test_an_invented_side_is_named():
    note = PROSE.replace("Procedure: Left", "Procedure: Right").replace("the left SI joint", "the right SI joint")
    assert messages(note) == ["unsupported: side right"]


def test_a_second_modality_next_to_the_dictated_one_is_named():
    # The reader settles on fluoroscopy for the note; the ultrasound it also claims is still an invention.
    note = edit(PROSE, "Under fluoroscopic guidance", "After an ultrasound scout, under fluoroscopic guidance")
    assert "unsupported: guidance ultrasound ('ultrasound')" in messages(note)


def test_a_modality_the_dictation_never_mentions_is_named_even_when_negated():
    note = edit(US_PROSE, "Under ultrasound guidance", "Under ultrasound guidance (fluoroscopy was not used)")
    assert messages(note, US_DICTATION) == ["unsupported: guidance fluoroscopy ('fluoroscopy')"]


def test_an_invented_ultrasound_description_is_named():
    note = edit(PROSE, "bupivacaine.\n", "bupivacaine.\nReal-time imaging tracked the needle.\n")
    assert "unsupported: guidance description ('Real-time')" in messages(note)


def test_invented_recorded_images_on_an_ultrasound_note_are_named():
    dictation = US_DICTATION.replace(" images saved to PACS,", "")
    assert messages(US_PROSE, dictation) == ["unsupported: images recorded ('Images were saved to PACS')"]


def test_a_confirmation_the_dictation_lacks_is_named():
    dictation = DICTATION.replace("IA confirmed w contrast, ", "")
    found = messages(PROSE, dictation)
    assert any(m.startswith("unsupported: needle confirmation") for m in found), found
    assert any(m.startswith("unsupported: contrast") for m in found), found


def test_numbers_of_pain_scales_and_codes_are_not_free_numbers():
    dictation = "L SIJ inj, fluoro, IA confirmed w contrast, 40 kenalog, dx M46.1, therapeutic, pain 8/10 -> 2/10"
    note = draft(dictation).note
    assert "8/10" in note and "M46.1" in note
    assert messages(note, dictation) == []


def test_findings_are_not_repeated():
    note = edit(PROSE, "Kenalog 40 mg", "Kenalog 80 mg") + "Kenalog 80 mg was repeated.\n"
    found = messages(note)
    assert len(found) == len(set(found))


def test_a_brand_name_in_parentheses_keeps_its_dose():
    # "methylprednisolone (Depo-Medrol) 80 mg": the dose after the parenthesis belongs to the drug before it.
    from notedraft.validate import validate

    assert messages(US_PROSE, US_DICTATION) == []
    assert validate(US_PROSE, ["20552-RT", "76942"]).supported
