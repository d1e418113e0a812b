"""Two editor processes on one database (the deployment for more than one machine): sessions, saves and signatures
are shared through the database, and of two saves from the same revision exactly one lands, whichever process
takes it; the other gets 409 with the text that won, and its own text is still the client's to keep."""

from __future__ import annotations

import threading

import httpx
import pytest

from notedraft.web.accounts import add_user
from notedraft.web.store import Store

from .helpers import free_port
from .test_server import start_server, stop

PASSWORD = "correct-horse-battery-staple"
DICTATION = ("L SIJ inj, diagnostic and therapeutic, fluoro, contrast confirmed intra-articular spread, "
             "40 mg kenalog + 2 mL 0.25% bupi, dx M46.1")
ENCOUNTER = {"mrn": "MRN-2P", "date_of_service": "2026-11-28", "physician": "drlee",
             "place_of_service": "office", "payer": "none"}


def _login(base: str, username: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=60)
    c.headers["X-CSRF-Token"] = c.get("/api/csrf").json()["csrf"]
    r = c.post("/api/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c


@pytest.fixture
def two_servers(db_target, tmp_path):
    store = Store(db_target)
    add_user(store, username="drlee", display_name="Dr. Ana Lee", role="physician", password=PASSWORD)
    for name in ("sam", "alex"):
        add_user(store, username=name, display_name=name.title(), role="scribe", password=PASSWORD)
    store.close()
    ports = [free_port(), free_port()]
    procs = [start_server(db_target, port, log=open(tmp_path / f"server-{port}.log", "w")) for port in ports]
    try:
        yield [f"http://127.0.0.1:{p}" for p in ports]
    finally:
        for proc in procs:
            stop(proc)


def test_a_stale_save_from_either_process_is_a_409_and_nothing_is_lost(two_servers):
    a_base, b_base = two_servers
    # Both may edit: sam drafted it (assigned), drlee is the encounter's physician; an unassigned scribe may not.
    sam, alex = _login(a_base, "sam"), _login(b_base, "drlee")
    # A session made by one process is good on the other: they share the database, not memory.
    sam_on_b = httpx.Client(base_url=b_base, timeout=60, cookies=sam.cookies, headers=sam.headers)
    assert sam_on_b.get("/api/me").json()["user"]["username"] == "sam"

    r = sam.post("/api/drafts", json={"dictation": DICTATION, "codes": ["27096-LT"], "encounter": ENCOUNTER})
    assert r.status_code == 201, r.text
    draft_id = r.json()["id"]
    rounds, landed = 12, []
    for i in range(rounds):
        base = alex.get(f"/api/drafts/{draft_id}").json()["revision"]
        texts = {"sam": f"round {i}: sam's words", "alex": f"round {i}: alex's words"}
        results: dict[str, httpx.Response] = {}
        barrier = threading.Barrier(2)

        def save(who: str, client: httpx.Client) -> None:
            barrier.wait()
            results[who] = client.put(f"/api/drafts/{draft_id}", json={"note": texts[who], "base_revision": base})

        threads = [threading.Thread(target=save, args=(w, c)) for w, c in (("sam", sam), ("alex", alex))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in results.values())
        assert codes == [200, 409], {w: (r.status_code, r.text[:200]) for w, r in results.items()}
        winner = next(w for w, r in results.items() if r.status_code == 200)
        loser = next(w for w, r in results.items() if r.status_code == 409)
        # The loser is told what won (so the page can show both texts); the loser's own text is still in hand.
        assert results[loser].json()["current"]["note"] == texts[winner]
        landed.append(texts[winner])

    revisions = sam_on_b.get(f"/api/drafts/{draft_id}/revisions").json()["revisions"]
    assert [r["note"] for r in revisions[1:]] == landed  # every landed save, in order, none overwritten
    assert [r["revision"] for r in revisions] == list(range(1, rounds + 2))


def test_a_signature_on_one_process_locks_the_note_on_the_other(two_servers):
    a_base, b_base = two_servers
    sam, doctor = _login(a_base, "sam"), _login(b_base, "drlee")
    draft_id = sam.post("/api/drafts", json={"dictation": DICTATION, "codes": ["27096-LT"],
                                             "encounter": ENCOUNTER}).json()["id"]
    note = sam.get(f"/api/drafts/{draft_id}").json()["note"]
    r = doctor.post(f"/api/drafts/{draft_id}/sign", json={"revision": 1, "attest": True})
    assert r.status_code == 200, r.text
    r = sam.put(f"/api/drafts/{draft_id}", json={"note": "too late", "base_revision": 1})
    assert r.status_code == 409 and r.json()["current"]["note"] == note


NOTE = ("PROCEDURE: Left sacroiliac joint injection under fluoroscopic guidance. Intra-articular needle placement was "
        "confirmed with contrast. 40 mg Kenalog and 2 mL of 0.25% bupivacaine were injected. Diagnosis: sacroiliitis "
        "(M46.1). Diagnostic and therapeutic injection.")


@pytest.fixture
def llm_servers(db_target, tmp_path):
    """Two editor processes on one database, both pointed at one scripted OpenAI-compatible server."""
    from tests.support.fake_openai import FakeOpenAI

    store = Store(db_target)
    add_user(store, username="drlee", display_name="Dr. Ana Lee", role="physician", password=PASSWORD)
    add_user(store, username="sam", display_name="Sam", role="scribe", password=PASSWORD)
    store.close()
    with FakeOpenAI() as fake:
        env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test-key"}
        ports = [free_port(), free_port()]
        procs = [start_server(db_target, p, env_extra=env, log=open(tmp_path / f"server-{p}.log", "w")) for p in ports]
        try:
            yield fake, [f"http://127.0.0.1:{p}" for p in ports]
        finally:
            for proc in procs:
                stop(proc)


def _poll(client: httpx.Client, url: str, until: set[str], limit: float = 120) -> dict:
    import time

    deadline = time.monotonic() + limit  # a bound on waiting, not a timing assertion
    while (status := client.get(url).json())["state"] not in until:
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    return status


def test_an_llm_draft_started_on_one_process_is_followed_and_cancelled_from_the_other(llm_servers):
    from tests.support.fake_openai import text

    fake, (a_base, b_base) = llm_servers
    fake.script(*[text(NOTE, delay_ms=1500)] * 12)
    sam_a = _login(a_base, "sam")
    sam_b = httpx.Client(base_url=b_base, timeout=60, cookies=sam_a.cookies, headers=sam_a.headers)
    body = {"dictation": DICTATION, "codes": ["27096-LT"], "strategy": "llm-compose", "encounter": ENCOUNTER}

    r = sam_a.post("/api/drafts", json=body)
    assert r.status_code == 202, r.text
    done = _poll(sam_b, r.json()["status_url"], {"done", "failed", "cancelled"})  # every poll on the other process
    assert done["state"] == "done", done
    assert sam_b.get(done["url"].replace("/drafts/", "/api/drafts/")).json()["strategy"] == "llm-compose"

    drafts_before = len(sam_b.get("/api/drafts").json()["drafts"])
    r = sam_a.post("/api/drafts", json=body)
    job_url = r.json()["status_url"]
    asked = sam_b.post(job_url + "/cancel").json()  # asked of the process not running it
    assert asked["cancel_requested"] is True
    ended = _poll(sam_a, job_url, {"done", "failed", "cancelled"})
    assert ended["state"] == "cancelled", ended
    assert _poll(sam_b, job_url, {"cancelled"})["state"] == "cancelled"
    assert len(sam_b.get("/api/drafts").json()["drafts"]) == drafts_before  # nothing was saved
    assert sam_b.get("/api/jobs/no-such-job").status_code == 404
