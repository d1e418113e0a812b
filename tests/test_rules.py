"""One or more tests per rule of every rule pack: the note that breaks it, and the note that satisfies it.

Each case names the rule it is about. `test_every_rule_is_tested` fails when a pack gains a rule without a case
here, so the table stays the list of what notedraft enforces.
"""

from __future__ import annotations

import pytest

from notedraft.rulepack import load_packs
from notedraft.validate import validate

# --- notes, built sentence by sentence so a case says what it changes -------------------------------------------

FLUORO = {
    "procedure": "Procedure: left sacroiliac joint injection.",
    "diagnosis": "Diagnosis: sacroiliitis (M46.1).",
    "purpose": "This was a diagnostic injection.",
    "guidance": "Under fluoroscopic guidance a 22-gauge spinal needle was advanced into the left SI joint.",
    "confirmation": "Intra-articular needle placement was confirmed with contrast (Omnipaque 240, 1 mL), which outlined the joint.",
    "medications": "Injected 40 mg triamcinolone (Kenalog) and 2 mL of 0.25% bupivacaine.",
    "pain": "Pain 8/10 before and 2/10 after.",
    "complications": "No complications.",
}
BILATERAL = FLUORO | {
    "procedure": "Procedure: bilateral sacroiliac joint injections.",
    "guidance": "Under fluoroscopic guidance a 22-gauge spinal needle was advanced into the left SI joint, then into the right SI joint.",
}
ULTRASOUND = FLUORO | {
    "guidance": "Under real-time ultrasound guidance with a curvilinear probe, the needle was advanced in-plane into the left SI joint.",
    "confirmation": "The needle tip was visualized entering the joint and injectate spread within the joint confirmed intra-articular placement.",
    "images": "Ultrasound images were saved to PACS.",
}
LANDMARK = FLUORO | {
    "guidance": "No imaging guidance was used; the needle was placed by palpation (landmark technique) into the left SI joint.",
    "confirmation": None,
}
CT = FLUORO | {
    "guidance": "Under CT guidance a 22-gauge spinal needle was advanced into the left SI joint.",
    "confirmation": "Needle position within the joint was confirmed on CT.",
}
NERVE_BLOCK = FLUORO | {
    "procedure": "Procedure: left L5 dorsal ramus and S1-S3 lateral branch blocks for sacroiliac joint pain.",
    "guidance": "Under fluoroscopic guidance a needle was placed at each lateral branch target.",
    "confirmation": None,
    "medications": "0.5 mL of 0.5% bupivacaine was injected at each level.",
}
RFA = FLUORO | {
    "procedure": "Procedure: left sacroiliac joint radiofrequency ablation of the L5 dorsal ramus and S1-S3 lateral branches.",
    "guidance": "Under fluoroscopic guidance RF cannulas were placed and lesions made at 80 C for 90 seconds.",
    "confirmation": None,
}
TRIGGER_2 = {
    "procedure": "Procedure: trigger point injections.",
    "diagnosis": "Diagnosis: myofascial pain (M79.18).",
    "sites": "Trigger points in the left trapezius and left levator scapulae were injected with 1% lidocaine, 2 mL per site.",
    "complications": "No complications.",
}
TRIGGER_3 = TRIGGER_2 | {
    "sites": "Trigger points in the left trapezius, levator scapulae and rhomboid were injected with 1% lidocaine, 2 mL per site.",
}
EPIDURAL = {
    "procedure": "Procedure: left L5-S1 transforaminal epidural steroid injection.",
    "diagnosis": "Diagnosis: lumbar radiculopathy (M54.16).",
    "purpose": "Therapeutic.",
    "guidance": "Under fluoroscopic guidance the needle was placed and contrast confirmed epidural spread.",
    "medications": "80 mg Depo-Medrol and 2 mL of 1% lidocaine were injected.",
}


def note(base: dict[str, str | None], **changes: str | None) -> str:
    """The note `base` describes, with some sentences replaced (a string) or left out (None)."""
    parts = base | changes
    return " ".join(sentence for sentence in parts.values() if sentence)


# --- helpers -------------------------------------------------------------------------------------------------------


def fired(text: str, codes: list[str], payer: str | None = None) -> dict[str, str]:
    """rule id → severity of every finding on the claim."""
    return {f.rule: f.severity for f in validate(text, codes, payer=payer).findings}


def met(text: str, codes: list[str], payer: str | None = None) -> set[str]:
    return {r.rule for r in validate(text, codes, payer=payer).satisfied}


# --- the rules each SI joint code shares (shared rule set `si_documentation`) -----------------------------------
# code → a line for a left-sided note, a line claiming bilateral, the base note
SI_CODES = {
    "27096": ("27096-LT", "27096-50", FLUORO),
    "G0260": ("G0260-LT", "G0260-50", FLUORO),
    "20552": ("20552-LT", "20552-50", LANDMARK),
}
SI_DOCUMENTATION = [
    # suffix, the note that breaks it, the line to claim (None: the code's left line)
    ("diagnosis.documented", {"diagnosis": None}, None),
    ("diagnosis.billable", {"diagnosis": "Diagnosis: low back pain (M54.5)."}, None),
    ("purpose.stated", {"purpose": None}, None),
    ("side.stated", {"procedure": "Procedure: sacroiliac joint injection.", "guidance": None, "confirmation": None}, None),
    ("side.modifier_matches", {}, "RIGHT"),
    ("side.bilateral_needs_50", {"procedure": "Procedure: bilateral sacroiliac joint injections."}, None),
    ("side.each_side_documented", {}, "BILATERAL"),
    ("medications.documented", {"medications": None}, None),
    ("medications.dosed", {"medications": "Injected Kenalog and bupivacaine."}, None),
    ("guidance.stated", {"guidance": "A 22-gauge spinal needle was advanced into the left SI joint.", "confirmation": None}, None),
]


def _si_line(code: str, which: str | None) -> str:
    left, bilateral, _ = SI_CODES[code]
    return {None: left, "RIGHT": left.replace("LT", "RT"), "BILATERAL": bilateral}[which]


@pytest.mark.parametrize("code", SI_CODES)
@pytest.mark.parametrize("suffix, changes, line", SI_DOCUMENTATION, ids=[c[0] for c in SI_DOCUMENTATION])
def test_si_documentation_rule_fires_when_the_note_omits_it(code, suffix, changes, line):
    base = SI_CODES[code][2]
    if suffix == "side.bilateral_needs_50":  # a bilateral note (both joints in the body too), claimed on one side
        changes = changes | {"guidance": _both_sides(base)}
    findings = fired(note(base, **changes), [_si_line(code, line)])
    assert findings.get(f"{code}.{suffix}") == "error", findings


def _both_sides(base: dict) -> str:
    # A bilateral title over a body that names one joint is a conflict, so a bilateral note injects both joints.
    return base["guidance"].replace("into the left SI joint", "into the left SI joint, then into the right SI joint")


def _si_satisfying_claim(code: str, suffix: str) -> tuple[str, list[str]]:
    left, bilateral, base = SI_CODES[code]
    if suffix in ("side.bilateral_needs_50", "side.each_side_documented"):
        both = note(base, procedure=BILATERAL["procedure"], guidance=_both_sides(base))
        if code == "G0260" and suffix == "side.bilateral_needs_50":
            return both, ["G0260-LT", "G0260-RT"]  # a facility claim: two lines, never -50
        return both, [bilateral]
    return note(base), [left]


@pytest.mark.parametrize("code", SI_CODES)
@pytest.mark.parametrize("suffix", [c[0] for c in SI_DOCUMENTATION])
def test_si_documentation_rule_is_met_by_a_complete_note(code, suffix):
    text, lines = _si_satisfying_claim(code, suffix)
    assert f"{code}.{suffix}" in met(text, lines)
    assert f"{code}.{suffix}" not in fired(text, lines)


# --- rules of one pack ----------------------------------------------------------------------------------------------
# (rule id, note, code lines, payer, expected severity)
VIOLATED = [
    # 27096: SI joint injection with fluoroscopic or CT guidance
    ("27096.procedure.intra_articular_si", note(NERVE_BLOCK), ["27096-LT"], None, "error"),
    ("27096.procedure.intra_articular_si", note(RFA), ["27096-LT"], None, "error"),
    ("27096.guidance.fluoroscopy_or_ct", note(ULTRASOUND), ["27096-LT"], None, "error"),
    ("27096.guidance.fluoroscopy_or_ct", note(LANDMARK), ["27096-LT"], None, "error"),
    ("27096.guidance.fluoroscopy_or_ct", note(FLUORO, guidance="Fluoroscopy was not used; the needle was advanced into the left SI joint.", confirmation=None), ["27096-LT"], None, "error"),
    ("27096.guidance.needle_confirmation", note(FLUORO, confirmation=None), ["27096-LT"], None, "error"),
    ("27096.lines.bilateral_is_one_line", note(BILATERAL), ["27096-LT", "27096-RT"], None, "error"),
    ("27096.lines.no_guidance_add_on", note(FLUORO), ["27096-LT", "77002"], None, "error"),
    ("27096.lines.no_guidance_add_on", note(FLUORO), ["27096-LT", "77003"], None, "error"),
    ("27096.lines.no_guidance_add_on", note(CT), ["27096-LT", "77012"], None, "error"),
    ("27096.lines.no_guidance_add_on", note(FLUORO), ["27096-LT", "73542"], None, "error"),
    ("27096.lines.no_ultrasound_guidance", note(FLUORO), ["27096-LT", "76942"], None, "error"),
    ("27096.setting.facility_uses_g0260", note(FLUORO, setting="Performed at the ambulatory surgery center."), ["27096-LT"], None, "warning"),
    ("27096.medicare.kx_on_diagnostic", note(FLUORO), ["27096-LT"], "medicare", "error"),
    ("27096.medicare.kx_on_combined", note(FLUORO, purpose="This was a diagnostic and therapeutic injection."), ["27096-LT"], "medicare", "warning"),
    ("27096.medicare.contrast", note(FLUORO, confirmation="Fluoroscopy confirmed intra-articular needle placement."), ["27096-LT-KX"], "medicare", "error"),
    ("27096.medicare.pain_scores", note(FLUORO, pain=None), ["27096-LT-KX"], "medicare", "error"),
    # G0260: the facility's SI joint injection
    ("G0260.procedure.intra_articular_si", note(NERVE_BLOCK), ["G0260-LT"], None, "error"),
    ("G0260.guidance.fluoroscopy_or_ct", note(LANDMARK), ["G0260-LT"], None, "error"),
    ("G0260.setting.facility_only", note(FLUORO), ["G0260-LT"], None, "warning"),
    ("G0260.modifiers.allowed", note(BILATERAL), ["G0260-50"], None, "error"),
    # 20552: trigger points in 1-2 muscles, or an SI joint injection with ultrasound or no imaging
    ("20552.procedure.si_or_trigger_point", note(EPIDURAL), ["20552-LT"], None, "error"),
    ("20552.procedure.si_or_trigger_point", note(NERVE_BLOCK), ["20552-LT"], None, "error"),
    ("20552.si.guidance_ultrasound_or_none", note(FLUORO), ["20552-LT"], None, "error"),
    ("20552.si.side_modifier", note(LANDMARK), ["20552"], None, "error"),
    ("20552.si.guidance_ultrasound_or_none", note(CT), ["20552-LT"], None, "error"),
    # the sources disagree on whether a 20552 note must say how ultrasound confirmed placement: a warning, not a refusal
    ("20552.si.ultrasound_needle_confirmation", note(ULTRASOUND, confirmation=None), ["20552-LT"], None, "warning"),
    ("20552.si.ultrasound_confirmation_denied",
     note(ULTRASOUND, confirmation="The needle tip could not be seen entering the joint."), ["20552-LT"], None, "error"),
    ("20552.si.ultrasound_sources_disagree", note(ULTRASOUND), ["20552-LT", "76942"], None, "warning"),
    ("20552.si.medicare_no_imaging", note(LANDMARK), ["20552-LT"], "medicare", "error"),
    ("20552.trigger_point.muscles", note(TRIGGER_3), ["20552"], None, "error"),
    ("20552.trigger_point.diagnosis", note(TRIGGER_2, diagnosis=None), ["20552"], None, "error"),
    ("20552.trigger_point.injectate", note(TRIGGER_2, sites="Trigger points in the left trapezius and left levator "
     "scapulae were injected with 1% lidocaine."), ["20552"], None, "error"),
    ("20553.trigger_point.injectate", note(TRIGGER_3, sites="Trigger points in the left trapezius, levator scapulae "
     "and rhomboid were injected with 1% lidocaine."), ["20553"], None, "error"),
    ("20552.trigger_point.medications_dosed", note(TRIGGER_2, sites="Trigger points in the left trapezius and left levator scapulae were injected with lidocaine."), ["20552"], None, "error"),
    # a side modifier on a trigger point line names the side of the muscles injected
    ("20552.trigger_point.side_matches_modifier", note(TRIGGER_2), ["20552-RT"], None, "error"),
    ("20552.trigger_point.each_side_documented", note(TRIGGER_2), ["20552-50"], None, "error"),
    ("20552.lines.bilateral_is_one_line", note(LANDMARK, procedure=BILATERAL["procedure"]), ["20552-LT", "20552-RT"], None, "error"),
    ("20552.lines.modifier_50_sources_disagree", note(LANDMARK, procedure=BILATERAL["procedure"]), ["20552-50"], None, "warning"),
    ("20552.lines.medicare_imaging_not_covered", note(ULTRASOUND), ["20552-LT", "76942"], "medicare", "warning"),
    # 20553: trigger points in 3 or more muscles
    ("20553.procedure.trigger_points", note(LANDMARK), ["20553"], None, "error"),
    ("20553.muscles.three_or_more", note(TRIGGER_2), ["20553"], None, "error"),
    ("20553.medications.dosed", note(TRIGGER_3, sites="Trigger points in the trapezius, levator scapulae and rhomboid were injected with lidocaine."), ["20553"], None, "error"),
    ("20553.diagnosis.documented", note(TRIGGER_3, diagnosis=None), ["20553"], None, "error"),
    ("20553.lines.medicare_imaging_not_covered", note(TRIGGER_3), ["20553", "76942"], "medicare", "warning"),
    ("20553.modifiers.allowed", note(TRIGGER_3), ["20553-LT"], None, "error"),
    # 76942: ultrasound guidance, an add-on
    ("76942.primary.present", note(ULTRASOUND), ["76942"], None, "error"),
    ("76942.guidance.ultrasound", note(FLUORO), ["20552-LT", "76942"], None, "error"),
    ("76942.guidance.ultrasound", note(LANDMARK), ["20552-LT", "76942"], None, "error"),
    ("76942.images.permanently_recorded", note(ULTRASOUND, images=None), ["20552-LT", "76942"], None, "error"),
    ("76942.images.permanently_recorded", note(ULTRASOUND, images="Images were not saved."), ["20552-LT", "76942"], None, "error"),
    ("76942.guidance.described", note(ULTRASOUND, guidance="Ultrasound guided injection of the left SI joint.", confirmation="Intra-articular placement was confirmed."), ["20552-LT", "76942"], None, "error"),
    ("76942.lines.never_with_27096", note(ULTRASOUND), ["27096-LT", "76942"], None, "error"),
    ("76942.lines.one_per_encounter", note(ULTRASOUND), ["20552-LT", "76942", "76942"], None, "error"),
    ("76942.modifiers.allowed", note(ULTRASOUND), ["20552-LT", "76942-LT"], None, "error"),
    # 77002 / 77003 / 77012: guidance add-ons that never go with 27096
    ("77002.lines.never_with_27096", note(FLUORO), ["27096-LT", "77002"], None, "error"),
    ("77002.primary.present", note(FLUORO), ["77002"], None, "error"),
    ("77002.guidance.documented", note(ULTRASOUND), ["20552-LT", "77002"], None, "error"),
    ("77003.lines.never_with_27096", note(FLUORO), ["27096-LT", "77003"], None, "error"),
    ("77003.primary.present", note(FLUORO), ["77003"], None, "error"),
    ("77003.guidance.documented", note(LANDMARK), ["20552-LT", "77003"], None, "error"),
    ("77012.lines.never_with_27096", note(CT), ["27096-LT", "77012"], None, "error"),
    ("77012.primary.present", note(CT), ["77012"], None, "error"),
    ("77012.guidance.documented", note(FLUORO), ["20552-LT", "77012"], None, "error"),
    # 73542: deleted in 2012
    ("73542.code.deleted", note(FLUORO), ["27096-LT", "73542"], None, "error"),
]

# Requirements a note meets: the rule is listed in `satisfied`, with evidence.
SATISFIED = [
    ("27096.procedure.intra_articular_si", note(FLUORO), ["27096-LT"], None),
    ("27096.guidance.fluoroscopy_or_ct", note(FLUORO), ["27096-LT"], None),
    ("27096.guidance.fluoroscopy_or_ct", note(CT), ["27096-LT"], None),
    ("27096.guidance.needle_confirmation", note(FLUORO), ["27096-LT"], None),
    ("27096.medicare.kx_on_diagnostic", note(FLUORO), ["27096-LT-KX"], "medicare"),
    ("27096.medicare.kx_on_combined", note(FLUORO, purpose="Diagnostic and therapeutic injection."), ["27096-LT-KX"], "medicare"),
    ("27096.medicare.contrast", note(FLUORO), ["27096-LT-KX"], "medicare"),
    ("27096.medicare.pain_scores", note(FLUORO), ["27096-LT-KX"], "medicare"),
    ("G0260.procedure.intra_articular_si", note(FLUORO), ["G0260-LT"], None),
    ("G0260.guidance.fluoroscopy_or_ct", note(FLUORO), ["G0260-LT"], None),
    ("G0260.setting.facility_only", note(FLUORO, setting="Performed in the hospital outpatient department (HOPD)."), ["G0260-LT"], None),
    ("20552.procedure.si_or_trigger_point", note(LANDMARK), ["20552-LT"], None),
    ("20552.si.side_modifier", note(LANDMARK), ["20552-LT"], None),
    ("20552.procedure.si_or_trigger_point", note(TRIGGER_2), ["20552"], None),
    ("20552.si.ultrasound_needle_confirmation", note(ULTRASOUND), ["20552-LT"], None),
    ("20552.si.ultrasound_confirmation_denied", note(ULTRASOUND), ["20552-LT"], None),
    # silence about the confirmation is not a denial of it (the warning above covers silence)
    ("20552.si.ultrasound_confirmation_denied", note(ULTRASOUND, confirmation=None), ["20552-LT"], None),
    ("20552.trigger_point.muscles", note(TRIGGER_2), ["20552"], None),
    ("20552.trigger_point.diagnosis", note(TRIGGER_2), ["20552"], None),
    ("20552.trigger_point.injectate", note(TRIGGER_2), ["20552"], None),
    ("20553.trigger_point.injectate", note(TRIGGER_3), ["20553"], None),
    ("20552.trigger_point.medications_dosed", note(TRIGGER_2), ["20552"], None),
    ("20552.trigger_point.side_matches_modifier", note(TRIGGER_2), ["20552-LT"], None),
    ("20553.procedure.trigger_points", note(TRIGGER_3), ["20553"], None),
    ("20553.muscles.three_or_more", note(TRIGGER_3), ["20553"], None),
    ("20553.medications.dosed", note(TRIGGER_3), ["20553"], None),
    ("20553.diagnosis.documented", note(TRIGGER_3), ["20553"], None),
    ("76942.primary.present", note(ULTRASOUND), ["20552-LT", "76942"], None),
    ("76942.guidance.ultrasound", note(ULTRASOUND), ["20552-LT", "76942"], None),
    ("76942.images.permanently_recorded", note(ULTRASOUND), ["20552-LT", "76942"], None),
    ("76942.guidance.described", note(ULTRASOUND), ["20552-LT", "76942"], None),
    ("77002.primary.present", note(TRIGGER_2, guidance="Under fluoroscopic guidance."), ["20552", "77002"], None),
    ("77002.guidance.documented", note(TRIGGER_2, guidance="Under fluoroscopic guidance."), ["20552", "77002"], None),
    ("77003.primary.present", note(TRIGGER_2, guidance="Under fluoroscopic guidance."), ["20552", "77003"], None),
    ("77003.guidance.documented", note(TRIGGER_2, guidance="Under fluoroscopic guidance."), ["20552", "77003"], None),
    ("77012.primary.present", note(TRIGGER_2, guidance="Under CT guidance."), ["20552", "77012"], None),
    ("77012.guidance.documented", note(TRIGGER_2, guidance="Under CT guidance."), ["20552", "77012"], None),
]

# Prohibitions and cautions that must stay silent on a claim they do not concern.
NOT_FIRED = [
    ("20552.trigger_point.each_side_documented", note(TRIGGER_2), ["20552-LT"], None),
    ("27096.lines.bilateral_is_one_line", note(BILATERAL), ["27096-50"], None),
    ("27096.lines.no_guidance_add_on", note(FLUORO), ["27096-LT"], None),
    ("27096.lines.no_ultrasound_guidance", note(FLUORO), ["27096-LT"], None),
    ("27096.setting.facility_uses_g0260", note(FLUORO), ["27096-LT"], None),
    ("20552.si.guidance_ultrasound_or_none", note(ULTRASOUND), ["20552-LT"], None),
    ("20552.si.guidance_ultrasound_or_none", note(LANDMARK), ["20552-LT"], None),
    ("20552.si.ultrasound_sources_disagree", note(LANDMARK), ["20552-LT"], None),
    ("20552.si.medicare_no_imaging", note(ULTRASOUND), ["20552-LT"], "medicare"),
    ("20552.si.medicare_no_imaging", note(LANDMARK), ["20552-LT"], None),
    ("20552.lines.bilateral_is_one_line", note(LANDMARK, procedure=BILATERAL["procedure"]), ["20552-50"], None),
    ("20552.lines.modifier_50_sources_disagree", note(LANDMARK), ["20552-LT"], None),
    ("20552.lines.medicare_imaging_not_covered", note(ULTRASOUND), ["20552-LT", "76942"], None),
    ("20553.lines.medicare_imaging_not_covered", note(TRIGGER_3), ["20553"], "medicare"),
    ("76942.lines.never_with_27096", note(ULTRASOUND), ["20552-LT", "76942"], None),
    ("76942.lines.one_per_encounter", note(ULTRASOUND), ["20552-LT", "76942"], None),
    ("77002.lines.never_with_27096", note(TRIGGER_2), ["20552", "77002"], None),
    ("77003.lines.never_with_27096", note(TRIGGER_2), ["20552", "77003"], None),
    ("77012.lines.never_with_27096", note(TRIGGER_2), ["20552", "77012"], None),
]


@pytest.mark.parametrize("rule, text, codes, payer, severity", VIOLATED, ids=[f"{c[0]}-{'+'.join(c[2])}" for c in VIOLATED])
def test_rule_fires_on_the_note_that_breaks_it(rule, text, codes, payer, severity):
    report = validate(text, codes, payer=payer)
    findings = [f for f in report.findings if f.rule == rule]
    assert findings, f"{rule} did not fire; findings: {[f.rule for f in report.findings]}"
    assert {f.severity for f in findings} == {severity}
    assert not report.supported if severity == "error" else True


@pytest.mark.parametrize("rule, text, codes, payer", SATISFIED, ids=[f"{c[0]}-{'+'.join(c[2])}" for c in SATISFIED])
def test_rule_is_met_with_evidence(rule, text, codes, payer):
    report = validate(text, codes, payer=payer)
    requirements = [r for r in report.satisfied if r.rule == rule]
    assert requirements, f"{rule} not met; findings: {[f.rule for f in report.findings]}"
    assert rule not in {f.rule for f in report.findings}
    for requirement in requirements:
        assert requirement.evidence, f"{rule} is met without evidence"
        for span in requirement.evidence:
            assert text[span.start : span.end] == span.text


@pytest.mark.parametrize("rule, text, codes, payer", NOT_FIRED, ids=[f"{c[0]}-{'+'.join(c[2])}" for c in NOT_FIRED])
def test_rule_stays_silent_where_it_does_not_apply(rule, text, codes, payer):
    assert rule not in fired(text, codes, payer)


def test_every_rule_is_tested():
    """A rule added to a pack without a case above fails here."""
    # The Medicare SI LCD overlay and the SI diagnosis rules keep their cases in tests/test_coverage.py, where each case
    # has both a breaking note and a note that meets the rule (or where a prohibition stays silent).
    from tests.test_coverage import LCD_CASES, LCD_CODES, PACK_CASES, SI_DIAGNOSIS_CODES

    coverage = (
        {f"{code}.{c[0]}" for code in LCD_CODES for c in LCD_CASES}
        | {f"{code}.diagnosis.hip_pain_is_not_si" for code in SI_DIAGNOSIS_CODES}
        | {c[0] for c in PACK_CASES}
    )
    violated = {c[0] for c in VIOLATED} | {f"{code}.{c[0]}" for code in SI_CODES for c in SI_DOCUMENTATION} | coverage
    not_violated = (
        {c[0] for c in SATISFIED}
        | {c[0] for c in NOT_FIRED}
        | {f"{code}.{c[0]}" for code in SI_CODES for c in SI_DOCUMENTATION}
        | coverage
    )
    for pack in load_packs().values():
        if pack.family:  # a family's packs are exercised by tests/test_families.py and evals/validator_families.jsonl
            continue
        for rule in pack.rules:
            assert rule.id in violated, f"no case breaks {rule.id}"
            if rule.when or rule.require:  # 73542.code.deleted fires on every claim that names it
                assert rule.id in not_violated, f"no case shows {rule.id} met or silent"


# --- the rules as a coder states them ----------------------------------------------------------------------------


def test_a_fluoroscopic_si_joint_injection_supports_27096_with_its_side():
    report = validate(note(FLUORO), ["27096-LT"])
    assert report.supported, [f.rule for f in report.errors]
    assert report.suggested_codes == ["27096-LT"]


def test_27096_needs_fluoroscopy_or_ct_else_the_code_is_20552():
    for base in (ULTRASOUND, LANDMARK):
        report = validate(note(base), ["27096-LT"])
        assert not report.supported
        assert any(line.startswith("20552-LT") for line in report.suggested_codes), report.suggested_codes
        assert "27096-LT" not in report.suggested_codes


def test_bilateral_27096_is_one_line_with_50_not_two_lines():
    assert validate(note(BILATERAL), ["27096-50"]).supported
    two_lines = validate(note(BILATERAL), ["27096-LT", "27096-RT"])
    assert not two_lines.supported
    assert two_lines.suggested_codes == ["27096-50"]


def test_27096_50_needs_both_sides_documented():
    one_side = note(FLUORO, guidance=FLUORO["guidance"] + " The right side was not injected.")
    report = validate(one_side, ["27096-50"])
    rules = {f.rule for f in report.errors}
    assert {"27096.side.each_side_documented", "27096.side.modifier_matches"} <= rules
    assert report.facts.side == "left"


def test_laterality_modifier_must_match_the_documented_side():
    right = note(FLUORO, procedure="Procedure: right sacroiliac joint injection.",
                 guidance=FLUORO["guidance"].replace("left", "right"))
    assert validate(right, ["27096-RT"]).supported
    wrong = validate(right, ["27096-LT"])
    (finding,) = [f for f in wrong.findings if f.rule == "27096.side.modifier_matches"]
    assert "left" in finding.message and "right" in finding.message


def test_76942_never_goes_with_27096_and_needs_a_primary_code():
    assert validate(note(ULTRASOUND), ["20552-LT", "76942"]).supported
    assert not validate(note(ULTRASOUND), ["76942"]).supported
    assert not validate(note(ULTRASOUND), ["27096-LT", "76942"]).supported


@pytest.mark.parametrize("add_on", ["77002", "77003", "77012", "73542"])
def test_guidance_codes_never_go_with_27096(add_on):
    report = validate(note(FLUORO if add_on != "77012" else CT), ["27096-LT", add_on])
    assert not report.supported
    assert any(f.rule == "27096.lines.no_guidance_add_on" and add_on in f.message for f in report.findings)


def test_ultrasound_disagreement_warning_names_the_alternative_22899():
    report = validate(note(ULTRASOUND), ["20552-LT", "76942"])
    (warning,) = [f for f in report.findings if f.rule == "20552.si.ultrasound_sources_disagree"]
    assert warning.severity == "warning"
    assert "22899" in warning.message and "22899" in warning.fix
    assert report.supported  # a warning does not block the claim


def test_medicare_overlay_asks_kx_on_a_diagnostic_injection_and_suggests_it():
    from tests.test_coverage import MEDICARE  # the note with the history the Medicare SI LCD needs

    plain = validate(note(FLUORO), ["27096-LT"])
    assert plain.supported
    medicare = validate(note(MEDICARE), ["27096-LT"], payer="medicare")
    assert not medicare.supported
    (kx,) = [f for f in medicare.findings if f.rule == "27096.medicare.kx_on_diagnostic"]
    assert "KX" in kx.fix
    assert medicare.suggested_codes == ["27096-LT-KX"]
    assert validate(note(MEDICARE), ["27096-LT-KX"], payer="medicare").supported


def test_nerve_block_and_radiofrequency_are_not_27096():
    for base, procedure, named in ((NERVE_BLOCK, "si_nerve_block", "64451"), (RFA, "si_rfa", "64625")):
        report = validate(note(base), ["27096-LT"])
        assert report.facts.procedure == procedure
        (finding,) = [f for f in report.findings if f.rule == "27096.procedure.intra_articular_si"]
        assert named in finding.fix
        assert not any(line.startswith("27096") for line in report.suggested_codes)


def test_packs_carry_a_source_a_fix_and_a_severity_for_every_rule():
    for pack in load_packs().values():
        assert pack.sources, pack.code
        for rule in pack.rules:
            assert rule.source.strip() and rule.fix.strip() and rule.message.strip(), rule.id
            assert rule.severity in ("error", "warning")


def test_the_ultrasound_disagreement_is_recorded_in_the_pack():
    (topic,) = [d for d in load_packs()["20552"].disagreements if d.topic == "Ultrasound-guided SI joint injection"]
    claims = " ".join(p.claim for p in topic.positions)
    assert "22899" in claims and "20552" in claims


def test_the_ultrasound_confirmation_disagreement_is_recorded_with_both_positions():
    (topic,) = [d for d in load_packs()["20552"].disagreements if "confirmed placement" in d.topic]
    assert len(topic.positions) >= 2
