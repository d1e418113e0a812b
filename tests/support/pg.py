"""A fresh PostgreSQL database per test, on the server `NOTEDRAFT_TEST_PG` names (scripts/postgres.sh starts one
and prints its URL; .ci/run sets it). Without it the PostgreSQL half of a test skips locally and fails under CI."""

from __future__ import annotations

import os
import secrets
import time
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV = "NOTEDRAFT_TEST_PG"


def server_url() -> str:
    url = os.environ.get(ENV)
    if not url:
        reason = f"{ENV} is not set (url=$(bash scripts/postgres.sh | tail -1); export {ENV}=$url)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    return url


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@contextmanager
def fresh_database():
    """Yields the URL of a new, empty database; drops it afterwards (closing whatever still holds it)."""
    import psycopg

    url = server_url()
    name = "nd_" + secrets.token_hex(6)
    for attempt in range(20):
        try:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            break
        except psycopg.errors.ObjectInUse:
            # "source database template1 is being accessed by other users": another CREATE DATABASE (another
            # test process on the same server) is copying the template right now; wait for it.
            if attempt == 19:
                raise
            time.sleep(0.1 * (attempt + 1))
    try:
        yield _with_database(url, name)
    finally:
        _drop(url, name)


def _drop(url: str, name: str) -> None:
    """Drop the test database. FORCE ends the test's own leftover connections; an autovacuum worker (a superuser
    process) can still be inside it for a moment, so retry, and in the end leave the database rather than fail
    the test over cleanup."""
    import psycopg

    for attempt in range(10):
        try:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            time.sleep(0.2 * (attempt + 1))
