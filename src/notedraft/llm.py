"""The one door to an LLM: the openai SDK for the protocol, tenacity for transport retries, one Attempt per call.

Nothing else in notedraft imports `openai`; the drafting module imports this module lazily, so `notedraft validate`
never pays for the SDK. The validation re-ask loop is deliberately NOT here: this module only answers "what did the
model say, and did it say it in the shape we asked for". Dictation and note text are never logged.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import random
import re
import tempfile
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
# Retry-After is obeyed up to this cap, so a misbehaving proxy asking for an hour cannot stall a call that long.
MAX_RETRY_AFTER_S = 60.0
# Error text goes into the audit trail; bodies of 4xx answers can echo the request, so keep only the head.
MAX_ERROR_CHARS = 300
CACHE_FORMAT = "notedraft-llm-cache-v1"

Purpose = Literal["extract", "compose", "repair"]


class LLMConfig(BaseModel):
    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)  # configs get printed; keys must not
    model: str = DEFAULT_MODEL
    timeout: float = 60
    max_transport_retries: int = 4
    temperature: float = 0
    max_tokens: int = 1024
    extra_body: dict[str, Any] = Field(default_factory=dict)
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
    """The call never produced a model reply (transport exhausted, or a non-retryable HTTP error)."""

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
    def from_completion(cls, completion: Any) -> _Reply:
        usage = getattr(completion, "usage", None)
        choice = completion.choices[0] if completion.choices else None
        message = choice.message if choice else None
        return cls(
            content=getattr(message, "content", None),
            refusal=getattr(message, "refusal", None),
            finish_reason=getattr(choice, "finish_reason", None),
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
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
        )
        self.base_url = str(self._client.base_url).rstrip("/")

    def complete(
        self,
        messages: list[dict],
        *,
        purpose: Purpose,
        prompt_version: str,
        response_model: type[BaseModel] | None = None,
    ) -> LLMResult:
        started = time.perf_counter()
        params = self._parameters(response_model)
        record = dict(purpose=purpose, model=self.config.model, base_url=self.base_url, prompt_version=prompt_version)

        key = None
        if self.cache is not None:
            key = ResponseCache.key(self.config.model, self.base_url, messages, params)
            hit = self.cache.get(key)
            if hit is not None:
                return _judge(_Reply(**hit), response_model, record, _ms_since(started), retries=0, cached=True)

        retries = 0

        def count_retry(_state: tenacity.RetryCallState) -> None:
            nonlocal retries
            retries += 1

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_is_transient),
            stop=tenacity.stop_after_attempt(self.config.max_transport_retries + 1),
            wait=_Wait(self.config.backoff_initial, self.config.backoff_max),
            before_sleep=count_retry,
            reraise=True,
        )
        try:
            completion = retrying(
                self._client.chat.completions.create, model=self.config.model, messages=messages, **params
            )
        except openai.OpenAIError as exc:
            error = _describe(exc)
            attempt = Attempt(
                **record, latency_ms=_ms_since(started), outcome="error", error=error, transport_retries=retries
            )
            # Type and status only: an error body can echo the request, and the request is the dictation.
            log.warning(
                "LLM %s call failed after %d transport retries: %s %s",
                purpose, retries, type(exc).__name__, getattr(exc, "status_code", ""),
            )
            raise LLMError(f"LLM {purpose} call failed after {retries} transport retries: {error}", attempt) from exc

        reply = _Reply.from_completion(completion)
        if key is not None:
            self.cache.put(key, reply.as_dict())
        return _judge(reply, response_model, record, _ms_since(started), retries=retries, cached=False)

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


def _judge(
    reply: _Reply,
    response_model: type[BaseModel] | None,
    record: dict,
    latency_ms: float,
    *,
    retries: int,
    cached: bool,
) -> LLMResult:
    """Turn a reply into an outcome. Order matters: a truncated JSON is 'truncated', not 'invalid'."""
    text = reply.content or ""
    parsed: BaseModel | None = None
    error: str | None = None
    if reply.refusal or reply.finish_reason == "content_filter":
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
    """Exponential backoff with jitter, unless the server said how long to wait (Retry-After)."""

    def __init__(self, initial: float, maximum: float):
        self.initial, self.maximum = initial, maximum

    def __call__(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = _retry_after(exc)
        if asked is not None:
            return min(asked, MAX_RETRY_AFTER_S)
        # initial, 2x, 4x ... capped, plus jitter so parallel eval workers do not retry in lock-step.
        backoff = min(self.maximum, self.initial * 2 ** (state.attempt_number - 1))
        return backoff + random.uniform(0, self.initial)


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
    return text[:MAX_ERROR_CHARS]


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
