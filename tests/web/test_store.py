"""The SQLite store on its own: schema versions, WAL, append-only history, conflicts."""

from __future__ import annotations

import sqlite3

import pytest

from notedraft.web.store import MIGRATIONS, SCHEMA_VERSION, Conflict, NotSupported, Store, StoreError, _split_sql


def make(store: Store, note: str = "first draft text", supported: bool = True) -> int:
    draft = store.create_draft(
        dictation="L SIJ inj", codes_requested=["27096-LT"], strategy="template", model=None, prompt_version=None,
        attempts=[], generated={"queries": []}, note=note, codes=["27096-LT"], validation={"supported": supported},
        grounding=[], author="ann",
    )
    return draft["id"]


def test_new_database_is_migrated_wal_and_reopens(tmp_path):
    path = tmp_path / "sub" / "e.db"
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    draft_id = make(store)
    again = Store(path)  # opening twice does not re-run migrations
    assert again.schema_version() == SCHEMA_VERSION
    assert again.get_draft(draft_id)["note"] == "first draft text"
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_version_1_database_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for statement in _split_sql(MIGRATIONS[0]):
        db.execute(statement)
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO drafts (created_at, created_by, source, dictation, codes, strategy, attempts, generated)"
               " VALUES ('t', 'ann', 'editor', 'd', '[]', 'template', '[]', '{}')")
    db.execute("INSERT INTO revisions (draft_id, number, note, codes, supported, validation, author, created_at)"
               " VALUES (1, 1, 'old note', '[]', 0, '{}', 'ann', 't')")
    db.commit()
    db.close()
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    assert store.revisions(1)[0]["note"] == "old note" and store.revisions(1)[0]["grounding"] == []


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "e.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this notedraft"):
        Store(path)


def test_stale_base_revision_conflicts_with_the_current_revision(tmp_path):
    store = Store(tmp_path / "e.db")
    draft_id = make(store)
    store.save_revision(draft_id, note="mine", codes=["27096-LT"], validation={"supported": True}, base_revision=1,
                        author="ann")
    with pytest.raises(Conflict) as err:
        store.save_revision(draft_id, note="theirs", codes=["27096-LT"], validation={"supported": True},
                            base_revision=1, author="bo")
    assert err.value.current["revision"] == 2 and err.value.current["note"] == "mine"
    assert [r["note"] for r in store.revisions(draft_id)] == ["first draft text", "mine"]


def test_finalise_records_edit_stats_and_locks(tmp_path):
    store = Store(tmp_path / "e.db")
    draft_id = make(store, note="one two three four five six seven eight nine ten")
    store.save_revision(draft_id, note="one two three four five six seven eight nine 10", codes=[],
                        validation={"supported": False}, base_revision=1, author="ann")
    with pytest.raises(NotSupported):
        store.finalise(draft_id, revision=2, validation={"supported": False}, author="ann", override_reason=None)
    fin = store.finalise(draft_id, revision=2, validation={"supported": False}, author="ann",
                         override_reason="billing reviewed")
    assert (fin["edit_distance"], fin["first_words"], fin["edit_ratio"]) == (1, 10, 0.1)
    assert store.edit_cases()[0]["final_note"].endswith("10")
    with pytest.raises(Conflict, match="finalised"):
        store.save_revision(draft_id, note="x", codes=[], validation={}, base_revision=2, author="ann")
