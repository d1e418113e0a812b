"""Fixtures for the editor tests: a real app over a temp SQLite file, the real validator, TestClients with CSRF."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from notedraft.web.app import create_app

from .helpers import csrf_client, saved_file


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "editor.db"


@pytest.fixture(params=["sqlite", "postgres"])
def db_target(request, tmp_path):
    """The store's database on each backend: an SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "editor.db")
        return
    from tests.support.pg import fresh_database

    with fresh_database() as url:
        yield url


@pytest.fixture
def app(db_target):
    """The editor on each backend: every API test runs on SQLite and on PostgreSQL."""
    app = create_app(db_target)
    yield app
    app.state.store.close()


@pytest.fixture
def client(app) -> TestClient:
    with csrf_client(app) as c:
        yield c


@pytest.fixture
def imported(client) -> int:
    """A draft opened from a save file (no drafting stack involved); returns its id."""
    r = client.post("/api/drafts/import", json=saved_file())
    assert r.status_code == 201, r.text
    return r.json()["id"]

