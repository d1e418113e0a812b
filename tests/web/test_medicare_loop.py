"""Defect 2: the Medicare query loop closes, and a note signed over errors says so wherever its code travels."""

from __future__ import annotations

import pytest

from notedraft.validate import validate

from .practice_support import COMPLETE, lcd_answer, new_note, practice  # noqa: F401 (practice: the fixture)
from .test_issue19_defects import MEDICARE_NO_HISTORY


def answer_all(sam, drlee, draft_id) -> dict:
    sent = sam.post(f"/api/drafts/{draft_id}/queries", json={"revision": 1}).json()["sent"]
    assert len(sent) == 8 and sum(q["kind"] == "history" for q in sent) == 7  # and the pain scores
    r = drlee.post(f"/api/drafts/{draft_id}/answers",
                   json={"answers": [{"query_id": q["id"], "text": lcd_answer(q["question"])} for q in sent]})
    assert r.status_code == 200, r.text
    return r.json()


def test_the_answers_reach_the_draft_as_history_the_reader_reads(practice):
    app, login = practice
    sam, drlee = login("sam"), login("drlee")
    draft_id = new_note(sam, MEDICARE_NO_HISTORY, payer="medicare")
    out = answer_all(sam, drlee, draft_id)
    assert out["then"] == "redrafted"
    draft = sam.get(f"/api/drafts/{draft_id}").json()
    full = draft["dictation_full"]
    history = full.index("History (physician's answers):")
    assert all(full.index(a) > history for a in draft["answers"])
    # The same reading as the dictation: the dictation with its answers documents every LCD criterion.
    report = validate(full, ["27096-LT"], "medicare", setting="office")
    assert not [f.rule for f in report.findings if "medicare.lcd" in f.rule and f.severity == "error"]
    assert [r["revision"] for r in sam.get(f"/api/drafts/{draft_id}/revisions").json()["revisions"]] == [1, 2]


def test_the_redraft_from_the_answers_is_supported(practice):
    app, login = practice
    sam, drlee = login("sam"), login("drlee")
    draft_id = new_note(sam, MEDICARE_NO_HISTORY, payer="medicare")
    answer_all(sam, drlee, draft_id)
    draft = sam.get(f"/api/drafts/{draft_id}").json()
    assert draft["supported"], [f["rule"] for f in draft["validation"]["findings"] if f["severity"] == "error"]


def blocking_of(client, draft_id):
    draft = client.get(f"/api/drafts/{draft_id}").json()
    return client.post(f"/api/drafts/{draft_id}/check", json={"note": draft["note"], "codes": draft["codes"]}).json()[
        "blocking"]


def test_one_reason_pasted_for_every_error_is_refused_unless_confirmed(practice):
    app, login = practice
    sam, drlee = login("sam"), login("drlee")
    draft_id = new_note(sam, MEDICARE_NO_HISTORY, payer="medicare")
    blocking = blocking_of(sam, draft_id)
    assert len(blocking) >= 7
    same = [{"key": b["key"], "reason": "Documented in the referral letter"} for b in blocking]
    r = drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True, "overrides": same})
    assert r.status_code == 422 and "same reason" in r.json()["message"], r.text
    short = [{"key": b["key"], "reason": f"ok {i}"} for i, b in enumerate(blocking)]
    r = drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True, "overrides": short})
    assert r.status_code == 422 and len(r.json()["blocking"]) == len(blocking)
    r = drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True, "overrides": same,
                                                         "same_reason_for_all": True})
    assert r.status_code == 200, r.text
    assert all(o["applies_to_all"] for o in r.json()["signed"]["overrides"])


def test_a_line_signed_over_errors_is_never_presented_as_supported(practice):
    app, login = practice
    sam, drlee, cody = login("sam"), login("drlee"), login("cody")
    draft_id = new_note(sam, MEDICARE_NO_HISTORY, payer="medicare")
    blocking = blocking_of(sam, draft_id)
    reasons = [{"key": b["key"], "reason": f"Criterion {i} is documented in the referral letter"}
               for i, b in enumerate(blocking)]
    assert drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True,
                                                             "overrides": reasons}).status_code == 200
    text = cody.get(f"/api/drafts/{draft_id}/export?format=text").text
    line = next(ln for ln in text.splitlines() if "Documentation:" in ln)
    assert "NOT SUPPORTED" in line and "overridden" in line
    bundle = cody.get(f"/api/drafts/{draft_id}/export?format=fhir").json()
    from notedraft.exports import DOCUMENTATION_EXTENSION, validate_fhir

    validate_fhir(bundle)
    [proc] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Procedure"]
    [ext] = [x for x in proc["extension"] if x["url"] == DOCUMENTATION_EXTENSION]
    assert {"url": "verdict", "valueCode": "not-supported"} in ext["extension"]
    assert "overridden" in proc["note"][0]["text"]
    page = cody.get(f"/drafts/{draft_id}").text
    assert "Signed with overridden documentation errors" in page
    [row] = cody.get("/api/worklist").json()["notes"]
    assert row["claim"]["lines"][0]["verdict"] == "not_supported"
    csv_text = cody.get("/api/worklist/claims.csv").text
    assert "NOT SUPPORTED" in csv_text.splitlines()[1]


def test_a_supported_signed_note_exports_as_supported(practice):
    app, login = practice
    sam, drlee, cody = login("sam"), login("drlee"), login("cody")
    draft_id = new_note(sam, COMPLETE)
    assert drlee.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True}).status_code == 200
    bundle = cody.get(f"/api/drafts/{draft_id}/export?format=fhir").json()
    [proc] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Procedure"]
    assert {"url": "verdict", "valueCode": "supported"} in proc["extension"][0]["extension"] and "note" not in proc
