"""The one door to an LLM: the openai SDK for the protocol, tenacity for transport retries, one Attempt per call.

Nothing else in notedraft imports `openai`; the drafting module imports this module lazily, so `notedraft validate`
never pays for the SDK. The validation re-ask loop is deliberately NOT here: this module only answers "what did the
model say, and did it say it in the shape we asked for". Dictation and note text are never logged.

Every call is bounded: one deadline (`LLMConfig.timeout`) covers connecting, waiting for the first byte, reading the
whole body and every transport retry, so a server that trickles a byte at a time or asks to be retried in an hour
cannot stretch it; the body is read by us, capped in bytes, and the content capped in characters per max_tokens.
Whatever comes back — HTML, half a JSON, nothing, too much — becomes an Attempt with an outcome, never an exception
the caller did not ask for: `complete` returns an LLMResult or raises LLMError, and nothing else.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import random
import re
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import openai
import tenacity
from pydantic import BaseModel, Field, ValidationError

from .models import Attempt

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"
# Local OpenAI-compatible servers (llama.cpp, vLLM, Ollama) ignore the key, but the SDK insists on one.
LOCAL_API_KEY = "not-needed"
# Error text goes into the audit trail; bodies of 4xx answers can echo the request, so keep only the head.
MAX_ERROR_CHARS = 300
# What an Attempt keeps of a reply it rejected (oversize, malformed): enough to see what went wrong, not 50 MB.
MAX_RAW_CHARS = 2000
# A reply's content may not exceed max_tokens × this many characters: English runs ~4 characters a token, so a longer
# reply means the server ignored max_tokens; a cap in characters also bounds what a repair prompt can carry back.
MAX_CHARS_PER_TOKEN = 8
CACHE_FORMAT = "notedraft-llm-cache-v1"

Purpose = Literal["extract", "compose", "repair"]
Outcome = Literal["ok", "invalid", "refused", "truncated", "error", "malformed", "oversize", "timeout"]


class LLMConfig(BaseModel):
    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)  # configs get printed; keys must not
    model: str = DEFAULT_MODEL
    # Seconds for the whole call: connect, first byte, whole body and every transport retry.
    timeout: float = Field(default=60, gt=0)
    max_transport_retries: int = 4
    temperature: float = 0
    max_tokens: int = 1024
    # The body is read by notedraft and abandoned past this size (a completion of max_tokens is a few KB).
    max_reply_bytes: int = Field(default=256_000, gt=0)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)  # extra HTTP headers, e.g. for a gateway
    # Backoff between transport retries (seconds): exponential from backoff_initial, plus up to that much jitter.
    backoff_initial: float = 0.5
    backoff_max: float = 8.0

    @classmethod
    def from_env(
        cls, model: str | None = None, base_url: str | None = None, api_key: str | None = None
    ) -> LLMConfig | None:
        """The configuration from OPENAI_API_KEY / OPENAI_BASE_URL / NOTEDRAFT_MODEL; explicit arguments win.

        None means offline: neither a key nor a base URL, so callers use the deterministic path.
        """
        api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        if not api_key and not base_url:
            return None
        return cls(
            base_url=base_url,
            api_key=api_key or LOCAL_API_KEY,
            model=model or os.environ.get("NOTEDRAFT_MODEL") or DEFAULT_MODEL,
        )


class LLMError(Exception):
    """The call never produced a model reply (transport exhausted, deadline reached, or a non-retryable HTTP error)."""

    def __init__(self, message: str, attempt: Attempt):
        super().__init__(message)
        self.attempt = attempt


@dataclass(frozen=True)
class LLMResult:
    text: str
    parsed: BaseModel | None
    attempt: Attempt

    @property
    def ok(self) -> bool:
        return self.attempt.outcome == "ok"


@dataclass(frozen=True)
class _Reply:
    """What we keep of a completion: enough to judge it again, so cached replies are re-validated, not trusted."""

    content: str | None
    refusal: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None

    @classmethod
    def from_payload(cls, payload: Any) -> _Reply:
        """Read a chat completion defensively: any server can send any JSON; missing pieces raise _BadReply."""
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise _BadReply("malformed", "the JSON reply has no choices (missing fields)")
        choice = choices[0]
        message = choice.get("message")
        if not isinstance(message, dict):
            raise _BadReply("malformed", "the JSON reply has no choices[0].message (missing fields)")
        usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}

        def string(value: Any) -> str | None:
            return value if isinstance(value, str) else None

        def count(value: Any) -> int | None:
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        return cls(
            content=string(message.get("content")),
            refusal=string(message.get("refusal")),
            finish_reason=string(choice.get("finish_reason")),
            prompt_tokens=count(usage.get("prompt_tokens")),
            completion_tokens=count(usage.get("completion_tokens")),
        )

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class ResponseCache:
    """Replies on disk, one JSON file per request, so eval re-runs cost nothing.

    The key is a hash of everything that shapes the reply; the file holds only the reply (not the prompt), and is
    written to a temp file then renamed, so concurrent threads never see half a file.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(model: str, base_url: str | None, messages: list[dict], parameters: dict) -> str:
        blob = json.dumps(
            [CACHE_FORMAT, model, base_url, messages, parameters],
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            # A damaged entry is a miss; the next put replaces it.
            return None

    def put(self, key: str, value: dict) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(value, f, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class LLMClient:
    def __init__(self, config: LLMConfig, cache: ResponseCache | None = None):
        self.config = config
        self.cache = cache
        # SDK retries off: tenacity below is the only retry layer, so every retry is counted in the Attempt.
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or (LOCAL_API_KEY if config.base_url else None),
            timeout=config.timeout,
            max_retries=0,
            default_headers=config.headers or None,
        )
        self.base_url = str(self._client.base_url).rstrip("/")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(
        self,
        messages: list[dict],
        *,
        purpose: Purpose,
        prompt_version: str,
        response_model: type[BaseModel] | None = None,
    ) -> LLMResult:
        started = time.perf_counter()
        deadline = Deadline(self.config.timeout)
        params = self._parameters(response_model)
        record = dict(purpose=purpose, model=self.config.model, base_url=self.base_url, prompt_version=prompt_version)

        key = None
        if self.cache is not None:
            key = ResponseCache.key(self.config.model, self.base_url, messages, params)
            hit = self.cache.get(key)
            if hit is not None:
                return _judge(_Reply(**hit), response_model, record, _ms_since(started), retries=0, cached=True,
                              max_tokens=self.config.max_tokens)

        retries = 0

        def count_retry(_state: tenacity.RetryCallState) -> None:
            nonlocal retries
            retries += 1

        stop = _Stop(self.config.max_transport_retries + 1, deadline)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_is_transient),
            stop=stop,
            wait=_Wait(self.config.backoff_initial, self.config.backoff_max),
            before_sleep=count_retry,
            reraise=True,
        )
        try:
            body = retrying(self._fetch, messages, params, deadline)
        except Exception as exc:  # noqa: BLE001 — whatever the transport raised, the caller gets an LLMError
            timed_out = isinstance(exc, (_DeadlineReached, openai.APITimeoutError)) or deadline.remaining() <= 0
            error = str(exc) if isinstance(exc, _DeadlineReached) else _describe(exc)
            if timed_out:
                error = f"no complete reply within the {self.config.timeout:g} s deadline ({error})"
            elif stop.wait_refused is not None:
                error = (f"{error}; retrying in {stop.wait_refused:.1f} s would pass the "
                         f"{self.config.timeout:g} s deadline")
            attempt = Attempt(**record, latency_ms=_ms_since(started), outcome="timeout" if timed_out else "error",
                              error=error[:MAX_ERROR_CHARS], transport_retries=retries)
            # Type and status only: an error body can echo the request, and the request is the dictation. INFO, not
            # WARNING: the Attempt and the draft's notes report it; a CLI without logging set up must print nothing.
            log.info(
                "LLM %s call failed after %d transport retries: %s %s",
                purpose, retries, type(exc).__name__, getattr(exc, "status_code", ""),
            )
            raise LLMError(f"LLM {purpose} call failed after {retries} transport retries: {attempt.error}",
                           attempt) from None

        try:
            reply = _read_reply(body)
        except _BadReply as bad:
            attempt = Attempt(**record, latency_ms=_ms_since(started), outcome=bad.outcome, error=bad.error,
                              transport_retries=retries, raw=_head(body.data))
            log.info("LLM %s reply rejected: %s", purpose, bad.outcome)
            return LLMResult(text="", parsed=None, attempt=attempt)
        if key is not None and reply.content is not None and len(reply.content) <= self._max_chars:
            self.cache.put(key, reply.as_dict())
        return _judge(reply, response_model, record, _ms_since(started), retries=retries, cached=False,
                      max_tokens=self.config.max_tokens)

    @property
    def _max_chars(self) -> int:
        return self.config.max_tokens * MAX_CHARS_PER_TOKEN

    def _fetch(self, messages: list[dict], params: dict, deadline: Deadline) -> _Body:
        """One HTTP exchange, abandoned at the deadline.

        It runs in a worker thread because no single socket timeout bounds connect + first byte + body: a read
        timeout restarts with every byte a trickling server sends. At the deadline the caller stops waiting and
        shuts the socket down, which ends the worker's blocked read at once.
        """
        remaining = deadline.remaining()
        if remaining <= 0:
            raise _DeadlineReached("the deadline passed before the request was sent")
        exchange = _Exchange(self._client, self.config.model, messages, params, remaining, self.config.max_reply_bytes)
        threading.Thread(target=exchange.run, name="notedraft-llm-call", daemon=True).start()
        if not exchange.done.wait(remaining):
            exchange.cut()
            raise _DeadlineReached("the reply was still incomplete at the deadline")
        if exchange.error is not None:
            raise exchange.error
        assert exchange.body is not None
        return exchange.body

    def _parameters(self, response_model: type[BaseModel] | None) -> dict:
        """Everything sent besides model and messages; also part of the cache key."""
        params: dict[str, Any] = {"temperature": self.config.temperature, "max_tokens": self.config.max_tokens}
        if self.config.extra_body:
            params["extra_body"] = self.config.extra_body
        if response_model is not None:
            # strict=False: OpenAI's strict mode rejects common pydantic schemas (defaults, optional fields);
            # pydantic validation below is the real check either way.
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": response_model.__name__,
                    "schema": response_model.model_json_schema(),
                    "strict": False,
                },
            }
        return params


# --- one bounded HTTP exchange -----------------------------------------------------------------------------------


class Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self._ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return self._ends - time.monotonic()


class _DeadlineReached(Exception):
    pass


class _BadReply(Exception):
    """A 200 answer that is not a usable chat completion; becomes a failed Attempt, never reaches the caller."""

    def __init__(self, outcome: Outcome, error: str):
        super().__init__(error)
        self.outcome, self.error = outcome, error[:MAX_ERROR_CHARS]


@dataclass
class _Body:
    status: int
    content_type: str
    data: bytes
    oversize: int | None = None  # bytes seen (or announced) when the body was abandoned for its size


class _Exchange:
    """State shared by the worker thread that talks HTTP and the caller that may cut it off."""

    def __init__(self, client: openai.OpenAI, model: str, messages: list[dict], params: dict, timeout: float,
                 max_bytes: int):
        self.client, self.model, self.messages, self.params = client, model, messages, params
        self.timeout, self.max_bytes = timeout, max_bytes
        self.done = threading.Event()
        self.body: _Body | None = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._cut = False

    def run(self) -> None:
        try:
            # The streaming form hands us the body unread: the SDK would otherwise read all of it and parse it.
            with self.client.chat.completions.with_streaming_response.create(
                model=self.model, messages=self.messages, timeout=self.timeout, **self.params
            ) as response:
                http = response.http_response
                stream = http.extensions.get("network_stream")
                with self._lock:
                    self._socket = stream.get_extra_info("socket") if stream is not None else None
                    if self._cut:
                        return
                try:
                    self.body = self._read(http)
                except Exception as exc:
                    # The SDK wraps transport errors while it sends; while we read, we do, so they are retried alike.
                    raise openai.APIConnectionError(
                        message=f"the connection failed while reading the reply ({type(exc).__name__})",
                        request=http.request,
                    ) from exc
        except BaseException as exc:  # handed to the caller's thread, which decides what it means
            self.error = exc
        finally:
            self.done.set()

    def _read(self, http: Any) -> _Body:
        content_type = http.headers.get("content-type", "")
        announced = http.headers.get("content-length", "")
        if announced.isdigit() and int(announced) > self.max_bytes:
            return _Body(http.status_code, content_type, b"", oversize=int(announced))
        chunks: list[bytes] = []
        size = 0
        for chunk in http.iter_bytes():  # decoded: a compressed body is capped at what it inflates to
            size += len(chunk)
            if size > self.max_bytes:
                return _Body(http.status_code, content_type, b"".join(chunks)[:MAX_RAW_CHARS], oversize=size)
            if self._cut:
                break
            chunks.append(chunk)
        return _Body(http.status_code, content_type, b"".join(chunks))

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            if self._socket is not None:
                try:
                    self._socket.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed: nothing left to stop


def _read_reply(body: _Body) -> _Reply:
    """The completion in a 200 body, or _BadReply saying what the body was instead."""
    if body.oversize is not None:
        raise _BadReply("oversize", f"the reply body passed the cap ({body.oversize} bytes seen)")
    head = body.data[:200].lstrip().lower()
    if "html" in body.content_type.lower() or head.startswith((b"<!doctype", b"<html")):
        raise _BadReply("malformed", f"the server answered with an HTML page ({body.content_type or 'no content type'}), "
                                     "not a JSON completion")
    if not body.data.strip():
        raise _BadReply("malformed", "the server answered with an empty body")
    try:
        payload = json.loads(body.data)
    except UnicodeDecodeError:
        raise _BadReply("malformed", "the reply body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        # A body cut short fails at its very end, or inside the string it was cut in.
        cut = exc.pos >= len(body.data.rstrip()) or exc.msg.startswith("Unterminated string")
        where = "the JSON ends early (cut off)" if cut else "the reply is not JSON"
        kind = body.content_type or "no content type"
        raise _BadReply("malformed", f"{where}: {exc.msg} at byte {exc.pos} ({kind})") from None
    return _Reply.from_payload(payload)


def _head(data: bytes) -> str:
    return data[:MAX_RAW_CHARS].decode("utf-8", errors="replace")


def _judge(
    reply: _Reply,
    response_model: type[BaseModel] | None,
    record: dict,
    latency_ms: float,
    *,
    retries: int,
    cached: bool,
    max_tokens: int,
) -> LLMResult:
    """Turn a reply into an outcome. Order matters: a truncated JSON is 'truncated', not 'invalid'."""
    text = reply.content or ""
    parsed: BaseModel | None = None
    error: str | None = None
    if len(text) > max_tokens * MAX_CHARS_PER_TOKEN or (reply.completion_tokens or 0) > max_tokens:
        # The server ignored max_tokens: nothing this long is read further or sent back in a repair prompt.
        outcome, error = "oversize", (f"the reply is {len(text)} characters / {reply.completion_tokens} tokens, "
                                      f"over max_tokens {max_tokens}")
        text = text[:MAX_RAW_CHARS]
    elif reply.refusal or reply.finish_reason == "content_filter":
        outcome, text = "refused", text or reply.refusal or ""
        error = "model refused"
    elif reply.finish_reason == "length":
        outcome, error = "truncated", "reply cut at max_tokens"
    elif response_model is not None:
        try:
            parsed = response_model.model_validate_json(_strip_fence(text))
            outcome = "ok"
        except ValidationError as exc:
            outcome = "refused" if _looks_like_refusal(text) else "invalid"
            error = "model refused" if outcome == "refused" else _summarise(exc)
    elif not text.strip():
        outcome, error = "invalid", "empty reply"
    elif _looks_like_refusal(text):
        outcome, error = "refused", "model refused"
    else:
        outcome = "ok"
    attempt = Attempt(
        **record,
        latency_ms=latency_ms,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        outcome=outcome,
        error=error,
        transport_retries=retries,
        finish_reason=reply.finish_reason,
        cached=cached,
        raw=text,
    )
    return LLMResult(text=text, parsed=parsed, attempt=attempt)


# Only the opening of a reply is checked, and only for the stock phrasings: a note that mentions "cannot" is fine.
_REFUSAL = re.compile(
    r"^\s*(?:(?:I'?m|I am)\s+sorry|sorry|I apologi[sz]e|unfortunately)?[\s,.!]*(?:but\s+)?"
    r"(?:I|as an ai[^,.]*,?\s*I)\s+(?:can(?:'|no)?t|cannot|am\s+(?:not\s+able|unable)|'m\s+(?:not\s+able|unable)"
    r"|won'?t|will\s+not|must\s+decline)\s+(?:to\s+)?(?:help|assist|provide|comply|create|write|do|fulfil|complete)",
    re.IGNORECASE,
)


def _looks_like_refusal(text: str) -> bool:
    return bool(_REFUSAL.match(text[:300].replace("\u2019", "'")))


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?```\s*$", re.DOTALL)


def _strip_fence(text: str) -> str:
    # Servers without grammar support often wrap JSON in a markdown fence; the JSON inside is still the answer.
    match = _FENCE.match(text)
    return match.group(1) if match else text


def _summarise(exc: ValidationError) -> str:
    """Where and why validation failed, without the input values (they may quote the dictation)."""
    problems = [f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors(include_input=False)]
    return ("schema mismatch: " + "; ".join(problems))[:MAX_ERROR_CHARS]


def _is_transient(exc: BaseException) -> bool:
    """Worth another try: timeouts, dropped connections, 429 and 5xx. Other 4xx will fail the same way again."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return False


class _Wait:
    """Exponential backoff with jitter, unless the server said how long to wait (Retry-After); _Stop then decides
    whether that wait still fits in the deadline."""

    def __init__(self, initial: float, maximum: float):
        self.initial, self.maximum = initial, maximum

    def __call__(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = _retry_after(exc)
        if asked is not None:
            return asked
        # initial, 2x, 4x ... capped, plus jitter so parallel eval workers do not retry in lock-step.
        backoff = min(self.maximum, self.initial * 2 ** (state.attempt_number - 1))
        return backoff + random.uniform(0, self.initial)


class _Stop:
    """Stop after max_attempts, or as soon as the next wait would not leave time for another request: a
    Retry-After is honoured only up to what is left of the deadline, and sleeping to the deadline only to give
    up there would waste the caller's time (tenacity computes the wait before it asks whether to stop)."""

    def __init__(self, max_attempts: int, deadline: Deadline):
        self.max_attempts, self.deadline = max_attempts, deadline
        self.wait_refused: float | None = None

    def __call__(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self.max_attempts:
            return True
        if state.upcoming_sleep >= self.deadline.remaining():
            self.wait_refused = state.upcoming_sleep
            return True
        return False


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)  # the HTTP-date form
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    text = f"HTTP {status}: {exc}" if status else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:MAX_ERROR_CHARS]  # one line: it ends up in one-line notes and errors


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
