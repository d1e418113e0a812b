"""What a practice expects (issue 19), through the real API on SQLite and PostgreSQL: patient identity, correcting
and voiding, edit rights by assignment, passwords, idle sessions, TOTP, API tokens, paging, the coder's worklist."""

from __future__ import annotations

import csv
import io

import pyotp
import pytest

from notedraft.web.store import StoreError

from .helpers import csrf_client
from .practice_support import COMPLETE, ENCOUNTER, NO_GUIDANCE, PASSWORD, count, new_note, practice  # noqa: F401

PATIENT = {"patient_name": "Ana María Núñez", "patient_dob": "1951-03-14"}


def test_patient_identity_is_on_the_encounter_the_list_the_exports_and_searchable(practice):
    app, login = practice
    sam, drlee, cody = login("sam"), login("drlee"), login("cody")
    draft_id = new_note(sam, COMPLETE, **PATIENT)
    other = new_note(sam, COMPLETE, mrn="MRN-9", patient_name="Bo Lind", patient_dob="1960-01-01")
    enc = sam.get(f"/api/drafts/{draft_id}").json()["encounter"]
    assert (enc["patient_name"], enc["patient_dob"]) == ("Ana María Núñez", "1951-03-14")
    for term in ("núñez", "NÚÑEZ", "ana maría", "00123"):  # casefolded in Python: both backends find the same
        assert [d["id"] for d in sam.get("/api/drafts", params={"patient": term}).json()["drafts"]] == [draft_id], term
    assert [d["id"] for d in sam.get("/api/drafts", params={"patient": "lind"}).json()["drafts"]] == [other]
    assert "Ana María Núñez" in sam.get("/").text
    assert drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True}).status_code == 200
    text = cody.get(f"/api/drafts/{draft_id}/export?format=text").text
    assert "Patient:              Ana María Núñez (date of birth 1951-03-14)" in text
    bundle = cody.get(f"/api/drafts/{draft_id}/export?format=fhir").json()
    [patient] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert patient["name"] == [{"text": "Ana María Núñez"}] and patient["birthDate"] == "1951-03-14"
    r = sam.post("/api/drafts", json={"dictation": COMPLETE, "encounter": {**ENCOUNTER, "patient_dob": "2099-01-01"}})
    assert r.status_code == 400 and r.json()["error"] == "bad_date"


def test_an_encounter_is_corrected_before_sign_off_and_kept_in_history_and_the_access_log(practice):
    app, login = practice
    sam, drlee, admin = login("sam"), login("drlee"), login("admin")
    draft_id = new_note(sam, COMPLETE, **PATIENT)
    r = sam.post(f"/api/drafts/{draft_id}/encounter", json={"reason": "wrong patient chart", "mrn": "MRN-00124",
                                                            "payer": "medicare"})
    assert r.status_code == 200, r.text
    assert r.json()["encounter"]["mrn"] == "MRN-00124" and r.json()["changed"] == ["mrn", "payer"]
    draft = sam.get(f"/api/drafts/{draft_id}").json()
    live = sam.post(f"/api/drafts/{draft_id}/check", json={"note": draft["note"], "codes": draft["codes"]}).json()
    assert any("medicare" in f["rule"] for f in live["validation"]["findings"])  # the corrected payer is checked
    history = sam.get(f"/api/drafts/{draft_id}/encounter").json()
    assert [(v["version"], v["mrn"], v["reason"]) for v in history["versions"]] == [
        (1, "MRN-00123", None), (2, "MRN-00124", "wrong patient chart")]
    assert sam.post(f"/api/drafts/{draft_id}/encounter", json={"reason": "x", "physician": "drkim"}).status_code == 403
    actions = [e["action"] for e in admin.get(f"/api/access-log?draft_id={draft_id}").json()["entries"]]
    assert "encounter.correct" in actions
    sam.post(f"/api/drafts/{draft_id}/encounter", json={"reason": "back to commercial", "payer": "commercial"})
    assert drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True}).status_code == 200
    r = sam.post(f"/api/drafts/{draft_id}/encounter", json={"reason": "too late", "mrn": "MRN-1"})
    assert r.status_code == 409
    with pytest.raises(StoreError, match="signed"):  # the database refuses it too, whatever the caller
        app.state.store.correct_encounter(draft["encounter"]["id"], changes={"mrn": "X"}, reason="r", author="sam")


def test_a_draft_created_in_error_is_voided_and_a_second_draft_for_the_same_patient_and_date_warns(practice):
    app, login = practice
    sam, drlee = login("sam"), login("drlee")
    first = new_note(sam, COMPLETE)
    r = sam.post("/api/drafts", json={"dictation": COMPLETE, "codes": ["27096-LT"], "encounter": ENCOUNTER})
    assert r.status_code == 201 and [d["id"] for d in r.json()["possible_duplicates"]] == [first]
    second = r.json()["id"]
    assert "Another draft exists for this patient and date of service" in sam.get(f"/drafts/{second}").text
    sam.post(f"/api/drafts/{second}/queries", json={"revision": 1, "questions": ["Same procedure as #1?"]})
    r = sam.post(f"/api/drafts/{second}/void", json={"reason": "duplicate of the first draft"})
    assert r.status_code == 200 and r.json()["status"] == "voided"
    assert sam.put(f"/api/drafts/{second}", json={"note": "x", "base_revision": 1}).status_code == 409
    assert drlee.post(f"/api/drafts/{second}/sign", json={"revision": 1, "attest": True}).status_code == 409
    assert drlee.get("/api/inbox").json()["queries"] == []  # its open question closed with it
    assert [d["id"] for d in sam.get("/api/drafts").json()["drafts"]] == [first]
    assert [d["id"] for d in sam.get("/api/drafts?status=voided").json()["drafts"]] == [second]
    r = sam.post("/api/drafts", json={"dictation": COMPLETE, "codes": ["27096-LT"], "encounter": ENCOUNTER})
    assert [d["id"] for d in r.json()["possible_duplicates"]] == [first]  # a voided draft is no duplicate
    assert drlee.post(f"/api/drafts/{first}/sign", json={"revision": 1, "attest": True}).status_code == 200
    assert sam.post(f"/api/drafts/{first}/void", json={"reason": "no"}).status_code == 409  # signed: addendum


def test_edit_rights_follow_the_assignment_and_an_admin_reassigns(practice):
    app, login = practice
    sam, alex, drlee, drkim, admin = login("sam"), login("alex"), login("drlee"), login("drkim"), login("admin")
    draft_id = new_note(sam)
    body = {"note": "PROCEDURE: Left SI joint injection.", "base_revision": 1}
    for outsider in (alex, drkim):
        r = outsider.put(f"/api/drafts/{draft_id}", json=body)
        assert r.status_code == 403 and r.json()["error"] == "not_assigned", r.text
        assert outsider.get(f"/api/drafts/{draft_id}").status_code == 200  # they may read it...
        assert outsider.post(f"/api/drafts/{draft_id}/submit", json={"revision": 1}).status_code == 403
    views = [e for e in admin.get(f"/api/access-log?draft_id={draft_id}").json()["entries"] if e["action"] == "view"]
    assert {"alex", "drkim"} <= {e["username"] for e in views}  # ...and the reading is logged
    assert 'id="save"' not in alex.get(f"/drafts/{draft_id}").text
    assert drlee.put(f"/api/drafts/{draft_id}", json=body).status_code == 200  # the encounter's physician edits
    assert sam.put(f"/api/drafts/{draft_id}", json={**body, "base_revision": 2}).status_code == 200
    assert admin.post(f"/api/drafts/{draft_id}/assignments", json={"username": "alex"}).status_code == 200
    assert alex.put(f"/api/drafts/{draft_id}", json={**body, "base_revision": 3}).status_code == 200
    assert sam.post(f"/api/drafts/{draft_id}/assignments", json={"username": "sam"}).status_code == 403
    r = admin.post(f"/api/drafts/{draft_id}/encounter", json={"reason": "Dr. Lee is away", "physician": "drkim"})
    assert r.status_code == 200 and r.json()["encounter"]["physician"]["username"] == "drkim"
    assert drkim.put(f"/api/drafts/{draft_id}", json={**body, "base_revision": 4}).status_code == 200
    assert drlee.put(f"/api/drafts/{draft_id}", json={**body, "base_revision": 5}).status_code == 403


def test_a_password_change_ends_other_sessions_and_an_admin_reset_ends_sessions_and_tokens(practice):
    app, login = practice
    sam, sam_phone, admin = login("sam"), login("sam"), login("admin")
    r = sam.post("/api/me/password", json={"current": "wrong one entirely", "new": "another-long-passphrase"})
    assert r.status_code == 403
    r = sam.post("/api/me/password", json={"current": PASSWORD, "new": "another-long-passphrase"})
    assert r.status_code == 200
    assert sam.get("/api/me").json()["user"]["username"] == "sam"  # this browser stays in
    assert sam_phone.get("/api/drafts").status_code == 401  # the other one is out
    token = sam.post("/api/me/tokens", json={"name": "script", "scope": "read"}).json()["token"]
    assert admin.post("/api/users/sam/password", json={"password": "reset-by-the-admin-1"}).status_code == 200
    assert sam.get("/api/drafts").status_code == 401
    bearer = csrf_client(app)
    assert bearer.get("/api/drafts", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    fresh = csrf_client(app)
    assert fresh.post("/api/login", json={"username": "sam", "password": "reset-by-the-admin-1"}).status_code == 200


def test_a_session_ends_after_the_idle_timeout(practice):
    app, login = practice
    sam = login("sam")
    accounts = app.state.accounts
    start = accounts.clock()
    accounts.clock = lambda: start + 20 * 60
    assert sam.get("/api/drafts").status_code == 200  # used 20 min later: still in, and the use is recorded
    accounts.clock = lambda: start + 45 * 60
    assert sam.get("/api/drafts").status_code == 200  # 25 min after the last use
    accounts.clock = lambda: start + 80 * 60
    assert sam.get("/api/drafts").status_code == 401  # 35 min idle


def test_totp_is_needed_once_on_and_a_code_is_accepted_once(practice):
    app, login = practice
    drlee = login("drlee")
    secret = drlee.post("/api/me/totp/setup").json()["secret"]
    assert drlee.post("/api/me/totp/enable", json={"code": "000000" if pyotp.TOTP(secret).now() != "000000"
                                                   else "111111"}).status_code == 400
    assert drlee.post("/api/me/totp/enable", json={"code": pyotp.TOTP(secret).now()}).status_code == 200
    anon = csrf_client(app)
    r = anon.post("/api/login", json={"username": "drlee", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["error"] == "totp_required"
    # The code used to turn it on was this time step's: the same code does not log in (no replay).
    r = anon.post("/api/login", json={"username": "drlee", "password": PASSWORD, "totp": pyotp.TOTP(secret).now()})
    assert r.status_code == 401
    store = app.state.store
    with store._tx(write=True) as db:  # as if the step had passed: the next code is good, once
        db.execute("UPDATE users SET totp_last_step = totp_last_step - 1 WHERE username='drlee'")
    code = pyotp.TOTP(secret).now()
    assert anon.post("/api/login", json={"username": "drlee", "password": PASSWORD, "totp": code}).status_code == 200
    other = csrf_client(app)
    assert other.post("/api/login", json={"username": "drlee", "password": PASSWORD, "totp": code}).status_code == 401
    failed = [e for e in login("admin").get("/api/access-log").json()["entries"] if e["action"] == "login.failed"]
    assert {e["detail"]["why"] for e in failed} >= {"totp_needed", "wrong code"}


def test_api_tokens_are_hashed_scoped_and_revocable(practice):
    app, login = practice
    sam, drlee = login("sam"), login("drlee")
    draft_id = new_note(sam, COMPLETE)
    read = sam.post("/api/me/tokens", json={"name": "nightly export", "scope": "read"}).json()
    write = sam.post("/api/me/tokens", json={"name": "ehr bridge", "scope": "write"}).json()
    doctor = drlee.post("/api/me/tokens", json={"name": "phone", "scope": "write"}).json()
    with app.state.store._tx() as db:
        stored = [r["token_hash"] for r in db.all("SELECT token_hash FROM api_tokens")]
    assert read["token"] not in repr(stored) and len(stored) == 3
    from fastapi.testclient import TestClient

    script = TestClient(app, base_url="http://127.0.0.1")  # no cookie, no CSRF token: only the bearer
    auth = lambda t: {"Authorization": f"Bearer {t['token']}"}  # noqa: E731
    assert script.get(f"/api/drafts/{draft_id}", headers=auth(read)).status_code == 200
    assert script.get(f"/api/drafts/{draft_id}/export?format=text", headers=auth(read)).status_code == 200
    body = {"note": "PROCEDURE: Left SI joint injection.", "base_revision": 1}
    assert script.put(f"/api/drafts/{draft_id}", json=body, headers=auth(read)).status_code == 403
    assert script.put(f"/api/drafts/{draft_id}", json=body, headers=auth(write)).status_code == 200
    r = script.post(f"/api/drafts/{draft_id}/sign", json={"revision": 2, "attest": True}, headers=auth(doctor))
    assert r.status_code == 403 and "sign in the editor" in r.json()["message"]
    assert script.post("/api/me/tokens", json={"name": "x"}, headers=auth(write)).status_code == 403
    log = login("admin").get(f"/api/access-log?draft_id={draft_id}").json()["entries"]
    assert any((e["detail"] or {}).get("api_token") == write["id"] for e in log if e["action"] == "revise")
    assert sam.post(f"/api/me/tokens/{write['id']}/revoke").status_code == 200
    assert script.get("/api/drafts", headers=auth(write)).status_code == 401
    assert script.get("/api/drafts", headers={"Authorization": "Bearer ndt_made-up"}).status_code == 401
    assert sam.post(f"/api/me/tokens/{doctor['id']}/revoke").status_code == 404  # not sam's


def test_the_list_pages_past_500_rows(practice):
    app, login = practice
    sam = login("sam")
    store = app.state.store
    doctor = store.user_by_name("drlee")
    validation = {"supported": True, "findings": [], "satisfied": []}
    with store.unit():
        for i in range(520):
            enc = store.create_encounter(mrn=f"P{i:04d}", date_of_service=ENCOUNTER["date_of_service"],
                                         physician_id=doctor["id"], place_of_service="office", payer="none",
                                         author="sam")
            store.create_draft(dictation="d", codes_requested=[], strategy="template", model=None,
                               prompt_version=None, attempts=[], generated={}, note="n", codes=["27096-LT"],
                               validation=validation, grounding=[], author="sam", encounter_id=enc["id"])
    seen, page = [], 1
    while page:
        body = sam.get(f"/api/drafts?page={page}&per_page=200").json()
        seen += [d["id"] for d in body["drafts"]]
        page = body["next_page"]
    assert len(seen) == len(set(seen)) == 520 and body["total"] == 520
    html = sam.get("/?page=6").text
    assert "501–520 of 520" in html and 'id="page-previous"' in html and 'id="page-next"' not in html
    assert sam.get("/api/drafts?per_page=501").status_code == 400


def test_the_coders_worklist_marks_coded_and_exports_the_claim_lines(practice):
    app, login = practice
    sam, drlee, cody = login("sam"), login("drlee"), login("cody")
    signed = new_note(sam, COMPLETE, patient_name="=HYPERLINK(\"http://x\")", patient_dob="1950-01-01")
    unsigned = new_note(sam, NO_GUIDANCE)
    assert drlee.post(f"/api/drafts/{signed}/sign", json={"revision": 1, "attest": True}).status_code == 200
    assert sam.get("/api/worklist").status_code == 403
    notes = cody.get("/api/worklist").json()["notes"]
    assert [n["id"] for n in notes] == [signed] and notes[0]["claim"]["lines"][0]["verdict"] == "supported"
    rows = list(csv.DictReader(io.StringIO(cody.get("/api/worklist/claims.csv").text)))
    assert [(r["draft_id"], r["code_line"], r["verdict"]) for r in rows] == [(str(signed), "27096-LT", "supported")]
    assert rows[0]["patient_name"].startswith("'=")  # never a formula in a spreadsheet
    assert cody.post(f"/api/drafts/{unsigned}/coded").status_code == 409
    r = cody.post(f"/api/drafts/{signed}/coded")
    assert r.status_code == 200 and r.json()["coded"]["author"] == "cody"
    assert cody.get("/api/worklist").json()["notes"] == []
    assert [n["coded_by"] for n in cody.get("/api/worklist?coded=true").json()["notes"]] == ["cody"]
    assert cody.post(f"/api/drafts/{signed}/coded").status_code == 409
    assert "Signed, not yet coded" in cody.get("/worklist").text
    assert count(app.state.store, "codings") == 1


def test_a_patient_name_is_data_in_every_page_never_markup(practice):
    app, login = practice
    sam, drlee, cody = login("sam"), login("drlee"), login("cody")
    evil = '<img src=x onerror=alert(1)>"</script>'
    draft_id = new_note(sam, COMPLETE, patient_name=evil, patient_dob="1950-01-01")
    drlee.post(f"/api/drafts/{draft_id}/queries", json={"revision": 1, "questions": ["<b>side?</b>"]})
    assert drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True}).status_code == 200
    for client, path in ((sam, "/"), (sam, f"/drafts/{draft_id}"), (cody, "/worklist"), (drlee, "/inbox"),
                         (sam, f"/drafts/{draft_id}/history")):
        html = client.get(path).text
        assert "<img src=x" not in html and '"</script>' not in html, path
