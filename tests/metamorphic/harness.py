"""Run the metamorphic variants through the validator and tally them.

Counts: a break variant the validator still calls supported is a FALSE SUPPORTED (the gate: zero); a keep variant
it refuses is a FALSE REFUSAL (gated by a ratio, see MAX_FALSE_REFUSAL_RATIO). A variant on which validate()
raises counts as a failure of its kind and is listed, never hidden.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from notedraft.evals.dataset import load_validator
from notedraft.validate import validate

from .generators import Generated, Variant, generate, seeds_from_cases

EVALS = Path(__file__).resolve().parents[2] / "evals"

# A refused meaning-preserving edit costs the physician a query, not the practice a false claim; some conservatism
# on rare abbreviations and run-together sections is acceptable, a reader that refuses routinely is not.
# 5 % is about one keep variant per seed note (each seed yields ~15-25), i.e. one rough edge per note style.
MAX_FALSE_REFUSAL_RATIO = 0.05


@dataclass
class Tally:
    seeds: int = 0
    seeds_refused: list[str] = field(default_factory=list)  # seeds the validator does not support as written
    variants: int = 0
    by_category: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    false_supported: list[Variant] = field(default_factory=list)
    keep_variants: list[Variant] = field(default_factory=list)
    break_variants: list[Variant] = field(default_factory=list)
    false_refused: list[Variant] = field(default_factory=list)
    raised: list[tuple[Variant, str]] = field(default_factory=list)
    not_applicable: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def breaks(self) -> int:
        return sum(c["n"] for k, c in self.by_category.items() if not k.startswith("keep."))

    @property
    def keeps(self) -> int:
        return sum(c["n"] for k, c in self.by_category.items() if k.startswith("keep."))

    @property
    def flips_held(self) -> int:
        return sum(c["ok"] for k, c in self.by_category.items() if not k.startswith("keep."))

    @property
    def false_refusal_ratio(self) -> float:
        return len(self.false_refused) / self.keeps if self.keeps else 0.0


def load_seeds(path: Path = EVALS / "validator.jsonl"):
    return seeds_from_cases(load_validator(path))


def run(per: int = 4, progress=None, path: Path = EVALS / "validator.jsonl") -> Tally:
    """Generate and validate every variant. `progress(done, total)` is called every 1000 variants."""
    start = time.monotonic()
    seeds = load_seeds(path)
    gen: Generated = generate(seeds, per=per)
    t = Tally(seeds=len(seeds), variants=len(gen.variants), not_applicable=dict(gen.not_applicable))
    for s in seeds:
        if not validate(s.note, list(s.codes), s.payer).supported:
            t.seeds_refused.append(s.id)
    t.keep_variants = [v for v in gen.variants if v.kind == "keep"]
    t.break_variants = [v for v in gen.variants if v.kind == "break"]
    for n, v in enumerate(gen.variants, 1):
        c = t.by_category[v.category]
        c["n"] += 1
        try:
            supported = validate(v.text, list(v.codes), v.payer).supported
        except Exception as exc:  # noqa: BLE001 - a crash is a finding, reported with its variant
            t.raised.append((v, f"{type(exc).__name__}: {exc}"))
            (t.false_refused if v.expected_supported else t.false_supported).append(v)
            continue
        if supported == v.expected_supported:
            c["ok"] += 1
        elif supported:
            t.false_supported.append(v)
            c["false_supported"] += 1
        else:
            t.false_refused.append(v)
            c["false_refused"] += 1
        if progress and n % 1000 == 0:
            progress(n, len(gen.variants))
    t.seconds = time.monotonic() - start
    return t


def summary(t: Tally) -> str:
    lines = [
        f"metamorphic: {t.seeds} seed notes ({len(t.seeds_refused)} refused as written), {t.variants} variants "
        f"({t.breaks} meaning-changing, {t.keeps} meaning-preserving) in {t.seconds:.1f} s",
        f"  flips held {t.flips_held}/{t.breaks}; FALSE SUPPORTED {len(t.false_supported)}; false refused "
        f"{len(t.false_refused)}/{t.keeps} ({t.false_refusal_ratio:.1%}, gate <= {MAX_FALSE_REFUSAL_RATIO:.0%}); "
        f"raised {len(t.raised)}",
    ]
    refused = set(t.seeds_refused)
    own = [v for v in t.false_refused if v.seed_id not in refused]
    keeps_ok_seeds = sum(1 for v in t.keep_variants if v.seed_id not in refused)
    if refused:
        breaks_ok_seeds = t.breaks - sum(1 for v in t.break_variants if v.seed_id in refused)
        fs_own = sum(1 for v in t.false_supported if v.seed_id not in refused)
        lines.append(f"  on the {t.seeds - len(refused)} seeds supported as written: flips held "
                     f"{breaks_ok_seeds - fs_own}/{breaks_ok_seeds}, false supported {fs_own}, false refused "
                     f"{len(own)}/{keeps_ok_seeds} (variants of a refused seed inherit its refusal)")
    return "\n".join(lines)


def table(t: Tally, examples: int = 3) -> str:
    out = [summary(t), "", f"{'category':34} {'variants':>8} {'held':>6} {'false sup':>9} {'false ref':>9}"]
    for cat in sorted(t.by_category, key=lambda k: (k.startswith("keep."), k)):
        c = t.by_category[cat]
        out.append(f"{cat:34} {c['n']:>8} {c['ok']:>6} {c['false_supported']:>9} {c['false_refused']:>9}")
    if t.not_applicable:
        out.append("")
        out.append("seeds a fact's edits could not be applied to (n/a): " +
                   ", ".join(f"{k} {v}" for k, v in sorted(t.not_applicable.items())))
    if t.seeds_refused:
        out.append("seeds refused as written: " + ", ".join(t.seeds_refused))
    for label, items in (("FALSE SUPPORTED", t.false_supported), ("false refused", t.false_refused)):
        if not items:
            continue
        out.append("")
        out.append(f"{label}, first {examples} per category:")
        shown: Counter = Counter()
        for v in items:
            if shown[v.category] >= examples:
                continue
            shown[v.category] += 1
            out.append(f"  [{v.category}] {v.seed_id} {list(v.codes)} edit={v.edit!r}")
            out.append("      " + v.text.replace("\r", "\\r").replace("\n", "\\n")[:400])
    for v, err in t.raised[:10]:
        out.append(f"  RAISED [{v.category}] {v.seed_id}: {err}")
    return "\n".join(out)


def progress_to_stderr(done: int, total: int) -> None:
    print(f"  ... {done}/{total} variants validated", file=sys.stderr, flush=True)


# --- the procedure families (evals/validator_families.jsonl) --------------------------------------------------------
# The family notes are short and uniform, so a rough edge costs a larger share: the same 5 % per family as above
# would hide a whole refused style; the gate is 1 % per family (the style-suite ratio).
MAX_FAMILY_FALSE_REFUSAL_RATIO = 0.01


def run_families(per: int = 3, progress=None) -> dict[str, Tally]:
    """One Tally per family (tags[1] of the case), every variant of every family seed validated."""
    from . import families as fam

    start = time.monotonic()
    seeds = fam.family_seeds()
    family_of = {s.id: s.family for s in seeds}
    gen = fam.generate(seeds, per=per)
    out: dict[str, Tally] = {}
    for s in seeds:
        t = out.setdefault(s.family, Tally())
        t.seeds += 1
        if not validate(s.note, list(s.codes), s.payer).supported:
            t.seeds_refused.append(s.id)
    for n, v in enumerate(gen.variants, 1):
        t = out[family_of[v.seed_id]]
        t.variants += 1
        (t.keep_variants if v.kind == "keep" else t.break_variants).append(v)
        c = t.by_category[v.category]
        c["n"] += 1
        try:
            supported = validate(v.text, list(v.codes), v.payer).supported
        except Exception as exc:  # noqa: BLE001 - a crash is a finding
            t.raised.append((v, f"{type(exc).__name__}: {exc}"))
            (t.false_refused if v.expected_supported else t.false_supported).append(v)
            continue
        if supported == v.expected_supported:
            c["ok"] += 1
        elif supported:
            t.false_supported.append(v)
            c["false_supported"] += 1
        else:
            t.false_refused.append(v)
            c["false_refused"] += 1
        if progress and n % 1000 == 0:
            progress(n, len(gen.variants))
    elapsed = time.monotonic() - start
    for t in out.values():
        t.seconds = elapsed
    return out


def family_summary(tallies: dict[str, Tally]) -> str:
    lines = [f"{'family':24} {'seeds':>5} {'variants':>8} {'breaks':>6} {'FALSE SUP':>9} {'keeps':>5} "
             f"{'false ref':>9} {'ratio':>6}"]
    tot = Tally()
    for name in sorted(tallies):
        t = tallies[name]
        lines.append(f"{name:24} {t.seeds:>5} {t.variants:>8} {t.breaks:>6} {len(t.false_supported):>9} "
                     f"{t.keeps:>5} {len(t.false_refused):>9} {t.false_refusal_ratio:>6.1%}")
        tot.seeds += t.seeds
        tot.variants += t.variants
    breaks = sum(t.breaks for t in tallies.values())
    keeps = sum(t.keeps for t in tallies.values())
    fs = sum(len(t.false_supported) for t in tallies.values())
    fr = sum(len(t.false_refused) for t in tallies.values())
    lines.append(f"{'all families':24} {tot.seeds:>5} {tot.variants:>8} {breaks:>6} {fs:>9} {keeps:>5} {fr:>9} "
                 f"{(fr / keeps if keeps else 0):>6.1%}")
    refused = [i for t in tallies.values() for i in t.seeds_refused]
    if refused:
        lines.append("seeds refused as written: " + ", ".join(refused))
    return "\n".join(lines)


def family_table(tallies: dict[str, Tally], examples: int = 3) -> str:
    out = [family_summary(tallies)]
    for name in sorted(tallies):
        t = tallies[name]
        out.append("")
        out.append(f"[{name}] {f'category':34} {'variants':>8} {'held':>6} {'false sup':>9} {'false ref':>9}")
        for cat in sorted(t.by_category, key=lambda k: (k.startswith("keep."), k)):
            c = t.by_category[cat]
            out.append(f"  {cat:40} {c['n']:>8} {c['ok']:>6} {c['false_supported']:>9} {c['false_refused']:>9}")
        for label, items in (("FALSE SUPPORTED", t.false_supported), ("false refused", t.false_refused)):
            shown: Counter = Counter()
            for v in items:
                if shown[v.category] >= examples:
                    continue
                shown[v.category] += 1
                out.append(f"  {label} [{v.category}] {v.seed_id} {list(v.codes)} edit={v.edit!r}")
                out.append("      " + v.text.replace("\r", "\\r").replace("\n", "\\n")[:500])
        for v, err in t.raised[:5]:
            out.append(f"  RAISED [{v.category}] {v.seed_id}: {err}")
    return "\n".join(out)


def families_gate_problems(tallies: dict[str, Tally]) -> list[str]:
    problems = []
    for name, t in sorted(tallies.items()):
        if t.false_supported:
            problems.append(f"{name}: {len(t.false_supported)} meaning-changing edits still supported")
        if t.false_refusal_ratio > MAX_FAMILY_FALSE_REFUSAL_RATIO:
            problems.append(f"{name}: false refusals {t.false_refusal_ratio:.1%} > "
                            f"{MAX_FAMILY_FALSE_REFUSAL_RATIO:.0%}")
    return problems
