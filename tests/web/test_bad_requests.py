"""Bad requests get a 4xx with a message on EVERY endpoint: ids out of range, lone surrogates, malformed imports,
too many code lines. The sweep enumerates `app.routes`, so a new endpoint without a case here fails the test."""

from __future__ import annotations

import json

import pytest
from fastapi.routing import APIRoute

from notedraft.codes import MAX_CODE_LINES

from .helpers import DICTATION, GOOD_NOTE, saved_file

# A valid request for every route; `{id}` and `{n}` are filled in by each test.
VALID: dict[tuple[str, str], dict | None] = {
    ("GET", "/api/csrf"): None,
    ("POST", "/api/login"): {"token": "x"},
    ("POST", "/api/logout"): None,
    ("POST", "/api/validate"): {"note": GOOD_NOTE, "codes": ["27096-LT"]},
    ("GET", "/api/drafts"): None,
    ("POST", "/api/drafts"): {"dictation": DICTATION, "codes": ["27096-LT"], "strategy": "template", "author": "a"},
    ("GET", "/api/jobs/{job_id}"): None,
    ("POST", "/api/jobs/{job_id}/cancel"): None,
    ("POST", "/api/drafts/import"): saved_file(),
    ("GET", "/api/drafts/{draft_id}"): None,
    ("PUT", "/api/drafts/{draft_id}"): {"note": GOOD_NOTE, "base_revision": 1, "codes": ["27096-LT"], "author": "a"},
    ("POST", "/api/drafts/{draft_id}/check"): {"note": GOOD_NOTE, "codes": ["27096-LT"]},
    ("GET", "/api/drafts/{draft_id}/revisions"): None,
    ("GET", "/api/drafts/{draft_id}/revisions/{number}"): None,
    ("POST", "/api/drafts/{draft_id}/finalise"): {"revision": 1, "override_reason": "r", "author": "a"},
    ("GET", "/api/drafts/{draft_id}/export"): None,
    ("GET", "/api/metrics/edits"): None,
    ("GET", "/"): None,
    ("GET", "/login"): None,
    ("GET", "/drafts/{draft_id}"): None,
    ("GET", "/drafts/{draft_id}/history"): None,
    ("GET", "/admin"): None,
    ("GET", "/inbox"): None,
    ("GET", "/api/access-log"): None,
    ("GET", "/api/inbox"): None,
    ("GET", "/api/me"): None,
    ("GET", "/api/users"): None,
    ("POST", "/api/drafts/{draft_id}/addenda"): {"text": "later"},
    ("POST", "/api/drafts/{draft_id}/queries"): {"revision": 1, "questions": ["Which side?"]},
    ("POST", "/api/drafts/{draft_id}/sign"): {"revision": 1, "attest": True, "overrides": [{"key": "k", "reason": "r"}]},
    ("POST", "/api/drafts/{draft_id}/submit"): {"revision": 1},
    ("POST", "/api/queries/{query_id}/answer"): {"text": "Left."},
    ("POST", "/api/users"): {"username": "amy", "display_name": "Amy", "role": "scribe", "password": "pw"},
    ("POST", "/api/users/{username}/active"): {"active": False},
    ("GET", "/api/drafts/{draft_id}/encounter"): None,
    ("POST", "/api/drafts/{draft_id}/encounter"): {"reason": "wrong date", "patient_name": "Ann Lee"},
    ("POST", "/api/drafts/{draft_id}/void"): {"reason": "created in error"},
    ("POST", "/api/drafts/{draft_id}/assignments"): {"username": "sam", "assigned": True},
    ("POST", "/api/drafts/{draft_id}/answers"): {"answers": [{"query_id": 1, "text": "Left."}]},
    ("POST", "/api/drafts/{draft_id}/coded"): {"accept_unsupported": False},
    ("GET", "/api/worklist"): None,
    ("GET", "/api/worklist/claims.csv"): None,
    ("GET", "/worklist"): None,
    ("GET", "/account"): None,
    ("POST", "/api/me/password"): {"current": "a", "new": "b"},
    ("GET", "/api/me/tokens"): None,
    ("POST", "/api/me/tokens"): {"name": "script", "scope": "read"},
    ("POST", "/api/me/tokens/{token_id}/revoke"): None,
    ("POST", "/api/me/totp/setup"): None,
    ("POST", "/api/me/totp/enable"): {"code": "123456"},
    ("POST", "/api/me/totp/disable"): {"code": "123456", "password": "x"},
    ("POST", "/api/users/{username}/password"): {"password": "pw"},
    ("POST", "/api/users/{username}/totp/reset"): None,
}


def routes(app) -> list[tuple[str, str]]:
    found = [(m, r.path) for r in app.routes if isinstance(r, APIRoute) for m in sorted(r.methods - {"HEAD"})]
    missing = set(found) - set(VALID)
    assert not missing, f"add these endpoints to the sweep: {sorted(missing)}"
    return found


def url(path: str, draft_id="1", number="1", job_id="nope") -> str:
    return (path.replace("{draft_id}", str(draft_id)).replace("{number}", str(number)).replace("{job_id}", job_id)
            .replace("{query_id}", "1").replace("{username}", "nobody").replace("{token_id}", "1"))


def send(client, method: str, path: str, body=None, raw: bytes | None = None):
    if raw is not None:
        return client.request(method, path, content=raw, headers={"Content-Type": "application/json"})
    return client.request(method, path, json=body) if body is not None else client.request(method, path)


@pytest.mark.parametrize("bad_id", [2**63, 2**64 + 7, 10**30, 0, -1, -(2**63) - 1])
def test_ids_out_of_range_are_404_everywhere(app, client, imported, bad_id):
    checked = 0
    for method, path in routes(app):
        if "{draft_id}" not in path and "{number}" not in path:
            continue
        for target in ({"draft_id": bad_id}, {"number": bad_id}) if "{number}" in path else ({"draft_id": bad_id},):
            r = send(client, method, url(path, **target), VALID[(method, path)])
            expected = 409 if path.endswith("/finalise") and "number" in target else 404
            assert r.status_code == expected, (method, path, target, r.status_code, r.text[:200])
            checked += 1
    # A finalise naming a revision out of range is a conflict (that revision is not the latest), also a 4xx.
    r = send(client, "POST", f"/api/drafts/{imported}/finalise", {"revision": bad_id, "override_reason": "r"})
    assert r.status_code == 409
    r = send(client, "PUT", f"/api/drafts/{imported}", {"note": "x", "base_revision": bad_id})
    assert r.status_code == 409
    assert checked >= 10


def _string_paths(value, path=()):
    """Every (path, string) inside a JSON value, so each string field can be replaced in turn."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _string_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _string_paths(v, (*path, i))


def _replaced(value, path, new):
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


SURROGATE = "\udc00 and \ud83d"  # lone low and lone high surrogates


def test_lone_surrogates_are_400_naming_the_field_on_every_endpoint_with_a_body(app, client, imported):
    checked = 0
    for method, path in routes(app):
        body = VALID[(method, path)]
        if body is None:
            continue
        for field_path in _string_paths(body):
            bad = _replaced(body, field_path, SURROGATE)
            raw = json.dumps(bad).encode()  # ensure_ascii: the surrogates travel as \\udc00 escapes, as in JS
            r = send(client, method, url(path, draft_id=imported), raw=raw)
            assert r.status_code == 400, (method, path, field_path, r.status_code, r.text[:200])
            assert r.json()["error"] == "bad_text"
            assert str(field_path[-1]) in r.json()["message"], r.json()["message"]
            checked += 1
    assert checked >= 15
    # The paired form of the same escape is a real character (an emoji here) and is accepted.
    r = client.post("/api/validate", content=b'{"note": "pain \\ud83d\\ude00 ok", "codes": ["27096-LT"]}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    # An escaped backslash before "ud800" is plain text, not a surrogate.
    r = client.post("/api/validate", content=b'{"note": "C:\\\\ud800", "codes": ["27096-LT"]}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    # Nothing was stored from the refused requests.
    assert [d["id"] for d in client.get("/api/drafts").json()["drafts"]] == [imported]


def test_surrogates_and_junk_in_paths_queries_and_headers_never_500(app, client, imported):
    for method, path in routes(app):
        body = VALID[(method, path)]
        for target in (url(path, draft_id="%ED%A0%80", number="%ED%A0%80", job_id="%ED%A0%80"),
                       url(path, draft_id=imported, job_id="x") + "?format=%ED%A0%80&threshold=%ED%A0%80"):
            r = send(client, method, target, body)
            assert r.status_code < 500, (method, target, r.status_code, r.text[:200])
    r = client.post("/api/drafts/import", json=saved_file(), headers={"X-Notedraft-Author": "%ED%A0%80"})
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"attempts": [{"purpose": "compose", "model": "m", "prompt_version": 5, "latency_ms": 1, "outcome": "ok"}]},
         "attempts[0].prompt_version"),
        ({"attempts": [{"prompt_version": "v1"}]}, "attempts[0].purpose"),
        ({"attempts": ["x"]}, "attempts"),
        ({"queries": [1, 2]}, "queries"),
        ({"notes": "one"}, "notes"),
        ({"supported": "yes"}, "supported"),
        ({"model": 5}, "model"),
        ({"strategy": ["x"]}, "strategy"),
        ({"facts": [1]}, "facts"),
        ({"findings": [1]}, "findings"),
        ({"dictation": None}, "dictation"),
        ({"codes": [1]}, "codes"),
        ({"codes": ["27096-LT"] * (MAX_CODE_LINES + 1)}, "code lines"),
    ],
)
def test_malformed_imports_are_400_naming_the_field(client, change, field):
    r = client.post("/api/drafts/import", json=saved_file() | change)
    assert r.status_code == 400, r.text
    assert field in r.json()["message"]
    assert client.get("/api/drafts").json()["drafts"] == []


def test_a_non_object_import_is_400(client):
    for body in ([], "text", 5, None):
        r = client.post("/api/drafts/import", json=body)
        assert 400 <= r.status_code < 500


def test_more_than_50_code_lines_is_400_with_a_message_everywhere_codes_go(client, imported):
    codes = ["27096-LT"] * (MAX_CODE_LINES + 1)
    for method, path, body in [
        ("POST", "/api/validate", {"note": GOOD_NOTE, "codes": codes}),
        ("POST", "/api/drafts", {"dictation": DICTATION, "codes": codes}),
        ("POST", f"/api/drafts/{imported}/check", {"note": GOOD_NOTE, "codes": codes}),
        ("PUT", f"/api/drafts/{imported}", {"note": GOOD_NOTE, "base_revision": 1, "codes": codes}),
    ]:
        r = send(client, method, path, body)
        assert r.status_code == 400 and r.json()["error"] == "too_many_codes", (path, r.text[:200])
        assert f"at most {MAX_CODE_LINES}" in r.json()["message"] and str(len(codes)) in r.json()["message"]
    assert client.get(f"/api/drafts/{imported}").json()["revision"] == 1
    r = client.post("/api/validate", json={"note": GOOD_NOTE, "codes": ["27096-LT"] * MAX_CODE_LINES})
    assert r.status_code == 200  # exactly at the cap is fine


def test_a_repeated_code_line_is_an_error_finding(client):
    r = client.post("/api/validate", json={"note": GOOD_NOTE, "codes": ["27096-LT", "27096-LT"]})
    assert r.status_code == 200
    body = r.json()
    assert body["supported"] is False
    dup = [f for f in body["findings"] if f["rule"] == "claim.duplicate_line"]
    assert len(dup) == 1 and dup[0]["severity"] == "error" and "2 times" in dup[0]["message"]
    single = client.post("/api/validate", json={"note": GOOD_NOTE, "codes": ["27096-LT"]}).json()
    assert single["supported"] is True
