"""The LLM client, spoken to through the real openai SDK over HTTP against a scripted server."""

from __future__ import annotations

import json
import logging
import time
from typing import Literal

import pytest
from pydantic import BaseModel

from notedraft.llm import LLMClient, LLMConfig, LLMError, ResponseCache
from tests.support.fake_openai import (  # noqa: F401  (fake_openai is a fixture)
    drop,
    fake_openai,
    hang,
    http_error,
    json_reply,
    refusal,
    text,
    truncated,
)

MESSAGES = [
    {"role": "system", "content": "You draft procedure notes."},
    {"role": "user", "content": "Left SI joint injection under fluoro, 40 mg Kenalog."},
]


class SideAndGuidance(BaseModel):
    side: Literal["left", "right", "bilateral", "unstated"]
    guidance: Literal["fluoroscopy", "ct", "ultrasound", "none", "unstated"]


def ask(server, response_model=None, *, cache=None, messages=MESSAGES, **config):
    client = LLMClient(server.llm_config(**config), cache=cache)
    return client.complete(messages, purpose="extract", prompt_version="extract-v1", response_model=response_model)


def test_a_good_reply_is_recorded_as_one_ok_attempt(fake_openai):
    fake_openai.script(text("Procedure: left SI joint injection.", usage={"prompt_tokens": 21, "completion_tokens": 7}))

    result = ask(fake_openai)

    assert result.text == "Procedure: left SI joint injection."
    assert result.parsed is None
    a = result.attempt
    assert (a.outcome, a.purpose, a.prompt_version, a.model) == ("ok", "extract", "extract-v1", "fake-model")
    assert a.base_url.startswith(fake_openai.base_url)
    assert (a.prompt_tokens, a.completion_tokens) == (21, 7)
    assert (a.finish_reason, a.transport_retries, a.cached, a.error) == ("stop", 0, False, None)
    assert a.raw == result.text and a.latency_ms > 0
    [sent] = fake_openai.requests
    assert sent["messages"] == MESSAGES
    assert sent["model"] == "fake-model" and sent["temperature"] == 0 and sent["max_tokens"] == 1024
    assert "response_format" not in sent
    assert fake_openai.request_headers[0]["authorization"] == "Bearer test-key"


def test_structured_output_is_requested_as_json_schema_and_parsed(fake_openai):
    fake_openai.script(json_reply({"side": "left", "guidance": "fluoroscopy"}))

    result = ask(fake_openai, SideAndGuidance, extra_body={"repeat_penalty": 1.1})

    assert result.attempt.outcome == "ok"
    assert result.parsed == SideAndGuidance(side="left", guidance="fluoroscopy")
    sent = fake_openai.requests[0]
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "SideAndGuidance", "schema": SideAndGuidance.model_json_schema(), "strict": False},
    }
    assert sent["repeat_penalty"] == 1.1  # extra_body reaches the server as top-level fields


def test_json_in_a_markdown_fence_is_still_the_answer(fake_openai):
    fake_openai.script(text('```json\n{"side": "right", "guidance": "ct"}\n```'))
    assert ask(fake_openai, SideAndGuidance).parsed == SideAndGuidance(side="right", guidance="ct")


@pytest.mark.parametrize(
    "reply",
    ["Sure! The side is left.", '{"side": "upper", "guidance": "fluoroscopy"}', '{"side": "left"}'],
    ids=["not-json", "bad-enum", "missing-field"],
)
def test_a_reply_that_does_not_fit_the_schema_is_invalid_not_an_exception(fake_openai, reply):
    fake_openai.script(text(reply))

    result = ask(fake_openai, SideAndGuidance)

    assert result.parsed is None
    assert result.attempt.outcome == "invalid"
    assert result.attempt.raw == reply  # kept so the re-ask loop and the logs can use it
    assert result.attempt.error
    assert len(fake_openai.requests) == 1  # no re-ask here: that is the drafting module's job


def test_validation_errors_do_not_quote_the_reply(fake_openai):
    fake_openai.script(json_reply({"side": "Kenalog 40 mg", "guidance": "fluoroscopy"}))
    error = ask(fake_openai, SideAndGuidance).attempt.error
    assert "side" in error and "Kenalog" not in error


def test_an_sdk_refusal_is_refused(fake_openai):
    fake_openai.script(refusal("I can't help with that."))

    result = ask(fake_openai, SideAndGuidance)

    assert (result.attempt.outcome, result.parsed) == ("refused", None)
    assert result.text == "I can't help with that."


@pytest.mark.parametrize("reply", ["I'm sorry, but I can't help with that request.", "I cannot assist with this."])
def test_an_obvious_refusal_in_the_content_is_refused(fake_openai, reply):
    fake_openai.script(text(reply), text(reply))
    assert ask(fake_openai).attempt.outcome == "refused"
    assert ask(fake_openai, SideAndGuidance).attempt.outcome == "refused"


def test_a_note_that_merely_mentions_cannot_is_not_a_refusal(fake_openai):
    fake_openai.script(text("Patient cannot tolerate prone positioning; procedure done seated."))
    assert ask(fake_openai).attempt.outcome == "ok"


def test_finish_reason_length_is_truncated(fake_openai):
    fake_openai.script(truncated('{"side": "le'))

    result = ask(fake_openai, SideAndGuidance)

    assert (result.attempt.outcome, result.attempt.finish_reason, result.parsed) == ("truncated", "length", None)
    assert result.attempt.raw == '{"side": "le'


def test_429_with_retry_after_is_waited_out_then_succeeds(fake_openai):
    fake_openai.script(http_error(429, headers={"Retry-After": "1"}), text("ok now"))

    started = time.monotonic()
    result = ask(fake_openai)
    elapsed = time.monotonic() - started

    assert result.text == "ok now"
    assert (result.attempt.outcome, result.attempt.transport_retries) == ("ok", 1)
    assert elapsed >= 0.95  # the backoff alone would be ~0.01 s: the header was honoured
    assert fake_openai.request_times[1] - fake_openai.request_times[0] >= 0.95
    assert len(fake_openai.requests) == 2


def test_two_500s_then_success_is_one_attempt_with_two_retries(fake_openai):
    fake_openai.script(http_error(500), http_error(503), text("fine"))

    result = ask(fake_openai, max_transport_retries=4)

    assert (result.text, result.attempt.outcome, result.attempt.transport_retries) == ("fine", "ok", 2)
    assert len(fake_openai.requests) == 3


def test_a_dropped_connection_is_retried(fake_openai):
    fake_openai.script(drop(), text("fine"))
    assert ask(fake_openai).attempt.transport_retries == 1


def test_persistent_500_raises_llm_error_carrying_the_attempt(fake_openai):
    fake_openai.script(*[http_error(500)] * 3)

    with pytest.raises(LLMError) as raised:
        ask(fake_openai, max_transport_retries=2)

    attempt = raised.value.attempt
    assert (attempt.outcome, attempt.transport_retries, attempt.purpose) == ("error", 2, "extract")
    assert "500" in attempt.error
    assert attempt.prompt_tokens is None and attempt.raw is None
    assert len(fake_openai.requests) == 3  # 1 + max_transport_retries, nothing more
    assert fake_openai.remaining == 0


def test_a_hang_past_the_deadline_is_a_timeout_and_not_retried(fake_openai):
    # The timeout is the whole call's deadline: once it has passed there is no time left to retry in.
    fake_openai.script(hang(5), hang(5))

    with pytest.raises(LLMError) as raised:
        ask(fake_openai, timeout=0.3, max_transport_retries=1)

    attempt = raised.value.attempt
    assert (attempt.outcome, attempt.transport_retries) == ("timeout", 0)
    assert "deadline" in attempt.error
    assert len(fake_openai.requests) == 1


def test_a_connection_closed_unanswered_is_retried_within_the_deadline(fake_openai):
    fake_openai.script(hang(0.2), text("late but here"))  # hang(s): stall s seconds, then close without answering
    result = ask(fake_openai, timeout=5)
    assert (result.text, result.attempt.transport_retries) == ("late but here", 1)


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_other_4xx_are_not_retried(fake_openai, status):
    fake_openai.script(http_error(status), text("never sent"))

    with pytest.raises(LLMError) as raised:
        ask(fake_openai, max_transport_retries=3)

    assert (raised.value.attempt.outcome, raised.value.attempt.transport_retries) == ("error", 0)
    assert str(status) in raised.value.attempt.error
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("failure", [http_error(429), http_error(500), drop()], ids=["429", "500", "drop"])
def test_sdk_retries_are_off(fake_openai, failure):
    # The SDK alone would retry each of these twice; with tenacity at 0 retries the server must see exactly one.
    fake_openai.script(failure, text("an SDK retry would get this"))

    with pytest.raises(LLMError):
        ask(fake_openai, max_transport_retries=0)

    assert len(fake_openai.requests) == 1


def test_an_unscripted_request_fails_loudly(fake_openai):
    with pytest.raises(LLMError, match="under-scripted"):
        ask(fake_openai, max_transport_retries=0)


def test_a_cache_hit_costs_no_request(fake_openai, tmp_path):
    cache = ResponseCache(tmp_path / "cache")
    fake_openai.script(json_reply({"side": "left", "guidance": "fluoroscopy"}))

    first = ask(fake_openai, SideAndGuidance, cache=cache)
    second = ask(fake_openai, SideAndGuidance, cache=cache)

    assert len(fake_openai.requests) == 1
    assert (first.attempt.cached, second.attempt.cached) == (False, True)
    assert second.parsed == first.parsed and second.text == first.text
    assert second.attempt.outcome == "ok" and second.attempt.transport_retries == 0
    assert second.attempt.prompt_tokens == first.attempt.prompt_tokens


def test_the_cache_key_covers_messages_model_and_schema(fake_openai, tmp_path):
    cache = ResponseCache(tmp_path)
    fake_openai.script(*["plain"] * 4)

    ask(fake_openai, cache=cache)
    ask(fake_openai, cache=cache, messages=[*MESSAGES, {"role": "user", "content": "again"}])
    ask(fake_openai, cache=cache, model="other-model")
    ask(fake_openai, SideAndGuidance, cache=cache)  # same text, but now a schema is asked for
    ask(fake_openai, cache=cache)  # the first call again: a hit

    assert len(fake_openai.requests) == 4


def test_the_cache_holds_no_prompt_and_errors_are_not_cached(fake_openai, tmp_path):
    cache = ResponseCache(tmp_path)
    fake_openai.script(http_error(400), "Procedure note.")

    with pytest.raises(LLMError):
        ask(fake_openai, cache=cache)
    assert not list(tmp_path.rglob("*.json"))
    ask(fake_openai, cache=cache)

    [entry] = tmp_path.rglob("*.json")
    assert "Kenalog" not in entry.read_text()  # the dictation is in the prompt; the cache keeps only the reply
    assert json.loads(entry.read_text())["content"] == "Procedure note."


def test_the_cache_survives_concurrent_writers(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    cache = ResponseCache(tmp_path)
    value = {"content": "x" * 100_000}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: cache.put("ab" * 32, value), range(40)))
    assert cache.get("ab" * 32) == value
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["ab", "ab" * 32 + ".json"]  # no temp files left behind


def test_dictation_text_never_reaches_the_logs(fake_openai, caplog):
    fake_openai.script(text("Left SI joint injection note."), http_error(400, body={"error": {"message": "Kenalog?"}}))
    with caplog.at_level(logging.DEBUG):
        ask(fake_openai)
        with pytest.raises(LLMError):
            ask(fake_openai)
    assert "Kenalog" not in caplog.text and "SI joint" not in caplog.text


def test_config_from_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "NOTEDRAFT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert LLMConfig.from_env() is None  # offline

    local = LLMConfig.from_env(base_url="http://127.0.0.1:8089/v1")
    assert local.api_key and local.model == "gpt-4o-mini"  # a placeholder key: local servers need none

    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("NOTEDRAFT_MODEL", "env-model")
    env = LLMConfig.from_env()
    assert (env.api_key, env.base_url, env.model) == ("sk-env", None, "env-model")
    assert LLMConfig.from_env(model="arg-model", api_key="sk-arg").model_dump(include={"model", "api_key"}) == {
        "model": "arg-model",
        "api_key": "sk-arg",
    }
