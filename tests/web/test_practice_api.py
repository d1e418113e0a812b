"""The practice workflow through the real API, on SQLite and PostgreSQL: people and roles, encounters, the query
loop, sign-off with an attestation, addenda, attribution and the access log. Each person has their own client
(their own cookies), as each has their own browser."""

from __future__ import annotations

import pytest

from notedraft.web.accounts import add_user
from notedraft.web.app import create_app

from .helpers import csrf_client

PASSWORD = "correct-horse-battery-staple"
NO_GUIDANCE = "L SIJ inj, diagnostic and therapeutic, dx M46.1 sacroiliitis, 40 mg kenalog + 2 mL 0.25% bupivacaine"
ANSWER = "Fluoroscopy guided the needle; contrast confirmed intra-articular spread."
ENCOUNTER = {"mrn": "MRN-00123", "date_of_service": "2026-11-28", "physician": "drlee",
             "place_of_service": "office", "payer": "commercial"}


@pytest.fixture
def practice(db_target):
    app = create_app(db_target)
    store = app.state.store
    for name, full, role in (("admin", "Practice Admin", "admin"), ("drlee", "Dr. Ana Lee", "physician"),
                             ("drkim", "Dr. Min Kim", "physician"), ("sam", "Sam Rivera", "scribe"),
                             ("cody", "Cody Park", "coder")):
        add_user(store, username=name, display_name=full, role=role, password=PASSWORD)
    clients = []

    def login(name: str):
        c = csrf_client(app)
        clients.append(c)
        r = c.post("/api/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return c

    yield app, login
    for c in clients:
        c.close()
    store.close()


def new_note(client, dictation=NO_GUIDANCE, **encounter):
    r = client.post("/api/drafts", json={"dictation": dictation, "codes": ["27096-LT"],
                                         "encounter": {**ENCOUNTER, **encounter}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_with_accounts_nothing_opens_without_logging_in(practice):
    app, login = practice
    anon = csrf_client(app)
    assert anon.get("/api/drafts").status_code == 401
    page = anon.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    r = anon.post("/api/login", json={"username": "sam", "password": "wrong password!!"})
    assert r.status_code == 401 and "wrong user name or password" in r.json()["message"]
    r = anon.post("/api/login", json={"username": "nobody", "password": PASSWORD})
    assert r.status_code == 401  # the same answer: no way to learn which names exist


def test_logout_ends_the_session_for_every_copy_of_the_cookie(practice):
    app, login = practice
    sam = login("sam")
    thief = csrf_client(app)
    thief.cookies.set("nd_session", sam.cookies.get("nd_session"))
    assert thief.get("/api/drafts").status_code == 200
    assert sam.post("/api/logout").status_code == 200
    assert thief.get("/api/drafts").status_code == 401


def test_a_draft_belongs_to_an_encounter_and_is_written_under_the_account(practice):
    app, login = practice
    sam = login("sam")
    r = sam.post("/api/drafts", json={"dictation": NO_GUIDANCE, "codes": ["27096-LT"]})
    assert r.status_code == 400 and r.json()["error"] == "no_encounter"
    r = sam.post("/api/drafts", json={"dictation": NO_GUIDANCE, "encounter": {**ENCOUNTER, "physician": "sam"}})
    assert r.status_code == 400 and "not an active physician" in r.json()["message"]
    draft_id = new_note(sam)
    draft = sam.get(f"/api/drafts/{draft_id}").json()
    assert draft["encounter"]["mrn"] == "MRN-00123" and draft["encounter"]["physician"]["username"] == "drlee"
    r = sam.put(f"/api/drafts/{draft_id}", json={"note": draft["note"] + "\nEdited.", "base_revision": 1,
                                                 "author": "Dr. Somebody Else"})
    assert r.status_code == 200 and r.json()["author"] == "sam"  # a typed name never replaces the account


def test_roles_decide_who_drafts_signs_and_exports(practice):
    app, login = practice
    sam, cody, drkim = login("sam"), login("cody"), login("drkim")
    draft_id = new_note(sam)
    assert cody.post("/api/drafts", json={"dictation": NO_GUIDANCE, "encounter": ENCOUNTER}).status_code == 403
    r = cody.put(f"/api/drafts/{draft_id}", json={"note": "x", "base_revision": 1})
    assert r.status_code == 403 and "coder cannot" in r.json()["message"]
    assert cody.get(f"/api/drafts/{draft_id}").status_code == 200
    assert sam.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True}).status_code == 403
    r = drkim.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True})
    assert r.status_code == 403 and "Dr. Ana Lee" in r.json()["message"]  # not this encounter's physician
    assert sam.get("/api/users").status_code == 403 and sam.get("/api/access-log").status_code == 403
    assert cody.get("/api/metrics/edits").status_code == 403


def test_the_query_loop_the_signature_and_an_addendum(practice):
    app, login = practice
    sam, drlee, drkim = login("sam"), login("drlee"), login("drkim")
    draft_id = new_note(sam)
    draft = sam.get(f"/api/drafts/{draft_id}").json()
    live = sam.post(f"/api/drafts/{draft_id}/check", json={"note": draft["note"], "codes": draft["codes"]}).json()
    assert not live["validation"]["supported"]
    assert any("What guided the needle" in q for q in live["queries"])
    # The queries follow the text: a scribe's edit that states nothing new changes nothing; they are recomputed.
    edited = sam.post(f"/api/drafts/{draft_id}/check", json={"note": draft["note"] + "\nNo changes.",
                                                             "codes": draft["codes"]}).json()
    assert edited["queries"] == live["queries"]

    r = sam.post(f"/api/drafts/{draft_id}/queries", json={"revision": draft["revision"]})
    assert r.status_code == 201 and len(r.json()["sent"]) == len(live["queries"])
    again = sam.post(f"/api/drafts/{draft_id}/queries", json={"revision": draft["revision"]})
    assert again.json()["sent"] == []  # an open question is not sent twice
    assert drlee.get("/api/me").json()["inbox"] == len(live["queries"])
    assert drkim.get("/api/inbox").json()["queries"] == []
    [query] = [q for q in drlee.get("/api/inbox").json()["queries"] if "guided" in q["question"]]
    assert sam.post(f"/api/queries/{query['id']}/answer", json={"text": "fluoro"}).status_code == 403
    assert drkim.post(f"/api/queries/{query['id']}/answer", json={"text": "fluoro"}).status_code == 403

    r = drlee.post(f"/api/queries/{query['id']}/answer", json={"text": ANSWER})
    assert r.status_code == 200 and r.json()["then"] == "redrafted", r.text
    draft = sam.get(f"/api/drafts/{draft_id}").json()
    assert draft["dictation"] == NO_GUIDANCE and draft["dictation_full"].endswith(ANSWER)
    assert draft["supported"] and draft["grounding"] == [] and "fluoroscopic" in draft["note"]
    assert draft["author"] == "drlee"  # the redraft is the physician's doing

    assert sam.post(f"/api/drafts/{draft_id}/submit", json={"revision": draft["revision"]}).json()["status"] == "submitted"
    r = drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": draft["revision"], "attest": False})
    assert r.status_code == 400 and "attestation" in r.json()["message"]
    r = drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": draft["revision"], "attest": True})
    assert r.status_code == 200, r.text
    signed = r.json()["signed"]
    assert signed["author"] == "drlee" and signed["attestation"].startswith("I performed this procedure")

    r = sam.put(f"/api/drafts/{draft_id}", json={"note": "changed after signing", "base_revision": draft["revision"]})
    assert r.status_code == 409
    assert sam.post(f"/api/drafts/{draft_id}/addenda", json={"text": "x"}).status_code == 403
    assert drkim.post(f"/api/drafts/{draft_id}/addenda", json={"text": "x"}).status_code == 403
    r = drlee.post(f"/api/drafts/{draft_id}/addenda", json={"text": "Patient called on day 2: pain 2/10."})
    assert r.status_code == 201
    after = sam.get(f"/api/drafts/{draft_id}").json()
    assert after["note"] == draft["note"] and after["status"] == "signed"
    assert [(a["author"], a["text"]) for a in after["addenda"]] == [("drlee", "Patient called on day 2: pain 2/10.")]


def test_signing_over_an_unsupported_statement_needs_the_physicians_reason_for_it(practice):
    app, login = practice
    sam, drlee = login("sam"), login("drlee")
    draft_id = new_note(sam, NO_GUIDANCE + ", fluoro, contrast confirmed intra-articular spread")
    draft = sam.get(f"/api/drafts/{draft_id}").json()
    assert draft["supported"]
    note = draft["note"] + "\nImages were saved to PACS. 80 mg methylprednisolone was injected."
    saved = sam.put(f"/api/drafts/{draft_id}", json={"note": note, "base_revision": 1}).json()
    r = drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": saved["revision"], "attest": True})
    assert r.status_code == 422 and r.json()["error"] == "needs_reasons"
    blocking = r.json()["blocking"]
    assert blocking and all(b["source"] == "dictation" for b in blocking)
    assert any("80" in b["message"] for b in blocking)
    half = [{"key": blocking[0]["key"], "reason": "I recall it"}]
    r = drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": saved["revision"], "attest": True,
                                                         "overrides": half})
    assert r.status_code == 422 or len(blocking) == 1
    reasons = [{"key": b["key"], "reason": f"Confirmed in the procedure log ({i})"} for i, b in enumerate(blocking)]
    r = drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": saved["revision"], "attest": True,
                                                         "overrides": reasons})
    assert r.status_code == 200, r.text
    assert [o["reason"] for o in r.json()["signed"]["overrides"]] == [x["reason"] for x in reasons]


def test_the_encounter_feeds_the_validator_payer_and_place_of_service(practice):
    app, login = practice
    sam = login("sam")
    complete = NO_GUIDANCE + ", fluoro, contrast confirmed intra-articular spread"
    office = sam.get(f"/api/drafts/{new_note(sam, complete)}").json()
    asc = sam.get(f"/api/drafts/{new_note(sam, complete, place_of_service='asc')}").json()
    medicare = sam.get(f"/api/drafts/{new_note(sam, complete, payer='medicare')}").json()
    rules = lambda d: {f["rule"] for f in d["validation"]["findings"]}  # noqa: E731
    assert not any("setting" in r for r in rules(office))
    assert any(r.endswith("setting.facility_uses_g0260") for r in rules(asc))
    assert rules(medicare) - rules(office), "a Medicare encounter is checked against the Medicare rules"


def test_every_view_revision_and_export_is_in_the_access_log_without_note_text(practice):
    app, login = practice
    sam, admin = login("sam"), login("admin")
    draft_id = new_note(sam)
    sam.get(f"/api/drafts/{draft_id}")
    sam.get(f"/drafts/{draft_id}")
    sam.put(f"/api/drafts/{draft_id}", json={"note": "PROCEDURE: left SI joint injection.", "base_revision": 1})
    sam.get(f"/api/drafts/{draft_id}/export?format=json")
    sam.get(f"/drafts/{draft_id}/history")
    sam.get(f"/api/drafts/{draft_id}/revisions/1")
    entries = admin.get(f"/api/access-log?draft_id={draft_id}").json()["entries"]
    actions = [(e["username"], e["action"]) for e in reversed(entries)]
    assert actions == [("sam", "create"), ("sam", "view"), ("sam", "view"), ("sam", "revise"), ("sam", "export.json"),
                       ("sam", "view.history"), ("sam", "view.revisions")]
    flat = repr(admin.get("/api/access-log").json())
    assert "kenalog" not in flat.lower() and "sacroiliac" not in flat.lower()


def test_an_admin_adds_and_disables_accounts(practice):
    app, login = practice
    admin = login("admin")
    r = admin.post("/api/users", json={"username": "pat", "display_name": "Pat Scribe", "role": "scribe",
                                       "password": "short"})
    assert r.status_code == 400 and "too short" in r.json()["message"]
    r = admin.post("/api/users", json={"username": "pat", "display_name": "Pat Scribe", "role": "scribe",
                                       "password": PASSWORD})
    assert r.status_code == 201
    pat = login("pat")
    assert pat.get("/api/drafts").status_code == 200
    assert admin.post("/api/users/pat/active", json={"active": False}).status_code == 200
    assert pat.get("/api/drafts").status_code == 401  # disabling ends the sessions at once
    assert admin.post("/api/users/admin/active", json={"active": False}).status_code == 400


def test_the_list_filters_and_puts_what_needs_attention_first(practice):
    app, login = practice
    sam, drlee = login("sam"), login("drlee")
    complete = NO_GUIDANCE + ", fluoro, contrast confirmed intra-articular spread"
    ready = new_note(sam, complete)
    needs_work = new_note(sam, mrn="MRN-777", date_of_service="2026-10-01")
    to_sign = new_note(sam, complete)
    sam.post(f"/api/drafts/{to_sign}/submit", json={"revision": 1})
    order = [d["id"] for d in drlee.get("/api/drafts").json()["drafts"]]
    assert order == [to_sign, needs_work, ready]
    assert drlee.get("/api/drafts").json()["drafts"][0]["attention_reason"] == "waiting for your signature"
    assert [d["id"] for d in sam.get("/api/drafts?mrn=777").json()["drafts"]] == [needs_work]
    assert [d["id"] for d in sam.get("/api/drafts?date_to=2026-10-31").json()["drafts"]] == [needs_work]
    assert [d["id"] for d in sam.get("/api/drafts?status=submitted").json()["drafts"]] == [to_sign]
    assert [d["id"] for d in sam.get("/api/drafts?verdict=unsupported").json()["drafts"]] == [needs_work]
    assert sam.get("/api/drafts?date_from=yesterday").status_code == 422


def test_the_signed_note_exports_with_its_header_and_as_a_fhir_bundle(practice):
    app, login = practice
    sam, drlee, cody = login("sam"), login("drlee"), login("cody")
    draft_id = new_note(sam, NO_GUIDANCE + ", fluoro, contrast confirmed intra-articular spread", payer="medicare")
    assert cody.get(f"/api/drafts/{draft_id}/export?format=fhir").status_code == 409  # not signed yet
    unsigned = cody.get(f"/api/drafts/{draft_id}/export?format=text").text
    assert "UNSIGNED DRAFT" in unsigned
    draft = sam.get(f"/api/drafts/{draft_id}").json()
    blocking = sam.post(f"/api/drafts/{draft_id}/check", json={"note": draft["note"], "codes": draft["codes"]}).json()
    reasons = [{"key": b["key"], "reason": "Criteria documented in the referral letter"} for b in blocking["blocking"]]
    r = drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True, "overrides": reasons,
                                                         "same_reason_for_all": True})  # one reason, confirmed
    assert r.status_code == 200, r.text
    drlee.post(f"/api/drafts/{draft_id}/addenda", json={"text": "Follow-up call: pain 2/10."})
    text = cody.get(f"/api/drafts/{draft_id}/export?format=text").text
    for expected in ("MRN-00123", "2026-11-28", "Dr. Ana Lee", "27096-LT", "I performed this procedure",
                     "Follow-up call: pain 2/10."):
        assert expected in text, expected
    assert text.index(draft["note"].splitlines()[2]) < text.index("Follow-up call")  # addenda after the note
    r = cody.get(f"/api/drafts/{draft_id}/export?format=fhir")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    bundle = r.json()
    from notedraft.exports import validate_fhir

    validate_fhir(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert {"DocumentReference", "Procedure", "Patient", "Practitioner", "Encounter", "Coverage"} <= set(kinds)
    procedure = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Procedure")
    assert procedure["code"]["coding"][0]["code"] == "27096"
    assert "7771000" in repr(procedure["bodySite"])  # left, in SNOMED CT


def test_behind_https_the_session_cookie_is_secure_and_http_only(practice):
    from fastapi.testclient import TestClient

    app, _ = practice
    for scheme, secure in (("https", True), ("http", False)):
        c = TestClient(app, base_url=f"{scheme}://notes.example.org")  # any host name, once accounts exist
        c.headers["X-CSRF-Token"] = c.get("/api/csrf").json()["csrf"]
        r = c.post("/api/login", json={"username": "sam", "password": PASSWORD})
        cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("nd_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert ("Secure" in cookie) is secure
