"""Procedure families on the 48 real notes of /work/shared/realnotes (skipped when absent; nothing is copied here).

For every usable note: the family and the guidance the reader finds agree with the labels; the code family
notedraft suggests is the one `cpt_judgement` names; a note the labels call unsupportable is never supported.
Per-family agreement is printed (pytest -s)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from notedraft.extract import extract_facts
from notedraft.validate import validate

ROOT = Path("/work/shared/realnotes")
pytestmark = pytest.mark.skipif(not (ROOT / "index.json").exists(), reason="shared real notes not available")

# the labels' procedure category -> the family's procedure id (None: outside the validated families)
CATEGORY = {
    "ESI - interlaminar lumbar": "epidural_interlaminar", "ESI - interlaminar cervical": "epidural_interlaminar",
    "ESI - interlaminar thoracic": "epidural_interlaminar", "ESI - caudal": "epidural_interlaminar",
    "ESI - transforaminal lumbar": "epidural_transforaminal", "ESI - transforaminal cervical": "epidural_transforaminal",
    "facet joint injection": "facet_injection", "medial branch block": "facet_injection",
    "RF ablation - facet medial branch": "facet_rfa", "RF ablation - SI joint nerves": "si_rfa",
    "SI joint nerve block": "si_nerve_block", "sacroiliac joint injection": "si_joint_injection",
    "trigger point injection": "trigger_point_injection", "large joint - knee": "joint_injection",
    "large joint - hip": "joint_injection", "shoulder region - AC joint": "joint_injection",
    "hip region - trochanteric bursa": "joint_injection",
}
UNSUPPORTABLE = re.compile(r"^(?:Not supportable|Outside the validator|Diagnostic epidurography only)|not adequately "
                           r"supported|NOT supported|claimed but not supportable", re.IGNORECASE)
# Source notes with no procedure text left (truncated, empty, instructions only): nothing to read.
UNUSABLE = re.compile(r"TRUNCATED|EMPTY|INSTRUCTIONS-ONLY")
# Misses that are safe (a question, never a wrong code), each explained in the report. Note 29 (a cervical
# epidural named only by its technique, a Tuohy needle and loss of resistance) is read since the family's
# `technique` words (families/epidural_interlaminar/family.toml).
KNOWN_MISSES: set[str] = set()
# The label's verdict (the judgement's first clause says "supported") vs notedraft's (a code suggested), where they
# differ; each is the project's rule being stricter than the label or the label asking for a warning, never a code
# the labels call unsupportable. A new disagreement fails the test until it is explained here.
VERDICT_DISAGREEMENTS = {
    # 27096 needs the diagnosis and the purpose stated (the SI pack's documentation rules): neither is in the note,
    # nor an intra-articular confirmation (the label: "a strict validator may warn"). Queries, not a code.
    "10_si-joint-and-sacral-alar-notch-injection-right.txt": "label supported; refused: no diagnosis, purpose, "
                                                             "intra-articular confirmation",
    # "image intensifier" is read as fluoroscopy; refused only for the missing diagnosis and purpose (as note 10).
    "45_si-joint-injection-bilateral-image-intensifier.txt": "label supported; refused: no diagnosis, purpose",
    # The injectate is "0.5% of bupivacaine ... to each area": a strength, no volume (the label: "volume not
    # stated"); the rule asks for each injectate's dose or volume. The skin lidocaine is not counted.
    "33_l5-dorsal-ramus-s1-s3-lateral-branch-block-bilateral.txt": "label supported; refused: injectate volume",
    # The label asks for a warning ("a strict validator should warn") on the missing epidural confirmation;
    # 62323 is suggested with the warning 62323.contrast.documented.
    "13_lumbar-esi-l5-s1-fluoroscopy.txt": "label 'family, warn'; supported with a warning",
    # A volume without its strength is no dose (models.Medication.dosed): "1 cc of Triamcinolone" is 10 or 40 mg
    # (Kenalog-10, Kenalog-40), and "Bupivacaine 1/16th, 8 cc total" gives a strength the reader does not take as
    # one. The labels judged the code; the validator asks the physician for the strength.
    "28_facet-arthrogram-injection-bilateral-l3-s1.txt": "label supported; refused: triamcinolone 1 cc, no strength",
    "34_lumbar-esi-l4-l5-fluoroscopy-contrast.txt": "label supported; refused: bupivacaine 8 cc, '1/16th' not read",
}
# Per family: notes, family and guidance agreeing, verdicts agreeing (floors: a regression fails the test).
AGREEMENT = {
    "epidural_interlaminar": (12, 12, 10), "epidural_transforaminal": (5, 5, 5), "facet_injection": (4, 4, 3),
    "facet_rfa": (2, 2, 2), "joint_injection": (4, 4, 4), "si_joint_injection": (2, 2, 0),
    "si_nerve_block": (1, 1, 0), "si_rfa": (2, 2, 2), "trigger_point_injection": (1, 1, 1),
}
_SAYS_SUPPORTED = re.compile(r"\b(?:safely\s+)?supported\b|\bsupportable\b")


def label_verdict(judged: str) -> str:
    """'supported' when the judgement's first clause says so ("64490-50 supported (...)", "62320 safely supported",
    "62321 supportable"), else 'question' ("64493 family - ... cannot be validated", "Ambiguous: ...")."""
    first = re.split(r"(?<=[a-z)])[.:] |\s-\s", judged)[0]
    return "supported" if _SAYS_SUPPORTED.search(first) and not re.search(r"\bnot\b", first, re.I) else "question"


def _notes():
    items = json.loads((ROOT / "index.json").read_text())
    return [(i, (ROOT / i["file"]).read_text()) for i in items]


def _codes_in(text: str) -> set[str]:
    return set(re.findall(r"\b(?:\d{5}|\d{4}T)\b", text))


def test_real_notes_families_agree():
    per_family: Counter = Counter()
    agree: Counter = Counter()
    verdicts: Counter = Counter()
    false_supported, wrong_family, wrong_code, unexplained = [], [], [], []
    for label, text in _notes():
        expected = CATEGORY.get(label["procedure_category"])
        facts = extract_facts(text)
        report = validate(text, [])
        judged = label["cpt_judgement"]
        suggested = [s.split("-")[0] for s in report.suggested_codes]
        if UNSUPPORTABLE.search(judged) or UNUSABLE.search(label["file"]):
            # only codes the labels name as an alternative may be suggested
            if suggested and not set(suggested) <= _codes_in(judged):
                false_supported.append((label["file"], report.suggested_codes))
            continue
        if expected is None:  # outside the families; "Ambiguous: 64483-LT + 64484-LT or 62264" names the TFESI codes
            if suggested and not set(suggested) <= _codes_in(judged):
                false_supported.append((label["file"], report.suggested_codes))
            continue
        per_family[expected] += 1
        ok = facts.procedure == expected
        if label["guidance"] != "unstated":
            ok = ok and facts.guidance == label["guidance"]
        if facts.procedure != expected and facts.procedure != "unstated" and label["file"] not in KNOWN_MISSES:
            wrong_family.append((label["file"], facts.procedure, expected))
        if suggested:
            if not set(suggested) <= _codes_in(judged) | _family_codes(judged):
                wrong_code.append((label["file"], report.suggested_codes, judged[:80]))
                ok = False
        agree[expected] += ok
        ours = "supported" if suggested else "question"
        if ours == label_verdict(judged):
            verdicts[expected] += 1
        elif label["file"] not in VERDICT_DISAGREEMENTS:
            unexplained.append((label["file"], label_verdict(judged), report.suggested_codes))
    print(f"\n{'family':<26} {'notes':>5} {'family+guidance':>15} {'verdict':>7}")
    for fam in sorted(per_family):
        print(f"{fam:<26} {per_family[fam]:>5} {agree[fam]:>15} {verdicts[fam]:>7}")
    assert not false_supported, false_supported
    assert not wrong_family, wrong_family
    assert not wrong_code, wrong_code
    assert not unexplained, unexplained
    got = {fam: (per_family[fam], agree[fam], verdicts[fam]) for fam in per_family}
    for fam, (n, fam_ok, verdict_ok) in AGREEMENT.items():
        assert got.get(fam, (0, 0, 0))[0] == n and got[fam][1] >= fam_ok and got[fam][2] >= verdict_ok, (fam, got[fam])


def _family_codes(judged: str) -> set[str]:
    """'64483 family' also names its add-on for additional levels, and -50 lines are the same code."""
    out = set()
    for code in _codes_in(judged):
        out |= {code, str(int(code) + 1)} if code.isdigit() else {code}
    return out
