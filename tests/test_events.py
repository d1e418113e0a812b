"""Spec tests for event binding (issue 16): a sided diagnosis line inside another procedure's block is that
procedure's; anything that may be the SI joint's own diagnosis of the other side stays a question."""

from __future__ import annotations

from notedraft.extract import extract_facts

_SI_LEFT = ("Procedure B - Left SI joint injection, fluoroscopic guidance.\n"
            "Indication: Lt sacroiliitis, M46.1. Purpose: therapeutic.\n"
            "Details: Under fluoroscopy a 22 g needle entered the left SI joint; contrast outlined the joint. "
            "40 mg triamcinolone and 2 mL 0.25% bupivacaine injected.\n")


def _nerve_block(side: str, dx_side: str) -> str:
    return (f"Procedure A - {side} S1-S3 lateral branch nerve blocks, fluoroscopic guidance.\n"
            f"Indication: {dx_side} SI joint mediated pain, M53.3.\n"
            f"Details: needles placed at the {side.lower()} S1, S2 and S3 lateral branches; 0.5 mL 0.5% bupivacaine "
            "at each site.\n\n")


def test_a_sided_diagnosis_inside_the_other_procedures_block_is_that_procedures():
    f = extract_facts(_nerve_block("Right", "Right") + _SI_LEFT)
    assert f.side == "left" and not [c for c in f.conflicts if c.kind == "side"]


def test_the_same_blocks_in_the_other_order():
    f = extract_facts(_SI_LEFT + "\n" + _nerve_block("Right", "Right"))
    assert f.side == "left" and not [c for c in f.conflicts if c.kind == "side"]


def test_a_diagnosis_of_the_other_side_that_the_block_does_not_name_stays_a_question():
    # the nerve block is on the left too; a right-sided diagnosis inside its block may be the SI joint's: a question
    f = extract_facts(_nerve_block("Left", "Right") + _SI_LEFT)
    assert [c for c in f.conflicts if c.kind == "side"]


def test_a_diagnosis_line_listing_both_procedures_diagnoses_stays_shared():
    text = ("Procedures: 1) Right SI joint injection under fluoroscopy. 2) Left S1-S3 lateral branch blocks.\n"
            "Dx: left SI joint pain; right sacroiliitis.\n"
            "1) Under fluoroscopy a needle entered the right SI joint; contrast outlined it; Kenalog 40 mg injected.\n"
            "2) Needles placed at the left S1-S3 lateral branches; 0.5 mL 0.5% bupivacaine each.\n")
    f = extract_facts(text)
    assert f.side != "right" or [c for c in f.conflicts if c.kind == "side"]
