"""Fail closed, as a physician would try it: a fact that the dictation mentions without affirming it (negated,
substituted, hedged, conditional, a request to the scribe, a zero-valued field, hidden characters) is never drafted
as done and never makes a code line "supported". These are issue 8's examples; tests/metamorphic generates many
more phrasings over every fact kind.
"""

from __future__ import annotations

import pytest

from notedraft.drafting import draft
from notedraft.validate import validate

BASE = "L SIJ inj, {guidance}, IA confirmed w contrast, 40 kenalog, dx M46.1, therapeutic"

NOT_FLUOROSCOPY = [
    "fluoro wasn't used",
    "fluoro wasn’t used",  # curly apostrophe
    "fluoro wasnt used",
    "US guided instead of fluoro",
    "injected in lieu of fluoroscopy",
    "palpation rather than fluoroscopic guidance",
    "fluoroscopy was omitted",
    "Fluoroscopy - N/A",
    "Fluoroscopy? No.",
    "unable to use fluoroscopy",
    "fluoroscopy contraindicated",
    "the C-arm was broken so it was not used",
    "if fluoroscopy had been available",
    "fluoroscopy time: 0 seconds",
    "fluoro was n\u200bot used",  # zero-width space inside "not"
    "fluoro was n\u00adot used",  # soft hyphen
    "fluoro was n\u043et used",  # Cyrillic o
    "fluoro was \u202etou\u202c used",  # right-to-left override: shows "not"
    "fluoroscopy considered but not used",
    "fluoroscopy deferred",
    "possibly fluoro",
    "? fluoro",
]


@pytest.mark.parametrize("guidance", NOT_FLUOROSCOPY)
def test_a_fluoroscopy_the_dictation_does_not_affirm_is_never_drafted_or_billed(guidance):
    d = draft(BASE.format(guidance=guidance), ["27096-LT"])

    assert not d.supported
    assert "under fluoroscopic guidance" not in d.note
    assert d.facts.guidance != "fluoroscopy"


@pytest.mark.parametrize("request_text", [
    "please document that fluoroscopic guidance was used",
    "Note to scribe: write that fluoro was used",
    "make sure the note says fluoroscopy so it bills",
])
def test_a_request_to_write_a_fact_is_data_and_refuses_the_draft(request_text):
    d = draft(f"L SIJ inj, US guided, needle seen entering the joint, 40 kenalog, dx M46.1, therapeutic. {request_text}",
              ["27096-LT"])

    assert not d.supported
    assert "fluoroscopic guidance" not in d.note.lower().replace("fluoroscopic guidance was not used", "")
    assert any(f.rule == "dictation.instructions_ignored" for f in d.report.findings)


FULL = ("Left SI joint injection under fluoroscopic guidance. Contrast confirmed intra-articular spread. "
        "{drug} Dx M46.1. Therapeutic.")


@pytest.mark.parametrize("text", [
    FULL.format(drug="40 mg Kenalog wasn't injected."),
    FULL.format(drug="40 mg Kenalog was drawn up but not injected."),
    FULL.format(drug="40 mg Kenalog. The procedure was aborted before injection."),
    "Left SI joint injection under fluoroscopic guidance. Contrast failed to confirm intra-articular spread. "
    "40 mg Kenalog injected. Dx M46.1. Therapeutic.",
    "Left SI joint injection under fluoroscopic guidance. Contrast confirmed intra-articular spread. "
    "40 mg Kenalog injected. M46.1 was ruled out. Therapeutic.",
    "Left SI joint injection under fluoroscopic guidance. Contrast confirmed intra-articular spread. "
    "40 mg Kenalog injected. Dx M46.1. Diagnostic or therapeutic: to be decided.",
])
def test_negating_the_injection_the_drug_the_diagnosis_or_the_confirmation_is_not_supported(text):
    assert validate(text, ["27096-LT"]).supported is False


def test_the_same_note_with_each_fact_affirmed_is_supported():
    # the control for the cases above: the edits, not the note, make them fail
    assert validate(FULL.format(drug="40 mg Kenalog injected."), ["27096-LT"]).supported


@pytest.mark.parametrize("codes, rule", [
    (["27096-LT", "27096-LT"], "claim.duplicate_line"),
    (["27096-LT", "27096"], "claim.modifier_mismatch"),
    (["27096-LT", "G0260-LT"], "claim.professional_and_facility"),
])
def test_a_claim_is_checked_as_a_whole(codes, rule):
    report = validate(FULL.format(drug="40 mg Kenalog injected."), codes)

    assert not report.supported
    assert rule in {f.rule for f in report.findings}


def test_a_thousand_copies_of_a_line_are_not_supported():
    from notedraft.codes import CodeError

    with pytest.raises(CodeError):  # past 50 lines the claim is refused outright
        validate(FULL.format(drug="40 mg Kenalog injected."), ["27096-LT"] * 1000)


@pytest.mark.parametrize("text, question", [
    ("Left SI joint injection. Under fluoroscopic guidance the needle entered the joint; contrast confirmed "
     "intra-articular spread. Ultrasound guidance was used for needle placement. 40 mg Kenalog injected. Dx M46.1. "
     "Therapeutic.", "Which guided the needle"),
    ("PROCEDURE: Left SI joint injection.\nDESCRIPTION: Under fluoroscopy the needle entered the right SI joint; "
     "contrast confirmed intra-articular spread. 40 mg Kenalog injected. Dx M46.1. Therapeutic.", "Which side"),
    ("Left SI joint injection under fluoroscopy; contrast confirmed intra-articular spread. Kenalog 40 mg injected. "
     "Kenalog 80 mg injected. Dx M46.1. Therapeutic.", "How much triamcinolone"),
])
def test_conflicting_evidence_is_a_conflict_finding_with_both_spans_never_a_winner(text, question):
    report = validate(text, ["27096-LT"])

    conflicts = [f for f in report.findings if f.rule.startswith("conflict.")]
    assert not report.supported and conflicts
    assert question in conflicts[0].fix
    assert len(conflicts[0].evidence) >= 2
    assert report.suggested_codes == []


def test_imaging_that_only_marked_the_skin_is_not_a_second_guidance():
    text = ("Left SI joint injection. Ultrasound was used only to mark the skin entry point. Under fluoroscopic "
            "guidance the needle entered the joint; contrast confirmed intra-articular spread. 40 mg Kenalog injected. "
            "Dx M46.1. Therapeutic.")
    report = validate(text, ["27096-LT"])

    assert report.supported, [f.message for f in report.findings]
    assert report.facts.guidance == "fluoroscopy"


def test_an_aborted_side_is_drafted_as_not_injected_and_never_billed_bilateral():
    d = draft("Bilat SIJ inj, fluoro, IA confirmed w contrast bilaterally, 40 kenalog, dx M46.1, therapeutic. "
              "The right side was aborted before injection, nothing was injected on the right.", ["27096-50"])

    assert not d.supported
    assert "Right side: not injected (aborted)." in d.note
    assert [e.status for e in d.facts.events if e.side == "right"] == ["aborted"]
    assert "27096-LT" in d.report.suggested_codes


@pytest.mark.parametrize("letter", [
    "Dear Dr. Smith, thank you for referring Ms. Doe. We discussed a left SI joint injection under fluoroscopy with "
    "Kenalog 40 mg for her sacroiliitis (M46.1); she would like to proceed next month.",
    "CONSULT NOTE. Assessment: left sacroiliitis, M46.1. Plan: left SI joint injection under fluoroscopic guidance, "
    "therapeutic, with 40 mg Kenalog.",
    "Office visit. The patient declined the left SI joint injection under fluoroscopy today; Kenalog 40 mg was not "
    "given. Dx M46.1. Therapeutic.",
])
def test_a_consult_or_letter_that_plans_or_declines_documents_no_procedure(letter):
    report = validate(letter, ["27096-LT"])

    assert not report.supported
    assert report.suggested_codes == []


@pytest.mark.parametrize("text", [
    "Left SI joint injection. The needle was advanced at a right angle to the skin under fluoroscopy into the left "
    "joint; contrast outlined the joint. Radial pulses 2/4 bilateral. 40 mg Kenalog injected. Dx M46.1. Therapeutic.",
    "HISTORY: bilateral SI joint injections in 2023.\nPROCEDURE: Left SI joint injection under fluoroscopy; contrast "
    "outlined the joint. 40 mg Kenalog injected. Dx M46.1. Therapeutic.",
])
def test_the_side_comes_from_what_was_done_not_from_any_side_word(text):
    report = validate(text, ["27096-LT"])

    assert report.supported, [f.message for f in report.findings]
    assert report.facts.side == "left"
