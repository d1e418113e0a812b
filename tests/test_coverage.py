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
    ("medicare.lcd.pain_severity", None, {"severity": None, "pain": "Pain 3/10 before and 1/10 after."}, "error", "met"),
    ("medicare.lcd.pain_severity", None, {"severity": None, "pain": None}, "error", "met"),
    ("medicare.lcd.pain_severity", None, {"severity": "The pain is mild."}, "error", "met"),
    ("medicare.lcd.pain_severity_by_score", None, {"severity": None, "pain": "Pain 5/10 before and 1/10 after."}, "warning", "silent"),
    ("medicare.lcd.no_radiculopathy", None, {"radicular": None}, "error", "met"),
    ("medicare.lcd.no_radiculopathy", None, {"radicular": "The pain radiates down the left leg to the foot."}, "error", "met"),
    ("medicare.lcd.other_causes", None, {"causes": None}, "error", "met"),
    ("medicare.lcd.other_causes", None, {"causes": "MRI shows L5-S1 foraminal stenosis."}, "error", "met"),
    ("medicare.lcd.provocative_tests", None, {"tests": "Exam: FABER negative; Gaenslen positive; thigh thrust not performed."}, "error", "met"),
    ("medicare.lcd.provocative_tests", None, {"tests": "Exam: 3/5 provocative tests positive."}, "error", "met"),
    ("medicare.lcd.conservative_care", None, {"conservative": "Will try physical therapy and NSAIDs."}, "error", "met"),
    ("medicare.lcd.conservative_care", None, {"conservative": "She failed physical therapy."}, "error", "met"),
    ("medicare.lcd.conservative_care_continues", None, {"continues": None}, "warning", "met"),
    ("medicare.lcd.prior_diagnostic_relief", THERAPEUTIC, {"prior": None}, "error", "met"),
    ("medicare.lcd.prior_diagnostic_relief", THERAPEUTIC, {"prior": "A diagnostic left SI joint injection gave 50% relief."}, "error", "met"),
    ("medicare.lcd.repeat_relief", REPEAT, {"sessions": "The last SI joint injection gave no relief."}, "error", "met"),
    ("medicare.lcd.repeat_relief", REPEAT, {"sessions": "The last SI joint injection gave 30% relief for 4 months."}, "error", "met"),
    ("medicare.lcd.repeat_relief_duration", REPEAT, {"sessions": "The last SI joint injection gave 60% relief for 6 weeks."}, "error", "met"),
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
    # an error: the SI LCDs take ultrasound only with a contrast allergy or pregnancy, the TPI LCDs take no imaging
    ("20552.si.medicare_ultrasound_contraindication", note(US_MEDICARE, allergy=None), note(US_MEDICARE), ["20552-LT"],
     "medicare", "error", "met"),
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
    ("pain_severity", {}, "Pain 3/10."),
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
    ("no_radiculopathy", {}, "The pain does not radiate below the knee.", {"does not radiate below the knee"}),
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
    report = validate(note(FLUORO, pain=None), ["27096-LT-KX"], payer="medicare")
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
    report = validate(note(ULTRASOUND, allergy=US_MEDICARE["allergy"]), ["20552-LT"], payer="medicare")
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
    assert rules["27096.medicare.lcd.prior_diagnostic_relief"] == "error"
    assert rules["27096.medicare.lcd.pain_severity_by_score"] == "warning"
    assert "Pain score cut-off for 'moderate' pain (NRS 0-10)" in result.stdout
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


# --- real phrasing: each criterion read from the ways notes and dictations state it (issue 16, deliverable 4) -------
# (criterion, args, text). READS: the criterion is met, with evidence that is the text's own words. FAILS_CLOSED: it
# is not (a mention without its result, a plan, a quoted policy, a SmartList placeholder, the wrong thing).

READS = {
    ("provocative_tests", (("min", 3),)): [
        "Positive FABER, Gaenslen and thigh thrust on the left.",
        "Provocative tests: FABER +, Gaenslen +, Compression +, Distraction −.",
        "3/5 provocative maneuvers positive: FABER, Gaenslen, thigh thrust.",
        "Exam: Patrick's test positive, Yeoman's test positive, P4/posterior shear positive, Gaenslen negative.",
        "Provocative testing:\n- FABER: positive\n- Gaenslen: positive\n- Thigh thrust: positive\n- Compression: negative",
        "| Test | Result |\n| FABER | Positive |\n| Gaenslen | Positive |\n| Thigh thrust | Positive |",
        "Positive provocative maneuvers on the left: FABER, Gaenslen, thigh thrust and SI compression (4 of 6).",
        "Provocative maneuvers positive on the right: distraction, compression, thigh thrust and Gaenslen (4 of 6).",
        "FABER, Gaenslen, thigh thrust, compression and distraction positive bilaterally.",
        "Positive bilaterally: FABER, Gaenslen, thigh thrust and compression.",
        "Provocative tests (positive on the left):\n- FABER\n- Gaenslen\n- Thigh thrust",
        "left sij inj, faber gaenslen thigh thrust pos on left, 6 mo buttock pain",
        "Thigh thrust (P4) +, FABER (+), Gaenslen +ve, Yeoman negative",
        "SI provocation: FABER reproduces her pain, Gaenslen reproduces her pain, thigh thrust reproduces concordant pain.",
        "Provocative tests:\nFABER\t+\nGaenslen\t+\nThigh thrust\t+\nDistraction\t-",
    ],
    ("pain_severity", ()): [
        "72-year-old man with moderate to severe (NRS 7/10) left low back pain.",
        "Left buttock pain for 14 months, moderate to severe, located over the SI joint.",
        "Pain NRS 7/10 today.",
        "VAS 70 mm.",
        "Pain 8 out of 10 in the left buttock.",
        "Pain (NRS 0-10): pre-procedure 7/10; post-procedure 1/10 at 30 minutes (86% relief).",
        "Pain severity: severe.",
        "Severe left SI joint pain.",
        "Moderately severe axial low back pain.",
        "NRS 7/10 pre and 2/10 post.",
        "VAS 7.5 cm.",
    ],
    ("pain_duration", (("min_months", 3),)): [
        "Left buttock pain for 5 months.",
        "Low back pain x 6 months.",
        "SI joint pain > 3 mo.",
        "6 mo hx of L buttock pain.",
        "She has had right buttock pain for over a year.",
        "69-year-old woman with 5 months of moderate to severe right low back pain.",
        "Low back pain for the past 3+ months.",
    ],
    ("pain_location", ()): [
        "Pain over the left SI joint.",
        "Pain is below L5, in the left buttock.",
        "Positive Fortin finger sign on the left.",
        "Pain in the buttock below the belt line.",
        "Pain localized to the right sacral sulcus.",
        "Pain between the iliac crest and the gluteal fold.",
    ],
    ("no_radiculopathy", ()): [
        "No radicular symptoms.",
        "Neuro exam normal, SLR negative.",
        "The pain does not radiate below the knee.",
        "She denies radiating leg pain.",
        "Straight-leg raise negative bilaterally.",
        "Radiculopathy: none.",
        "Non-radicular low back pain.",
        "Pain refers into the posterior thigh but does not radiate below the knee.",
        "Without radiculopathy (normal strength, reflexes and sensation; negative straight-leg raise).",
    ],
    ("other_causes", ()): [
        "MRI lumbar spine: no stenosis or disc herniation.",
        "X-rays unremarkable.",
        "Lumbar MRI 10/2026 shows no stenosis, no disc herniation and no fracture, tumor or infection.",
        "MRI excludes stenosis, herniation, fracture, tumor and infection.",
        "MRI lumbar spine 08/2026: mild degenerative disc disease without stenosis, disc herniation, fracture, infection or tumor.",
        "Pelvic radiographs were normal.",
        "Imaging negative for fracture or tumor.",
        "Other causes were considered and ruled out.",
    ],
    ("conservative_care", (("min_weeks", 4),)): [
        "Failed 8 weeks of PT and NSAIDs, continues home exercise program.",
        "10 weeks of physical therapy; home program ongoing.",
        "More than 3 months of physical therapy failed.",
        "Physical therapy for 8 weeks did not help.",
        "She completed a 6-week course of PT without relief.",
        "Tried meloxicam for 2 months with minimal benefit.",
        "PT 2x/week for 6 weeks, no improvement.",
        "Conservative care: 10 weeks of physical therapy, acetaminophen and topical diclofenac without adequate relief.",
        "Continues physical therapy home exercises after 10 weeks of supervised therapy.",
    ],
    ("conservative_care_continues", ()): [
        "Failed 8 weeks of PT and NSAIDs, continues home exercise program.",
        "10 weeks of physical therapy; home program ongoing.",
        "She will continue her home exercise program.",
        "Home exercises continue.",
        "Plan: continue HEP and NSAIDs.",
    ],
    ("prior_diagnostic_relief", (("min_percent", 75),)): [
        "85% relief for 6 hours after the diagnostic block on 3/2.",
        "Prior diagnostic SIJI gave 80 % relief.",
        "Diagnostic bilateral SI joint injections on 05/12/2026 gave 85% relief (NRS 8 -> 1) for the duration of the bupivacaine.",
        "Diagnostic right SI joint block 10/01/2026: NRS 8/10 to 1/10 (88% relief).",
        "Injection history: diagnostic right SI joint block 02/10/2026 - NRS 8/10 to 1/10 for the duration of the bupivacaine.",
        "The diagnostic left SIJ injection in January provided greater than 80% pain reduction.",
    ],
    ("repeat_relief", (("min_percent", 50),)): [
        "First therapeutic right SI joint injection 04/14/2026 - NRS 8/10 to 2/10 (75% relief) sustained for 4 months.",
        "The last SI joint injection on 1/10/2026 gave 60% relief for 4 months.",
        "Previous therapeutic SIJI (6/2026): 70% improvement lasting 5 months.",
        "Her most recent therapeutic SI joint injection gave 65% relief.",
        "Prior therapeutic SIJI on 2/1/2026 gave 50-60% improvement.",
    ],
}

FAILS_CLOSED = {
    ("provocative_tests", (("min", 1),)): [
        "FABER.",                                   # a test without its result
        "Provocative tests were positive.",         # results without names
        "FABER: {POSITIVE/NEGATIVE:1234}",          # a SmartList never filled in
        "FABER: ***",
        "FABER positive/negative.",
        'Per the LCD: "at least 3 positive provocative tests such as FABER positive, Gaenslen positive".',
        "Medicare requires FABER, Gaenslen and thigh thrust positive.",
        "Plan: FABER and Gaenslen positive would support injection.",
        "FABER equivocal.",
        "FABER not tested.",
        "Compression fracture at L1.",
        "Sacral thrust positive.",                   # not one of the LCD's maneuvers
        "Provocative tests:\n- FABER\n- Gaenslen",
    ],
    ("provocative_tests", (("min", 3),)): [
        "2/5 positive: FABER, Gaenslen, thigh thrust.",  # the count and the names disagree
        "Positive: FABER. Negative: Gaenslen, thigh thrust, compression.",
        "Provocative tests:\nFABER\t+\nGaenslen\t+\nThigh thrust\t-\nDistraction\t-",
    ],
    ("provocative_tests", (("min", 3), ("side", "left"))): [
        "FABER, Gaenslen and thigh thrust positive on the right.",  # the other side than the one injected
    ],
    ("pain_severity", ()): [
        "Pain 3/10.",
        "Mild left buttock pain.",
        "Mild to moderate left buttock pain.",
        "Plan: repeat injection if pain returns to 7/10.",  # a score in a plan
        "Moderate relief after the last injection.",
        "MRI: severe foraminal stenosis.",
        "Pain 2/10 after the injection.",
        "Diagnostic block 3/2/2026: NRS 8/10 to 1/10 (88% relief).",
        "Mild pain, NRS 8/10.",                              # a conflict
        "Moderate to severe pain, but also described as mild.",
        "Pain: {MILD/MODERATE/SEVERE:123}",
        "VAS 7.",                                            # 7 mm or 7 cm: unknown
        "Pain 8.",
        "Medicare covers moderate to severe pain only.",
        "No severe pain.",
        "Pain at best 2/10.",
        "Moderate tenderness over the SI joint.",
    ],
    ("pain_duration", (("min_months", 3),)): [
        "Left buttock pain since March.",  # relative to no date: no duration
        "Chronic low back pain.",
        "Buttock pain for several months.",
        "Buttock pain for 6 weeks.",
        "Buttock pain started 4 months after a fall.",
        "Plan: reassess the back pain in 3 months.",
        'Per the LCD: "back pain for at least 3 months".',
        "Low back pain x *** months.",
    ],
    ("pain_location", ()): [
        "Diagnosis: SI joint pain.",
        "No buttock pain.",
        "Fortin finger sign negative.",
        "Low back pain.",
        "Pain above L5.",
    ],
    ("no_radiculopathy", ()): [
        "Radiculopathy cannot be ruled out.",
        "No radicular symptoms. Pain radiates down the left leg to the foot.",  # a conflict, not a pick
        "Positive straight leg raise on the left.",
        "Will check for radiculopathy.",
        "Radicular symptoms: ***",
        "Radicular symptoms: {YES/NO:123}",
        "Rule out radiculopathy.",
        "Medicare requires pain without radiculopathy.",
    ],
    ("other_causes", ()): [
        "MRI: severe foraminal stenosis at L5-S1.",
        "Chest x-ray unremarkable.",
        "MRI pending.",
        "Will obtain MRI to rule out stenosis.",
        'Per policy: "imaging must exclude stenosis, fracture or tumor".',
        "Risks including infection and bleeding were discussed.",
        "No stenosis. MRI shows an L5-S1 disc herniation.",
        "MRI: {NORMAL/ABNORMAL:1234}",
        "MRI lumbar spine: ***",
    ],
    ("conservative_care", (("min_weeks", 4),)): [
        "PT recommended.",
        "Will start PT for 6 weeks.",
        "Starting physical therapy for 6 weeks.",
        "6 weeks of physical therapy helped a lot.",
        "PT for 2 weeks.",
        "PT was not done for 6 weeks.",
        "No physical therapy for 6 weeks.",
        "Medicare requires 4 weeks of conservative therapy.",
        "Plan: physical therapy for 6 weeks.",
        "PT x *** weeks.",
        "Physical therapy for 6 weeks resolved her pain.",
    ],
    ("conservative_care_continues", ()): [
        "She discontinued physical therapy.",
        "She is no longer continuing PT.",
        "Failed PT.",
        "Will not continue physical therapy.",
        "Continue {HEP/PT:123}.",
    ],
    ("prior_diagnostic_relief", (("min_percent", 75),)): [
        "Prior diagnostic left SI joint injection gave 40% relief.",
        "Diagnostic medial branch block gave 90% relief.",       # not an SI joint block
        "This is a diagnostic injection; 86% relief at 30 minutes.",  # today's, not a prior one
        "Will do a diagnostic block; if 80% relief, proceed.",
        "Diagnostic block gave less than 80% relief.",
        'Per LCD: "a diagnostic block with at least 75% relief".',
        "Prior diagnostic block gave ***% relief.",
    ],
    ("repeat_relief", (("min_percent", 50),)): [
        "The last SI joint injection gave 30% relief for 4 months.",
        "The last SI joint injection gave no relief.",
        "The last SI joint injection helped.",
        "If the last injection gave 60% relief, repeat it.",
        "Prior therapeutic SIJI gave less than 60% relief.",
    ],
}


def _cases(table):
    return [(name, dict(args), text) for (name, args), texts in table.items() for text in texts]


@pytest.mark.parametrize("name, args, text", _cases(READS), ids=[t[:60] for _, _, t in _cases(READS)])
def test_a_criterion_is_read_from_real_phrasing_with_its_words_as_evidence(name, args, text):
    result = getattr(Reader(text), name)(**args)
    assert result.met, result.detail
    assert result.evidence and all(text[s.start : s.end] == s.text for s in result.evidence)


@pytest.mark.parametrize("name, args, text", _cases(FAILS_CLOSED), ids=[t[:60] for _, _, t in _cases(FAILS_CLOSED)])
def test_a_criterion_fails_closed_on_phrasing_that_does_not_establish_it(name, args, text):
    result = getattr(Reader(text), name)(**args)
    assert not result.met, (result.evidence, result.detail)
    assert result.detail


def test_every_criterion_has_five_phrasings_each_way():
    for table in (READS, FAILS_CLOSED):
        counts: dict[str, int] = {}
        for (name, _), texts in table.items():
            counts[name] = counts.get(name, 0) + len(texts)
        assert all(n >= 5 for n in counts.values()), counts
    criteria = {"provocative_tests", "pain_severity", "pain_duration", "pain_location", "no_radiculopathy", "other_causes",
                "conservative_care", "conservative_care_continues", "prior_diagnostic_relief", "repeat_relief"}
    assert {n for n, _ in READS} == criteria == {n for n, _ in FAILS_CLOSED}


@pytest.mark.parametrize("text, grade", [
    ("Pain 6/10.", "met"), ("NRS 9/10.", "met"), ("VAS 45 mm.", "met"), ("VAS 6.5 cm.", "met"),
    ("Pain 4/10.", "disputed"), ("Pain 5 out of 10.", "disputed"), ("VAS 31 mm.", "disputed"), ("VAS 40/100.", "disputed"),
    ("Pain 3/10.", "mild"), ("VAS 30 mm.", "mild"),
])
def test_a_score_maps_to_severity_by_the_sourced_rule(text, grade):
    r = Reader(text)
    ((kind, value, _),) = r.scores()
    assert r.grade(kind, value) == grade
    crit = r.pain_severity()
    assert crit.met == (grade != "mild") and crit.disputed == (grade == "disputed")


def test_the_score_rule_is_data_with_its_sources_and_disagreements():
    from notedraft.coverage import phrasing

    sev = phrasing()["severity"]
    assert (sev["nrs"]["met_from"], sev["nrs"]["disputed_from"]) == (6, 4)
    assert (sev["vas_mm"]["met_from"], sev["vas_mm"]["disputed_from"]) == (45, 31)
    assert any("Woo" in s for s in sev["sources"]["nrs"]) and any("Jensen" in s for s in sev["sources"]["vas_mm"])
    topics = {d.topic: d for d in load_packs()["27096"].disagreements}
    nrs = topics["Pain score cut-off for 'moderate' pain (NRS 0-10); the LCD defines none"]
    assert len(nrs.positions) >= 3 and any("notedraft" in p.claim for p in nrs.positions)


def test_a_score_only_note_of_disputed_severity_is_supported_with_a_warning():
    text = note(MEDICARE, severity=None, pain="Pain 5/10 before and 1/10 after.")
    report = validate(text, ["27096-LT-KX"], payer="medicare")
    assert report.supported, [(f.rule, f.message) for f in report.errors]
    (warning,) = [f for f in report.findings if f.rule == "27096.medicare.lcd.pain_severity_by_score"]
    assert warning.severity == "warning" and "5/10" in warning.message
    # a score every cited scheme calls at least moderate: no warning
    clear = validate(note(MEDICARE, severity=None, pain="Pain 7/10 before and 1/10 after."), ["27096-LT-KX"], payer="medicare")
    assert clear.supported and "27096.medicare.lcd.pain_severity_by_score" not in {f.rule for f in clear.findings}


def test_radiculopathy_stated_both_ways_is_a_conflict_not_a_pick():
    crit = Reader("She denies radicular symptoms. Exam: pain radiates down the right leg to the foot.").no_radiculopathy()
    assert not crit.met and "conflict" in crit.detail
    assert {s.text for s in crit.evidence} == {"denies radicular symptoms", "radiates down the right leg"}
    report = validate(note(MEDICARE, radicular="No radicular symptoms. The pain radiates down the left leg to the foot."),
                      ["27096-LT-KX"], payer="medicare")
    (finding,) = [f for f in report.findings if f.rule == "27096.medicare.lcd.no_radiculopathy"]
    assert finding.severity == "error" and "conflict" in finding.message and not report.supported


def test_tests_positive_only_on_the_side_not_injected_do_not_count():
    right = note(MEDICARE, tests="Exam: FABER, Gaenslen, thigh thrust and compression positive on the right.")
    report = validate(right, ["27096-LT-KX"], payer="medicare")
    assert "27096.medicare.lcd.provocative_tests" in {f.rule for f in report.errors}
    left = note(MEDICARE, tests="Exam: FABER, Gaenslen, thigh thrust and compression positive on the left.")
    assert validate(left, ["27096-LT-KX"], payer="medicare").supported


def test_a_prior_diagnostic_injection_is_not_read_as_a_prior_therapeutic_one():
    prior = "Prior injection: diagnostic left SI joint injection on 09/15/2026 gave 40% relief on the NRS for 5 hours."
    report = validate(note(THERAPEUTIC, prior=prior), ["27096-LT"], payer="medicare")
    rules = {f.rule: f for f in report.findings}
    assert "27096.medicare.lcd.repeat_relief" not in rules  # no repeat injection is stated
    finding = rules["27096.medicare.lcd.prior_diagnostic_relief"]
    assert finding.severity == "error" and "40%" in finding.message and not report.supported


def test_dated_prior_diagnostic_sessions_count_against_the_cap():
    prior = ("Prior SI procedures in the last 12 months: diagnostic right SI joint injection 03/04/2026 (55% relief) and "
             "diagnostic left SI joint injection 07/22/2026 (60% relief).")
    report = validate(note(MEDICARE, sessions=prior), ["27096-LT-KX"], payer="medicare")
    (finding,) = [f for f in report.findings if f.rule == "27096.medicare.lcd.sessions_diagnostic_cap"]
    assert finding.severity == "error" and "03/04/2026" in finding.message and "today's" in finding.message
    one = "Prior SI procedure: diagnostic right SI joint injection 03/04/2026 (55% relief)."
    assert "27096.medicare.lcd.sessions_diagnostic_cap" not in fired(note(MEDICARE, sessions=one), ["27096-LT-KX"], "medicare")


# --- one reading, raw spans ---------------------------------------------------------------------------------------

_LOOKALIKE_NOTE = (
    "…\n"
    "History: 6-month history of left buttock pain below L5 \u2013 the patient\u2019s \u201cworst\u201d pain.\n"
    "The pain is moderate to severe.\u00a0No radicular symptoms.\n"
    "MRI of the lumbar spine showed no stenosis or disc herniation \u2014 reviewed.\n"
    "She completed 6 weeks of physical therapy and NSAIDs without improvement.\n"
    "Exam: FABER positive on the left; positive Gaenslen, thigh thrust and compression tests.\u00a0\n"
    "She will continue her home exercise program.\n"
)


def _lcd_evidence(report) -> dict[str, list[str]]:
    return {r.rule: [s.text for s in r.evidence] for r in report.satisfied if ".lcd." in r.rule}


@pytest.mark.parametrize("prefix", ["…\n", "\u201cPer patient\u201d \u2013 \u00a0\n", "… … \u2019\u2019 \u2014\u00a0\u00a0\n"])
def test_a_prefix_of_lookalike_characters_changes_neither_verdict_nor_evidence(prefix):
    complete = note(MEDICARE)
    plain = validate(complete, ["27096-LT-KX"], payer="medicare")
    assert plain.supported
    shifted_text = prefix + complete
    shifted = validate(shifted_text, ["27096-LT-KX"], payer="medicare")
    assert shifted.supported, [(f.rule, f.message, [e.text for e in f.evidence]) for f in shifted.errors]
    assert _lcd_evidence(shifted) == _lcd_evidence(plain)
    for finding in [r for r in shifted.satisfied if ".lcd." in r.rule] + [f for f in shifted.findings if ".lcd." in f.rule]:
        for span in finding.evidence:
            assert shifted_text[span.start : span.end] == span.text  # spans of the original text


def test_lookalike_characters_inside_a_note_keep_every_span_on_its_words():
    report = validate(_LOOKALIKE_NOTE + note(FLUORO), ["27096-LT-KX"], payer="medicare")
    text = _LOOKALIKE_NOTE + note(FLUORO)
    assert report.supported, [(f.rule, f.message) for f in report.errors]
    evidence = _lcd_evidence(report)
    assert evidence["27096.medicare.lcd.provocative_tests"] == ["FABER", "Gaenslen", "thigh thrust", "compression"]
    assert evidence["27096.medicare.lcd.no_radiculopathy"] == ["No radicular symptoms"]
    for requirement in report.satisfied:
        if ".lcd." in requirement.rule:
            assert all(text[s.start : s.end] == s.text for s in requirement.evidence)


def test_the_overlay_reads_the_one_cached_reading():
    from notedraft.coverage import reader
    from notedraft.reading import read

    text = note(MEDICARE) + " (cache probe)"
    validate(text, ["27096-LT-KX"], payer="medicare")
    assert reader(text).r is read(text)  # the Reading every other reader of this text uses, not a second one


# --- drafting: draft --payer medicare states the criteria the dictation gives, in its own words ----------------------

from notedraft.coverage import DRAFTED, criteria_statements, statement_lines  # noqa: E402
from notedraft.drafting import draft  # noqa: E402

MEDICARE_DICTATION = (
    "Left SI joint injection under fluoroscopy, diagnostic. 6 month history of moderate to severe left buttock pain over "
    "the left SI joint, below L5. No radicular symptoms, SLR negative. Positive FABER, Gaenslen and thigh thrust on the "
    "left. MRI lumbar spine: no stenosis or disc herniation. Failed 8 weeks of PT and NSAIDs, continues home exercise "
    "program. Contrast confirmed intra-articular spread. Injected 2 mL 0.5% bupivacaine. Dx sacroiliitis M46.1. "
    "Pain 7/10 before, 2/10 after. No complications."
)
THERAPEUTIC_DICTATION = (
    "Right SIJ injection under fluoro, therapeutic. 9 mo hx R buttock pain below L5, NRS 8/10. Pain does not radiate "
    "below the knee, neuro exam normal. FABER +, Gaenslen +, thigh thrust +, compression -. Lumbar CT and MRI: no "
    "stenosis, herniation or fracture. Tried meloxicam and PT x 10 wks without relief; continues HEP. Prior diagnostic "
    "R SIJ block on 3/2/2026 with lidocaine gave 85% relief for 6 hours.\n"
    "Contrast confirmed intra-articular spread. Injected 40 mg Kenalog and 2 mL 0.25% bupivacaine. Dx M46.1. "
    "Pain 8/10 pre, 3/10 post. No complications."
)


def _history_block(note_text: str) -> list[str]:
    lines = note_text.splitlines()
    if "History / indication for the procedure:" not in lines:
        return []
    start = lines.index("History / indication for the procedure:") + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("- "):
            break
        block.append(line[2:])
    return block


def _in_dictation(statement: str, dictation: str) -> bool:
    said = " ".join(dictation.split())
    body = statement[:-1] if statement.endswith(".") and not said.count(statement) else statement
    return body in said or (body[:1].lower() + body[1:]) in said


@pytest.mark.parametrize("dictation, line", [(MEDICARE_DICTATION, "27096-LT-KX"), (THERAPEUTIC_DICTATION, "27096-RT")])
def test_a_medicare_draft_states_every_dictated_criterion_in_the_dictations_words_and_is_supported(dictation, line):
    d = draft(dictation, codes=[line], payer="medicare")
    assert d.report.supported, [(f.rule, f.message) for f in d.report.errors]
    block = _history_block(d.note)
    assert block, d.note
    assert all(_in_dictation(s, dictation) for s in block), block  # never reworded, never added
    satisfied = {r.rule.split(".", 1)[1] for r in d.report.satisfied if ".lcd." in r.rule}
    assert {"medicare.lcd.pain_duration", "medicare.lcd.pain_location", "medicare.lcd.pain_severity",
            "medicare.lcd.no_radiculopathy", "medicare.lcd.other_causes", "medicare.lcd.provocative_tests",
            "medicare.lcd.conservative_care"} <= satisfied
    # the evidence of each criterion is in the drafted history block
    history = d.note[d.note.index("History / indication") : d.note.index("Technique:")]
    for r in d.report.satisfied:
        if ".lcd." in r.rule and r.rule.split(".lcd.")[1] in {n for n, _ in DRAFTED}:
            assert all(s.text in history for s in r.evidence), (r.rule, [s.text for s in r.evidence])


def test_a_medicare_draft_without_codes_suggests_the_line_the_criteria_support():
    d = draft(MEDICARE_DICTATION, payer="medicare")
    assert d.codes == ["27096-LT-KX"] and d.report.supported, [(f.rule, f.message) for f in d.report.errors]


def test_without_the_medicare_payer_the_draft_states_no_criteria():
    d = draft(MEDICARE_DICTATION, codes=["27096-LT"])
    assert "History / indication" not in d.note and d.report.supported


def test_a_criterion_the_dictation_does_not_give_is_not_drafted_and_is_asked():
    dictation = MEDICARE_DICTATION.replace("Failed 8 weeks of PT and NSAIDs, continues home exercise program. ",
                                           "PT recommended. ")
    d = draft(dictation, codes=["27096-LT-KX"], payer="medicare")
    block = _history_block(d.note)
    assert block and not any("PT" in s for s in block)
    assert not d.report.supported
    assert "27096.medicare.lcd.conservative_care" in {f.rule for f in d.report.errors}
    assert any("how many weeks" in q for q in d.queries)


def test_phrasing_that_fails_closed_in_a_dictation_is_not_drafted():
    dictation = MEDICARE_DICTATION.replace("Positive FABER, Gaenslen and thigh thrust on the left.",
                                           "FABER, Gaenslen and thigh thrust to be tested.").replace(
        "6 month history of", "Since March,")
    d = draft(dictation, codes=["27096-LT-KX"], payer="medicare")
    block = " ".join(_history_block(d.note))
    assert "FABER" not in block and "Since March" not in block
    assert {"27096.medicare.lcd.provocative_tests", "27096.medicare.lcd.pain_duration"} <= {f.rule for f in d.report.errors}


def test_criteria_statements_are_spans_of_the_original_dictation():
    dictation = "…\n" + MEDICARE_DICTATION.replace("No radicular symptoms", "No radicular symptoms \u2013 none").replace(
        "Positive FABER", "Positive\u00a0FABER")
    found = criteria_statements(dictation)
    assert {name for name, _ in found} >= {"medicare.lcd.provocative_tests", "medicare.lcd.no_radiculopathy"}
    for _, span in found:
        assert dictation[span.start : span.end] == span.text
    assert any("Positive\u00a0FABER" in s.text for _, s in found)  # the dictation's own characters
    assert statement_lines("Nothing about the criteria here. Left SI joint injection.") == []


def test_cli_draft_with_payer_medicare_writes_the_criteria():
    result = run("draft", MEDICARE_DICTATION, "--code", "27096-LT-KX", "--payer", "medicare")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "History / indication for the procedure:" in result.stdout
    assert "- Positive FABER, Gaenslen and thigh thrust on the left." in result.stdout
    assert "SUPPORTED: 27096-LT-KX" in result.stdout


@pytest.mark.parametrize("unit", ["pain 7/10 ", "FABER, ", "buttock pain over the SI joint ", "failed 6 weeks of PT ",
                                  "prior diagnostic block gave 80% relief "])
def test_a_long_note_without_full_stops_is_read_in_linear_time(unit):
    # each criterion reads a mention's sentence at most WINDOW characters either side (as the Reading reads a
    # clause): 4x the text costs about 4x the work, never 16x. Work is counted (calls and regex calls, as in
    # test_linear_work), never timed, so a loaded machine cannot fail it.
    from notedraft.coverage import reader
    from tests.test_linear_work import assert_linear, count_work

    def check(text: str) -> None:
        reader.cache_clear()  # the overlay's reading of a text is cached too: every run reads afresh
        validate(text, ["27096-LT"], payer="medicare")

    def work(n: int) -> tuple[int, int]:
        return count_work(check, unit * n, runs=2)

    work(400)  # warm: patterns compiled and their fast twins built, so one-time work does not count
    assert_linear(f"medicare overlay, {unit!r} repeated", 400, 1600, work(400), work(1600))
