"""The audit's parts on their own: reading sources, streaming through the real pool, the CSV's guard, and a fuzz
test that no input bytes can make the reading or one note's audit raise (hypothesis, derandomized: replayable)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notedraft.audit.inputs import Claims, NoteRecord, Sources
from notedraft.audit.note import audit_record
from notedraft.audit.report import Tally, _cell, csv_row, detail_of
from notedraft.audit.run import BATCH, IN_FLIGHT_PER_WORKER, ordered_results

NOTE = ("PROCEDURE: Left sacroiliac joint injection under fluoroscopic guidance. Intra-articular placement confirmed "
        "with contrast. 40 mg Kenalog. Dx M46.1. Diagnostic.")
SETTINGS = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def test_a_folder_reads_in_sorted_path_order_skipping_hidden_and_other_files(tmp_path):
    for name in ["b.txt", "a/z.md", "a/b.TXT", "a-b.txt", ".hidden.txt", ".git/x.txt", "c.pdf", "d.json"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(NOTE)
    ids = [r.note for r in Sources([str(tmp_path)]).records(None)]
    assert ids == sorted(["b.txt", "a/z.md", "a/b.TXT", "a-b.txt"])


def test_claims_match_paths_relative_to_the_folder_or_including_it(tmp_path):
    (tmp_path / "notes").mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / "notes" / name).write_text(NOTE)
    claims_csv = tmp_path / "claims.csv"
    folder = tmp_path / "notes"
    claims_csv.write_text(f"Note,Codes,Payer\n./a.txt,27096-LT,Medicare\n{folder}/b.txt,\"27096-LT, 77003\",\n")
    records = {r.note: r for r in Sources([str(folder)]).records(Claims(str(claims_csv)))}
    assert records["a.txt"].codes == ("27096-LT",) and records["a.txt"].payer == "Medicare"
    assert records["b.txt"].codes == ("27096-LT", "77003")
    assert records["c.txt"].codes is None  # no claim: audited against what it supports


def test_a_medicare_claim_gets_the_overlay(tmp_path):
    from notedraft.validate import validate

    row = audit_record(NoteRecord(note="x", text=NOTE, codes=("27096-LT",), payer="MEDICARE"))
    assert [f["rule"] for f in row["findings"]] == [f.rule for f in validate(NOTE, ["27096-LT"], "medicare").findings]
    plain = audit_record(NoteRecord(note="x", text=NOTE, codes=("27096-LT",), payer="Acme Health"))
    assert [f["rule"] for f in plain["findings"]] == [f.rule for f in validate(NOTE, ["27096-LT"]).findings]


def test_a_validator_bug_on_one_note_is_its_error_row(monkeypatch):
    import notedraft.validate

    def broken(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(notedraft.validate, "validate", broken)
    row = audit_record(NoteRecord(note="x", text=NOTE, codes=("27096-LT",)))
    assert row["error"] == "internal error: RecursionError: maximum recursion depth exceeded"
    assert row["supported"] is False


def test_the_pool_streams_a_bounded_window_and_keeps_input_order():
    """The real pool: records are pulled only as results go out (memory flat), rows come back in input order."""
    pulled = 0

    def records():
        nonlocal pulled
        for i in range(40 * BATCH):
            pulled += 1
            yield NoteRecord(note=f"n{i}", text=NOTE + f" Encounter {i}.", codes=("27096-LT",))

    workers = 2
    window = workers * IN_FLIGHT_PER_WORKER * BATCH
    seen = []
    for batch in ordered_results(records(), workers, None):
        seen += [json.loads(line)["note"] for line, _ in batch]
        assert pulled <= len(seen) + window + BATCH, (pulled, len(seen))
    assert seen == [f"n{i}" for i in range(40 * BATCH)]


def test_csv_cells_a_spreadsheet_would_run_are_defused():
    assert _cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert _cell("@SUM(A1)") == "'@SUM(A1)" and _cell("-1+1") == "'-1+1" and _cell("Dr. Lee") == "Dr. Lee"
    assert _cell(3) == 3


def test_spans_move_past_astral_characters_for_the_page():
    text = "😀 a 😀 bc"
    row = {"text": text, "questions": [], "findings": [{"severity": "error", "rule": "r", "message": "", "fix": "",
                                                         "code": None, "spans": [{"start": 6, "end": 8, "text": "bc"}]}]}
    assert text[6:8] == "bc"
    (start, end), = detail_of(row)["findings"][0][5]
    assert text.encode("utf-16-le")[start * 2:end * 2].decode("utf-16-le") == "bc"


# --- fuzz: nothing in the input raises -------------------------------------------------------------------------------

pieces = st.sampled_from([NOTE, '"', ",", "\n", "\r\n", "\x00", "\ufeff", "{", "}", "[", "]", ":", '"id"', '"text"',
                          '"codes"', "27096-LT", "99999", "\\", "\udcff", "é", "😀", "null", "true", "1"])
fuzz_text = st.lists(st.one_of(pieces, st.text(max_size=8)), max_size=40).map("".join)
fuzz_bytes = st.one_of(fuzz_text.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=200))


def _audit_everything(path: Path, claims: Path | None = None) -> list[dict]:
    rows = [audit_record(r) for r in Sources([str(path)]).records(Claims(str(claims)) if claims else None)]
    ids = [r["note"] for r in rows]
    assert len(ids) == len(set(ids))  # unique ids: claims and --resume rely on them
    for r in rows:
        assert isinstance(r["note"], str) and r["note"]
        json.dumps(r, ensure_ascii=False).encode("utf-8")  # every row is writable as UTF-8 JSON
        assert (r["error"] is None) or not r["findings"]
        csv.writer(io.StringIO()).writerow(csv_row(r))
    Tally().add(rows[0], 0) if rows else None
    return rows


@SETTINGS
@given(lines=st.lists(fuzz_bytes, max_size=6))
def test_no_jsonl_makes_the_audit_raise(tmp_path, lines):
    path = tmp_path / "notes.jsonl"
    path.write_bytes(b"\n".join(lines))
    _audit_everything(path)


@SETTINGS
@given(body=fuzz_bytes, claims_body=fuzz_bytes)
def test_no_csv_body_makes_the_audit_raise(tmp_path, body, claims_body):
    path = tmp_path / "notes.csv"
    path.write_bytes(b"id,text,codes,physician\n" + body)
    claims = tmp_path / "claims.csv"
    claims.write_bytes(b"note,codes\n" + claims_body)
    _audit_everything(path, claims)


@SETTINGS
@given(content=fuzz_bytes)
def test_no_note_file_makes_the_audit_raise(tmp_path, content):
    (tmp_path / "n").mkdir(exist_ok=True)
    (tmp_path / "n" / "note.txt").write_bytes(content)
    (row,) = _audit_everything(tmp_path / "n")
    assert row["error"] is not None or row["text"] is not None
