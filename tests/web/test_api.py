"""The editor's HTTP API over the real validator and a real SQLite file (drafting-free: drafts come from save files)."""

from __future__ import annotations

import json

import pytest

from notedraft.validate import validate
from notedraft.web.app import create_app
from notedraft.web.db import DatabaseError

from .helpers import DICTATION, GOOD_NOTE, csrf_client, saved_file

NO_GUIDANCE = GOOD_NOTE.replace(" under fluoroscopic guidance", "").replace(
    ", and a fluoroscopic image was saved", ""
)


def as_json(obj) -> dict:
    return json.loads(json.dumps(obj))


# -- /api/validate ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("note", "codes"),
    [
        (GOOD_NOTE, ["27096-LT"]),
        (NO_GUIDANCE, ["27096-LT"]),
        (GOOD_NOTE, ["27096-RT", "77003"]),
        (DICTATION, []),
        ("Trigger point injection, left gluteus medius, 2 mL 1% lidocaine. <script>alert(1)</script>", ["20552"]),
    ],
)
def test_validate_is_the_library_json(client, note, codes):
    r = client.post("/api/validate", json={"note": note, "codes": codes})
    assert r.status_code == 200
    assert r.json() == as_json(validate(note, codes).as_json())


def test_validate_rejects_unknown_code_with_the_library_message(client):
    r = client.post("/api/validate", json={"note": GOOD_NOTE, "codes": ["99999"]})
    assert r.status_code == 400
    assert r.json()["error"] == "bad_code"
    assert "99999" in r.json()["message"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "bad_json"),
        (b'{"note": "x"}', 422, "bad_request"),
        (b'{"note": 5, "codes": []}', 422, "bad_request"),
        (b'{"note": "x", "codes": [], "cods": []}', 422, "bad_request"),
    ],
)
def test_bad_bodies_get_a_clear_4xx(client, body, status, error):
    r = client.post("/api/validate", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status
    assert r.json()["error"] == error
    assert r.json()["message"]


def test_bad_body_message_does_not_echo_the_note(client):
    r = client.post("/api/validate", json={"note": "SECRET-NOTE-TEXT", "codes": "27096"})
    assert r.status_code == 422
    assert "SECRET-NOTE-TEXT" not in r.text


def test_request_size_limit(client):
    big = {"note": "x" * (256 * 1024), "codes": ["27096"]}
    r = client.post("/api/validate", json=big)
    assert r.status_code == 413
    assert r.json()["error"] == "too_large"
    # A chunked body with no Content-Length is counted as it arrives.
    r = client.post("/api/validate", content=iter([b'{"note": "', b"y" * (300 * 1024), b'", "codes": []}']),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413


# -- CSRF, Host, token -----------------------------------------------------------------------------------------------
def test_csrf_rejections(app):
    with csrf_client(app) as c:
        token = c.headers.pop("X-CSRF-Token")
        body = {"note": GOOD_NOTE, "codes": ["27096-LT"]}
        assert c.get("/api/drafts").status_code == 200  # reads need no token
        assert c.post("/api/validate", json=body).status_code == 403
        assert c.post("/api/validate", json=body, headers={"X-CSRF-Token": "0" * 32}).status_code == 403
        cross = {"X-CSRF-Token": token, "Origin": "https://evil.example"}
        assert c.post("/api/validate", json=body, headers=cross).status_code == 403
        site = {"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"}
        assert c.post("/api/validate", json=body, headers=site).status_code == 403
        same = {"X-CSRF-Token": token, "Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin"}
        assert c.post("/api/validate", json=body, headers=same).status_code == 200
        r = c.put("/api/drafts/1", json={"note": "x", "base_revision": 1})
        assert r.status_code == 403 and r.json()["error"] == "csrf"


def test_csrf_token_must_match_this_browsers_cookie(app):
    with csrf_client(app) as a, csrf_client(app) as b:
        stolen = a.headers["X-CSRF-Token"]
        r = b.post("/api/validate", json={"note": "x", "codes": []}, headers={"X-CSRF-Token": stolen})
        assert r.status_code == 403


def test_foreign_host_header_is_refused_without_a_token(app):
    # A DNS-rebinding page reaches 127.0.0.1 under its own name: the Host header gives it away.
    with csrf_client(app) as c:
        r = c.get("/api/drafts", headers={"Host": "evil.example:8000"})
        assert r.status_code == 421


def test_token_auth(db_path):
    token = "correct-horse-battery-staple"
    app = create_app(db_path, token=token)
    with csrf_client(app) as c:
        assert c.get("/api/drafts").status_code == 401
        page = c.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert c.get("/login").status_code == 200
        assert c.post("/api/login", json={"token": "wrong"}).status_code == 401
        assert c.post("/api/login", json={"token": token}).status_code == 200
        assert c.get("/api/drafts").status_code == 200
        assert c.post("/api/drafts/import", json=saved_file()).status_code == 201
    with csrf_client(app) as script:
        script.headers.pop("X-CSRF-Token")
        # A bearer token is not an ambient credential, so it needs no CSRF token; any Host is fine with a token.
        auth = {"Authorization": f"Bearer {token}", "Host": "editor.example.org"}
        assert script.post("/api/validate", json={"note": "x", "codes": []}, headers=auth).status_code == 200
        assert script.get("/api/drafts", headers={"Authorization": "Bearer nope"}).status_code == 401


# -- drafts: save, conflict, revisions ---------------------------------------------------------------------------------
def test_import_keeps_the_file_and_validates_afresh(client):
    saved = saved_file() | {"supported": False, "queries": ["Which side?"], "model": "m", "attempts": [
        {"purpose": "compose", "model": "m", "prompt_version": "compose-v3", "latency_ms": 1.0, "outcome": "ok"}]}
    r = client.post("/api/drafts/import", json=saved)
    assert r.status_code == 201
    d = client.get(f"/api/drafts/{r.json()['id']}").json()
    assert d["revision"] == 1 and d["source"] == "import"
    assert d["dictation"] == DICTATION and d["note"] == GOOD_NOTE
    assert d["supported"] is True  # the saved verdict is not trusted
    assert d["validation"] == as_json(validate(GOOD_NOTE, ["27096-LT"]).as_json())
    assert d["queries"] == ["Which side?"] and d["prompt_version"] == "compose-v3" and d["model"] == "m"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "other"}, "format"),
        ({"version": 7}, "version"),
        ({"note": ""}, "empty"),
        ({"codes": "27096"}, "codes"),
        ({"codes": ["99999"]}, "99999"),
    ],
)
def test_import_rejects_bad_save_files(client, change, message):
    r = client.post("/api/drafts/import", json=saved_file() | change)
    assert r.status_code == 400
    assert message in r.json()["message"]


def test_two_clients_stale_save_gets_409_and_no_edit_is_lost(app, imported):
    with csrf_client(app) as alice, csrf_client(app) as bob:
        assert alice.get(f"/api/drafts/{imported}").json()["revision"] == 1
        assert bob.get(f"/api/drafts/{imported}").json()["revision"] == 1
        alice_text = GOOD_NOTE + "\nPOST-PROCEDURE: Pain 2/10. (Alice)"
        bob_text = GOOD_NOTE.replace("22-gauge", "25-gauge") + " (Bob)"

        r = alice.put(f"/api/drafts/{imported}", json={"note": alice_text, "base_revision": 1, "author": "alice"})
        assert r.status_code == 200 and r.json()["revision"] == 2

        r = bob.put(f"/api/drafts/{imported}", json={"note": bob_text, "base_revision": 1, "author": "bob"})
        assert r.status_code == 409
        assert r.json()["error"] == "conflict"
        assert r.json()["current"]["revision"] == 2
        assert r.json()["current"]["note"] == alice_text
        assert "alice" in r.json()["message"]

        # Bob has seen Alice's text and saves his on top of it: both stay in the history.
        r = bob.put(f"/api/drafts/{imported}", json={"note": bob_text, "base_revision": 2, "author": "bob"})
        assert r.status_code == 200 and r.json()["revision"] == 3 and r.json()["base_revision"] == 2

        revs = alice.get(f"/api/drafts/{imported}/revisions").json()["revisions"]
        assert [(x["revision"], x["author"]) for x in revs] == [(1, "scribe"), (2, "alice"), (3, "bob")]
        assert [x["note"] for x in revs] == [GOOD_NOTE, alice_text, bob_text]


def test_each_revision_keeps_its_validation_codes_author_and_time(client, imported):
    r = client.put(f"/api/drafts/{imported}", json={"note": NO_GUIDANCE, "base_revision": 1, "author": "kim"})
    assert r.status_code == 200
    assert r.json()["supported"] is False
    assert r.json()["validation"] == as_json(validate(NO_GUIDANCE, ["27096-LT"]).as_json())
    r = client.put(f"/api/drafts/{imported}", json={"note": NO_GUIDANCE, "base_revision": 2, "codes": ["20552-LT"]})
    assert r.json()["codes"] == ["20552-LT"] and r.json()["author"] == "scribe"
    revs = client.get(f"/api/drafts/{imported}/revisions").json()["revisions"]
    assert [x["supported"] for x in revs] == [True, False, r.json()["supported"]]
    assert all(x["created_at"].endswith("+00:00") for x in revs)
    one = client.get(f"/api/drafts/{imported}/revisions/2").json()
    assert one["note"] == NO_GUIDANCE and one["author"] == "kim"
    assert client.get(f"/api/drafts/{imported}/revisions/9").status_code == 404


def test_revisions_are_append_only_in_the_database(app, client, imported):
    client.put(f"/api/drafts/{imported}", json={"note": "second", "base_revision": 1})
    store = app.state.store
    for sql, why in (("UPDATE revisions SET note = 'rewritten'", "append-only"),
                     ("DELETE FROM revisions", "append-only"),
                     ("UPDATE drafts SET dictation = 'other'", "immutable|append-only")):
        with pytest.raises(DatabaseError, match=why), store._tx(write=True) as db:
            db.execute(sql)


def test_unknown_draft_is_404(client):
    assert client.get("/api/drafts/42").status_code == 404
    assert client.put("/api/drafts/42", json={"note": "x", "base_revision": 1}).status_code == 404
    assert client.get("/api/drafts/42/revisions").status_code == 404
    assert client.get("/drafts/42").status_code == 404


def test_save_with_unknown_code_is_400_and_saves_nothing(client, imported):
    r = client.put(f"/api/drafts/{imported}", json={"note": "x", "base_revision": 1, "codes": ["27096-XX"]})
    assert r.status_code == 400 and r.json()["error"] == "bad_code"
    assert client.get(f"/api/drafts/{imported}").json()["revision"] == 1


# -- finalise, export, metrics -----------------------------------------------------------------------------------------
def test_finalise_an_unsupported_note_needs_a_recorded_reason(client, imported):
    client.put(f"/api/drafts/{imported}", json={"note": NO_GUIDANCE, "base_revision": 1})
    r = client.post(f"/api/drafts/{imported}/finalise", json={"revision": 2})
    assert r.status_code == 422 and r.json()["error"] == "not_supported"
    r = client.post(f"/api/drafts/{imported}/finalise", json={"revision": 2, "override_reason": "   "})
    assert r.status_code == 422
    r = client.post(f"/api/drafts/{imported}/finalise", json={"revision": 1, "override_reason": "stale"})
    assert r.status_code == 409  # finalise what you last saw, not an older revision
    reason = "Physician confirmed fluoroscopy by phone; addendum requested"
    r = client.post(f"/api/drafts/{imported}/finalise",
                    json={"revision": 2, "override_reason": reason, "author": "lee"})
    assert r.status_code == 200
    fin = r.json()["finalised"]
    assert fin["override_reason"] == reason and fin["supported"] is False and fin["author"] == "lee"
    assert client.get(f"/api/drafts/{imported}").json()["finalised"]["override_reason"] == reason
    # Finalised means locked.
    assert client.put(f"/api/drafts/{imported}", json={"note": "late", "base_revision": 2}).status_code == 409
    r = client.post(f"/api/drafts/{imported}/finalise", json={"revision": 2, "override_reason": reason})
    assert r.status_code == 409


def test_finalise_a_supported_note_needs_no_reason(client, imported):
    r = client.post(f"/api/drafts/{imported}/finalise", json={"revision": 1, "override_reason": "not needed"})
    assert r.status_code == 200
    assert r.json()["finalised"]["supported"] is True
    assert r.json()["finalised"]["override_reason"] is None


def test_export_text_and_json(client, imported):
    client.put(f"/api/drafts/{imported}", json={"note": GOOD_NOTE + " Edited.", "base_revision": 1})
    t = client.get(f"/api/drafts/{imported}/export?format=text")
    assert t.status_code == 200 and t.headers["content-type"].startswith("text/plain")
    assert t.text == GOOD_NOTE + " Edited.\n"
    assert 'filename="notedraft-1-r2.txt"' in t.headers["content-disposition"]
    j = client.get(f"/api/drafts/{imported}/export?format=json").json()
    assert j["exported_revision"] == 2 and len(j["revisions"]) == 2 and j["dictation"] == DICTATION
    assert client.get(f"/api/drafts/{imported}/export?format=pdf").status_code == 400


def test_minimally_edited_rate_and_eval_cases(client):
    ids = [client.post("/api/drafts/import", json=saved_file()).json()["id"] for _ in range(2)]
    client.put(f"/api/drafts/{ids[0]}", json={"note": GOOD_NOTE.replace("22-gauge", "25-gauge"), "base_revision": 1})
    client.put(f"/api/drafts/{ids[1]}", json={"note": "Left SI joint injected under fluoroscopy.", "base_revision": 1})
    for i in ids:
        r = client.post(f"/api/drafts/{i}/finalise", json={"revision": 2, "override_reason": "test"})
        assert r.status_code == 200
    m = client.get("/api/metrics/edits").json()
    assert m["finalised"] == 2 and m["minimally_edited"] == 1 and m["rate"] == 0.5
    first, second = m["cases"]
    assert first["edit_distance"] == 1 and first["minimally_edited"] is True
    assert second["edit_ratio"] > 0.5 and second["minimally_edited"] is False
    assert client.get("/api/metrics/edits?threshold=1").json()["rate"] == 1.0
    lines = client.get("/api/metrics/edits?format=jsonl").text.splitlines()
    cases = [json.loads(x) for x in lines]
    assert [c["id"] for c in cases] == [f"editor-{ids[0]}", f"editor-{ids[1]}"]
    assert cases[0]["dictation"] == DICTATION and cases[0]["draft"] == GOOD_NOTE
    assert cases[0]["reference_note"] == GOOD_NOTE.replace("22-gauge", "25-gauge")
    assert client.get("/api/metrics/edits?threshold=2").status_code == 400


# -- escaping ------------------------------------------------------------------------------------------------------
def test_note_markup_renders_inert_in_every_page(client):
    hostile = GOOD_NOTE + '\n</textarea><script>alert("x")</script><img src=x onerror=alert(1)></script>'
    r = client.post("/api/drafts/import", json=saved_file(note=hostile, dictation='<b onmouseover="x">dict</b>'))
    draft_id = r.json()["id"]
    client.put(f"/api/drafts/{draft_id}", json={"note": hostile + "<script>two()</script>", "base_revision": 1})
    for path in (f"/drafts/{draft_id}", f"/drafts/{draft_id}/history", "/"):
        page = client.get(path)
        assert page.status_code == 200
        html = page.text
        assert '<script>alert("x")' not in html and "<img src=x" not in html and "<script>two()" not in html
        assert '<b onmouseover' not in html
        assert "script-src 'self'" in page.headers["content-security-policy"]
    editor = client.get(f"/drafts/{draft_id}").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in editor  # the textarea holds escaped text
    data = editor.split('<script id="draft-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["note"] == hostile + "<script>two()</script>"  # the JSON island round-trips intact


def test_pages_render(client, imported):
    assert "Drafts" in client.get("/").text
    editor = client.get(f"/drafts/{imported}")
    assert editor.status_code == 200 and 'id="note"' in editor.text
    assert editor.headers["cache-control"] == "no-store"
    history = client.get(f"/drafts/{imported}/history")
    assert "Revision 1" in history.text


def test_finalising_a_note_that_states_what_the_dictation_did_not_needs_a_reason(client):
    # Supported by the rules, but "80 mg" and "images were saved" were never dictated: that is a finding too.
    note = GOOD_NOTE.replace("40 mg Kenalog", "80 mg Kenalog")
    r = client.post("/api/drafts/import", json=saved_file(note=note))
    draft_id = r.json()["id"]
    assert client.post("/api/validate", json={"note": note, "codes": ["27096-LT"]}).json()["supported"]
    r = client.post(f"/api/drafts/{draft_id}/finalise", json={"revision": 1})
    assert r.status_code == 422
    assert any("80 mg" in b["message"] for b in r.json()["blocking"])
    r = client.post(f"/api/drafts/{draft_id}/finalise", json={"revision": 1, "override_reason": "Dose confirmed by Dr. Lee"})
    assert r.status_code == 200
    assert any("80 mg" in o["message"] for o in r.json()["finalised"]["overrides"])
