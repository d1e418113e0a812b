"""Shared helpers for the editor tests."""

from __future__ import annotations

import socket
import threading
import time
from fastapi.testclient import TestClient


# A complete left SI-joint injection note: supports 27096-LT with no finding.
GOOD_NOTE = (
    "PROCEDURE: Left sacroiliac joint injection under fluoroscopic guidance.\n"
    "DIAGNOSIS: Sacroiliitis (M46.1).\n"
    "PURPOSE: This was a diagnostic and therapeutic injection.\n"
    "DESCRIPTION: After informed consent, the patient was placed prone. The left sacroiliac joint was identified "
    "under fluoroscopic guidance. A 22-gauge spinal needle was advanced into the inferior aspect of the left "
    "sacroiliac joint. Intra-articular needle placement was confirmed with 1 mL of Omnipaque contrast, and a "
    "fluoroscopic image was saved. 40 mg Kenalog and 2 mL of 0.25% bupivacaine were injected. "
    "There were no complications."
)
DICTATION = "L SIJ inj, fluoro, 40 kenalog + 2cc 0.25 bupi, dx M46.1"


def csrf_client(app, **kwargs) -> TestClient:
    """A TestClient that talks to the app as the page does: loopback Host, CSRF cookie + header."""
    client = TestClient(app, base_url="http://127.0.0.1", **kwargs)
    client.headers["X-CSRF-Token"] = client.get("/api/csrf").json()["csrf"]
    return client


def saved_file(note: str = GOOD_NOTE, codes=("27096-LT",), dictation: str = DICTATION) -> dict:
    return {"format": "notedraft.draft", "version": 1, "dictation": dictation, "note": note, "codes": list(codes),
            "strategy": "template"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_in_thread(app):
    """The app under a real uvicorn on a free port, in a daemon thread; returns (server, thread, base URL).
    Stop it with `server.should_exit = True; thread.join()`."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20  # a start-up wait, not a timing assertion
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"
