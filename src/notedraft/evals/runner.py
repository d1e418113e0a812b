"""Run strategies × models over the datasets, log every sample, score, and summarise; or re-score a log.

`draft()` is synchronous (the LLM client is the openai SDK's sync client), so the runner drives it from asyncio
through its own thread pool sized to the concurrency (asyncio's default pool is capped at cpu+4 threads, which
would silently cap concurrency at 6 on a 2-core machine), bounded by a semaphore.

The log (`samples.jsonl`) is self-contained: a header line, then one line per sample with the case row, the whole
Draft or ValidationReport (LLM attempts with their raw replies included), the scores and the failure reasons.
`rescore(log)` rebuilds each sample from its line and scores it again: no dataset file, no model, no network.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
import math
import os
import subprocess
import sys
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..models import Draft, ValidationReport
from .dataset import Datasets, DraftingCase, ValidatorCase
from .scorers import (
    DraftingSample,
    Metric,
    PriceTable,
    Scorer,
    ValidatorSample,
    all_metrics,
    drafting_scorers,
    validator_scorers,
)

LOG_FORMAT = "notedraft-eval-log-v1"
SUMMARY_FORMAT = "notedraft-eval-summary-v1"
STRATEGIES = ("template", "llm-extract", "llm-compose")
LLM_STRATEGIES = ("llm-extract", "llm-compose")
VALIDATOR_ARMS = {"hand": "validator", "realnote": "realnotes"}


# =================================================================================================================
# Arms and results
# =================================================================================================================
@dataclass
class Arm:
    """One column of the report: a strategy with one model (template has none), or a validator dataset."""

    strategy: str
    model: str | None = None
    base_url: str | None = None
    kind: Literal["drafting", "validator"] = "drafting"
    llm: Any = None  # notedraft.llm.LLMClient for llm strategies
    label: str | None = None
    case_ids: set[str] | None = None  # a subset of the drafting cases (None: all)
    max_concurrency: int | None = None  # e.g. 1 for a one-slot local server: more in flight only queues there
    pool: str | None = None  # arms with the same pool share that bound (two strategies on one server)

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        return self.strategy if not self.model else f"{self.strategy}/{self.model}"

    def describe(self) -> dict:
        out = {"arm": self.name, "kind": self.kind, "strategy": self.strategy, "model": self.model,
               "base_url": self.base_url}
        if self.case_ids is not None:
            out["subset"] = len(self.case_ids)
        return out


class Result(BaseModel):
    """One logged sample: inputs, outputs, attempts (inside the draft), scores."""

    type: Literal["sample"] = "sample"
    kind: Literal["drafting", "validator"]
    arm: str
    strategy: str | None = None
    model: str | None = None
    case_id: str
    case: dict
    draft: dict | None = None
    report: dict | None = None
    error: str | None = None
    wall_ms: float = 0.0
    scores: dict[str, float | None] = Field(default_factory=dict)
    failures: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures

    def drafting_sample(self) -> DraftingSample:
        return DraftingSample(
            case=DraftingCase.model_validate(self.case),
            draft=Draft.model_validate(self.draft) if self.draft is not None else None,
            error=self.error,
            wall_ms=self.wall_ms,
        )

    def validator_sample(self) -> ValidatorSample:
        return ValidatorSample(
            case=ValidatorCase.model_validate(self.case),
            report=ValidationReport.model_validate(self.report) if self.report is not None else None,
            error=self.error,
            wall_ms=self.wall_ms,
        )


def score_result(result: Result, scorers: list[Scorer]) -> Result:
    """Fill result.scores/failures/details from its logged inputs and outputs (in place; returned for chaining)."""
    sample = result.drafting_sample() if result.kind == "drafting" else result.validator_sample()
    result.scores, result.failures, result.details = {}, [], {}
    for sc in scorers:
        if sc.applies_to != result.kind:
            continue
        s = sc.score(sample)
        result.scores.update(s.values)
        result.failures.extend(s.failures)
        if s.details:
            result.details[sc.name] = s.details
    return result


# =================================================================================================================
# Aggregation
# =================================================================================================================
def aggregate_metric(metric: Metric, results: list[Result]) -> float | None:
    if metric.kind == "ratio":
        num = [r.scores.get(metric.numerator) for r in results]
        den = [r.scores.get(metric.denominator) for r in results]
        pairs = [(n or 0.0, d) for n, d in zip(num, den) if d is not None]
        total = sum(d for _, d in pairs)
        return None if not pairs or total == 0 else sum(n for n, _ in pairs) / total
    values = [r.scores.get(metric.name) for r in results]
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return None
    if metric.kind == "sum":
        return float(sum(values))
    return sum(values) / len(values)


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 6)


def summarise(
    results: list[Result],
    arms: list[dict],
    scorers_by_kind: dict[str, list[Scorer]],
    *,
    run: dict | None = None,
) -> dict:
    """The summary object: `cases`, `metrics` per arm (strategy/model), and the breakdowns the reports show."""
    by_arm: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_arm[r.arm].append(r)
    arm_kind = {a["arm"]: a["kind"] for a in arms}
    metric_info: dict[str, dict] = {}
    metrics: dict[str, dict[str, float | None]] = {}
    requirements: dict[str, dict[str, dict]] = {}
    findings: dict[str, dict[str, int]] = {}
    by_tag: dict[str, dict[str, dict]] = {}
    for arm in [a["arm"] for a in arms]:
        rs = by_arm.get(arm, [])
        kind = arm_kind[arm]
        defs = all_metrics(scorers_by_kind[kind])
        metrics[arm] = {name: _round(aggregate_metric(m, rs)) for name, m in defs.items()}
        metrics[arm]["samples"] = float(len(rs))
        metrics[arm]["passed"] = _round(sum(r.passed for r in rs) / len(rs)) if rs else None
        for name, m in defs.items():
            metric_info.setdefault(name, {"description": m.description, "kind": m.kind, "better": m.better,
                                          "deterministic": m.deterministic, "unit": m.unit})
        requirements[arm] = _requirement_breakdown(rs)
        findings[arm] = _finding_counts(rs)
        by_tag[arm] = _tag_breakdown(rs)
    metric_info.setdefault("samples", {"description": "samples run in this arm", "kind": "sum", "better": "higher",
                                       "deterministic": True, "unit": ""})
    metric_info.setdefault("passed", {"description": "samples with no failure reason at all", "kind": "rate",
                                      "better": "higher", "deterministic": True, "unit": ""})
    case_counts: dict[str, int] = defaultdict(int)
    seen: set[tuple[str, str]] = set()
    for r in results:
        ds = "drafting" if r.kind == "drafting" else VALIDATOR_ARMS.get(r.case.get("source", "hand"), "validator")
        if (ds, r.case_id) not in seen:
            seen.add((ds, r.case_id))
            case_counts[ds] += 1
    failures = [
        {"arm": r.arm, "case_id": r.case_id, "kind": r.kind, "reasons": r.failures}
        for r in sorted(results, key=lambda r: (r.arm, r.case_id))
        if r.failures
    ]
    return {
        "format": SUMMARY_FORMAT,
        "run": run or {},
        "cases": len(seen),
        "case_counts": dict(case_counts),
        "samples": len(results),
        "arms": arms,
        "metrics": metrics,
        "metric_info": metric_info,
        "requirements": requirements,
        "findings": findings,
        "by_tag": by_tag,
        "failures": failures,
    }


def _requirement_breakdown(rs: list[Result]) -> dict[str, dict]:
    """Per documentation element: how often the final note captured it (drafting arms)."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rs:
        per = (r.details.get("elements") or {}).get("elements") or {}
        for element, ok in per.items():
            tally[element][0] += int(bool(ok))
            tally[element][1] += 1
    return {e: {"captured": c, "required": n, "rate": _round(c / n) if n else None} for e, (c, n) in sorted(tally.items())}


def _finding_counts(rs: list[Result]) -> dict[str, int]:
    """Error findings by rule id over the final drafts (drafting) or the reports (validator)."""
    counts: dict[str, int] = defaultdict(int)
    for r in rs:
        report = (r.draft or {}).get("report") if r.kind == "drafting" else r.report
        for f in (report or {}).get("findings") or []:
            if f.get("severity") == "error":
                counts[f.get("rule", "?")] += 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _tag_breakdown(rs: list[Result]) -> dict[str, dict]:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rs:
        tags = list(r.case.get("tags") or [])
        if r.kind == "drafting":
            tags += [f"path:{r.case.get('path')}", f"side:{r.case.get('side')}", f"outcome:{r.case['expected']['outcome']}"]
            tags += [f"style:{s}" for s in r.case.get("style") or []]
        for t in tags:
            tally[t][0] += int(r.passed)
            tally[t][1] += 1
    return {t: {"passed": p, "cases": n} for t, (p, n) in sorted(tally.items())}


# =================================================================================================================
# Running
# =================================================================================================================
class Progress:
    """A one-line progress bar on stderr when stderr is a terminal; elsewhere (CI logs) a plain line at most every
    30 seconds, so a long run on a slow local model still shows it is alive."""

    LOG_EVERY_S = 30.0

    def __init__(self, total: int, enabled: bool | None = None, stream=None):
        self.total, self.done, self.failed = total, 0, 0
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = self.logged = time.perf_counter()

    def tick(self, label: str, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        if not self.enabled:
            now = time.perf_counter()
            if now - self.logged >= self.LOG_EVERY_S or self.done == self.total:
                self.logged = now
                self.stream.write(f"  eval: {self.done}/{self.total} done, {self.failed} failed, "
                                  f"{now - self.started:.0f} s\n")
                self.stream.flush()
            return
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        elapsed = time.perf_counter() - self.started
        self.stream.write(
            f"\r  eval [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
            f"  failed {self.failed}  {elapsed:5.1f}s  {label[:40]:<40}"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


@dataclass
class RunConfig:
    out_dir: Path
    concurrency: int = 4
    progress: bool | None = None
    prices: PriceTable = field(default_factory=PriceTable)
    run_info: dict = field(default_factory=dict)


@dataclass
class RunOutput:
    summary: dict
    results: list[Result]
    log_path: Path


DraftFn = Callable[..., Draft]
ValidateFn = Callable[..., ValidationReport]


def _default_draft() -> DraftFn:
    from ..drafting import draft

    return draft


def _default_validate() -> ValidateFn:
    from ..validate import validate

    return validate


def _error_text(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"[:1000]


def _draft_one(draft_fn: DraftFn, arm: Arm, case: DraftingCase) -> Result:
    started = time.perf_counter()
    d, error = None, None
    try:
        kwargs: dict[str, Any] = {"codes": case.codes, "strategy": arm.strategy}
        if arm.llm is not None:
            kwargs["llm"] = arm.llm
        d = draft_fn(case.dictation, **kwargs)
    except Exception as exc:  # a crash is a scored failure of this sample, not of the run
        error = _error_text(exc)
    wall = (time.perf_counter() - started) * 1000
    return Result(
        kind="drafting", arm=arm.name, strategy=arm.strategy, model=arm.model, case_id=case.id,
        case=case.model_dump(mode="json"), draft=d.model_dump(mode="json") if d is not None else None,
        error=error, wall_ms=round(wall, 3),
    )


def _validate_one(validate_fn: ValidateFn, arm: Arm, case: ValidatorCase) -> Result:
    started = time.perf_counter()
    report, error = None, None
    try:
        report = validate_fn(case.note, case.codes, payer=case.payer)
    except Exception as exc:
        error = _error_text(exc)
    wall = (time.perf_counter() - started) * 1000
    return Result(
        kind="validator", arm=arm.name, case_id=case.id, case=case.model_dump(mode="json"),
        report=report.model_dump(mode="json") if report is not None else None, error=error, wall_ms=round(wall, 3),
    )


def validator_arms(datasets: Datasets) -> list[tuple[Arm, list[ValidatorCase]]]:
    out = []
    for source, label in VALIDATOR_ARMS.items():
        cases = [c for c in datasets.validator if c.source == source]
        if cases:
            out.append((Arm(strategy="validate", kind="validator", label=label), cases))
    return out


async def run_async(
    datasets: Datasets,
    arms: list[Arm],
    config: RunConfig,
    *,
    draft_fn: DraftFn | None = None,
    validate_fn: ValidateFn | None = None,
) -> RunOutput:
    jobs: list[tuple[Arm, Any]] = [
        (arm, c) for arm in arms for c in datasets.drafting if arm.case_ids is None or c.id in arm.case_ids
    ]
    v_arms = validator_arms(datasets)
    jobs += [(arm, c) for arm, cases in v_arms for c in cases]
    all_arms = [a.describe() for a in arms] + [a.describe() for a, _ in v_arms]
    scorers = {"drafting": drafting_scorers(config.prices), "validator": validator_scorers()}
    draft_fn = draft_fn or (_default_draft() if datasets.drafting and arms else None)
    validate_fn = validate_fn or (_default_validate() if v_arms else None)

    config.out_dir.mkdir(parents=True, exist_ok=True)
    log_path = config.out_dir / "samples.jsonl"
    run_info = {
        "id": config.run_info.get("id") or uuid.uuid4().hex[:12],
        "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "concurrency": config.concurrency,
        "prices": config.prices.as_dict(),
        **{k: v for k, v in config.run_info.items() if k != "id"},
    }
    progress = Progress(len(jobs), config.progress)
    sem = asyncio.Semaphore(max(1, config.concurrency))
    loop = asyncio.get_running_loop()
    results: list[Result] = []
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, config.concurrency), thread_name_prefix="eval") as pool, \
            log_path.open("w", encoding="utf-8") as log:
        log.write(json.dumps({"type": "run", "format": LOG_FORMAT, "run": run_info, "arms": all_arms}) + "\n")

        pools: dict[str, asyncio.Semaphore] = {}
        for a in arms:
            if a.max_concurrency:
                pools.setdefault(a.pool or a.name, asyncio.Semaphore(a.max_concurrency))
        unbounded = contextlib.nullcontext()

        async def one(arm: Arm, case) -> None:
            async with pools.get(arm.pool or arm.name, unbounded), sem:
                if arm.kind == "drafting":
                    r = await loop.run_in_executor(pool, _draft_one, draft_fn, arm, case)
                else:
                    r = await loop.run_in_executor(pool, _validate_one, validate_fn, arm, case)
            score_result(r, scorers[r.kind])
            results.append(r)
            log.write(r.model_dump_json() + "\n")
            progress.tick(f"{arm.name} {case.id}", r.passed)

        try:
            await asyncio.gather(*(one(arm, c) for arm, c in jobs))
        finally:
            progress.close()
    run_info["seconds"] = round(time.perf_counter() - started, 3)
    results.sort(key=lambda r: (r.arm, r.case_id))
    summary = summarise(results, all_arms, scorers, run=run_info)
    summary["run"]["log"] = str(log_path)
    if datasets.skipped_realnotes:
        summary["skipped_realnotes"] = datasets.skipped_realnotes
    return RunOutput(summary=summary, results=results, log_path=log_path)


def run(datasets: Datasets, arms: list[Arm], config: RunConfig, **kwargs) -> RunOutput:
    return asyncio.run(run_async(datasets, arms, config, **kwargs))


# =================================================================================================================
# Re-scoring
# =================================================================================================================
def read_log(log_path: str | os.PathLike) -> tuple[dict, list[Result]]:
    header: dict = {}
    results: list[Result] = []
    with Path(log_path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if obj.get("type") == "run":
                header = obj
            elif obj.get("type") == "sample":
                results.append(Result.model_validate(obj))
            else:
                raise ValueError(f"{log_path}:{n}: not an eval log line")
    if not header:
        raise ValueError(f"{log_path}: no run header: not a notedraft eval log")
    return header, results


def rescore(log_path: str | os.PathLike, prices: PriceTable | None = None) -> RunOutput:
    """Score a log again from what it recorded: no model, no network, no dataset files."""
    header, results = read_log(log_path)
    run_info = dict(header.get("run") or {})
    if prices is None:
        prices = PriceTable.load(None)
        logged = run_info.get("prices") or {}
        if logged:
            from .scorers import Price

            prices = PriceTable({k: Price(v["input"], v["output"]) for k, v in logged.items()})
    scorers = {"drafting": drafting_scorers(prices), "validator": validator_scorers()}
    for r in results:
        score_result(r, scorers[r.kind])
    results.sort(key=lambda r: (r.arm, r.case_id))
    arms = header.get("arms") or [
        {"arm": name, "kind": kind, "strategy": strategy, "model": model}
        for name, kind, strategy, model in sorted({(r.arm, r.kind, r.strategy, r.model) for r in results})
    ]
    run_info["rescored_from"] = str(log_path)
    summary = summarise(results, arms, scorers, run=run_info)
    return RunOutput(summary=summary, results=results, log_path=Path(log_path))


def git_revision(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
