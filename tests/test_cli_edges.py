"""The CLI's edges: nothing a user wrote or asked for is lost, and every refusal is one line with exit 2.

Subprocesses, as a user runs them: `notedraft draft` / `validate` / `serve`.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

NOTEDRAFT = str(Path(sys.executable).with_name("notedraft"))
DICTATION = "L SIJ inj, fluoro, IA confirmed w contrast, 40 kenalog + 2cc 0.25% bupi, dx M46.1, dx + therapeutic"
NOTE = ("PROCEDURE: Left sacroiliac joint injection under fluoroscopic guidance. Intra-articular placement confirmed "
        "with contrast. 40 mg Kenalog and 2 mL 0.25% bupivacaine injected. Dx M46.1. Diagnostic and therapeutic.")


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OPENAI_", "NOTEDRAFT_MODEL", "NOTEDRAFT_LLM", "NOTEDRAFT_TOKEN", "NOTEDRAFT_DB"))}
    clean["XDG_STATE_HOME"] = str(tmp_path / "state")
    return clean


def run(*args: str, env: dict[str, str], stdin: str | None = None, cwd=None, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run([NOTEDRAFT, *args], input=stdin, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess, says: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("notedraft"), result.stderr
    assert says in lines[0], lines[0]


# -- nothing lost -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--out", "--save"])
def test_an_unwritable_output_file_still_prints_the_draft(env, tmp_path, flag):
    expected = run("draft", DICTATION, env=env)
    assert expected.returncode == 0
    result = run("draft", DICTATION, flag, str(tmp_path / "missing" / "x"), env=env)
    one_error_line(result, "cannot write")
    assert "standard output" in result.stderr
    assert result.stdout == expected.stdout  # the whole draft, exactly as without the flag


def test_out_and_save_both_failing_are_both_reported_and_json_still_prints(env, tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    result = run("draft", DICTATION, "--format", "json", "--out", str(folder), "--save", str(tmp_path / "no" / "s.json"),
                 env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2
    assert json.loads(result.stdout)["supported"] is True


def test_out_and_save_files_are_private(env, tmp_path):
    result = run("draft", DICTATION, "--out", str(tmp_path / "n.txt"), "--save", str(tmp_path / "s.json"), env=env)
    assert result.returncode == 0, result.stderr
    for name in ("n.txt", "s.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert json.loads((tmp_path / "s.json").read_text())["dictation"] == DICTATION


def test_a_file_name_given_as_the_dictation_gets_a_hint_and_file_reads_it(env, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text(DICTATION + "\n")
    result = run("draft", "notes.txt", env=env, cwd=tmp_path)
    one_error_line(result, "--file notes.txt")
    assert " - " in result.stderr and result.stdout == ""
    by_file = run("draft", "--file", "notes.txt", env=env, cwd=tmp_path)
    assert by_file.returncode == 0, by_file.stderr
    assert by_file.stdout == run("draft", DICTATION, env=env).stdout
    assert run("draft", "-", env=env, stdin=DICTATION).stdout == by_file.stdout
    one_error_line(run("draft", "--file", "missing.txt", env=env, cwd=tmp_path), "no such file")
    one_error_line(run("draft", DICTATION, "--file", "notes.txt", env=env, cwd=tmp_path), "not two")


def test_a_preserved_dictation_is_private(env, tmp_path):
    result = run("draft", "-", "--code", "99999", env=env, stdin=DICTATION)
    one_error_line(result, "saved to")
    kept = Path(result.stderr.split("saved to ", 1)[1].rstrip(")\n"))
    assert kept.read_text() == DICTATION
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700


# -- caps -----------------------------------------------------------------------------------------------------------
def test_more_than_50_code_lines_is_one_line_exit_2(env, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text(NOTE)
    many = [a for _ in range(51) for a in ("--code", "27096-LT")]
    one_error_line(run("validate", str(note), *many, env=env), "at most 50 code lines")
    one_error_line(run("draft", DICTATION, *many, env=env), "at most 50 code lines")
    fifty = run("validate", str(note), *many[:100], env=env)
    assert fifty.returncode == 1 and "claim.duplicate_line" in fifty.stdout  # 50 is allowed; repeats are errors


# -- serve ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["folder", "not-sqlite", "unwritable"])
def test_serve_with_a_bad_db_is_one_line_exit_2(env, tmp_path, kind):
    if kind == "folder":
        db = tmp_path
    elif kind == "not-sqlite":
        db = tmp_path / "notsqlite.txt"
        db.write_text("hello\n")
    else:
        db = Path("/proc/notedraft-test/e.db")  # unwritable even for root
    result = run("serve", "--port", "1", "--db", str(db), env=env, timeout=30)
    one_error_line(result, str(db))
    if kind == "not-sqlite":
        assert db.read_text() == "hello\n"


def test_serve_on_a_port_in_use_is_one_line_and_no_banner(env, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = run("serve", "--port", str(port), "--db", str(tmp_path / "e.db"), env=env, timeout=30)
    one_error_line(result, "address already in use")
    assert "http://" not in result.stderr + result.stdout
