"""Schema v5 migrates a v4 database that already holds an encounter, on SQLite and PostgreSQL: the encounter
becomes version 1 of itself and its creator is assigned to it, so nothing a practice recorded changes meaning."""

from __future__ import annotations

import sqlite3

from notedraft.web import schema
from notedraft.web.db import _split_sql
from notedraft.web.store import Store

ROWS = [
    "INSERT INTO users (username, display_name, role, npi, password_hash, active, created_at)"
    " VALUES ('drlee', 'Dr. Ana Lee', 'physician', NULL, 'x', 1, '2026-01-01T00:00:00+00:00')",
    "INSERT INTO encounters (mrn, date_of_service, physician_id, place_of_service, payer, created_by, created_at)"
    " VALUES ('MRN-OLD', '2026-01-02', 1, 'office', 'medicare', 'sam', '2026-01-02T00:00:00+00:00')",
]


def build_v4(target: str) -> None:
    if target.startswith("postgresql"):
        import psycopg

        with psycopg.connect(target, autocommit=False) as conn:
            conn.execute("CREATE TABLE notedraft_schema (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO notedraft_schema (version) VALUES (4)")
            for script in schema.POSTGRES[:4]:
                conn.execute(script)
            for sql in ROWS:
                conn.execute(sql)
            conn.commit()
        return
    conn = sqlite3.connect(target, isolation_level=None)
    for script in schema.SQLITE[:4]:
        for statement in _split_sql(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version=4")
    for sql in ROWS:
        conn.execute(sql)
    conn.close()


def test_a_v4_database_with_an_encounter_migrates_to_v5(db_target):
    build_v4(db_target)
    store = Store(db_target)
    try:
        assert store.schema_version() == schema.VERSION == 5
        enc = store.encounter(1)
        assert (enc["mrn"], enc["version"], enc["payer"], enc["patient_name"]) == ("MRN-OLD", 1, "medicare", "")
        assert enc["assigned"] == ["sam"] and enc["physician"]["username"] == "drlee"
        corrected = store.correct_encounter(1, changes={"patient_name": "Ana Old"}, reason="name added", author="sam")
        assert corrected["version"] == 2 and corrected["mrn"] == "MRN-OLD"
    finally:
        store.close()
