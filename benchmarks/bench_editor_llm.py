"""How fast does the editor answer `/api/validate` while many LLM drafts hang? (A benchmark: nothing asserts.)

    python benchmarks/bench_editor_llm.py [--drafts 45] [--hang 30] [--validates 100]

Starts the scripted OpenAI-compatible server (tests/support/fake_openai.py) with every reply hanging `--hang`
seconds, the editor under uvicorn on a free port pointed at it through OPENAI_BASE_URL, fires `--drafts`
llm-compose drafts at once (each from its own thread, as browsers would), then times `--validates` sequential
`POST /api/validate` calls and prints p50/p99/max. Run it against another checkout with PYTHONPATH=that/src to
compare versions.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.fake_openai import FakeOpenAI, hang  # noqa: E402

NOTE = ("PROCEDURE: Left sacroiliac joint injection under fluoroscopic guidance. Intra-articular placement was "
        "confirmed with contrast. 40 mg Kenalog and 2 mL of 0.25% bupivacaine were injected. Dx M46.1. Diagnostic "
        "and therapeutic injection.")
DICTATION = ("L SIJ inj, diagnostic and therapeutic, fluoro, contrast confirmed intra-articular spread, image saved, "
             "40 mg kenalog + 2cc 0.25% bupi, dx M46.1, no complications")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=45)
    parser.add_argument("--hang", type=float, default=30)
    parser.add_argument("--validates", type=int, default=100)
    args = parser.parse_args()

    import uvicorn

    from notedraft.web.app import create_app

    with FakeOpenAI() as fake, tempfile.TemporaryDirectory() as tmp:
        fake.script(*[hang(args.hang)] * (args.drafts * 6))
        os.environ.update(OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="bench")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(Path(tmp) / "e.db"), host="127.0.0.1", port=port,
                                               log_level="error"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        client = httpx.Client(base_url=base, timeout=args.hang * 4)
        client.headers["X-CSRF-Token"] = client.get("/api/csrf").json()["csrf"]
        statuses: list[int] = []

        def submit() -> None:
            try:
                r = client.post("/api/drafts", json={"dictation": DICTATION, "strategy": "llm-compose"})
                statuses.append(r.status_code)
            except httpx.HTTPError as e:
                statuses.append(type(e).__name__)

        for _ in range(args.drafts):
            threading.Thread(target=submit, daemon=True).start()
        # Measure while the LLM calls hang, not while the first drafts still import the LLM stack.
        deadline = time.monotonic() + 60
        while len(fake.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        print(f"{args.drafts} llm-compose drafts fired; LLM requests hanging: {len(fake.requests)}", flush=True)
        took, failed = [], 0
        for i in range(args.validates):
            started = time.perf_counter()
            try:
                r = client.post("/api/validate", json={"note": NOTE, "codes": ["27096-LT"]}, timeout=120)
                ok = r.status_code == 200
            except httpx.TimeoutException:
                ok = False
            took.append((time.perf_counter() - started) * 1000)
            if not ok:
                failed += 1
            if (i + 1) % 10 == 0 or took[-1] > 50:
                print(f"  validate {i + 1}/{args.validates}: {took[-1]:.1f} ms", flush=True)
        p99 = statistics.quantiles(took, n=100, method="inclusive")[98] if len(took) >= 2 else took[0]
        answered = {s: statuses.count(s) for s in set(statuses)}
        print(f"/api/validate while {args.drafts} LLM drafts hang: n={len(took)} p50={statistics.median(took):.1f} ms "
              f"p99={p99:.1f} ms max={max(took):.1f} ms; not 200 or timed out (120 s): {failed}; draft answers so far: {answered}")
        server.should_exit = True
    os._exit(0)  # drafting threads may still be blocked on the hung server; do not wait for them


if __name__ == "__main__":
    sys.exit(main())
