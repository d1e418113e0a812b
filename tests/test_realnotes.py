"""The extractor against real (third-party, MTSamples) procedure notes and their hand labels.

The notes live outside the repository (../shared/realnotes, or $NOTEDRAFT_REALNOTES); this file only names them.
Every usable note (not truncated or empty in its source) must read with the guidance and side its label gives.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from notedraft.extract import extract_facts
from notedraft.validate import validate

REALNOTES = Path(os.environ.get("NOTEDRAFT_REALNOTES") or Path(__file__).parents[1].parent / "shared" / "realnotes")


def _labels() -> list[dict]:
    index = REALNOTES / "index.json"
    if not index.is_file():
        return []
    return json.loads(index.read_text(encoding="utf-8"))


def _usable(label: dict) -> bool:
    return not any("truncated" in flag.lower() or "empty" in flag.lower() for flag in label.get("flags", []))


LABELS = _labels()
USABLE = [label for label in LABELS if _usable(label)]
pytestmark = pytest.mark.skipif(not LABELS, reason=f"real notes not found at {REALNOTES} (set NOTEDRAFT_REALNOTES)")


def _text(name: str) -> str:
    return (REALNOTES / name).read_text(encoding="utf-8")


def _one(prefix: str) -> str:
    (name,) = [label["file"] for label in LABELS if label["file"].startswith(prefix)] or [None]
    if name is None:
        pytest.skip(f"no real note {prefix}*")
    return _text(name)


@pytest.mark.parametrize("label", USABLE, ids=[label["file"].split("_")[0] for label in USABLE])
def test_guidance_and_side_agree_with_the_label(label):
    facts = extract_facts(_text(label["file"]))
    assert (facts.guidance, facts.side) == (label["guidance"], label["side"]), label["file"]


def test_most_notes_are_usable():
    assert len(USABLE) >= 40, [label["file"] for label in LABELS if not _usable(label)]


@pytest.mark.parametrize("prefix", ["10_", "45_"])
def test_the_si_joint_injection_notes_read_as_si_joint_injections_under_fluoroscopy(prefix):
    facts = extract_facts(_one(prefix))
    assert (facts.procedure, facts.guidance) == ("si_joint_injection", "fluoroscopy")


def test_the_lateral_branch_block_note_is_an_si_nerve_block_not_27096():
    text = _one("33_")
    facts = extract_facts(text)
    assert facts.procedure == "si_nerve_block"
    report = validate(text, ["27096-50"])
    assert "27096.procedure.intra_articular_si" in {f.rule for f in report.errors}


@pytest.mark.parametrize("prefix", ["06_", "07_"])
def test_the_radiofrequency_notes_are_si_rfa_not_27096(prefix):
    text = _one(prefix)
    assert extract_facts(text).procedure == "si_rfa"
    assert "27096.procedure.intra_articular_si" in {f.rule for f in validate(text, ["27096-50"]).errors}


@pytest.mark.parametrize("label", USABLE, ids=[label["file"].split("_")[0] for label in USABLE])
def test_every_verdict_on_a_real_note_points_at_real_text(label):
    text = _text(label["file"])
    report = validate(text, ["27096-50", "76942"], payer="medicare")
    spans = [s for f in report.findings for s in f.evidence] + [s for r in report.satisfied for s in r.evidence]
    for span in spans:
        assert text[span.start : span.end] == span.text
    for finding in report.findings:
        assert finding.fix.strip()
