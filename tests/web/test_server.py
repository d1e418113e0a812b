"""`serve()` for real: uvicorn on a free port in a subprocess; what it refuses; what its logs never contain."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import httpx

from notedraft.web.app import create_app
from notedraft.web.server import serve

from .helpers import GOOD_NOTE, csrf_client, free_port, saved_file

MARKER = "ZQXJ-PATIENT-SECRET"


def start_server(db, port: int, env_extra: dict | None = None, log=subprocess.PIPE) -> subprocess.Popen:
    """`log`: where the server's stdout/stderr go. A PIPE nobody reads fills up after some 64 KB of access log
    and then blocks the server, so long runs pass a file (or DEVNULL)."""
    code = f"import sys; from notedraft.web.server import serve; sys.exit(serve('127.0.0.1', {port}, {str(db)!r}))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), **(env_extra or {})}
    env.pop("NOTEDRAFT_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log, stderr=log, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/csrf", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start within 30 s")


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def test_server_logs_paths_but_never_note_text_or_dictation(tmp_path):
    port = free_port()
    proc = start_server(tmp_path / "e.db", port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            c.headers["X-CSRF-Token"] = c.get("/api/csrf").json()["csrf"]
            note = GOOD_NOTE + f" {MARKER}"
            assert c.post("/api/validate", json={"note": note, "codes": ["27096-LT"]}).status_code == 200
            assert c.post("/api/validate", json={"note": note, "codes": [f"{MARKER}"]}).status_code == 400
            assert c.post("/api/validate", content=f'{{"note": "{MARKER}"'.encode(),
                          headers={"Content-Type": "application/json"}).status_code == 400
            assert c.post("/api/validate", json={"note": MARKER, "codes": MARKER}).status_code == 422
            draft = c.post("/api/drafts", json={"dictation": f"L SIJ inj, fluoro, {MARKER}", "codes": ["27096-LT"]})
            assert draft.status_code == 201, draft.text
            r = c.put(f"/api/drafts/{draft.json()['id']}", json={"note": note, "base_revision": 1})
            assert r.status_code == 200
            r = c.put(f"/api/drafts/{draft.json()['id']}", json={"note": note, "base_revision": 1})
            assert r.status_code == 409
            imported = c.post("/api/drafts/import", json=saved_file(note=note, dictation=MARKER))
            assert imported.status_code == 201
            assert MARKER in c.get(f"/drafts/{imported.json()['id']}").text
    finally:
        log = stop(proc)
    assert "notedraft editor: http://127.0.0.1:" in log
    assert '"POST /api/validate HTTP/1.1" 200' in log and '"PUT /api/drafts/1 HTTP/1.1" 409' in log
    assert MARKER not in log


def test_internal_errors_are_logged_without_their_message(db_path, caplog):
    def exploding_validator(note, codes, payer=None):
        raise RuntimeError(f"could not read {note}")

    app = create_app(db_path, validator=exploding_validator)
    with caplog.at_level(logging.DEBUG), csrf_client(app) as c:
        r = c.post("/api/validate", json={"note": MARKER, "codes": []})
        assert r.status_code == 500
        assert r.json()["error"] == "internal" and MARKER not in r.text
    assert "unhandled RuntimeError" in caplog.text
    assert MARKER not in caplog.text


def test_serve_refuses_a_public_bind_without_a_token(capsys, monkeypatch):
    monkeypatch.delenv("NOTEDRAFT_TOKEN", raising=False)
    assert serve("0.0.0.0", free_port(), "unused.db") == 2
    assert "or a token" in capsys.readouterr().err
    assert serve("0.0.0.0", free_port(), "unused.db", token="short") == 2
    assert "too short" in capsys.readouterr().err


def test_serve_reports_a_port_in_use(tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert serve("127.0.0.1", port, tmp_path / "e.db") != 0
    assert "address already in use" in capsys.readouterr().err
