"""The Medicare SI LCD overlay (--payer medicare) and the SI diagnosis rules: a breaking and a satisfying note per rule.

Every criterion fails closed: it is met only by a positive statement, with the text that shows it. The case tables
below are also what tests/test_rules.py::test_every_rule_is_tested counts for these rules.
"""

from __future__ import annotations

import re

import pytest

from notedraft.coverage import Reader
from notedraft.queries import queries_for
from notedraft.rulepack import load_packs
from notedraft.validate import validate
from tests.test_cli_validate import run
from tests.test_rules import FLUORO, ULTRASOUND, fired, met, note

# A history that meets every LCD criterion, sentence by sentence, so a case says what it changes. It comes before the
# procedure (dict order is note order), under its own headings, as an office note's HPI and exam would.
LCD = {
    "duration": "History: 6-month history of left buttock pain below L5.",
    "severity": "The pain is moderate to severe.",
    "radicular": "No radicular symptoms.",
    "causes": "MRI of the lumbar spine showed no stenosis or disc herniation.",
    "conservative": "She completed 6 weeks of physical therapy and NSAIDs without improvement.",
    "prior": None,
    "sessions": None,
    "tests": "Exam: FABER positive on the left; positive Gaenslen, thigh thrust and compression tests.",
    "continues": "She will continue her home exercise program.",
}
MEDICARE = LCD | FLUORO  # a diagnostic fluoroscopic 27096 whose note meets every LCD criterion
THERAPEUTIC = MEDICARE | {
    "prior": "A diagnostic left SI joint injection on 3/2/2026 gave 80% relief.",
    "purpose": "This was a therapeutic injection.",
}
REPEAT = THERAPEUTIC | {
    "sessions": "The last SI joint injection on 1/10/2026 gave 60% relief for 4 months.",
}
US_MEDICARE = LCD | ULTRASOUND | {"allergy": "She has an iodinated contrast allergy."}

# --- cases: the shared rule set `medicare_si_lcd` on each code that includes it --------------------------------------
# code → (line, base note)
LCD_CODES = {"27096": ("27096-LT-KX", MEDICARE), "G0260": ("G0260-LT", MEDICARE)}
# (rule suffix, base to change or None for the code's base, changes, expected severity, what a complete note shows:
#  "met" (listed in satisfied, with evidence) or "silent" (a prohibition that does not fire))
LCD_CASES = [
    ("medicare.lcd.pain_duration", None, {"duration": "History: left buttock pain below L5."}, "error", "met"),
    ("medicare.lcd.pain_duration", None, {"duration": "History: chronic left buttock pain below L5 for less than 3 months."}, "error", "met"),
    ("medicare.lcd.pain_location", None, {"duration": "History: 6-month history of low back pain."}, "error", "met"),
    ("medicare.lcd.pain_severity", None, {"severity": None}, "error", "met"),
    ("medicare.lcd.no_radiculopathy", None, {"radicular": None}, "error", "met"),
    ("medicare.lcd.no_radiculopathy", None, {"radicular": "The pain radiates down the left leg to the foot."}, "error", "met"),
    ("medicare.lcd.other_causes", None, {"causes": None}, "error", "met"),
    ("medicare.lcd.other_causes", None, {"causes": "MRI shows L5-S1 foraminal stenosis."}, "error", "met"),
    ("medicare.lcd.provocative_tests", None, {"tests": "Exam: FABER negative; Gaenslen positive; thigh thrust not performed."}, "error", "met"),
    ("medicare.lcd.provocative_tests", None, {"tests": "Exam: 3/5 provocative tests positive."}, "error", "met"),
    ("medicare.lcd.conservative_care", None, {"conservative": "Will try physical therapy and NSAIDs."}, "error", "met"),
    ("medicare.lcd.conservative_care", None, {"conservative": "She failed physical therapy."}, "error", "met"),
    ("medicare.lcd.conservative_care_continues", None, {"continues": None}, "warning", "met"),
    ("medicare.lcd.prior_diagnostic_relief", THERAPEUTIC, {"prior": None}, "warning", "met"),
    ("medicare.lcd.prior_diagnostic_relief", THERAPEUTIC, {"prior": "A diagnostic left SI joint injection gave 50% relief."}, "warning", "met"),
    ("medicare.lcd.repeat_relief", REPEAT, {"sessions": "The last SI joint injection gave no relief."}, "error", "met"),
    ("medicare.lcd.repeat_relief", REPEAT, {"sessions": "The last SI joint injection gave 30% relief for 4 months."}, "error", "met"),
    ("medicare.lcd.repeat_relief_duration", REPEAT, {"sessions": "The last SI joint injection gave 60% relief for 6 weeks."}, "warning", "met"),
    ("medicare.lcd.sessions_diagnostic_cap", None, {"sessions": "This is the third diagnostic SI joint injection."}, "error", "silent"),
    ("medicare.lcd.sessions_therapeutic_cap", REPEAT, {"sessions": "The last SI joint injection gave 60% relief for 4 months. This is the fifth therapeutic SI joint injection in the past 12 months."}, "error", "silent"),
    ("medicare.lcd.sessions_unclear", None, {"sessions": "This is the 3rd injection this year."}, "warning", "silent"),
    ("medicare.lcd.diagnosis_on_mac_list", None, {"diagnosis": "Diagnosis: other dorsopathy, sacral region (M53.88)."}, "warning", "met"),
]

# --- cases: the shared rule set `si_diagnosis` ------------------------------------------------------------------------
SI_DIAGNOSIS_CODES = {"27096": ("27096-LT", FLUORO), "G0260": ("G0260-LT", FLUORO), "20552": ("20552-LT", ULTRASOUND)}
HIP = {"diagnosis": "Diagnosis: left hip pain (M25.552)."}

# --- cases: rules of one pack (rule id, note that breaks it, note that meets it or where it stays silent, lines,
#     payer, severity, "met"/"silent") -------------------------------------------------------------------------------
PACK_CASES = [
    ("27096.diagnosis.myalgia_is_the_no_imaging_path", note(FLUORO, diagnosis="Diagnosis: myalgia (M79.18)."),
     note(FLUORO), ["27096-LT"], None, "warning", "silent"),
    ("20552.si.medicare_lcd_criteria", note(ULTRASOUND), note(US_MEDICARE), ["20552-LT"], "medicare", "warning", "met"),
    ("20552.si.medicare_ultrasound_contraindication", note(US_MEDICARE, allergy=None), note(US_MEDICARE), ["20552-LT"],
     "medicare", "warning", "met"),
]


def _lcd_case(code: str, base: dict | None, changes: dict) -> tuple[str, str, list[str]]:
    line, code_base = LCD_CODES[code]
    base = base or code_base
    if base is not code_base and code == "27096":
        line = "27096-LT"  # a therapeutic injection: no KX
    return note(base, **changes), note(base), [line]


LCD_IDS = [f"{c[0]}-{i}" for i, c in enumerate(LCD_CASES)]


@pytest.mark.parametrize("code", LCD_CODES)
@pytest.mark.parametrize("suffix, base, changes, severity, shown", LCD_CASES, ids=LCD_IDS)
def test_lcd_rule_fires_on_the_note_that_breaks_it(code, suffix, base, changes, severity, shown):
    breaking, _, lines = _lcd_case(code, base, changes)
    findings = fired(breaking, lines, "medicare")
    assert findings.get(f"{code}.{suffix}") == severity, findings
    assert f"{code}.{suffix}" not in fired(breaking, lines, None)  # the overlay is Medicare's only


@pytest.mark.parametrize("code", LCD_CODES)
@pytest.mark.parametrize("suffix, base, changes, severity, shown", LCD_CASES, ids=LCD_IDS)
def test_lcd_rule_is_met_with_evidence_or_silent_on_a_complete_note(code, suffix, base, changes, severity, shown):
    _, complete, lines = _lcd_case(code, base, changes)
    report = validate(complete, lines, payer="medicare")
    rule = f"{code}.{suffix}"
    assert rule not in {f.rule for f in report.findings}, [(f.rule, f.message) for f in report.findings]
    if shown == "met":
        (requirement,) = [r for r in report.satisfied if r.rule == rule]
        assert requirement.evidence
        for span in requirement.evidence:
            assert complete[span.start : span.end] == span.text


@pytest.mark.parametrize("code", SI_DIAGNOSIS_CODES)
def test_hip_pain_does_not_support_an_si_joint_injection(code):
    line, base = SI_DIAGNOSIS_CODES[code]
    report = validate(note(base, **HIP), [line])
    (finding,) = [f for f in report.findings if f.rule == f"{code}.diagnosis.hip_pain_is_not_si"]
    assert finding.severity == "error" and not report.supported
    assert "M25.552" in finding.message and "M46.1" in finding.fix and "S33.6XXA" in finding.fix
    assert report.facts.diagnoses[0].text == "Pain in hip"
    # silent with an SI diagnosis, alone or beside the hip code (then the hip pain is a second problem, not the support)
    assert f"{code}.diagnosis.hip_pain_is_not_si" not in fired(note(base), [line])
    both = note(base, diagnosis="Diagnosis: sacroiliitis (M46.1); left hip pain (M25.552).")
    assert f"{code}.diagnosis.hip_pain_is_not_si" not in fired(both, [line])


def test_hip_pain_rule_stays_off_trigger_points():
    text = note({"procedure": "Procedure: trigger point injections.", "diagnosis": "Diagnosis: hip pain (M25.551).",
                 "sites": "Trigger points in the left trapezius and left levator scapulae were injected with 1% lidocaine, 2 mL per site."})
    assert "20552.diagnosis.hip_pain_is_not_si" not in fired(text, ["20552"])


def test_m54_5_is_flagged_as_a_non_billable_parent():
    report = validate(note(FLUORO, diagnosis="Diagnosis: low back pain (M54.5)."), ["27096-LT"])
    (finding,) = [f for f in report.findings if f.rule == "27096.diagnosis.billable"]
    assert "M54.50" in finding.message and finding.severity == "error"


@pytest.mark.parametrize("rule, breaking, complete, lines, payer, severity, shown", PACK_CASES, ids=[c[0] for c in PACK_CASES])
def test_pack_rule_fires_and_is_met_or_silent(rule, breaking, complete, lines, payer, severity, shown):
    assert fired(breaking, lines, payer).get(rule) == severity
    report = validate(complete, lines, payer=payer)
    assert rule not in {f.rule for f in report.findings}
    if shown == "met":
        (requirement,) = [r for r in report.satisfied if r.rule == rule]
        assert requirement.evidence and all(complete[s.start : s.end] == s.text for s in requirement.evidence)


# --- fail closed: what counts and what does not --------------------------------------------------------------------

NOT_EVIDENCE = [
    ("provocative_tests", {"min": 1}, "FABER negative on the left."),
    ("provocative_tests", {"min": 1}, "Consider provocative testing at the next visit."),
    ("provocative_tests", {"min": 1}, "Provocative tests not performed."),
    ("provocative_tests", {"min": 1}, "Will perform FABER and Gaenslen tests next visit."),
    ("provocative_tests", {"min": 1}, "FABER was not positive."),
    ("provocative_tests", {"min": 1}, "No positive FABER."),
    ("provocative_tests", {"min": 1}, "Compression fracture of L1, positive."),
    ("provocative_tests", {"min": 3}, "3/5 provocative tests positive."),
    ("conservative_care", {"min_weeks": 4}, "Will try PT for 6 weeks."),
    ("conservative_care", {"min_weeks": 4}, "Physical therapy for 2 weeks did not help."),
    ("conservative_care", {"min_weeks": 4}, "6 weeks of physical therapy helped a lot."),
    ("conservative_care", {"min_weeks": 4}, "Consider NSAIDs for 6 weeks if no relief."),
    ("pain_duration", {"min_months": 3}, "Chronic left buttock pain."),
    ("pain_duration", {"min_months": 3}, "Left buttock pain for less than 3 months."),
    ("pain_duration", {"min_months": 3}, "Buttock pain began after a fall 2 weeks ago."),
    ("pain_duration", {"min_months": 3}, "Pain relief lasted 4 months after the last injection."),
    ("pain_duration", {"min_months": 3}, "The patient is a 78-year-old female with back pain."),
    ("pain_duration", {"min_months": 3}, "Right knee pain for 6 months."),
    ("pain_location", {}, "Diagnosis: SI joint pain."),
    ("pain_location", {}, "No buttock pain."),
    ("pain_severity", {}, "Pain 8/10."),
    ("no_radiculopathy", {}, "Radiculopathy cannot be ruled out."),
    ("no_radiculopathy", {}, "No radicular symptoms on the right. Sciatica down the left leg."),
    ("no_radiculopathy", {}, "Back pain referring into the right leg; no numbness."),
    ("other_causes", {}, "Stenosis was not ruled out."),
    ("other_causes", {}, "MRI: severe foraminal stenosis at L5-S1."),
    ("other_causes", {}, "PREPROCEDURE DIAGNOSES:,1. Cervical spondylosis without myelopathy.,2. Myofascial pain syndrome."),
    ("other_causes", {}, "Under fluoroscopic imaging, 2 mL of normal saline was injected."),
    ("other_causes", {}, "There was no bleeding or infection at the injection site."),
    ("other_causes", {}, "No complications and severe stenosis at L4-5."),
    ("other_causes", {}, "Stenosis at L4-5 is severe and a herniation is unlikely."),
    ("no_radiculopathy", {}, "Diagnosis: lumbar spondylosis without myelopathy or radiculopathy (M47.816)."),
    ("prior_diagnostic_relief", {"min_percent": 75}, "The diagnostic injection gave no relief."),
    ("prior_diagnostic_relief", {"min_percent": 75}, "The prior diagnostic block gave less than 80% relief."),
    ("prior_diagnostic_relief", {"min_percent": 75}, "Will do a diagnostic block; if 80% relief, proceed."),
    ("contraindication", {}, "No contrast allergy. NKDA."),
    ("contraindication", {}, "Pregnancy test negative."),
    ("contraindication", {}, "Pregnancy was ruled out."),
]

EVIDENCE = [
    ("provocative_tests", {"min": 3}, "FABER, Gaenslen and thigh thrust were positive.", {"FABER", "Gaenslen", "thigh thrust"}),
    ("provocative_tests", {"min": 3}, "Positive Patrick's test, Yeoman's test and SI distraction test.", {"Patrick's", "Yeoman's", "SI distraction"}),
    ("provocative_tests", {"min": 3}, "FABER +, Gaenslen +, thigh thrust (+), compression -.", {"FABER", "Gaenslen", "thigh thrust"}),
    ("provocative_tests", {"min": 3}, "Positive: FABER, Gaenslen, thigh thrust. Negative: compression.", {"FABER", "Gaenslen", "thigh thrust"}),
    ("provocative_tests", {"min": 3}, "FABER test: positive. Gaenslen test: positive. Yeoman test: positive.", {"FABER", "Gaenslen", "Yeoman"}),
    ("provocative_tests", {"min": 3}, "Posterior shear positive on the left; Gaenslen's test positive; pelvic compression positive.", {"Posterior shear", "Gaenslen's", "pelvic compression"}),
    ("conservative_care", {"min_weeks": 4}, "Failed 2 months of PT.", {"2 months", "PT", "Failed"}),
    ("conservative_care", {"min_weeks": 4}, "She took 2 months of NSAIDs and PT without relief.", {"2 months", "NSAIDs", "without relief"}),
    ("conservative_care", {"min_weeks": 4}, "Pain persists despite a home exercise program for 8 weeks.", {"home exercise program", "8 weeks", "persists"}),
    ("pain_duration", {"min_months": 3}, "She has had left buttock pain for 2 years.", {"2 years", "pain"}),
    ("pain_duration", {"min_months": 3}, "Low back pain x 13 weeks.", {"13 weeks", "pain"}),
    ("no_radiculopathy", {}, "The pain does not radiate below the knee.", {"does not radiate"}),
    ("other_causes", {}, "Hip pathology and lumbar facet pain were considered and ruled out.", None),
    ("other_causes", {}, "Pelvic x-ray was unremarkable.", {"Pelvic x-ray was unremarkable"}),
    ("other_causes", {}, "No evidence of stenosis, disc herniation or fracture.", {"No evidence of stenosis, disc herniation or fracture"}),
    ("contraindication", {}, "She is pregnant (second trimester).", {"pregnant"}),
    ("prior_diagnostic_relief", {"min_percent": 75}, "Her prior diagnostic block gave 75-80% relief for 6 hours.", {"diagnostic block", "75-80%"}),
    ("contraindication", {}, "Allergies: iodinated contrast (hives).", None),
]


@pytest.mark.parametrize("name, args, text", NOT_EVIDENCE, ids=[t for _, _, t in NOT_EVIDENCE])
def test_a_criterion_is_not_met_without_positive_affirmed_evidence(name, args, text):
    result = getattr(Reader(text), name)(**args)
    assert not result.met, (result.evidence, result.detail)
    assert result.detail


@pytest.mark.parametrize("name, args, text, spans", EVIDENCE, ids=[t for _, _, t, _ in EVIDENCE])
def test_a_criterion_met_carries_its_evidence(name, args, text, spans):
    result = getattr(Reader(text), name)(**args)
    assert result.met, result.detail
    assert result.evidence and all(text[s.start : s.end] == s.text for s in result.evidence)
    if spans is not None:
        assert {s.text for s in result.evidence} == spans


def test_findings_explain_what_was_set_aside():
    text = note(MEDICARE, tests="Exam: FABER positive; Gaenslen negative; thigh thrust not performed.")
    (finding,) = [f for f in validate(text, ["27096-LT-KX"], payer="medicare").findings
                  if f.rule == "27096.medicare.lcd.provocative_tests"]
    assert "1 named positive test(s) (FABER)" in finding.message
    assert "negative: Gaenslen" in finding.message and "thigh thrust" in finding.message
    assert {s.text for s in finding.evidence} == {"FABER", "Gaenslen", "thigh thrust"}


def test_each_unmet_criterion_asks_the_physician_a_question():
    report = validate(note(FLUORO), ["27096-LT-KX"], payer="medicare")
    unmet = {f.rule.split(".", 1)[1] for f in report.errors if ".lcd." in f.rule}
    assert unmet == {"medicare.lcd.pain_duration", "medicare.lcd.pain_location", "medicare.lcd.pain_severity",
                     "medicare.lcd.no_radiculopathy", "medicare.lcd.other_causes", "medicare.lcd.provocative_tests",
                     "medicare.lcd.conservative_care"}
    questions = queries_for(report.facts, report)
    assert any("provocative tests" in q and "FABER" in q for q in questions)
    assert any("how many weeks" in q for q in questions)
    assert len([q for q in questions if q.endswith("?")]) >= len(unmet)


def test_the_overlay_needs_the_payer_and_a_complete_note_is_supported_and_suggested():
    assert not any(".lcd." in f.rule for f in validate(note(FLUORO), ["27096-LT"]).findings)
    complete = validate(note(MEDICARE), ["27096-LT-KX"], payer="medicare")
    assert complete.supported, [(f.rule, f.message) for f in complete.errors]
    assert complete.suggested_codes == ["27096-LT-KX"]
    # fail closed: the same procedure without the history is not covered, so no code line is suggested for Medicare
    bare = validate(note(FLUORO), ["27096-LT-KX"], payer="medicare")
    assert not bare.supported and bare.suggested_codes == []


def test_a_met_criterion_lists_its_evidence_in_the_report():
    report = validate(note(MEDICARE), ["27096-LT-KX"], payer="medicare")
    (tests,) = [r for r in report.satisfied if r.rule == "27096.medicare.lcd.provocative_tests"]
    assert {s.text for s in tests.evidence} == {"FABER", "Gaenslen", "thigh thrust", "compression"}


def test_session_caps_read_the_count_the_note_states():
    diagnostic = fired(note(MEDICARE, sessions="This is the third diagnostic SI joint injection."), ["27096-LT-KX"], "medicare")
    assert diagnostic.get("27096.medicare.lcd.sessions_diagnostic_cap") == "error"
    # within the cap, or a count from more than 12 months of therapeutic injections: no finding
    second = fired(note(MEDICARE, sessions="This is the second diagnostic SI joint injection."), ["27096-LT-KX"], "medicare")
    assert "27096.medicare.lcd.sessions_diagnostic_cap" not in second
    no_period = fired(note(REPEAT, sessions=REPEAT["sessions"] + " This is the fifth therapeutic SI joint injection."), ["27096-LT"], "medicare")
    assert "27096.medicare.lcd.sessions_therapeutic_cap" not in no_period
    # "3 prior ... injections" counts today's too: 4 therapeutic sessions is the cap, not over it
    prior = fired(note(REPEAT, sessions=REPEAT["sessions"] + " She had 3 prior therapeutic SI joint injections this year."), ["27096-LT"], "medicare")
    assert "27096.medicare.lcd.sessions_therapeutic_cap" not in prior
    four_prior = fired(note(REPEAT, sessions=REPEAT["sessions"] + " She had 4 prior therapeutic SI joint injections this year."), ["27096-LT"], "medicare")
    assert four_prior.get("27096.medicare.lcd.sessions_therapeutic_cap") == "error"
    # an unnamed count on a therapeutic injection is within the therapeutic cap of 4
    third = fired(note(REPEAT, sessions=REPEAT["sessions"] + " This is the 3rd injection this year."), ["27096-LT"], "medicare")
    assert "27096.medicare.lcd.sessions_unclear" not in third


def test_20552_ultrasound_si_injection_warns_with_every_unmet_criterion_and_records_the_disagreement():
    report = validate(note(ULTRASOUND), ["20552-LT"], payer="medicare")
    (finding,) = [f for f in report.findings if f.rule == "20552.si.medicare_lcd_criteria"]
    assert finding.severity == "warning" and report.supported  # disputed applicability: a warning, never a block
    for criterion in ("pain for at least 3 months", "no radiculopathy", "provocative tests", "conservative care"):
        assert criterion in finding.message
    topics = [d.topic for d in load_packs()["20552"].disagreements]
    assert any("Medicare SI LCD" in t for t in topics)
    assert any("diagnostic SI joint sessions" in d.topic for d in load_packs()["27096"].disagreements)


def test_codes_27096_lists_the_medicare_lcd_rules_and_the_disagreement():
    result = run("codes", "27096")
    assert result.returncode == 0
    rules = dict((rule, severity) for severity, rule in re.findall(r"^\s+\[(error|warning)\] (27096\.\S+):", result.stdout, re.M))
    assert rules["27096.medicare.lcd.provocative_tests"] == "error"
    assert rules["27096.medicare.lcd.prior_diagnostic_relief"] == "warning"
    assert rules["27096.diagnosis.hip_pain_is_not_si"] == "error"
    assert "diagnostic SI joint sessions: over what period" in result.stdout


def test_validate_cli_with_payer_medicare_reports_lcd_findings(tmp_path):
    path = tmp_path / "note.txt"
    path.write_text(note(FLUORO))
    result = run("validate", str(path), "--code", "27096-LT-KX", "--payer", "medicare")
    assert result.returncode == 1 and not result.stderr
    assert "27096.medicare.lcd.provocative_tests" in result.stdout
    path.write_text(note(MEDICARE))
    assert run("validate", str(path), "--code", "27096-LT-KX", "--payer", "medicare").returncode == 0


def test_every_lcd_check_a_pack_names_exists_once_the_overlay_is_imported():
    # checks.CHECKS accepts lcd_* names at pack load without importing coverage.py (start-up time); this proves
    # each name a pack uses is really registered by it.
    import notedraft.coverage  # noqa: F401
    from notedraft.checks import CHECKS
    from notedraft.rulepack import load_packs

    names = {c.check for pack in load_packs().values() for rule in pack.rules for c in (*rule.when, *rule.require)}
    lazy = sorted(n for n in names if n.startswith("lcd_"))
    assert lazy, "the Medicare overlay names lcd_ checks"
    assert all(dict.__contains__(CHECKS, n) for n in lazy), [n for n in lazy if not dict.__contains__(CHECKS, n)]
