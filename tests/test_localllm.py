"""The client against a REAL llama.cpp server (SmolLM2-135M): the protocol works end to end.

Only the protocol is asserted (HTTP round-trip, schema-valid JSON, tokens counted). This model invents clinical
content by design, so nothing here judges what it says.
"""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from notedraft.llm import LLMClient
from notedraft.localllm import MODEL_NAME, llm_config

pytestmark = pytest.mark.llm

DICTATION = "Left SI joint injection under fluoroscopy. 40 mg triamcinolone, 2 mL 0.25% bupivacaine."


class Extracted(BaseModel):
    side: Literal["left", "right", "bilateral", "unstated"]
    guidance: Literal["fluoroscopy", "ct", "ultrasound", "none", "unstated"]
    drugs: list[str] = Field(max_length=3)


def test_a_chat_completion_round_trips(local_llm):
    client = LLMClient(llm_config(local_llm, max_tokens=24, timeout=60))

    result = client.complete(
        [{"role": "user", "content": f"Write one sentence about this procedure: {DICTATION}"}],
        purpose="compose",
        prompt_version="test",
    )

    attempt = result.attempt
    assert attempt.outcome in ("ok", "truncated")  # 24 tokens may cut a sentence; either is a protocol success
    assert result.text.strip()
    assert attempt.model == MODEL_NAME and attempt.base_url.startswith(local_llm)
    assert attempt.prompt_tokens > 0 and 0 < attempt.completion_tokens <= 24
    assert attempt.transport_retries == 0


def test_structured_output_is_schema_valid_json(local_llm):
    client = LLMClient(llm_config(local_llm, max_tokens=96, timeout=60))

    result = client.complete(
        [
            {"role": "system", "content": "Extract the facts as JSON."},
            {"role": "user", "content": DICTATION},
        ],
        purpose="extract",
        prompt_version="test",
        response_model=Extracted,
    )

    assert result.attempt.outcome == "ok", result.attempt.error
    assert isinstance(result.parsed, Extracted)  # grammar-constrained: valid against the schema, right or wrong
    assert result.attempt.prompt_tokens > 0 and result.attempt.completion_tokens > 0
