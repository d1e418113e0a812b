"""`notedraft users`: the first-run admin and account management, as a practice's admin types them."""

from __future__ import annotations

import io

import pytest

from notedraft.cli import main
from notedraft.web.store import Store

PASSWORD = "correct-horse-battery-staple\n"


def run(capsys, monkeypatch, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_first_account_turns_accounts_on_and_each_is_listed(db_target, capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "users", "add", "admin", "--name", "Practice Admin", "--role", "admin",
                       "--password-stdin", "--db", db_target, stdin=PASSWORD)
    assert code == 0 and "accounts are on" in out
    code, out, _ = run(capsys, monkeypatch, "users", "add", "drlee", "--name", "Dr. Ana Lee", "--role", "physician",
                       "--npi", "1234567893", "--password-stdin", "--db", db_target, stdin=PASSWORD)
    assert code == 0 and "accounts are on" not in out
    code, out, _ = run(capsys, monkeypatch, "users", "list", "--db", db_target)
    assert code == 0 and "admin" in out and "Dr. Ana Lee" in out
    assert Store(db_target).user_by_name("drlee")["password_hash"].startswith("$argon2id$")


@pytest.mark.parametrize("argv,stdin,message", [
    (["add", "Bad Name!", "--name", "X", "--role", "scribe", "--password-stdin"], PASSWORD, "user name"),
    (["add", "sam", "--name", "Sam", "--role", "scribe", "--password-stdin"], "short\n", "too short"),
    (["add", "sam", "--name", "Sam", "--role", "scribe", "--password-stdin"], "", "no password"),
    (["add", "sam", "--name", "Sam", "--role", "scribe"], PASSWORD, "--password-stdin"),  # not a terminal
    (["add", "sam", "--name", "Sam", "--role", "scribe", "--npi", "12", "--password-stdin"], PASSWORD, "NPI"),
    (["disable", "nobody"], "", "no account"),
    ([], "", "say what to do"),
])
def test_a_bad_request_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, stdin, message):
    code, out, err = run(capsys, monkeypatch, "users", *argv, "--db", str(tmp_path / "u.db"), stdin=stdin) \
        if argv else run(capsys, monkeypatch, "users", stdin=stdin)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_name_is_taken_once_and_a_new_password_ends_the_sessions(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "u.db")
    assert run(capsys, monkeypatch, "users", "add", "sam", "--name", "Sam", "--role", "scribe", "--password-stdin",
               "--db", db, stdin=PASSWORD)[0] == 0
    code, _, err = run(capsys, monkeypatch, "users", "add", "sam", "--name", "Sam 2", "--role", "scribe",
                       "--password-stdin", "--db", db, stdin=PASSWORD)
    assert code == 2 and "already an account named 'sam'" in err
    store = Store(db)
    store.add_session("h", store.user_by_name("sam")["id"], expires_at=9e12)
    assert store.session_user("h", now=0) is not None
    assert run(capsys, monkeypatch, "users", "passwd", "sam", "--password-stdin", "--db", db,
               stdin="another-long-passphrase\n")[0] == 0
    assert store.session_user("h", now=0) is None
