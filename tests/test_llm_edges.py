"""The bounded edges of an LLM call: one deadline, capped replies, and every bad answer a recorded Attempt.

Real openai client, real HTTP, the scripted server in tests/support/fake_openai.py; nothing is monkeypatched.
"""

from __future__ import annotations

import time

import pytest

from notedraft.drafting import LLMUnusable, draft
from notedraft.grounding import RULE as GROUNDING
from notedraft.llm import MAX_RAW_CHARS, LLMClient, LLMError, ResponseCache
from notedraft.models import Attempt
from tests.support.fake_openai import (
    empty_body,
    hang,
    html_body,
    http_error,
    json_reply,
    malformed_json,
    missing_fields,
    oversize,
    text,
    trickle,
    truncated_json,
    wrong_content_type,
)
from tests.test_drafting_llm import CODES, DICTATION, GOOD_FACTS, GOOD_NOTE, TEMPLATE_NOTE

MESSAGES = [{"role": "user", "content": "Left SI joint injection under fluoro, 40 mg Kenalog."}]

# (fault, outcome, words the error must contain)
BAD_BODIES = [
    (malformed_json, "malformed", "not JSON"),
    (truncated_json, "malformed", "cut off"),
    (html_body, "malformed", "HTML"),
    (wrong_content_type, "malformed", "text/plain"),
    (empty_body, "malformed", "empty"),
    (missing_fields, "malformed", "missing fields"),
    (lambda: missing_fields("usage", "id"), None, None),  # only choices matter: this one is fine
    (lambda: oversize(2_000_000), "oversize", "cap"),
    (lambda: oversize(2_000_000, declare_length=False), "oversize", "cap"),  # no Content-Length: cut while reading
    (lambda: oversize(9_000), "oversize", "max_tokens"),  # under the byte cap, over max_tokens × chars per token
    (lambda: text("Procedure: note.", usage={"prompt_tokens": 5, "completion_tokens": 5000}), "oversize", "max_tokens"),
]
IDS = ["malformed", "truncated-json", "html", "wrong-content-type", "empty", "missing-choices", "missing-usage",
       "oversize-declared", "oversize-streamed", "oversize-chars", "oversize-tokens"]


def call(server, **config):
    client = LLMClient(server.llm_config(**config))
    return client.complete(MESSAGES, purpose="compose", prompt_version="compose-v1")


@pytest.mark.parametrize("fault, outcome, words", BAD_BODIES, ids=IDS)
def test_a_bad_body_is_a_failed_attempt_not_an_exception(fake_openai, fault, outcome, words):
    fake_openai.script(fault(), text("a retry would get this"))

    result = call(fake_openai)

    assert len(fake_openai.requests) == 1  # a 200 answer is an answer: judged, not retried
    if outcome is None:
        assert result.attempt.outcome == "ok" and result.text == "Procedure: left SI joint injection."
        return
    a = result.attempt
    assert (a.outcome, result.parsed) == (outcome, None)
    assert words in a.error and "\n" not in a.error
    assert len(a.raw or "") <= MAX_RAW_CHARS  # what is kept of a rejected reply is bounded
    assert Attempt.model_validate_json(a.model_dump_json()) == a


def test_max_tokens_is_sent(fake_openai):
    fake_openai.script(text("fine"))
    call(fake_openai, max_tokens=333)
    assert fake_openai.requests[0]["max_tokens"] == 333


def test_a_trickling_server_is_cut_at_the_deadline(fake_openai):
    # One byte every 0.2 s: each read is quick, so only a deadline on the whole call can stop this one.
    fake_openai.script(trickle(GOOD_NOTE, every=0.2), text("never asked"))

    started = time.monotonic()
    with pytest.raises(LLMError) as raised:
        call(fake_openai, timeout=1, max_transport_retries=3)
    elapsed = time.monotonic() - started

    a = raised.value.attempt
    assert (a.outcome, a.transport_retries) == ("timeout", 0)
    assert "1 s deadline" in a.error
    assert elapsed < 1 + 1  # the deadline, plus the one second of slack the fault suite allows
    assert len(fake_openai.requests) == 1


def test_a_trickle_that_ends_before_the_deadline_is_a_reply(fake_openai):
    fake_openai.script(trickle("Procedure: ok.", every=0.001))
    assert call(fake_openai, timeout=10).text == "Procedure: ok."


def test_retry_after_past_the_deadline_is_not_waited_for(fake_openai):
    fake_openai.script(http_error(429, headers={"Retry-After": "3600"}), text("an hour later"))

    with pytest.raises(LLMError) as raised:
        call(fake_openai, timeout=2, max_transport_retries=4)

    a = raised.value.attempt
    assert a.outcome == "error" and "429" in a.error
    assert "retrying in 3600.0 s would pass the 2 s deadline" in a.error
    assert len(fake_openai.requests) == 1 and fake_openai.remaining == 1


def test_retry_after_within_the_deadline_is_honoured(fake_openai):
    fake_openai.script(http_error(503, headers={"Retry-After": "0.5"}), text("fine"))
    result = call(fake_openai, timeout=5)
    assert (result.text, result.attempt.transport_retries) == ("fine", 1)
    assert fake_openai.request_times[1] - fake_openai.request_times[0] >= 0.45


def test_retries_share_one_deadline(fake_openai):
    # Each attempt: the server stalls 0.3 s then drops the connection (retryable). Ten retries would take 3 s;
    # the 1 s deadline admits about three.
    fake_openai.script(*[hang(0.3)] * 11)

    started = time.monotonic()
    with pytest.raises(LLMError) as raised:
        call(fake_openai, timeout=1, max_transport_retries=10)
    elapsed = time.monotonic() - started

    a = raised.value.attempt
    assert a.outcome in ("timeout", "error") and "deadline" in a.error
    # On a loaded machine fewer attempts fit; what matters is that the deadline, not the retry count, stopped them.
    assert 1 <= len(fake_openai.requests) <= 4
    # every retry is counted; the last one may be cut by the deadline before the server has read its request
    assert len(fake_openai.requests) - 1 <= a.transport_retries <= len(fake_openai.requests)
    assert elapsed < 3  # all eleven attempts would take at least 3.3 s


def test_rejected_replies_are_not_cached(fake_openai, tmp_path):
    cache = ResponseCache(tmp_path)
    fake_openai.script(oversize(9_000), html_body())
    client = LLMClient(fake_openai.llm_config(), cache=cache)
    for _ in range(2):
        client.complete(MESSAGES, purpose="compose", prompt_version="v")
    assert not list(tmp_path.rglob("*.json"))


def test_attempts_written_before_the_new_outcomes_still_load():
    old = ('{"purpose": "compose", "model": "m", "prompt_version": "compose-v1", "latency_ms": 12.5, '
           '"outcome": "error", "error": "HTTP 500", "transport_retries": 2}')
    assert Attempt.model_validate_json(old).outcome == "error"


# --- through draft(): every failure ends in the template draft with one note, or LLMUnusable ---------------------

DRAFT_FAULTS = [
    (malformed_json, "malformed"),
    (truncated_json, "malformed"),
    (html_body, "malformed"),
    (empty_body, "malformed"),
    (missing_fields, "malformed"),
    (lambda: oversize(2_000_000), "oversize"),
    (lambda: http_error(429, headers={"Retry-After": "3600"}), "error"),
    (lambda: trickle(GOOD_NOTE, every=0.2), "timeout"),
    (lambda: hang(10), "timeout"),
]
DRAFT_IDS = ["malformed", "truncated-json", "html", "empty", "missing-choices", "oversize", "retry-after-3600",
             "trickle", "hang"]


@pytest.mark.parametrize("strategy", ["llm-compose", "llm-extract"])
@pytest.mark.parametrize("fault, outcome", DRAFT_FAULTS, ids=DRAFT_IDS)
def test_every_failure_falls_back_to_the_template_with_one_note(fake_openai, fault, outcome, strategy):
    fake_openai.script(fault(), text(GOOD_NOTE))
    llm = LLMClient(fake_openai.llm_config(timeout=1, max_transport_retries=2))

    d = draft(DICTATION, CODES, strategy=strategy, llm=llm)

    [a] = d.attempts
    assert a.outcome == outcome
    assert len(fake_openai.requests) == 1  # no repair, no retry: nothing a re-ask could fix
    assert d.note == TEMPLATE_NOTE and d.supported
    [note] = d.notes
    assert outcome in note and "\n" not in note
    assert ("fell back to the template draft" if strategy == "llm-compose" else "deterministic reading") in note
    assert [f for f in d.report.findings if f.rule == GROUNDING] == []


@pytest.mark.parametrize("strategy, reply", [("llm-compose", html_body()), ("llm-extract", hang(10))])
def test_no_fallback_raises_with_the_attempts(fake_openai, strategy, reply):
    fake_openai.script(reply)
    llm = LLMClient(fake_openai.llm_config(timeout=1))

    with pytest.raises(LLMUnusable) as raised:
        draft(DICTATION, CODES, strategy=strategy, llm=llm, fallback=False)

    assert not isinstance(raised.value, ValueError)  # the editor maps ValueError to 400; this is not bad input
    [a] = raised.value.attempts
    assert a.outcome in ("malformed", "timeout")
    assert a.outcome in str(raised.value)


def test_no_fallback_still_drafts_when_the_llm_answers(fake_openai):
    fake_openai.script(text(GOOD_NOTE), json_reply(GOOD_FACTS))
    llm = LLMClient(fake_openai.llm_config())
    assert draft(DICTATION, CODES, strategy="llm-compose", llm=llm, fallback=False).note == GOOD_NOTE
    assert draft(DICTATION, CODES, strategy="llm-extract", llm=llm, fallback=False).supported


def test_a_note_still_failing_after_repairs_is_unusable_without_fallback(fake_openai):
    invented = GOOD_NOTE.replace("Kenalog 40 mg", "Kenalog 80 mg")
    fake_openai.script(*[text(invented)] * 3)
    with pytest.raises(LLMUnusable, match="re-ask"):
        draft(DICTATION, CODES, strategy="llm-compose", llm=LLMClient(fake_openai.llm_config()), fallback=False)
    assert len(fake_openai.requests) == 3


def test_an_oversize_note_is_never_sent_back_in_a_repair(fake_openai):
    # Long enough to pass max_tokens × chars-per-token, short enough for the byte cap: judged oversize, not repaired.
    fake_openai.script(oversize(9_000), text(GOOD_NOTE))

    d = draft(DICTATION, CODES, strategy="llm-compose", llm=LLMClient(fake_openai.llm_config()))

    assert [a.outcome for a in d.attempts] == ["oversize"]
    assert len(fake_openai.requests) == 1
    assert d.note == TEMPLATE_NOTE


def test_a_repair_sends_the_findings_and_one_bounded_copy_of_the_note(fake_openai):
    invented = GOOD_NOTE.replace("Kenalog 40 mg", "Kenalog 80 mg")
    fake_openai.script(text(invented), text(GOOD_NOTE))

    d = draft(DICTATION, CODES, strategy="llm-compose", llm=LLMClient(fake_openai.llm_config()))

    assert d.note == GOOD_NOTE
    repair = fake_openai.requests[1]["messages"][-1]["content"]
    assert "80" in repair and "unsupported" in repair.lower()  # the grounding finding on the invented dose
    assert repair.count("Kenalog 80 mg") == 1
    assert len(repair) < len(invented) + 4000
