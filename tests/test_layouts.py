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


_JSON = ('{{"encounter_id": "A-20931", "procedure": "{procedure}", "indication": "Left sacroiliitis (M46.1), 6 months '
         'of low back pain despite PT", "purpose": "diagnostic and therapeutic", "guidance": "{guidance}", '
         '"needle_confirmation": "{confirmation}", "fluoroscopy_used": {used}, '
         '"medications": [{{"drug": "Kenalog", "dose": "40 mg"}}, {{"drug": "bupivacaine 0.25%", "volume": "2 mL"}}], '
         '"complications": null}}')


def _json(procedure="Left sacroiliac joint injection", guidance="fluoroscopy", used="true",
          confirmation="intra-articular spread of contrast under fluoroscopy"):
    return _JSON.format(procedure=procedure, guidance=guidance, used=used, confirmation=confirmation)


@pytest.mark.parametrize("text", [_json(), _json().replace(", ", ",\n  "), "Note\n" + _json() + "\nSigned.",
                                  '{"a": "x \\" y \\n z", "b": [1, 2, "three"], "c": {"d": false}}'])
def test_json_exports_keep_every_offset(text):
    from notedraft.layouts import json_fields
    assert len(json_fields(text)) == len(text)


def test_a_json_export_reads_key_by_key():
    text = _json()
    report = validate(text, ["27096-LT"])
    assert report.supported, [f.rule for f in report.findings]
    span = report.facts.side_spans[0]
    assert text[span.start:span.end] == span.text == "Left"  # spans index the raw export


def test_a_json_line_inside_a_note_is_read_too():
    assert validate("Exported from the EHR:\n" + _json() + "\n", ["27096-LT"]).supported


@pytest.mark.parametrize("change", [
    {"used": "false"},  # the export says fluoroscopy was not used: a conflict, not a choice
    {"guidance": "fluoroscopy (planned)", "used": "null", "confirmation": "intra-articular spread of contrast"},
    {"guidance": "", "used": "null", "confirmation": "intra-articular spread of contrast"},
    {"procedure": "Left sacroiliac joint injection was deferred"},
])
def test_a_json_export_establishes_nothing_it_does_not_say(change):
    assert not validate(_json(**change), ["27096-LT"]).supported


def test_json_that_does_not_parse_is_left_as_written():
    from notedraft.layouts import json_fields
    text = 'He said "procedure": "left SIJ" and { nothing else'
    assert json_fields(text) == text


_HL7 = ("MSH|^~\\&|PAINEHR|CLINIC|CODING|BILLING|202611201030||ORU^R01|MSG00042|P|2.5\n"
        "PID|1||778812^^^CLINIC||DOE^JANE||19600101|F\n"
        "OBR|1|ORD123|RES456|27096^SI joint injection^CPT\n"
        "OBX|1|ST|SIDE^Side||Right||||||F\n"
        "OBX|2|ST|GUID^Guidance||{guidance}||||||{status}\n"
        "OBX|3|ST|CONF^Needle confirmation||Contrast arthrogram, intra-articular||||||F\n"
        "OBX|4|ST|DX^Diagnosis||M46.1 Sacroiliitis||||||F\n"
        "OBX|5|ST|PURP^Purpose||Diagnostic||||||F\n"
        "OBX|6|ST|PROC^Procedure||Sacroiliac joint injection||||||F\n"
        "OBX|7|NM|KEN^Kenalog||40|mg^milligram^UCUM|||||F\n"
        "OBX|8|ST|MED2^Medication||Bupivacaine 0.25% 2 mL||||||F\n"
        "NTE|1||{note}\n")
_HL7_FT = ("MSH|^~\\&|EPIC|PAIN|||20261120||MDM^T02|123|P|2.3\n"
           "OBX|1|FT|PROCNOTE^Procedure Note^L||PROCEDURE: Right sacroiliac joint injection.\\.br\\INDICATION: Right "
           "sacroiliitis (M46.1); diagnostic block.\\.br\\TECHNIQUE: Under fluoroscopic guidance a 22-gauge needle was "
           "advanced into the right SI joint. Contrast showed an intra-articular arthrogram.\\.br\\MEDICATIONS: 40 mg "
           "triamcinolone and 1 mL 0.5% bupivacaine injected.\\.br\\COMPLICATIONS: none.||||||F\n")


def _hl7(guidance="Fluoroscopy", status="F", note="No complications."):
    return _HL7.format(guidance=guidance, status=status, note=note)


@pytest.mark.parametrize("text", [_hl7(), _HL7_FT])
def test_hl7_messages_read_observation_by_observation(text):
    assert len(flatten(text)) == len(text)
    report = validate(text, ["27096-RT"])
    assert report.supported, [f.rule for f in report.findings]
    span = report.facts.side_spans[0]
    assert text[span.start:span.end] == span.text  # spans index the raw message


@pytest.mark.parametrize("change", [
    {"guidance": "None (landmarks)"},
    {"status": "W"},  # the guidance observation was entered in error: nothing says how the needle was guided
    {"note": "Fluoroscopy was not used."},
])
def test_an_hl7_message_establishes_nothing_it_does_not_say(change):
    assert not validate(_hl7(**change), ["27096-RT"]).supported


def test_an_hl7_order_alone_is_no_procedure():
    order = _HL7.split("OBX|1")[0]  # MSH, PID and an OBR naming 27096: ordered, not documented
    assert validate(order, ["27096-RT"]).facts.procedure == "unstated"
