"""The CI gate: thresholds from `evals/thresholds.toml`, checked against a summary.

    ["*"]                                   # table name: an arm pattern (fnmatch on "strategy/model" or "strategy")
    unsupported_facts_final = { max = 0 }   # each entry: min and/or max, and an optional why
    [template]
    code_support_correct = { min = 0.9, why = "..." }

Only deterministic metrics may be listed (never a latency, never a judge): a noisy metric is a configuration
error, not a gate. A metric with no value in an arm (no case it applies to) is skipped and reported as such.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path


class GateError(ValueError):
    """The thresholds file is unreadable or names a metric that cannot gate."""


@dataclass(frozen=True)
class Threshold:
    arms: str
    metric: str
    min: float | None = None
    max: float | None = None
    why: str = ""

    def bound(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return " and ".join(parts)


def load_thresholds(path: str | Path) -> list[Threshold]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GateError(f"cannot read thresholds {path}: {exc}") from exc
    out = []
    for arms, table in data.items():
        if not isinstance(table, dict):
            raise GateError(f"{path}: [{arms}] must be a table of metric = {{ min = ..., max = ... }}")
        for metric, spec in table.items():
            if not isinstance(spec, dict) or not ({"min", "max"} & set(spec)):
                raise GateError(f"{path}: [{arms}] {metric} needs min and/or max, e.g. {{ min = 0.9 }}")
            unknown = set(spec) - {"min", "max", "why"}
            if unknown:
                raise GateError(f"{path}: [{arms}] {metric}: unknown keys {sorted(unknown)}")
            out.append(Threshold(arms, metric, spec.get("min"), spec.get("max"), spec.get("why", "")))
    return out


def _applies(pattern: str, arm: dict) -> bool:
    names = [arm["arm"]]
    if arm.get("strategy"):
        names.append(arm["strategy"])
    return any(fnmatchcase(n, pattern) for n in names)


def check(summary: dict, thresholds: list[Threshold], known: set[str] | None = None) -> dict:
    """{"passed", "violations", "checked", "skipped"}: a violation is a metric outside its bound in some arm.

    `known` is every metric any scorer can produce (a partial run, e.g. drafting only, still knows validator
    metrics); a threshold on a name outside it is a typo and an error, never a silent pass.
    """
    info = summary.get("metric_info") or {}
    known = set(known or ()) | set(info)
    for t in thresholds:
        if t.metric not in known:
            raise GateError(f"threshold on unknown metric {t.metric!r} (known: {', '.join(sorted(known))})")
        if t.metric in info and not info[t.metric].get("deterministic", False):
            raise GateError(f"{t.metric} is not deterministic and cannot gate CI")
    violations, checked, skipped = [], [], []
    for arm in summary.get("arms") or []:
        values = (summary.get("metrics") or {}).get(arm["arm"]) or {}
        for t in thresholds:
            if not _applies(t.arms, arm) or t.metric not in values:
                continue
            value = values[t.metric]
            entry = {"arm": arm["arm"], "metric": t.metric, "value": value, "bound": t.bound(), "why": t.why}
            if value is None:
                skipped.append(entry)
                continue
            checked.append(entry)
            if (t.min is not None and value < t.min) or (t.max is not None and value > t.max):
                violations.append(entry)
    return {"passed": not violations, "violations": violations, "checked": checked, "skipped": skipped}
