"""Exported layouts read as the Label: value lines they stand for, without moving a single offset."""

from __future__ import annotations

import pytest

from notedraft.layouts import flatten
from notedraft.validate import validate

_QA = ("SI Joint Injection Quality Macro\nWhich side was injected? -> {side}\nWas this injection diagnostic or "
       "therapeutic? -> Therapeutic\nWhat is the diagnosis? -> Right sacroiliitis, M46.1\nWhat imaging was used? -> "
       "Fluoroscopy\nWas intra-articular placement confirmed? -> {confirmed}\nMedications and doses? -> Joint: "
       "methylprednisolone 40 mg, bupivacaine 0.25% 2 mL\n")
_XML = ('<section name="ProcedureNote"><field id="proc">Right sacroiliac joint injection</field>\n'
        '<field id="dx">Right sacroiliitis M46.1</field><field id="intent">Therapeutic</field>\n'
        '<field id="guidance">{guidance}</field>\n<field id="narrative">Under fluoroscopy, 22g needle into the inferior '
        'right SIJ. Omnipaque 240 0.5 mL: intra-articular arthrogram. Injected dexamethasone 10 mg.</field></section>')
_SPOKEN = ("procedure left sacroiliac joint injection under fluoroscopy period diagnosis left sacroiliitis M46.1 period "
           "this is a diagnostic injection period under fluoroscopic guidance a needle was advanced into the left SI "
           "joint comma the arthrogram confirmed intra articular placement period we then injected two cc of point "
           "five percent bupivacaine period she tolerated it well no complications period")


@pytest.mark.parametrize("text", [_QA, _XML, _SPOKEN, "Pain for a period of six weeks? Maybe. <b>bold</b>"])
def test_flattening_keeps_every_offset(text):
    assert len(flatten(text)) == len(text)


def test_an_answered_macro_question_is_a_field():
    assert validate(_QA.format(side="Right", confirmed="Yes, contrast arthrogram"), ["27096-RT"]).supported


@pytest.mark.parametrize("confirmed", ["", "No", "Unsure"])
def test_an_unanswered_or_negative_answer_establishes_nothing(confirmed):
    assert not validate(_QA.format(side="Right", confirmed=confirmed), ["27096-RT"]).supported


def test_a_macro_answer_names_the_side():
    assert not validate(_QA.format(side="Left", confirmed="Yes, contrast arthrogram"), ["27096-RT"]).supported


def test_an_xml_export_reads_field_by_field():
    report = validate(_XML.format(guidance="Fluoroscopy"), ["27096-RT"])
    assert report.supported, [f.rule for f in report.findings]
    span = report.facts.side_spans[0]
    assert _XML.format(guidance="Fluoroscopy")[span.start:span.end] == span.text  # spans index the raw export


def test_a_transcript_that_spells_its_punctuation_is_read_by_it():
    report = validate(_SPOKEN, ["27096-LT"])
    assert {m.name: m.concentration for m in report.facts.medications} == {"bupivacaine": "0.5%"}
    assert report.supported, [f.rule for f in report.findings]


def test_the_word_period_in_a_punctuated_note_stays_a_word():
    text = "Left SIJ injection. Pain for a period of six weeks. Comma-shaped lesion."
    assert flatten(text) == text
