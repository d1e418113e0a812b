"""The validator's contract: a pure function of (note, code lines, payer) whose every verdict carries its evidence."""

from __future__ import annotations

import json

import pytest

from notedraft.codes import CodeError, parse_code_line
from notedraft.models import CodeLine
from notedraft.validate import validate

LEFT = (
    "Procedure: left sacroiliac joint injection. Diagnosis: sacroiliitis (M46.1). This was a diagnostic injection. "
    "Under fluoroscopic guidance a 22-gauge spinal needle was advanced into the left SI joint. Intra-articular needle "
    "placement was confirmed with contrast (Omnipaque 240, 1 mL), which outlined the joint. Injected 40 mg "
    "triamcinolone (Kenalog) and 2 mL of 0.25% bupivacaine. Pain 8/10 before and 2/10 after. No complications."
)
ULTRASOUND = (
    "R SIJ inj, US guided, real-time, curvilinear probe, in-plane, needle tip visualized entering the joint, images "
    "saved to PACS, 80 Depo-Medrol, 3 cc 1% Xylocaine, dx M46.1, therapeutic"
)
DICTATION = "L SIJ inj, fluoro, IA confirmed w contrast, 40 kenalog + 2cc 0.25% bupi, dx M46.1, dx + therapeutic"
MTSAMPLES = (
    "BILATERAL SACROILIAC JOINT INJECTIONS,PROCEDURE:,:  Informed consent was obtained from the patient.  The "
    "patient was placed in the prone position.  Under image intensifier control a 25 gauge spinal needle was directed "
    "into the inferior aspect of each sacroiliac joint.  Contrast outlined the recesses of the joints, verifying the "
    "needle position.  1 mL was administered at each site, consisting of 0.5 mL of 0.25% Marcaine and 0.5 mL of "
    "Celestone.,DIAGNOSIS:,  Sacroiliitis.,PURPOSE:,  Therapeutic.,COMPLICATIONS:,  None."
)
BAD = "Left SI joint injection. Fluoroscopy was not used. Injected Kenalog. Dx M54.5."

CLAIMS = [
    (LEFT, ["27096-LT"], None),
    (LEFT, ["27096-RT", "76942", "77003"], "medicare"),
    (ULTRASOUND, ["20552-RT", "76942"], None),
    (ULTRASOUND, ["27096-50"], "medicare"),
    (DICTATION, ["27096-LT"], None),
    (MTSAMPLES, ["27096-50"], None),
    (MTSAMPLES, ["27096-LT", "27096-RT"], None),
    (BAD, ["27096-LT", "G0260-LT", "20552-LT", "20553", "73542"], "medicare"),
]


@pytest.mark.parametrize("text, codes, payer", CLAIMS)
def test_every_span_is_the_text_at_its_offsets(text, codes, payer):
    report = validate(text, codes, payer=payer)
    spans = [s for f in report.findings for s in f.evidence] + [s for r in report.satisfied for s in r.evidence]
    for span in spans:
        assert 0 <= span.start <= span.end <= len(text)
        assert text[span.start : span.end] == span.text


@pytest.mark.parametrize("text, codes, payer", CLAIMS)
def test_every_finding_has_a_rule_a_severity_a_message_and_a_fix(text, codes, payer):
    for f in validate(text, codes, payer=payer).findings:
        assert f.rule and f.severity in ("error", "warning")
        assert f.message.strip() and f.fix.strip()
        assert "{" not in f.message + f.fix, f"unformatted template in {f.rule}"
        assert f.code in codes or f.rule == "claim.no_codes"


@pytest.mark.parametrize("text, codes, payer", CLAIMS)
def test_every_satisfied_requirement_has_evidence(text, codes, payer):
    for requirement in validate(text, codes, payer=payer).satisfied:
        assert requirement.evidence, f"{requirement.rule} is met without evidence"


@pytest.mark.parametrize("text, codes, payer", CLAIMS)
def test_supported_means_no_errors(text, codes, payer):
    report = validate(text, codes, payer=payer)
    assert report.supported == (not report.errors)


@pytest.mark.parametrize("text, codes, payer", CLAIMS)
def test_suggested_codes_are_supported_by_the_note(text, codes, payer):
    report = validate(text, codes, payer=payer)
    if report.suggested_codes:
        again = validate(text, report.suggested_codes, payer=payer)
        assert again.supported, [f.rule for f in again.errors]


@pytest.mark.parametrize(
    "text, suggested",
    [
        (LEFT, ["27096-LT"]),
        (DICTATION, ["27096-LT"]),
        (MTSAMPLES, ["27096-50"]),
        (ULTRASOUND, ["20552-RT", "76942"]),
        (BAD, []),
    ],
)
def test_suggested_codes(text, suggested):
    assert validate(text, ["27096"]).suggested_codes == suggested


def test_validation_is_deterministic():
    first = json.dumps(validate(MTSAMPLES, ["27096-50"], payer="medicare").as_json(), sort_keys=True)
    for _ in range(3):
        assert json.dumps(validate(MTSAMPLES, ["27096-50"], payer="medicare").as_json(), sort_keys=True) == first


def test_a_failed_guidance_rule_points_at_the_negated_mention():
    text = "Left SI joint injection. Fluoroscopy was not used. 40 mg Kenalog. Dx M46.1. Therapeutic."
    report = validate(text, ["27096-LT"])
    (finding,) = [f for f in report.findings if f.rule == "27096.guidance.fluoroscopy_or_ct"]
    assert "none" in finding.message
    assert [e.text for e in finding.evidence] == ["Fluoroscopy"]


def test_the_verdict_names_the_undosed_drug_by_what_the_note_wrote():
    report = validate(BAD, ["27096-LT"])
    (finding,) = [f for f in report.findings if f.rule == "27096.medications.dosed"]
    assert "Kenalog (triamcinolone)" in finding.message


def test_no_code_lines_is_an_error_with_suggestions():
    report = validate(LEFT, [])
    assert not report.supported
    assert [f.rule for f in report.findings] == ["claim.no_codes"]
    assert report.suggested_codes == ["27096-LT"]


def test_code_lines_may_be_given_parsed():
    assert validate(LEFT, [CodeLine(code="27096", modifiers=("LT",))]).supported


@pytest.mark.parametrize(
    "raw, parsed",
    [("27096-LT", ("27096", ("LT",))), ("27096-50", ("27096", ("50",))), (" 20552-rt ", ("20552", ("RT",))),
     ("76942", ("76942", ())), ("g0260-lt", ("G0260", ("LT",))), ("27096-LT-KX", ("27096", ("LT", "KX")))],
)
def test_code_lines_parse(raw, parsed):
    line = parse_code_line(raw)
    assert (line.code, line.modifiers) == parsed


@pytest.mark.parametrize(
    "raw, says",
    [("99999", "unknown code"), ("27096-ZZ", "unknown modifier"), ("27096-L", "malformed"), ("27096LT", "malformed"),
     ("27096-LT-LT", "repeated"), ("", "malformed"), ("27096--50", "malformed"), ("64999", "unknown code")],
)
def test_unreadable_code_lines_are_refused(raw, says):
    with pytest.raises(CodeError, match=says):
        parse_code_line(raw)


def test_a_modifier_the_code_does_not_take_is_an_error():
    report = validate(LEFT, ["27096-LT", "76942-RT"])
    assert "76942.modifiers.allowed" in {f.rule for f in report.errors}


def test_facts_summary_is_the_json_contract():
    facts = validate(DICTATION, ["27096-LT"]).as_json()["facts"]
    assert facts["procedure"] == "si_joint_injection"
    assert facts["guidance"] == "fluoroscopy"
    assert facts["side"] == "left"
    assert facts["purpose"] == "diagnostic_and_therapeutic"
    assert [(m["name"], m["dose"]) for m in facts["medications"]] == [("triamcinolone", "40 mg"), ("bupivacaine", "2 mL of 0.25%")]
    assert [d["code"] for d in facts["diagnoses"]] == ["M46.1"]


def test_report_json_shape():
    data = validate(BAD, ["27096-LT"]).as_json()
    assert {"supported", "codes", "findings", "suggested_codes", "facts"} <= set(data)
    for finding in data["findings"]:
        assert {"rule", "severity", "message", "fix", "evidence"} <= set(finding)
        for span in finding["evidence"]:
            assert set(span) == {"start", "end", "text"}
    json.dumps(data)  # serialisable as is


def test_a_note_without_an_si_joint_procedure_is_not_guessed_into_one():
    report = validate("Left L5-S1 transforaminal epidural steroid injection under fluoroscopy.", ["27096-LT"])
    assert report.facts.procedure == "epidural_transforaminal"
    assert not report.supported and report.suggested_codes == []
