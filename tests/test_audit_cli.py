"""`notedraft audit` as a coder and automation run it: the real console script in a subprocess, a real process pool.

The contract: exit 0 when every billed claim is supported, 1 when one is not or a note could not be audited (each
such note is a row with its reason), 2 when the input itself is unusable (one line on stderr, no traceback). The
verdict on each note is exactly `validate()`'s; the output is byte for byte the same on every run, whatever the
number of workers; --resume after a killed run ends with the file a run from the start writes.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from notedraft.queries import queries_for
from notedraft.validate import validate

REPO = Path(__file__).resolve().parents[1]
NOTEDRAFT = Path(sys.executable).with_name("notedraft")
if not NOTEDRAFT.exists():
    NOTEDRAFT = REPO / ".venv" / "bin" / "notedraft"
REALNOTES = Path(os.environ.get("NOTEDRAFT_REALNOTES") or REPO.parent / "shared" / "realnotes")
EVALS = REPO / "evals" / "validator.jsonl"

GOOD = (
    "PROCEDURE: Left sacroiliac joint injection.\n"
    "DIAGNOSIS: Sacroiliitis (M46.1).\n"
    "This was a diagnostic injection.\n"
    "Under fluoroscopic guidance a 22-gauge spinal needle was advanced into the left SI joint.\n"
    "Intra-articular placement was confirmed with contrast, which outlined the joint.\n"
    "Injected 40 mg Kenalog and 2 mL of 0.25% bupivacaine.\n"
)
NO_FLUORO = GOOD.replace("Under fluoroscopic guidance a", "Fluoroscopy was not used. A")


def run(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(NOTEDRAFT), "audit", *args], capture_output=True, timeout=timeout, cwd=cwd)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def claims(folder: Path, lines: list[str], header: str = "note,codes,physician") -> Path:
    return write(folder, "claims.csv", "\n".join([header, *lines]) + "\n")


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("notedraft: error: "), result.stderr
    return lines[0]


# --- exit codes and verdicts ---------------------------------------------------------------------------------------


def test_exit_0_when_every_claim_is_supported(tmp_path):
    notes = tmp_path / "notes"
    write(notes, "a.txt", GOOD)
    write(notes, "sub/b.md", GOOD.replace("diagnostic", "therapeutic"))
    result = run(str(notes), "--claims", str(claims(tmp_path, ["a.txt,27096-LT,Dr. Lee", "sub/b.md,27096-LT,Dr. Lee"])),
                 "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(r["note"], r["supported"], r["claimed"]) for r in rows(tmp_path / "out")] == [
        ("a.txt", True, True), ("sub/b.md", True, True)]
    assert "claims supported                 2" in result.stdout


def test_exit_1_and_the_reason_when_a_claim_is_not_supported(tmp_path):
    notes = tmp_path / "notes"
    write(notes, "good.txt", GOOD)
    write(notes, "nofluoro.txt", NO_FLUORO)
    result = run(str(notes), "--claims", str(claims(tmp_path, ["good.txt,27096-LT,Dr. Lee", "nofluoro.txt,27096-LT,Dr. Kim"])),
                 "--out", str(tmp_path / "out"))
    assert result.returncode == 1, result.stdout + result.stderr
    bad = {r["note"]: r for r in rows(tmp_path / "out")}["nofluoro.txt"]
    assert not bad["supported"]
    assert "27096.guidance.fluoroscopy_or_ct" in {f["rule"] for f in bad["findings"]}
    assert bad["suggested_codes"] == validate(NO_FLUORO, []).suggested_codes
    # the terminal summary names the rule with its count and the note to fix, never the note's text
    assert "27096.guidance.fluoroscopy_or_ct" in result.stdout and "nofluoro.txt" in result.stdout
    with open(tmp_path / "out" / "results.csv", newline="", encoding="utf-8") as fh:
        table = {r["note"]: r for r in csv.DictReader(fh)}
    assert table["nofluoro.txt"]["verdict"] == "not supported"
    assert "27096.guidance.fluoroscopy_or_ct" in table["nofluoro.txt"]["failing_rules"]
    assert table["nofluoro.txt"]["physician"] == "Dr. Kim"


def test_without_claims_each_note_is_checked_against_what_it_supports_and_exit_is_0(tmp_path):
    notes = tmp_path / "notes"
    write(notes, "good.txt", GOOD)
    write(notes, "nofluoro.txt", NO_FLUORO)
    result = run(str(notes), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    for row in rows(tmp_path / "out"):
        text = (notes / row["note"]).read_text()
        suggested = validate(text, []).suggested_codes
        assert row["claimed"] is False and row["codes"] == suggested
        expected = validate(text, suggested) if suggested else validate(text, [])
        assert row["supported"] == expected.supported


def test_bad_input_becomes_error_rows_and_the_audit_goes_on(tmp_path):
    notes = tmp_path / "notes"
    write(notes, "a_good.txt", GOOD)
    write(notes, "b_binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    write(notes, "c_latin1.txt", GOOD.replace("fluoroscopic", "fluoroscópic").encode("latin-1"))
    write(notes, "d_empty.txt", "  \n")
    write(notes, "e_huge.txt", b"x" * (5 * 1024 * 1024 + 1))
    write(notes, "f_unknown_code.txt", GOOD)
    unreadable = write(notes, "g_unreadable.txt", GOOD)
    unreadable.chmod(0)
    result = run(str(notes), "--claims", str(claims(tmp_path, [
        "a_good.txt,27096-LT,", "f_unknown_code.txt,99999,", "g_unreadable.txt,27096-LT,", "ghost.txt,27096-LT,",
        "a_good.txt,27096-RT,", ',"27096-LT",', "b_binary.txt,27096-LT,extra,fields"])), "--out", str(tmp_path / "out"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    got = {r["note"]: r for r in rows(tmp_path / "out")}
    assert got["a_good.txt"]["supported"] and got["a_good.txt"]["error"] is None
    reasons = {note: (r["error"] or "") for note, r in got.items()}
    assert "binary" in reasons["b_binary.txt"]
    assert "not UTF-8" in reasons["c_latin1.txt"]
    assert "empty" in reasons["d_empty.txt"]
    assert "over 5 MB" in reasons["e_huge.txt"]
    assert "unknown code '99999'" in reasons["f_unknown_code.txt"]
    assert got["f_unknown_code.txt"]["suggested_codes"] == ["27096-LT"]  # what the note supports instead
    if os.geteuid() != 0:  # root reads a 0000 file
        assert "cannot read" in reasons["g_unreadable.txt"]
    assert "no such note in the input" in reasons["ghost.txt"]
    assert any("a second claim for 'a_good.txt'" in r for r in reasons.values())
    assert any("no note named" in r for r in reasons.values())
    assert any("4 fields, the header has 3" in r for r in reasons.values())


def test_a_malformed_jsonl_line_is_an_error_row(tmp_path):
    good = json.dumps({"id": "n1", "text": GOOD, "codes": ["27096-LT"], "physician": "Dr. Lee"})
    bad_json = '{"id": "n2", "text": "unterminated'
    not_object = "[1, 2]"
    no_text = json.dumps({"id": "n4", "codes": "27096-LT"})
    latin = json.dumps({"id": "n5", "text": "caf\u00e9 " + GOOD}, ensure_ascii=False).encode("latin-1")
    path = write(tmp_path, "notes.jsonl", b"\n".join([good.encode(), bad_json.encode(), not_object.encode(),
                                                       no_text.encode(), latin, b""]))
    result = run(str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 1, result.stderr
    got = [(r["note"], r["error"]) for r in rows(tmp_path / "out")]
    assert got[0] == ("n1", None)
    assert got[1][0].endswith("notes.jsonl:2") and "not JSON" in got[1][1]
    assert "not a JSON object" in got[2][1]
    assert got[3][0] == "n4" and "no note text" in got[3][1]
    assert got[4][0].endswith("notes.jsonl:5") and "not UTF-8" in got[4][1]


def test_a_csv_of_notes_with_its_own_claims(tmp_path):
    path = tmp_path / "notes.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "codes", "payer", "place_of_service", "physician", "date_of_service"])
        w.writerow(["c1", GOOD, "27096-LT", "medicare", "22", "Dr. Lee", "2026-11-02"])
        w.writerow(["c2", NO_FLUORO, "27096-LT", "", "11", "Dr. Kim", "2026-11-03"])
        w.writerow(["c3", GOOD, "27096-LT", "", "moon base", "Dr. Kim", "2026-11-04"])
    result = run(str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    got = {r["note"]: r for r in rows(tmp_path / "out")}
    assert got["c1"]["supported"] == validate(GOOD, ["27096-LT"], payer="medicare", setting="facility").supported
    assert got["c1"]["payer"] == "medicare" and got["c1"]["date_of_service"] == "2026-11-02"
    assert not got["c2"]["supported"]
    assert "unknown place of service 'moon base'" in got["c3"]["error"]


@pytest.mark.parametrize("args, says", [
    (["/nonexistent/notes"], "no such file or folder"),
    (["{tmp}/notes", "--claims", "{tmp}/nope.csv"], "cannot read the claims file"),
    (["{tmp}/notes", "--claims", "{tmp}/headerless.csv"], "header has no 'note' column"),
    (["{tmp}/notes", "--claims", "{tmp}/empty.csv"], "empty or has no header"),
    (["{tmp}/empty-folder"], "no notes in"),
    (["{tmp}/claims-as-notes.csv"], "pass it with --claims"),
    (["{tmp}/notes", "--resume"], "--resume needs --out"),
    (["{tmp}/notes", "--out", "{tmp}/notes/a.txt"], "--out is a file"),
    (["{tmp}/notes", "--workers", "0"], "not a positive number"),
])
def test_unusable_input_is_one_line_and_exit_2(tmp_path, args, says):
    write(tmp_path, "notes/a.txt", GOOD)
    write(tmp_path, "headerless.csv", "a.txt,27096-LT\n")
    write(tmp_path, "empty.csv", "")
    write(tmp_path, "claims-as-notes.csv", "note,codes\na.txt,27096-LT\n")
    (tmp_path / "empty-folder").mkdir()
    result = run(*[a.format(tmp=tmp_path) for a in args])
    assert says in one_line_error(result)


def test_help_documents_every_flag_and_the_exit_codes():
    result = subprocess.run([str(NOTEDRAFT), "audit", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for flag in ("--claims", "--payer", "--out", "--resume", "--workers", "--no-progress", "exit codes", "  0 ", "  1 ",
                 "  2 "):
        assert flag in result.stdout, flag


# --- determinism, the pool, resume -----------------------------------------------------------------------------------


def _corpus(folder: Path, count: int) -> None:
    """count notes of four kinds, so rows differ: supported, not supported, an unknown code, unreadable."""
    lines = ["note,codes,physician,date_of_service"]
    for i in range(count):
        kind = i % 4
        text = (GOOD, NO_FLUORO, GOOD, GOOD)[kind] + f"Encounter {i}.\n"
        name = f"n{i:04d}.txt"
        write(folder / "notes", name, text if kind != 3 else b"\x00binary")
        lines.append(f"{name},{'99999' if kind == 2 else '27096-LT'},Dr. {'ABC'[i % 3]},2026-11-{1 + i % 28:02d}")
    write(folder, "claims.csv", "\n".join(lines) + "\n")


def test_output_is_byte_identical_whatever_the_workers(tmp_path):
    _corpus(tmp_path, 120)
    outs = []
    for workers in ("1", "2", "2"):
        out = tmp_path / f"out{len(outs)}"
        result = run(str(tmp_path / "notes"), "--claims", str(tmp_path / "claims.csv"), "--out", str(out),
                     "--workers", workers)
        assert result.returncode == 1, result.stderr
        outs.append(out)
    for name in ("results.jsonl", "results.csv", "report.html"):
        first = (outs[0] / name).read_bytes()
        assert all((o / name).read_bytes() == first for o in outs[1:]), name
    assert [r["note"] for r in rows(outs[0])] == [f"n{i:04d}.txt" for i in range(120)]  # input order


def test_resume_after_a_killed_run_ends_with_the_same_file(tmp_path):
    _corpus(tmp_path, 400)
    args = [str(tmp_path / "notes"), "--claims", str(tmp_path / "claims.csv"), "--workers", "2"]
    full = run(*args, "--out", str(tmp_path / "full"))
    assert full.returncode == 1
    out = tmp_path / "killed"
    proc = subprocess.Popen([str(NOTEDRAFT), "audit", *args, "--out", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 60
    while not (results.exists() and results.stat().st_size > 20_000):
        assert proc.poll() is None, "the run ended before it could be killed: make the corpus larger"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the pool's workers too
    proc.wait(timeout=30)
    with open(results, "ab") as fh:
        fh.write(b'{"note": "n9999.txt", "supp')  # a row cut short mid-write, as a kill can leave it
    kept = len(results.read_bytes().splitlines()) - 1
    assert 0 < kept < 400
    resumed = run(*args, "--out", str(out), "--resume")
    assert resumed.returncode == 1, resumed.stderr
    assert f"({kept:,} rows kept from the earlier run" in resumed.stdout
    for name in ("results.jsonl", "results.csv", "report.html"):
        assert (out / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name


def test_resume_refuses_other_input(tmp_path):
    _corpus(tmp_path, 8)
    write(tmp_path, "other/x.txt", GOOD)
    assert run(str(tmp_path / "notes"), "--out", str(tmp_path / "out")).returncode == 1
    assert "holds an audit of other input" in one_line_error(
        run(str(tmp_path / "other"), "--out", str(tmp_path / "out"), "--resume"))


def test_an_interrupted_run_says_how_to_resume(tmp_path):
    _corpus(tmp_path, 400)
    out = tmp_path / "out"
    proc = subprocess.Popen([str(NOTEDRAFT), "audit", str(tmp_path / "notes"), "--out", str(out), "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not ((out / "results.jsonl").exists() and (out / "results.jsonl").stat().st_size > 5_000):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err.decode()
    assert "--resume to go on" in err.decode().strip().splitlines()[-1]


# --- the log carries no note text ------------------------------------------------------------------------------------


def test_neither_the_log_nor_the_summary_carries_note_text(tmp_path):
    marker = "Zyxwvut Quintessential"
    notes = tmp_path / "notes"
    write(notes, "a.txt", GOOD + f"Patient {marker} tolerated it well.\n")
    write(notes, "b.txt", NO_FLUORO + f"Patient {marker} again.\n")
    write(notes, "c.txt", f"{marker}\x00".encode())
    for progress in ([], ["--no-progress"]):
        result = run(str(notes), "--out", str(tmp_path / "out"), *progress)
        assert marker not in result.stdout + result.stderr
    # the results themselves do hold it: they are the note's audit
    assert marker in (tmp_path / "out" / "results.jsonl").read_text()


def test_progress_off_a_terminal_is_a_plain_line(tmp_path):
    write(tmp_path, "notes/a.txt", GOOD)
    result = run(str(tmp_path / "notes"))
    lines = result.stderr.rstrip("\n").splitlines()
    assert lines and all(line.startswith("  audit: ") for line in lines), result.stderr
    assert "\r" not in result.stderr and "1/1 notes" in lines[-1]


# --- every family validate() covers: the real notes and the eval cases ------------------------------------------------


@pytest.mark.skipif(not (REALNOTES / "index.json").is_file(), reason=f"real notes not found at {REALNOTES}")
@pytest.mark.parametrize("with_claims", [False, True])
def test_real_notes_rows_are_validates_verdicts(tmp_path, with_claims):
    names = sorted(p.name for p in REALNOTES.glob("*.txt"))
    codes = ["27096-RT", "27096-50", "20553", "20552-LT 76942", "27096-LT 77003"]
    claim = {name: codes[i % len(codes)] for i, name in enumerate(names)}
    args = [str(REALNOTES), "--out", str(tmp_path / "out"), "--workers", "2"]
    if with_claims:
        args += ["--claims", str(claims(tmp_path, [f"{n},{c},Dr. {i % 3}" for i, (n, c) in enumerate(claim.items())]))]
    result = run(*args)
    assert result.returncode in (0, 1), result.stderr
    got = {r["note"]: r for r in rows(tmp_path / "out")}
    assert set(names) <= set(got)
    for name in names:
        row, text = got[name], (REALNOTES / name).read_text(encoding="utf-8")
        if not text.strip():
            assert row["error"] == "the note is empty"
            continue
        if with_claims:
            report = validate(text, claim[name].split())
        else:
            first = validate(text, [])
            report = validate(text, first.suggested_codes) if first.suggested_codes else first
        assert row["error"] is None, row["error"]
        assert (row["supported"], row["codes"], row["suggested_codes"]) == (
            report.supported, report.codes, report.suggested_codes), name
        assert [(f["rule"], f["severity"], [(s["start"], s["end"], s["text"]) for s in f["spans"]])
                for f in row["findings"]] == [(f.rule, f.severity, [(s.start, s.end, s.text) for s in f.evidence])
                                              for f in report.findings], name
        assert row["questions"] == queries_for(report.facts, report)
        for f in row["findings"]:
            for s in f["spans"]:
                assert row["text"][s["start"]:s["end"]] == s["text"]


@pytest.mark.skipif(not (REALNOTES / "index.json").is_file(), reason=f"real notes not found at {REALNOTES}")
def test_one_real_note_agrees_with_notedraft_validate(tmp_path):
    name = "10_si-joint-and-sacral-alar-notch-injection-right.txt"
    result = run(str(REALNOTES), "--claims", str(claims(tmp_path, [f"{name},27096-RT,"])), "--out", str(tmp_path / "o"))
    assert result.returncode == 1
    row = {r["note"]: r for r in rows(tmp_path / "o")}[name]
    single = subprocess.run([str(NOTEDRAFT), "validate", str(REALNOTES / name), "--code", "27096-RT", "--format",
                             "json"], capture_output=True, text=True, timeout=60)
    report = json.loads(single.stdout)
    assert (single.returncode == 0) == row["supported"]
    assert [f["rule"] for f in report["findings"]] == [f["rule"] for f in row["findings"]]
    assert report["suggested_codes"] == row["suggested_codes"]


def test_the_eval_cases_rows_are_validates_verdicts(tmp_path):
    cases = [json.loads(line) for line in EVALS.read_text(encoding="utf-8").splitlines() if line.strip()]
    result = run(str(EVALS), "--out", str(tmp_path / "out"), "--workers", "2")
    assert result.returncode == 1  # the eval set holds unsupported claims on purpose
    got = rows(tmp_path / "out")
    assert [r["note"] for r in got] == [c["id"] for c in cases]
    for case, row in zip(cases, got):
        try:
            report = validate(case["note"], case["codes"], payer=case.get("payer"))
        except ValueError as exc:  # CodeError: the row carries it as its error
            assert row["error"] == str(exc)
            continue
        assert (row["supported"], [f["rule"] for f in row["findings"]], row["suggested_codes"]) == (
            report.supported, [f.rule for f in report.findings], report.suggested_codes), case["id"]


def test_on_a_terminal_progress_is_one_redrawn_bar_with_rate_and_eta(tmp_path):
    import pty

    _corpus(tmp_path, 60)
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(NOTEDRAFT), "audit", str(tmp_path / "notes"), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(master)
    text = seen.decode()
    assert "\r  audit [" in text and "notes/s" in text and "ETA " in text, text
    assert "\n" not in text.replace("\r\n", "\n").rstrip("\n")  # redrawn in place: one line, ended once
    assert "60/60 notes" in text


def test_the_payer_flag_is_the_default_a_claim_overrides(tmp_path):
    write(tmp_path, "notes/a.txt", GOOD)
    write(tmp_path, "notes/b.txt", GOOD)
    path = claims(tmp_path, ["a.txt,27096-LT,", "b.txt,27096-LT,commercial"], header="note,codes,payer")
    run(str(tmp_path / "notes"), "--claims", str(path), "--payer", "medicare", "--out", str(tmp_path / "out"))
    got = {r["note"]: r for r in rows(tmp_path / "out")}
    assert got["a.txt"]["payer"] == "medicare" and got["b.txt"]["payer"] == "commercial"
    assert [f["rule"] for f in got["a.txt"]["findings"]] == [f.rule for f in validate(GOOD, ["27096-LT"], "medicare").findings]
    assert [f["rule"] for f in got["b.txt"]["findings"]] == [f.rule for f in validate(GOOD, ["27096-LT"]).findings]
