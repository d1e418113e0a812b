"""The editor drafts a procedure family's dictation through the same drafter (POST /api/drafts)."""

from __future__ import annotations

FACET = "B/L L4-5 L5-S1 facet inj under fluoro, 0.5 cc 0.5% bupi + 10 mg kenalog each, dx M47.816"


def test_a_facet_dictation_drafts_a_supported_family_note_in_the_editor(client):
    r = client.post("/api/drafts", json={"dictation": FACET})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["codes"] == ["64493-50", "64494-50"]
    assert "Procedure: Bilateral facet joint injection at L4-5, L5-S1" in body["note"]
    assert body["validation"]["supported"] is True
    stored = client.get(f"/api/drafts/{body['id']}").json()
    assert stored["supported"] is True and stored["grounding"] == []


def test_a_family_dictation_missing_its_levels_shows_the_placeholder_and_the_question(client):
    body = client.post("/api/drafts", json={"dictation": "B/L facet inj under fluoro, 0.5 cc 0.5% bupi each, "
                                                          "dx M47.816"}).json()
    assert "[LEVELS NEEDED]" in body["note"]
    assert body["validation"]["supported"] is False
    assert any("facet levels" in q for q in body["queries"])
