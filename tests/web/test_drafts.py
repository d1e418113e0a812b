"""POST /api/drafts through the real drafting stack (template strategy: offline, deterministic)."""

from __future__ import annotations

import json

import pytest

from notedraft.drafting import draft
from notedraft.validate import validate
from notedraft.web import savefile

from .helpers import DICTATION

FULL = ("L SIJ inj, diagnostic and therapeutic, fluoro, contrast confirmed intra-articular spread, image saved, "
        "40 mg kenalog + 2cc 0.25% bupi, dx M46.1, no complications")


def test_create_returns_id_revision_and_the_draft_json(client):
    r = client.post("/api/drafts", json={"dictation": FULL, "codes": ["27096-LT"], "strategy": "template",
                                         "author": "dana"})
    assert r.status_code == 201, r.text
    body = r.json()
    expected = json.loads(json.dumps(draft(FULL, ["27096-LT"]).as_json()))
    assert body["id"] == 1 and body["revision"] == 1 and body["url"] == "/drafts/1"
    assert {k: body[k] for k in expected} == expected
    assert body["validation"] == json.loads(json.dumps(validate(body["note"], body["codes"]).as_json()))

    stored = client.get("/api/drafts/1").json()
    assert stored["dictation"] == FULL and stored["strategy"] == "template" and stored["created_by"] == "dana"
    assert stored["note"] == body["note"] and stored["codes"] == ["27096-LT"] and stored["supported"] is True
    assert stored["attempts"] == [] and stored["model"] is None and stored["prompt_version"] is None
    assert stored["generated"] == expected and stored["grounding"] == []


def test_codes_can_be_left_to_the_drafter(client):
    r = client.post("/api/drafts", json={"dictation": FULL})
    assert r.status_code == 201
    assert r.json()["codes"] == draft(FULL).codes


@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        ({"dictation": "   "}, "empty_dictation", "empty"),
        ({"dictation": DICTATION, "codes": ["99999"]}, "bad_code", "99999"),
        ({"dictation": DICTATION, "codes": ["27096-ZZ"]}, "bad_code", "ZZ"),
        ({"dictation": DICTATION, "strategy": "magic"}, "bad_strategy", "template"),
    ],
)
def test_bad_draft_requests_are_400_with_a_reason(client, body, error, words):
    r = client.post("/api/drafts", json=body)
    assert r.status_code == 400
    assert r.json()["error"] == error and words in r.json()["message"]
    assert client.get("/api/drafts").json()["drafts"] == []


def test_an_llm_strategy_without_an_llm_says_how_to_configure_one(client, monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    r = client.post("/api/drafts", json={"dictation": DICTATION, "strategy": "llm-compose"})
    assert r.status_code == 400 and r.json()["error"] == "no_llm"
    assert "OPENAI_BASE_URL" in r.json()["message"]


def test_a_saved_draft_file_opens_in_the_editor(client, tmp_path):
    made = draft(FULL, ["27096-LT"])
    path = savefile.write(made, tmp_path / "d.json")
    r = client.post("/api/drafts/import", json=json.loads(path.read_text()))
    assert r.status_code == 201
    opened = client.get(r.json()["url"].replace("/drafts/", "/api/drafts/")).json()
    assert opened["note"] == made.note and opened["dictation"] == FULL and opened["codes"] == made.codes
    assert opened["source"] == "import" and opened["queries"] == made.queries
    assert client.get(r.json()["url"]).status_code == 200


def test_edits_that_state_undictated_facts_are_flagged_beside_the_verdict(client):
    made = client.post("/api/drafts", json={"dictation": FULL, "codes": ["27096-LT"]}).json()
    invented = made["note"].replace("40 mg", "80 mg")
    r = client.post("/api/drafts/1/check", json={"note": invented, "codes": ["27096-LT"]})
    assert r.status_code == 200
    assert r.json()["validation"] == json.loads(json.dumps(validate(invented, ["27096-LT"]).as_json()))
    assert any("80" in f["message"] for f in r.json()["grounding"])
    saved = client.put("/api/drafts/1", json={"note": invented, "base_revision": 1}).json()
    assert saved["grounding"] == r.json()["grounding"]
