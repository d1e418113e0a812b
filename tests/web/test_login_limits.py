"""Defect 3: failed logins are counted per account and per address in the shared database, with backoff — proven
with two real server processes on SQLite and PostgreSQL (the second process refuses what the first locked), and
with one app and a clock for the backoff itself."""

from __future__ import annotations

import httpx
import pytest

from notedraft.web.access import LoginLimiter
from notedraft.web.accounts import add_user
from notedraft.web.app import create_app
from notedraft.web.store import Store

from .helpers import csrf_client, free_port
from .practice_support import PASSWORD
from .test_server import start_server, stop

WRONG = "not the right password"


@pytest.fixture
def two_servers(db_target, tmp_path):
    """Two editor processes on one database behind a trusted proxy on 127.0.0.1 (X-Forwarded-For is believed, so
    a test can speak from many addresses)."""
    store = Store(db_target)
    for name in ("sam", "alex", "drlee"):
        add_user(store, username=name, display_name=name.title(), role="scribe" if name != "drlee" else "physician",
                 password=PASSWORD)
    store.close()
    ports = [free_port(), free_port()]
    env = {"NOTEDRAFT_TRUSTED_PROXY": "127.0.0.1"}
    procs = [start_server(db_target, p, env_extra=env, log=open(tmp_path / f"server-{p}.log", "w")) for p in ports]
    try:
        yield [f"http://127.0.0.1:{p}" for p in ports]
    finally:
        for proc in procs:
            stop(proc)


def attempt(base: str, username: str, password: str, address: str = "198.51.100.7") -> httpx.Response:
    with httpx.Client(base_url=base, timeout=60, headers={"X-Forwarded-For": address}) as c:
        c.headers["X-CSRF-Token"] = c.get("/api/csrf").json()["csrf"]
        return c.post("/api/login", json={"username": username, "password": password})


def test_an_account_locked_on_one_process_is_locked_on_the_other(two_servers):
    a, b = two_servers
    for _ in range(5):
        assert attempt(a, "sam", WRONG).status_code == 401
    r = attempt(b, "sam", PASSWORD)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0, r.text
    assert "this account" in r.json()["message"]


def test_a_success_for_another_account_does_not_clear_the_failures(two_servers):
    a, b = two_servers
    for _ in range(4):
        assert attempt(a, "sam", WRONG).status_code == 401
    assert attempt(b, "alex", PASSWORD).status_code == 200  # same address, another account: clears nothing of sam's
    assert attempt(a, "sam", WRONG).status_code == 401
    assert attempt(b, "sam", PASSWORD).status_code == 429


def test_guesses_from_many_addresses_are_counted_for_the_account(two_servers):
    a, b = two_servers
    for i in range(5):
        assert attempt((a, b)[i % 2], "sam", WRONG, address=f"203.0.113.{i + 1}").status_code == 401
    r = attempt(b, "sam", PASSWORD, address="203.0.113.200")
    assert r.status_code == 429, r.text


def test_one_persons_typos_do_not_lock_out_the_office_behind_the_same_address(two_servers):
    a, b = two_servers
    for _ in range(5):
        attempt(a, "sam", WRONG, address="192.0.2.10")
    assert attempt(a, "alex", PASSWORD, address="192.0.2.10").status_code == 200
    assert attempt(b, "drlee", PASSWORD, address="192.0.2.10").status_code == 200
    assert attempt(a, "sam", PASSWORD, address="192.0.2.10").status_code == 429  # sam's own account is locked


class Clock:
    def __init__(self):
        self.now = 1_900_000_000.0

    def __call__(self):
        return self.now


def test_each_failure_past_the_limit_doubles_the_wait_and_an_address_has_its_own_limit(db_target):
    clock = Clock()
    app = create_app(db_target, login_limiter=LoginLimiter(account_free=3, address_free=6, base=30, cap=900,
                                                           clock=clock))
    for name in ("sam", "alex", "pat"):
        add_user(app.state.store, username=name, display_name=name, role="scribe", password=PASSWORD)
    c = csrf_client(app)
    login = lambda name, pw: c.post("/api/login", json={"username": name, "password": pw})  # noqa: E731
    for _ in range(3):
        assert login("sam", WRONG).status_code == 401
    r = login("sam", PASSWORD)
    assert r.status_code == 429 and r.headers["Retry-After"] == "30"
    clock.now += 31
    assert login("sam", WRONG).status_code == 401  # the 4th failure: the next wait is twice as long
    assert login("sam", PASSWORD).headers["Retry-After"] == "60"
    clock.now += 61
    assert login("sam", PASSWORD).status_code == 200  # a good login clears sam's failures...
    assert login("sam", WRONG).status_code == 401
    assert login("sam", PASSWORD).status_code == 200  # ...so one typo later does not lock sam again
    # The address: 6 failures from it, over several accounts, lock every account from that address.
    for name in ("alex", "alex", "pat", "pat", "nobody"):
        login(name, WRONG)
    r = login("pat", PASSWORD)
    assert r.status_code == 429 and "this address" in r.json()["message"]
    app.state.store.close()
