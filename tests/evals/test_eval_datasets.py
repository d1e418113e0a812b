"""The eval datasets: every row fits its schema, and together they cover what issue 4 asks for."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from notedraft.evals.dataset import (
    PATHS,
    SIDES,
    DatasetError,
    DraftingCase,
    load_drafting,
    load_realnotes,
    stratified_sample,
)
from notedraft.evals.scorers import parse_line

REPO = Path(__file__).resolve().parents[2]
EVALS = REPO / "evals"
REALNOTES = REPO.parent / "shared" / "realnotes"


def test_there_are_at_least_60_drafting_cases(drafting_cases):
    assert len(drafting_cases) >= 60


def test_every_path_and_side_has_a_supported_case(drafting_cases):
    covered = {(c.path, c.side) for c in drafting_cases if c.expected.outcome == "supported"}
    missing = {(p, s) for p in PATHS for s in SIDES} - covered
    assert not missing, f"no supported case for {sorted(missing)}"


def test_the_refusal_kinds_the_issue_names_are_all_there(drafting_cases):
    tags = Counter(t for c in drafting_cases if c.expected.outcome == "refused" for t in c.tags)
    for kind in ("mismatch", "missing_dose", "missing_diagnosis", "injection", "76942"):
        assert tags[kind] >= 2, f"fewer than two refused cases tagged {kind}"


def test_the_mismatched_targets_of_the_brief_are_there(drafting_cases):
    def has(path, asked_code, side=None):
        return any(
            c.path == path and c.codes and any(parse_line(x)[0] == asked_code for x in c.codes)
            and c.expected.outcome == "refused" and (side is None or c.side == side)
            for c in drafting_cases
        )

    assert has("us_unrecorded", "27096") or has("us_recorded", "27096")  # ultrasound dictated, 27096 asked
    assert any(c.side == "left" and c.codes == ["20552-RT"] and c.expected.outcome == "refused"
               for c in drafting_cases)  # left dictated, 20552-RT asked
    assert has("us_unrecorded", "76942")  # 76942 asked without saved images


def test_styles_vary(drafting_cases):
    styles = Counter(s for c in drafting_cases for s in c.style)
    assert set(styles) >= {"terse", "abbreviated", "run-on", "typos", "formal"}


def test_refused_cases_expect_only_lines_their_path_supports(drafting_cases):
    """A suggestion names 27096 only for fluoroscopy/CT and 20552 only for ultrasound or landmark."""
    for c in drafting_cases:
        lines = c.expected.codes if c.expected.outcome == "supported" else c.expected.suggested_codes
        for line in lines:
            code, side, _ = parse_line(line)
            if code == "27096":
                assert c.path in ("fluoroscopy", "ct"), c.id
            if code == "20552":
                assert c.path in ("us_recorded", "us_unrecorded", "landmark"), c.id
            if code == "76942":
                assert c.path == "us_recorded", c.id
            if side is not None:
                assert {"LT": "left", "RT": "right", "50": "bilateral"}[side] == c.side, c.id


def test_ids_are_unique_and_the_schema_rejects_a_bad_row(tmp_path, drafting_cases):
    good = drafting_cases[0].model_dump(mode="json")
    bad = dict(good, gold=dict(good["gold"], guidance="ultrasound"))  # contradicts its path
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DatasetError, match=":2:"):
        load_drafting(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(DatasetError, match="duplicate"):
        load_drafting(path)


def test_validator_cases_cover_the_tricky_readings(validator_cases):
    tags = Counter(t for c in validator_cases for t in c.tags)
    for kind in ("negation", "planned", "historical", "abbreviations", "bilateral", "76942"):
        assert tags[kind] >= 1, kind
    assert any(c.expected.supported for c in validator_cases)
    assert any(not c.expected.supported for c in validator_cases)


def test_stratified_sample_covers_every_path_and_side_first(drafting_cases):
    picked = stratified_sample(drafting_cases, 15)
    assert len(picked) == 15
    assert {(c.path, c.side) for c in picked} == {(p, s) for p in PATHS for s in SIDES}
    assert stratified_sample(drafting_cases, 24) == stratified_sample(drafting_cases, 24)  # deterministic


def test_real_notes_become_cases_with_their_labels_and_unusable_ones_are_skipped(tmp_path):
    (tmp_path / "a.txt").write_text("Left SI joint injection under fluoroscopy.")
    (tmp_path / "b.txt").write_text("OPERATION:,")
    (tmp_path / "c.txt").write_text("")
    (tmp_path / "index.json").write_text(json.dumps([
        {"file": "a.txt", "guidance": "fluoroscopy", "side": "left", "flags": []},
        {"file": "b.txt", "guidance": "unstated", "side": "unstated", "flags": ["transcription truncated in source"]},
        {"file": "c.txt", "guidance": "unstated", "side": "unstated", "flags": ["transcription empty in source"]},
    ]))
    cases, skipped = load_realnotes(tmp_path)
    assert [c.id for c in cases] == ["realnote:a"]
    assert cases[0].expected.guidance == "fluoroscopy" and cases[0].expected.side == "left"
    assert cases[0].expected.supported is False and cases[0].source == "realnote"
    assert len(skipped) == 2
    assert load_realnotes(tmp_path / "absent") == ([], [])


@pytest.mark.skipif(not (REALNOTES / "index.json").is_file(), reason="../shared/realnotes is absent")
def test_every_usable_real_note_is_a_case():
    index = json.loads((REALNOTES / "index.json").read_text())
    unusable = [e for e in index if any("truncated" in f or "empty" in f for f in e.get("flags") or [])]
    cases, skipped = load_realnotes(REALNOTES)
    assert len(cases) == len(index) - len(unusable)
    assert len(skipped) == len(unusable)


def test_no_real_note_text_is_copied_into_the_repo():
    if not (REALNOTES / "index.json").is_file():
        pytest.skip("../shared/realnotes is absent")
    ours = "\n".join(p.read_text(encoding="utf-8") for p in Path(EVALS).glob("*.jsonl"))
    for note in REALNOTES.glob("*.txt"):
        text = note.read_text(encoding="utf-8")
        sample = text[200:280]
        assert len(sample) < 40 or sample not in ours, f"{note.name} appears in evals/"


def test_rows_round_trip_through_the_schema(drafting_cases):
    for c in drafting_cases:
        assert DraftingCase.model_validate(c.model_dump(mode="json")) == c
