"""Both LLM strategies end to end against a REAL llama.cpp server running SmolLM2-135M.

This model invents clinical content (see shared/reference/local-llm.md), so nothing here judges what it writes.
The tests assert the protocol (every call recorded with its prompt version, tokens and outcome; schema-valid or
an 'invalid'/'truncated' outcome; no exception) and that notedraft catches the inventions: the final draft never
carries a grounding finding, never states an undictated drug, dose or guidance, and is "supported" only when the
validator independently agrees. Small max_tokens keep the whole module well under a minute on 2 cores.
The `local_llm` fixture (one server for the whole session) comes from tests/conftest.py.
"""

from __future__ import annotations

import re

import pytest

from notedraft.drafting import MAX_REPAIRS, ExtractedFacts, draft
from notedraft.extract import extract_facts
from notedraft.grounding import RULE as GROUNDING
from notedraft.grounding import ground
from notedraft.llm import LLMClient
from notedraft.localllm import MODEL_NAME, llm_config
from notedraft.validate import validate

pytestmark = pytest.mark.llm

FLUORO = "L SIJ inj, fluoro, IA confirmed w contrast, 40 kenalog + 2cc 0.25% bupi, dx M46.1, dx + therapeutic"
ULTRASOUND = ("R SIJ inj, US guided, needle tip seen entering joint in-plane, images saved to PACS, depo-medrol 80, "
              "dx M46.1, therapeutic")


def client(base_url: str, max_tokens: int) -> LLMClient:
    # ~3 s a call on an idle 2-core machine; the generous timeout and no transport retry keep a busy machine from
    # turning slowness into a timeout (a retry would only queue the same work behind the abandoned request).
    return LLMClient(llm_config(base_url, max_tokens=max_tokens, timeout=240, max_transport_retries=0))


def assert_protocol(d, base_url: str, purposes: set[str], max_tokens: int) -> None:
    assert d.attempts, "every call is recorded"
    for a in d.attempts:
        assert a.purpose in purposes
        assert re.fullmatch(rf"{a.purpose}-v\d+", a.prompt_version), a.prompt_version  # the version is recorded
        assert a.model == MODEL_NAME and a.base_url.startswith(base_url)
        assert a.outcome in ("ok", "invalid", "truncated", "refused"), a.error  # a reply came back over HTTP
        assert a.outcome == "ok" or a.error
        assert a.latency_ms > 0 and a.prompt_tokens > 0 and 0 < a.completion_tokens <= max_tokens
        assert a.transport_retries == 0


def assert_inventions_caught(d, dictation: str) -> None:
    """Whatever the model said, the final draft states nothing the dictation lacks."""
    assert [f.message for f in d.report.findings if f.rule == GROUNDING] == []
    assert ground(d.note, dictation) == []
    dictated = extract_facts(dictation)
    drafted = extract_facts(d.note)
    assert {m.name for m in drafted.medications} <= {m.name for m in dictated.medications}
    assert drafted.guidance in ("unstated", dictated.guidance)
    if d.supported:
        independent = validate(d.note, d.codes)
        assert independent.supported, [f.message for f in independent.errors]


def test_llm_extract_end_to_end(local_llm):
    d = draft(FLUORO, strategy="llm-extract", llm=client(local_llm, max_tokens=300))

    assert_protocol(d, local_llm, {"extract"}, 300)
    [a] = d.attempts
    if a.outcome == "ok":
        llm_facts = ExtractedFacts.model_validate_json(a.raw)  # schema-valid, right or wrong
        dictated = {m.name for m in extract_facts(FLUORO).medications}
        for med in llm_facts.medications:  # each drug the model named that the dictation lacks was dropped, on record
            if not any(name in med.name.lower() for name in ("kenalog", "triamcinolone", "bupi")):
                assert any(med.name in f.message for f in d.raw_findings), (med, d.raw_findings)
        assert {m.name for m in d.facts.medications} == dictated
    else:
        assert any("deterministic reading" in n for n in d.notes), d.notes
    assert_inventions_caught(d, FLUORO)


@pytest.mark.parametrize("dictation", [FLUORO, ULTRASOUND], ids=["fluoroscopy", "ultrasound"])
def test_llm_compose_end_to_end(local_llm, dictation):
    template = draft(dictation)
    d = draft(dictation, strategy="llm-compose", llm=client(local_llm, max_tokens=160))

    assert_protocol(d, local_llm, {"compose", "repair"}, 160)
    assert 1 <= len(d.attempts) <= MAX_REPAIRS + 1
    assert d.attempts[0].purpose == "compose"
    for a in d.attempts:  # a reply with an invented fact is never the note
        if a.outcome == "ok" and ground(a.raw, dictation):
            assert d.note != a.raw
    if d.note == template.note:
        assert any("fell back to the template draft" in n for n in d.notes), d.notes
    else:
        assert d.note == d.attempts[-1].raw and d.attempts[-1].outcome == "ok"
    if "fluoro" not in dictation:
        assert "fluoro" not in d.note.lower()
    assert_inventions_caught(d, dictation)
