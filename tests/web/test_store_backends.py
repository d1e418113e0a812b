"""The store's guarantees, on SQLite and on PostgreSQL alike: every test here runs once per backend."""

from __future__ import annotations

import threading

import pytest

from notedraft.web.db import DatabaseError
from notedraft.web.store import Conflict, Forbidden, Store, StoreError

VALID = {"supported": True, "findings": []}
INVALID = {"supported": False, "findings": [{"rule": "27096.guidance", "severity": "error", "message": "no guidance"}]}


@pytest.fixture
def store(db_target):
    s = Store(db_target)
    yield s
    s.close()


def _people(store):
    doc = store.add_user(username="drlee", display_name="Dr. Ana Lee", role="physician", password_hash="x")
    scribe = store.add_user(username="sam", display_name="Sam Scribe", role="scribe", password_hash="x")
    return doc, scribe


def _draft(store, encounter_id=None, dictation="L SIJ inj, fluoro"):
    return store.create_draft(
        dictation=dictation, codes_requested=["27096-LT"], strategy="template", model=None, prompt_version=None,
        attempts=[], generated={"queries": []}, note="first", codes=["27096-LT"], validation=VALID, grounding=[],
        author="sam", encounter_id=encounter_id,
    )


def _raw(store, sql, params=()):
    with store._tx(write=True) as db:
        db.execute(sql, params)


def test_migrates_to_the_current_version_and_reopens(db_target):
    from notedraft.web.store import SCHEMA_VERSION

    assert Store(db_target).schema_version() == SCHEMA_VERSION
    assert Store(db_target).schema_version() == SCHEMA_VERSION  # a second open migrates nothing


def test_an_encounter_carries_patient_date_physician_place_and_payer(store):
    doc, _ = _people(store)
    enc = store.create_encounter(mrn="MRN-1", date_of_service="2026-11-28", physician_id=doc["id"],
                                 place_of_service="asc", payer="medicare", author="sam")
    draft = _draft(store, enc["id"])
    assert draft["encounter"]["physician"]["username"] == "drlee"
    assert (draft["encounter"]["mrn"], draft["encounter"]["place_of_service"], draft["encounter"]["payer"]) == (
        "MRN-1", "asc", "medicare")
    with pytest.raises(StoreError, match="physician"):
        store.create_encounter(mrn="MRN-2", date_of_service="2026-11-28", physician_id=store.user_by_name("sam")["id"],
                               place_of_service="office", payer="none", author="sam")
    with pytest.raises(StoreError, match="place of service"):
        store.create_encounter(mrn="MRN-2", date_of_service="2026-11-28", physician_id=doc["id"],
                               place_of_service="home", payer="none", author="sam")


def test_a_stale_save_is_a_conflict_and_nothing_is_lost(store):
    d = _draft(store)
    store.save_revision(d["id"], note="second", codes=["27096-LT"], validation=VALID, base_revision=1, author="a")
    with pytest.raises(Conflict) as stale:
        store.save_revision(d["id"], note="mine", codes=["27096-LT"], validation=VALID, base_revision=1, author="b")
    assert stale.value.current["note"] == "second"
    assert [r["note"] for r in store.revisions(d["id"])] == ["first", "second"]


def test_concurrent_saves_from_one_base_land_exactly_once(store):
    d = _draft(store)
    outcomes, barrier = [], threading.Barrier(6)

    def save(i):
        barrier.wait()
        try:
            store.save_revision(d["id"], note=f"edit {i}", codes=[], validation=VALID, base_revision=1, author=f"u{i}")
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 5 + ["saved"]
    assert len(store.revisions(d["id"])) == 2


def test_a_signed_note_is_locked_in_the_database_and_takes_addenda(store):
    d = _draft(store)
    with pytest.raises(StoreError, match="not signed"):
        store.add_addendum(d["id"], text="early", author="drlee")
    store.finalise(d["id"], revision=1, validation=VALID, author="drlee", attestation="I performed it.")
    with pytest.raises(Conflict, match="signed"):
        store.save_revision(d["id"], note="late", codes=[], validation=VALID, base_revision=1, author="sam")
    # Past the Python checks, the database itself refuses a revision of a signed note.
    with pytest.raises(DatabaseError, match="signed"):
        _raw(store, "INSERT INTO revisions (draft_id, number, note, codes, supported, validation, author, created_at)"
                    " VALUES (?, 2, 'sneaky', '[]', 1, '{}', 'x', 'now')", (d["id"],))
    add = store.add_addendum(d["id"], text="Patient called: no new symptoms.", author="drlee")
    after = store.get_draft(d["id"])
    assert after["note"] == "first" and after["status"] == "signed"
    assert [a["text"] for a in after["addenda"]] == [add["text"]]


@pytest.mark.parametrize("table,sql", [
    ("drafts", "UPDATE drafts SET dictation='changed'"),
    ("revisions", "UPDATE revisions SET note='changed'"),
    ("revisions", "DELETE FROM revisions"),
    ("finalisations", "UPDATE finalisations SET attestation='changed'"),
    ("addenda", "UPDATE addenda SET text='changed'"),
    ("addenda", "DELETE FROM addenda"),
    ("encounters", "UPDATE encounters SET mrn='changed'"),
    ("access_log", "DELETE FROM access_log"),
    ("answers", "UPDATE answers SET text='changed'"),
])
def test_the_record_is_append_only_in_the_database(store, table, sql):
    doc, _ = _people(store)
    enc = store.create_encounter(mrn="M", date_of_service="2026-11-28", physician_id=doc["id"],
                                 place_of_service="office", payer="none", author="sam")
    d = _draft(store, enc["id"])
    [q] = store.send_queries(d["id"], revision=1, queries=[{"rule": "r", "question": "Which side?"}],
                             sent_by="sam", sent_to="drlee")
    store.answer_query(q["id"], text="Left side.", author="drlee")
    store.finalise(d["id"], revision=1, validation=VALID, author="drlee")
    store.add_addendum(d["id"], text="later", author="drlee")
    store.log_access("sam", "view", draft_id=d["id"])
    with pytest.raises(DatabaseError, match="append-only|immutable|never deleted"):
        _raw(store, sql)


def test_signing_needs_support_or_a_reason_and_happens_once(store):
    d = _draft(store)
    store.save_revision(d["id"], note="bad", codes=[], validation=INVALID, base_revision=1, author="sam")
    with pytest.raises(StoreError, match="override"):
        store.finalise(d["id"], revision=2, validation=INVALID, author="drlee")
    with pytest.raises(Conflict, match="revision 2"):
        store.finalise(d["id"], revision=1, validation=VALID, author="drlee")
    fin = store.finalise(d["id"], revision=2, validation=INVALID, author="drlee",
                         overrides=[{"rule": "27096.guidance", "reason": "fluoro documented in PACS report"}])
    assert fin["overrides"][0]["reason"].startswith("fluoro")
    with pytest.raises(Conflict, match="already"):
        store.finalise(d["id"], revision=2, validation=VALID, author="drlee")


def test_the_query_loop_appends_answers_to_the_dictation(store):
    doc, _ = _people(store)
    d = _draft(store)
    sent = store.send_queries(d["id"], revision=1, sent_by="sam", sent_to="drlee", queries=[
        {"rule": "guidance", "question": "Which imaging guided the needle?"},
        {"rule": "guidance", "question": "Which imaging guided the needle?"},  # the same question once
    ])
    assert len(sent) == 1
    again = store.send_queries(d["id"], revision=1, sent_by="sam", sent_to="drlee",
                               queries=[{"rule": "guidance", "question": "Which imaging guided the needle?"}])
    assert again == []  # still open: not sent twice
    assert [q["question"] for q in store.inbox("drlee")] == ["Which imaging guided the needle?"]
    with pytest.raises(Forbidden):
        store.answer_query(sent[0]["id"], text="CT", author="sam")
    store.answer_query(sent[0]["id"], text="Fluoroscopy confirmed needle placement.", author="drlee")
    with pytest.raises(Conflict, match="already answered"):
        store.answer_query(sent[0]["id"], text="CT", author="drlee")
    draft = store.get_draft(d["id"])
    assert draft["dictation"] == "L SIJ inj, fluoro"  # the original dictation is never edited
    assert draft["dictation_full"].endswith("Fluoroscopy confirmed needle placement.")
    assert store.inbox("drlee") == [] and len(store.inbox("drlee", include_answered=True)) == 1


def test_the_list_filters_by_patient_date_physician_status_and_verdict(store):
    doc, _ = _people(store)
    other = store.add_user(username="drkim", display_name="Dr. Kim", role="physician", password_hash="x")
    e1 = store.create_encounter(mrn="MRN-100", date_of_service="2026-11-01", physician_id=doc["id"],
                                place_of_service="office", payer="none", author="sam")
    e2 = store.create_encounter(mrn="MRN-200", date_of_service="2026-11-20", physician_id=other["id"],
                                place_of_service="asc", payer="commercial", author="sam")
    d1, d2 = _draft(store, e1["id"]), _draft(store, e2["id"])
    store.save_revision(d2["id"], note="bad", codes=[], validation=INVALID, base_revision=1, author="sam")
    store.submit(d1["id"], revision=1, author="sam")
    ids = lambda **kw: [r["id"] for r in store.list_drafts(**kw)]  # noqa: E731
    assert ids(mrn="mrn-1") == [d1["id"]]
    assert ids(date_from="2026-11-10") == [d2["id"]]
    assert ids(date_to="2026-11-10") == [d1["id"]]
    assert ids(physician="drkim") == [d2["id"]]
    assert ids(status="submitted") == [d1["id"]]
    assert ids(verdict="unsupported") == [d2["id"]]
    assert ids(mrn="%") == []  # a LIKE wildcard typed in the search box matches nothing special


def test_sessions_expire_and_revoke(store):
    doc, _ = _people(store)
    store.add_session("h1", doc["id"], expires_at=1000.0)
    assert store.session_user("h1", now=999.0)["username"] == "drlee"
    assert store.session_user("h1", now=1001.0) is None
    store.add_session("h2", doc["id"], expires_at=5000.0)
    store.revoke_session("h2", now=100.0)
    assert store.session_user("h2", now=101.0) is None
    store.add_session("h3", doc["id"], expires_at=5000.0)
    store.set_active("drlee", False)
    assert store.session_user("h3", now=101.0) is None


def test_a_bad_postgresql_url_is_one_line_without_the_password():
    with pytest.raises(StoreError) as e:
        Store("postgresql://someone:s3cret-pw@127.0.0.1:1/nothing")
    assert "s3cret-pw" not in str(e.value) and "\n" not in str(e.value)


def test_a_dropped_postgresql_connection_costs_no_request():
    """The server restarted, or a firewall cut idle connections: the next request still works. (PostgreSQL only:
    SQLite opens its file for each transaction.)"""
    import psycopg

    from tests.support.pg import fresh_database

    with fresh_database() as url:
        _dropped_connection(psycopg, url)


def _dropped_connection(psycopg, db_target: str) -> None:
    store = Store(db_target)
    store.db.PING_AFTER = 0.0  # ping every pooled connection before use, as after a long idle
    d = _draft(store)
    with psycopg.connect(db_target, autocommit=True) as admin:  # end every other connection to this database
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()")
    assert store.get_draft(d["id"])["note"] == "first"
    store.close()
