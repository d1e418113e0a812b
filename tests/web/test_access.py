"""Deployment-grade access: strong tokens only, failed logins limited per client, sessions that expire and can be
revoked, and private files for anything holding dictations (the editor's database, the CLI's preserved text)."""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat

import pytest

from notedraft.web.access import LoginLimiter, Sessions, token_problem
from notedraft.web.app import AUTH_COOKIE, create_app
from notedraft.web.server import check_bind, serve
from notedraft.web.store import Store

from .helpers import csrf_client, free_port, saved_file

STRONG = "correct-horse-battery-staple"
SUGGESTION = "secrets.token_urlsafe(32)"


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "weak",
    [" " * 16, "\t" * 20, "a" * 32, "abcdabcdabcdabcd", "0123456789abcdef", "Password123456789", "passwordpassword1",
     "aabbccddeeffgghh", "short", "correct horse battery staple", "ab" * 12 + "cdefgh"],
)
def test_weak_tokens_are_refused_with_a_way_to_make_a_good_one(weak, capsys, monkeypatch):
    problem = token_problem(weak)
    assert problem and SUGGESTION in problem
    assert check_bind("0.0.0.0", weak) == problem
    monkeypatch.delenv("NOTEDRAFT_TOKEN", raising=False)
    assert serve("0.0.0.0", free_port(), "unused.db", token=weak) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and SUGGESTION in err
    with pytest.raises(ValueError, match="token"):
        create_app(":memory:", token=weak)


def test_generated_tokens_pass():
    for _ in range(200):
        assert token_problem(secrets.token_urlsafe(32)) is None
    assert token_problem(STRONG) is None


def test_failed_logins_are_limited_per_client_and_a_good_login_is_not_blocked_forever(db_path):
    clock = Clock()
    app = create_app(db_path, token=STRONG, login_limiter=LoginLimiter(attempts=5, window=300, clock=clock))
    with csrf_client(app) as c:
        for _ in range(5):
            assert c.post("/api/login", json={"token": "wrong"}).status_code == 401
        r = c.post("/api/login", json={"token": STRONG})  # even the right token waits: no oracle while limited
        assert r.status_code == 429 and r.json()["error"] == "too_many_attempts"
        assert 1 <= int(r.headers["Retry-After"]) <= 300
        clock.now += 301
        assert c.post("/api/login", json={"token": STRONG}).status_code == 200
        # A success clears the record.
        assert all(c.post("/api/login", json={"token": "wrong"}).status_code == 401 for _ in range(4))
    # Another client address has its own budget (the TestClient's address is "testclient").
    limiter = LoginLimiter(app.state.store, address_free=2, window=60, clock=clock)
    for _ in range(2):
        limiter.failed(None, "10.0.0.1")
    assert limiter.retry_after(None, "10.0.0.1")[0] > 0 and limiter.retry_after(None, "10.0.0.2")[0] == 0


def test_the_session_cookie_expires_and_says_so(db_path):
    clock = Clock()
    app = create_app(db_path, token=STRONG, sessions=Sessions(lifetime=12 * 3600, clock=clock))
    with csrf_client(app) as c:
        r = c.post("/api/login", json={"token": STRONG})
        assert r.status_code == 200 and r.json()["expires_in"] == 12 * 3600
        cookie = r.headers["set-cookie"]
        assert "Max-Age=43200" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        assert STRONG not in cookie
        assert c.get("/api/drafts").status_code == 200
        clock.now += 12 * 3600 - 5
        assert c.get("/api/drafts").status_code == 200
        clock.now += 10
        assert c.get("/api/drafts").status_code == 401
        # A forged expiry breaks the signature.
        value = c.cookies.get(AUTH_COOKIE)
        expiry, sid, sig = value.split(".")
        c.cookies.set(AUTH_COOKIE, f"{int(expiry) + 10**6}.{sid}.{sig}", domain="127.0.0.1")
        assert c.get("/api/drafts").status_code == 401


def test_logout_revokes_the_session_everywhere(db_path):
    app = create_app(db_path, token=STRONG)
    with csrf_client(app) as c, csrf_client(app) as thief:
        assert c.post("/api/login", json={"token": STRONG}).status_code == 200
        stolen = c.cookies.get(AUTH_COOKIE)
        thief.cookies.set(AUTH_COOKIE, stolen, domain="127.0.0.1")
        assert thief.get("/api/drafts").status_code == 200
        assert "logout" in c.get("/").text  # the button is on every page
        r = c.post("/api/logout")
        assert r.status_code == 200 and r.json()["revoked"] is True
        assert c.get("/api/drafts").status_code == 401
        assert thief.get("/api/drafts").status_code == 401  # the copy is dead too
        # Logging in again gives a new, working session.
        assert c.post("/api/login", json={"token": STRONG}).status_code == 200
        assert c.get("/api/drafts").status_code == 200
    # A restart (a new app, a new signing secret) signs everyone out.
    with csrf_client(create_app(db_path, token=STRONG)) as later:
        later.cookies.set(AUTH_COOKIE, stolen, domain="127.0.0.1")
        assert later.get("/api/drafts").status_code == 401


def test_the_database_is_0600_in_a_0700_folder(tmp_path):
    old = os.umask(0o022)  # a typical umask: files 0644, folders 0755 unless we say otherwise
    try:
        path = tmp_path / "new" / "deeper" / "editor.db"
        app = create_app(path)
        keep = sqlite3.connect(path)  # an open connection keeps the -wal and -shm files on disk to be looked at
        keep.execute("SELECT count(*) FROM drafts").fetchone()
        with csrf_client(app) as c:
            assert c.post("/api/drafts/import", json=saved_file()).status_code == 201
        for folder in (path.parent, path.parent.parent):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        written = [p for p in path.parent.iterdir()]
        assert sorted(p.name for p in written) == ["editor.db", "editor.db-shm", "editor.db-wal"]
        for file in written:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        keep.close()
        # An existing database that others could read is tightened when opened.
        path.chmod(0o644)
        Store(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_a_file_that_is_not_a_database_is_left_alone(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("not a database\n")
    other.chmod(0o644)
    from notedraft.web.store import StoreError

    with pytest.raises(StoreError, match="not an SQLite database"):
        Store(other)
    assert other.read_text() == "not a database\n" and stat.S_IMODE(other.stat().st_mode) == 0o644
