"""A scripted OpenAI-compatible HTTP server, so tests exercise the real `openai` client over real HTTP.

    with FakeOpenAI() as server:                       # or the `fake_openai` pytest fixture
        server.script("plain text", http_error(429, headers={"Retry-After": "1"}), json_reply({"side": "left"}))
        ... LLMClient(server.llm_config()).complete(...) ...
        assert len(server.requests) == 3               # every request body, parsed

A script item is one of: a str (assistant content), a dict of `Reply` fields, a `Reply` (see the helpers below:
text, json_reply, refusal, truncated, http_error, hang, drop, and the faults: trickle, malformed_json,
truncated_json, html_body, wrong_content_type, empty_body, oversize, missing_fields), or a callable(request_json)
returning any of those. An empty script answers 500 with a message saying so, so an under-scripted test fails loudly.

Concurrent tests give each draft its own script: `server.script_for("draft-17", ...)` is used for requests that
carry the header `X-Fake-Script: draft-17` (set it with `LLMConfig(headers=...)`); other requests use the shared
script.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest

FAKE_MODEL = "fake-model"


@dataclass
class Reply:
    content: str | None = None
    finish_reason: str = "stop"
    usage: dict | None = None  # default: word counts of the prompt and the reply
    refusal: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # error body (JSON-able or str); default is an OpenAI-shaped error
    hang: float = 0.0  # stall this long, then close the connection without answering
    drop: bool = False  # close the connection without answering
    delay_ms: float = 0.0  # added latency before answering
    # Faults in a 200 answer. `raw` replaces the whole body (bytes sent as they are); `content_type` overrides
    # application/json; `trickle` sends the body one byte per that many seconds; `cut_at` sends only the first
    # cut_at bytes, with a Content-Length saying so (a body cut in half that is framed correctly);
    # `declare_length=False` sends no Content-Length and closes the connection to end the body.
    raw: bytes | None = None
    content_type: str = "application/json"
    trickle: float = 0.0
    cut_at: int | None = None
    declare_length: bool = True
    omit: tuple[str, ...] = ()  # completion fields left out ("choices", "usage", ...)


def text(content: str, *, finish_reason: str = "stop", usage: dict | None = None, delay_ms: float = 0) -> Reply:
    return Reply(content=content, finish_reason=finish_reason, usage=usage, delay_ms=delay_ms)


def json_reply(obj: Any, **kw: Any) -> Reply:
    return text(json.dumps(obj), **kw)


def refusal(message: str = "I'm sorry, I can't help with that.") -> Reply:
    """A refusal the way OpenAI reports it: `message.refusal` set, no content."""
    return Reply(refusal=message)


def truncated(content: str = '{"side": "le') -> Reply:
    return Reply(content=content, finish_reason="length")


def http_error(status: int, *, headers: dict[str, str] | None = None, body: Any = None) -> Reply:
    return Reply(status=status, headers=dict(headers or {}), body=body)


def hang(seconds: float) -> Reply:
    return Reply(hang=seconds)


def drop() -> Reply:
    return Reply(drop=True)


# --- faults a real server or a proxy in front of it produces ----------------------------------------------------


def trickle(content: str = "Procedure: left SI joint injection.", *, every: float = 0.5) -> Reply:
    """A well-formed completion sent one byte every `every` seconds: each read is quick, the whole body is not."""
    return Reply(content=content, trickle=every)


def malformed_json() -> Reply:
    return Reply(raw=b'{"id": "chatcmpl-x", "object": "chat.completion", "choices": [{"index": 0, "message": {role: }}')


def truncated_json(content: str = "Procedure: left SI joint injection.") -> Reply:
    """A completion cut in half, with a Content-Length that matches the half: the HTTP framing is fine."""
    return Reply(content=content, cut_at=-1)  # -1: half of whatever the completion serialises to


def html_body(status: int = 200) -> Reply:
    """What a misconfigured proxy or a captive portal answers."""
    page = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
    return Reply(raw=page, content_type="text/html; charset=utf-8", status=status)


def wrong_content_type() -> Reply:
    return Reply(raw=b"upstream connect error or disconnect/reset before headers", content_type="text/plain")


def empty_body() -> Reply:
    return Reply(raw=b"")


def oversize(size: int = 2_000_000, *, declare_length: bool = True) -> Reply:
    """A completion whose content is `size` characters (a runaway model, or a server ignoring max_tokens)."""
    line = "Medications injected: triamcinolone 40 mg.\n"
    return Reply(content=(line * (size // len(line) + 1))[:size], declare_length=declare_length)


def missing_fields(*fields: str) -> Reply:
    """A JSON completion without some of its fields (default: no choices at all)."""
    return Reply(content="Procedure: left SI joint injection.", omit=fields or ("choices",))


ScriptItem = str | dict | Reply | Callable[[dict], Any]


def _coerce(item: Any) -> Reply:
    if isinstance(item, Reply):
        return item
    if isinstance(item, str):
        return text(item)
    if isinstance(item, dict):
        return Reply(**item)
    raise TypeError(f"fake_openai: cannot use {item!r} as a scripted reply")


class FakeOpenAI:
    """The server. `delay_ms` is added to every reply (the eval speed test uses 500)."""

    def __init__(self, *, delay_ms: float = 0):
        self.delay_ms = delay_ms
        self.requests: list[dict] = []  # chat-completion request bodies, in arrival order
        self.request_headers: list[dict[str, str]] = []
        self.request_times: list[float] = []  # time.monotonic() at arrival
        self._script: deque[ScriptItem] = deque()
        self._scripts: dict[str, deque[ScriptItem]] = {}  # keyed by the X-Fake-Script request header
        self.unscripted = 0  # requests that found their script empty (answered 500)
        self._lock = threading.Lock()
        self._stop = threading.Event()  # wakes hanging/delayed handlers at shutdown
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- test-facing API ----------------------------------------------------------------------------------------
    def script(self, *replies: ScriptItem) -> FakeOpenAI:
        with self._lock:
            self._script.extend(replies)
        return self

    def script_for(self, key: str, *replies: ScriptItem, replace: bool = False) -> FakeOpenAI:
        """Replies for requests carrying `X-Fake-Script: key` only, so concurrent drafts cannot take each other's.

        replace=True drops what is left of that key's script first (a draft that ended early leaves replies behind).
        """
        with self._lock:
            queue = self._scripts.setdefault(key, deque())
            if replace:
                queue.clear()
            queue.extend(replies)
        return self

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def llm_config(self, **overrides: Any):
        """An LLMConfig pointed at this server, with test-friendly timeouts and backoff."""
        from notedraft.llm import LLMConfig

        settings = dict(
            base_url=self.base_url, api_key="test-key", model=FAKE_MODEL, timeout=5,
            max_transport_retries=2, backoff_initial=0.01, backoff_max=0.05,
        )
        settings.update(overrides)
        return LLMConfig(**settings)

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- used by the handler ------------------------------------------------------------------------------------
    def _next_reply(self, body: dict, headers: dict[str, str]) -> tuple[int, Reply | None]:
        with self._lock:
            self.requests.append(body)
            self.request_headers.append(headers)
            self.request_times.append(time.monotonic())
            number = len(self.requests)
            key = headers.get("x-fake-script")
            queue = self._scripts.get(key, deque()) if key is not None else self._script
            item = queue.popleft() if queue else None
            self.unscripted += item is None
        if item is None:
            return number, None
        return number, _coerce(item(body) if callable(item) else item)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that cuts a call at its deadline resets the connection; that is the point of a fault test, not
        # a server error worth a traceback in the log. Anything else still prints one.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API; every answer carries Content-Length
    # Headers and body go out in separate writes; with Nagle on, the body waits ~40 ms for the client's delayed ACK,
    # which made every scripted call cost 40 ms and the fault suite's 1,000 drafts crawl.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read server.requests instead
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            model = {"id": FAKE_MODEL, "object": "model", "created": 0, "owned_by": "fake_openai"}
            self._send(200, {"object": "list", "data": [model]})
        else:
            self._send(404, _error(f"fake_openai: no GET {self.path}", "not_found"))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, _error(f"fake_openai: no POST {self.path}", "not_found"))
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(400, _error("fake_openai: request body is not JSON", "invalid_request_error"))
            return
        number, reply = self.fake._next_reply(body, {k.lower(): v for k, v in self.headers.items()})
        if reply is None:
            message = f"fake_openai: request #{number} arrived but the script is empty (the test under-scripted)"
            self._send(500, _error(message, "fake_openai_unscripted"))
            return
        delay = (self.fake.delay_ms + reply.delay_ms) / 1000
        if delay and self.fake._stop.wait(delay):
            return
        if reply.hang or reply.drop:
            self.fake._stop.wait(reply.hang)
            self.close_connection = True  # answer nothing: the client sees a timeout or a dropped connection
            return
        if reply.status != 200:
            error_body = reply.body if reply.body is not None else _error(f"fake HTTP {reply.status}", "fake_error")
            if reply.raw is not None:
                error_body = reply.raw
            self._send(reply.status, error_body, reply.headers, content_type=reply.content_type)
            return
        if reply.raw is not None:
            payload: Any = reply.raw
        else:
            completion = _completion(number, body, reply)
            for name in reply.omit:
                completion.pop(name, None)
            payload = json.dumps(completion).encode()
        if reply.cut_at is not None:
            payload = payload[: len(payload) // 2 if reply.cut_at < 0 else reply.cut_at]
        self._send(200, payload, reply.headers, content_type=reply.content_type, trickle=reply.trickle,
                   declare_length=reply.declare_length)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None, *,
              content_type: str = "application/json", trickle: float = 0.0, declare_length: bool = True) -> None:
        if isinstance(payload, bytes):
            data = payload
        else:
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if declare_length:
                self.send_header("Content-Length", str(len(data)))
            else:
                self.send_header("Connection", "close")  # the body ends when the connection does
                self.close_connection = True
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if trickle:
                for i in range(len(data)):
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    if self.fake._stop.wait(trickle):
                        break
                self.close_connection = True  # a trickled body may have been abandoned half-way
            else:
                # In slices, so a huge body the client stops reading fails fast instead of filling memory twice.
                for i in range(0, len(data), 65536):
                    self.wfile.write(data[i : i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout); nothing to do


def _error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _words(value: Any) -> int:
    return len(value.split()) if isinstance(value, str) else 0


def _completion(number: int, request: dict, reply: Reply) -> dict:
    prompt_tokens = sum(_words(m.get("content")) for m in request.get("messages", []) if isinstance(m, dict))
    completion_tokens = _words(reply.content) + _words(reply.refusal)
    usage = reply.usage or {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    message = {"role": "assistant", "content": reply.content, "refusal": reply.refusal}
    return {
        "id": f"chatcmpl-fake-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", FAKE_MODEL),
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}],
        "usage": usage,
    }


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started FakeOpenAI for one test; script it, point an LLMConfig at `server.base_url`."""
    with FakeOpenAI() as server:
        yield server
