"""Shared pieces of the practice tests: people, an app per backend, a client per person, drafting helpers."""

from __future__ import annotations

from datetime import date

import pytest

from notedraft.web.accounts import add_user
from notedraft.web.app import create_app

from .helpers import csrf_client

PASSWORD = "correct-horse-battery-staple"
PEOPLE = (("admin", "Practice Admin", "admin"), ("drlee", "Dr. Ana Lee", "physician"),
          ("drkim", "Dr. Min Kim", "physician"), ("sam", "Sam Rivera", "scribe"), ("alex", "Alex Chen", "scribe"),
          ("cody", "Cody Park", "coder"))
TODAY = date.today().isoformat()
NO_GUIDANCE = "L SIJ inj, diagnostic and therapeutic, dx M46.1 sacroiliitis, 40 mg kenalog + 2 mL 0.25% bupivacaine"
COMPLETE = NO_GUIDANCE + ", fluoro, contrast confirmed intra-articular spread"
ENCOUNTER = {"mrn": "MRN-00123", "date_of_service": TODAY, "physician": "drlee", "place_of_service": "office",
             "payer": "commercial"}
# The seven Medicare SI LCD criteria and the pain scores before and after, answered with the full history (one answer per question, as dictated).
LCD_ANSWERS = {
    "How long": "Six-month history of left buttock pain.",
    "Where exactly": "The pain is over the left SI joint and buttock, below L5.",
    "How severe": "The pain is severe, 8/10.",
    "radiate": "No radiculopathy; the pain does not radiate down the leg.",
    "other causes": "Lumbar MRI showed no stenosis, disc herniation, fracture, tumor or infection; other causes "
                    "were excluded.",
    "provocative": "FABER, Gaenslen and thigh thrust tests were positive.",
    "conservative": "Six weeks of physical therapy and NSAIDs failed; the pain persisted despite conservative care.",
    "before and after": "Pain was NRS 7/10 before and 2/10 after the injection.",
}


def lcd_answer(question: str) -> str:
    return next(a for k, a in LCD_ANSWERS.items() if k.lower() in question.lower())


@pytest.fixture
def practice(db_target):
    """(app, login): the editor on each backend with the PEOPLE; login(name) -> that person's client."""
    app = create_app(db_target)
    store = app.state.store
    for name, full, role in PEOPLE:
        add_user(store, username=name, display_name=full, role=role, password=PASSWORD)
    clients = []

    def login(name: str, **kwargs):
        c = csrf_client(app, **kwargs)
        clients.append(c)
        r = c.post("/api/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return c

    yield app, login
    for c in clients:
        c.close()
    store.close()


def new_note(client, dictation=NO_GUIDANCE, codes=("27096-LT",), **encounter):
    r = client.post("/api/drafts", json={"dictation": dictation, "codes": list(codes),
                                         "encounter": {**ENCOUNTER, **encounter}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def count(store, table: str) -> int:
    with store._tx() as db:
        return db.one(f"SELECT COUNT(*) AS n FROM {table}")["n"]
