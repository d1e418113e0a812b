"""Eval speed benchmark (not a test: it prints figures, it asserts nothing).

    .venv/bin/python evals/bench_eval.py [--cases 100] [--delay-ms 500] [--concurrent-cases 24]

1. Cached re-run: 100 llm-extract samples against the scripted local OpenAI-compatible server
   (tests/support/fake_openai.py); a first run fills the response cache, the second is timed end to end
   (draft with cached replies, score, write the log) and so is `rescore` of its log. Issue 4 target: <= 5 s.
2. Concurrency: the same strategy with the server adding 500 ms to every call and no cache, run at
   concurrency 1 and 8 over the same cases; prints both wall times and their ratio. Target: >= 6x.

Everything talks to 127.0.0.1 only; the server stops when the script ends.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.support.fake_openai

from notedraft.evals.dataset import Datasets, load_drafting  # noqa: E402
from notedraft.evals.runner import Arm, RunConfig, rescore, run  # noqa: E402
from notedraft.llm import LLMClient, ResponseCache  # noqa: E402
from tests.support.fake_openai import FakeOpenAI  # noqa: E402

REPLY = json.dumps({"procedure": "si_joint_injection", "side": "left", "guidance": "fluoroscopy",
                    "purpose": "therapeutic", "medications": [{"name": "kenalog", "dose": "40 mg"}],
                    "diagnoses": [{"code": "M46.1"}]})


def _cases(n: int):
    base = load_drafting(REPO / "evals" / "drafting.jsonl")
    out = []
    for i in range(n):
        c = base[i % len(base)]
        # a distinct dictation per sample, so every sample is its own cache entry
        out.append(c.model_copy(update={"id": f"{c.id}#{i}", "dictation": f"{c.dictation} (#{i})"}))
    return out


def _script(server: FakeOpenAI, n: int) -> None:
    server.script(*([REPLY] * n))


def _run(cases, client, concurrency: int, out: Path):
    started = time.perf_counter()
    result = run(Datasets(drafting=cases), [Arm("llm-extract", model=client.config.model, llm=client)],
                 RunConfig(out_dir=out, concurrency=concurrency, progress=False))
    return time.perf_counter() - started, result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=100)
    p.add_argument("--delay-ms", type=float, default=500)
    p.add_argument("--concurrent-cases", type=int, default=24)
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = _cases(args.cases)
        with FakeOpenAI() as server:
            client = LLMClient(server.llm_config(model="scripted-model"), cache=ResponseCache(tmp / "cache"))
            _script(server, args.cases * 2)
            cold, _ = _run(cases, client, 4, tmp / "cold")
            calls_cold = len(server.requests)
            warm, result = _run(cases, client, 4, tmp / "warm")
            calls_warm = len(server.requests) - calls_cold
        started = time.perf_counter()
        again = rescore(result.log_path)
        rescored = time.perf_counter() - started
        assert again.summary["metrics"] == result.summary["metrics"]
        hits = result.summary["metrics"][f"llm-extract/scripted-model"]["cache_hit_rate"]
        print(f"cached re-run: {args.cases} samples in {warm:.2f} s (cold run {cold:.2f} s, {calls_cold} calls; "
              f"cached run made {calls_warm} calls, cache hit rate {hits:.0%}); rescore of its log {rescored:.2f} s"
              f"  [target <= 5 s: {'met' if warm <= 5 else 'NOT met'}]")

        n = args.concurrent_cases
        subset = cases[:n]
        timings = {}
        for concurrency in (1, 8):
            with FakeOpenAI(delay_ms=args.delay_ms) as server:
                client = LLMClient(server.llm_config(model="scripted-model"), cache=None)
                _script(server, n * 2)
                timings[concurrency], _ = _run(subset, client, concurrency, tmp / f"c{concurrency}")
        ratio = timings[1] / timings[8]
        print(f"concurrency: {n} samples x {args.delay_ms:.0f} ms per call: concurrency 1 {timings[1]:.2f} s, "
              f"concurrency 8 {timings[8]:.2f} s, ratio {ratio:.2f}x  [target >= 6x: "
              f"{'met' if ratio >= 6 else 'NOT met'}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
