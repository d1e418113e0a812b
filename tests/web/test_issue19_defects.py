"""Issue 19's defects, each pinned by a test that failed before the fix, on SQLite and PostgreSQL (two server
processes where the defect is about shared state: see test_login_limits.py)."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import quote

import pytest

from notedraft.web.accounts import add_user
from notedraft.web.app import create_app

from .helpers import csrf_client
from .practice_support import (COMPLETE, ENCOUNTER, NO_GUIDANCE, PASSWORD, TODAY, count, lcd_answer, new_note,
                               practice)  # noqa: F401 (practice: the fixture)

MEDICARE_NO_HISTORY = ("L SIJ inj, diagnostic and therapeutic, fluoro, contrast confirmed intra-articular spread, "
                       "40 mg kenalog + 2 mL 0.25% bupi, dx M46.1")


# -- 1. control characters: one rule at the edge, both backends; a request is one transaction ---------------------
CONTROL = ["\x00", "\x07", "\x1b", "\x7f", "\x85"]


def test_control_characters_are_refused_at_the_edge_in_every_text_field(practice):
    app, login = practice
    sam, drlee = login("sam"), login("drlee")
    draft_id = new_note(sam)
    sam.post(f"/api/drafts/{draft_id}/queries", json={"revision": 1})
    [query] = drlee.get("/api/inbox").json()["queries"][:1]
    anon = csrf_client(app)
    before = (count(app.state.store, "drafts"), count(app.state.store, "encounters"), count(app.state.store, "revisions"))
    for ch in CONTROL:
        cases = [
            (sam, "POST", "/api/drafts", {"dictation": f"L SIJ{ch} inj", "codes": [], "encounter": ENCOUNTER}, "dictation"),
            (sam, "POST", "/api/drafts", {"dictation": NO_GUIDANCE, "encounter": {**ENCOUNTER, "mrn": f"M{ch}1"}}, "mrn"),
            (sam, "PUT", f"/api/drafts/{draft_id}", {"note": f"text{ch}", "base_revision": 1}, "note"),
            (sam, "POST", f"/api/drafts/{draft_id}/check", {"note": f"x{ch}", "codes": ["27096-LT"]}, "note"),
            (drlee, "POST", f"/api/queries/{query['id']}/answer", {"text": f"Fluoroscopy{ch}."}, "text"),
            (anon, "POST", "/api/login", {"username": f"sam{ch}", "password": PASSWORD}, "username"),
        ]
        for client, method, path, body, field in cases:
            r = client.request(method, path, json=body)
            assert r.status_code == 400, (repr(ch), path, r.status_code, r.text[:200])
            assert r.json()["error"] == "bad_text" and field in r.json()["message"], r.json()
        for path in (f"/api/drafts?mrn=a{quote(ch)}", f"/?mrn=a{quote(ch)}", f"/api/drafts?patient={quote(ch)}"):
            r = sam.get(path)
            assert r.status_code == 400 and r.json()["error"] == "bad_text" and path.split("?")[1][:3] in r.json()["message"], path
    after = (count(app.state.store, "drafts"), count(app.state.store, "encounters"), count(app.state.store, "revisions"))
    assert after == before  # nothing stored, no encounter left without its draft
    # Tab, new line and carriage return are text; so are characters outside the control ranges.
    r = sam.post(f"/api/drafts/{draft_id}/check", json={"note": "a\tb\r\nc é 😀", "codes": ["27096-LT"]})
    assert r.status_code == 200


def test_a_draft_that_fails_to_save_leaves_no_encounter_behind(db_target, monkeypatch):
    """The store fails after writing the draft (as PostgreSQL did on a NUL): the request is one transaction, so
    neither the encounter nor the draft remains."""
    app = create_app(db_target)
    store = app.state.store
    add_user(store, username="drlee", display_name="Dr. Ana Lee", role="physician", password=PASSWORD)
    real = store.create_draft

    def create_then_fail(**kwargs):
        real(**kwargs)
        raise RuntimeError("the database failed after the draft was written")

    monkeypatch.setattr(store, "create_draft", create_then_fail)
    c = csrf_client(app, raise_server_exceptions=False)
    assert c.post("/api/login", json={"username": "drlee", "password": PASSWORD}).status_code == 200
    r = c.post("/api/drafts", json={"dictation": COMPLETE, "codes": ["27096-LT"], "encounter": ENCOUNTER})
    assert r.status_code == 500 and r.json()["error"] == "internal"
    assert count(store, "encounters") == 0 and count(store, "drafts") == 0 and count(store, "revisions") == 0
    store.close()


def test_invalid_utf8_gets_the_apps_error_shape(practice):
    app, login = practice
    sam = login("sam")
    r = sam.post("/api/drafts/1/check", content=b'{"note": "\xff\xfe", "codes": []}',
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "bad_text" and "UTF-8" in r.json()["message"], r.text


# -- 4. Medicare with an empty code field ---------------------------------------------------------------------------
def test_medicare_with_no_codes_drafts_the_lines_the_page_said_the_dictation_supports(practice):
    app, login = practice
    sam = login("sam")
    draft_id = new_note(sam, MEDICARE_NO_HISTORY, codes=(), payer="medicare")
    draft = sam.get(f"/api/drafts/{draft_id}").json()
    assert draft["codes"] == ["27096-LT"]
    shown = sam.post("/api/validate", json={"note": MEDICARE_NO_HISTORY, "codes": [],
                                            "place_of_service": "office"}).json()["suggested_codes"]
    assert shown == draft["codes"]  # what the new-note page showed under the dictation
    assert not draft["supported"]  # Medicare's LCD criteria are not documented: errors against 27096-LT, not no lines
    assert any("medicare.lcd" in f["rule"] for f in draft["validation"]["findings"])


# -- 6. answers: the status stays, one revision per round, no open question after signing ------------------------------
def test_a_submitted_note_stays_submitted_when_the_physicians_answer_redrafts_it(practice):
    app, login = practice
    sam, drlee = login("sam"), login("drlee")
    draft_id = new_note(sam)
    sam.post(f"/api/drafts/{draft_id}/queries", json={"revision": 1})
    assert sam.post(f"/api/drafts/{draft_id}/submit", json={"revision": 1}).status_code == 200
    [q] = [q for q in drlee.get("/api/inbox").json()["queries"] if "guided" in q["question"]]
    r = drlee.post(f"/api/queries/{q['id']}/answer", json={"text": "Fluoroscopy guided the needle; contrast "
                                                                    "confirmed intra-articular spread."})
    assert r.status_code == 200 and r.json()["then"] == "redrafted", r.text
    draft = sam.get(f"/api/drafts/{draft_id}").json()
    assert draft["revision"] == 2 and draft["status"] == "submitted"
    [row] = drlee.get("/api/drafts").json()["drafts"]
    assert row["attention_reason"] == "waiting for your signature"
    assert r.json()["status"] == "submitted"  # said, not silent


def test_eight_answers_make_one_revision(practice):
    app, login = practice
    sam, drlee = login("sam"), login("drlee")
    draft_id = new_note(sam, MEDICARE_NO_HISTORY, payer="medicare")
    sent = sam.post(f"/api/drafts/{draft_id}/queries", json={"revision": 1}).json()["sent"]
    assert len(sent) == 8  # the seven LCD criteria and the pain scores before and after
    for q in sent:
        r = drlee.post(f"/api/queries/{q['id']}/answer", json={"text": lcd_answer(q["question"])})
        assert r.status_code == 200, r.text
    revisions = sam.get(f"/api/drafts/{draft_id}/revisions").json()["revisions"]
    assert len(revisions) == 2, [r["author"] for r in revisions]


def test_signed_and_coder_views_list_no_open_question(practice):
    app, login = practice
    sam, drlee, cody = login("sam"), login("drlee"), login("cody")
    draft_id = new_note(sam, COMPLETE)
    sam.post(f"/api/drafts/{draft_id}/queries", json={"revision": 1, "questions": ["Any complications?"]})
    r = drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True})
    assert r.status_code == 200, r.text
    assert drlee.get("/api/inbox").json()["queries"] == []
    draft = cody.get(f"/api/drafts/{draft_id}").json()
    assert draft["open_queries"] == 0 and [q["closed"] for q in draft["sent_queries"]] == ["signed"]
    [row] = cody.get("/api/drafts").json()["drafts"]
    assert row["open_queries"] == 0
    page = cody.get(f"/drafts/{draft_id}").text
    assert "waiting</span>" not in page and "closed when the note was signed" in page


# -- 7. the access log -----------------------------------------------------------------------------------------------
def test_the_access_log_has_searches_inbox_views_and_failed_logins(practice):
    app, login = practice
    sam, drlee, admin = login("sam"), login("drlee"), login("admin")
    sam.get("/api/drafts?mrn=00123")
    sam.get("/?mrn=777")
    drlee.get("/inbox")
    drlee.get("/api/inbox")
    anon = csrf_client(app)
    anon.post("/api/login", json={"username": "sam", "password": "wrong password here"})
    anon.post("/api/login", json={"username": "nobody-at-all", "password": "wrong password here"})
    entries = admin.get("/api/access-log").json()["entries"]
    by_action = {}
    for e in entries:
        by_action.setdefault(e["action"], []).append(e)
    assert {e["detail"]["filters"]["mrn"] for e in by_action["list"]} >= {"00123", "777"}
    assert {e["username"] for e in by_action["view.inbox"]} == {"drlee"} and len(by_action["view.inbox"]) == 2
    failed = by_action["login.failed"]
    assert {e["username"] for e in failed} == {"sam", "(unknown account)"}
    assert all(e["client"] for e in failed)
    assert "wrong password here" not in repr(entries)


# -- 8. dates, the CSRF cookie, re-signing ---------------------------------------------------------------------------
@pytest.mark.parametrize("when", ["1800-01-01", "2099-01-01", (date.today() + timedelta(days=3)).isoformat(),
                                  (date.today() - timedelta(days=400)).isoformat()])
def test_a_date_of_service_out_of_range_is_refused(practice, when):
    app, login = practice
    sam = login("sam")
    r = sam.post("/api/drafts", json={"dictation": COMPLETE, "codes": ["27096-LT"],
                                      "encounter": {**ENCOUNTER, "date_of_service": when}})
    assert r.status_code == 400 and r.json()["error"] == "bad_date", r.text
    assert count(app.state.store, "encounters") == 0


def test_the_csrf_cookie_is_secure_behind_https(practice):
    from fastapi.testclient import TestClient

    app, _ = practice
    for scheme, secure in (("https", True), ("http", False)):
        c = TestClient(app, base_url=f"{scheme}://notes.example.org")
        r = c.get("/api/csrf")
        cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("nd_csrf="))
        assert ("Secure" in cookie) is secure, cookie


def test_signing_a_signed_note_again_is_a_409(practice):
    app, login = practice
    sam, drlee = login("sam"), login("drlee")
    draft_id = new_note(sam, NO_GUIDANCE)  # unsupported: signing needs reasons
    blocking = sam.post(f"/api/drafts/{draft_id}/check", json={"note": sam.get(f"/api/drafts/{draft_id}").json()["note"],
                                                               "codes": ["27096-LT"]}).json()["blocking"]
    reasons = [{"key": b["key"], "reason": f"Fluoroscopy was used; see the image log, item {i}."}
               for i, b in enumerate(blocking)]
    assert drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True,
                                                             "overrides": reasons}).status_code == 200
    r = drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True})
    assert r.status_code == 409 and r.json()["error"] == "conflict", r.text
