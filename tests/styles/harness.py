"""Generate the style variants, run them through the validator (notes) and the offline drafter (dictations), tally.

For notes: a keep variant the validator refuses is a FALSE REFUSAL; a break variant it supports is a FALSE
SUPPORTED. For dictations: a keep variant fails when the draft is refused, carries other code lines than the case
expects, or loses / alters / infers a gold fact (score.py); a break variant fails when the draft is supported.
A variant on which notedraft raises is a failure of its kind, listed with the exception.

Every random choice comes from random.Random(f"{seed_id}:{category}:{n}"): n is the style's index in its
category (the renderer's own choices), or "pick" (which styles of a category a seed gets when `per` caps them).
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from notedraft.evals.dataset import load_drafting, load_validator

from tests.metamorphic.harness import EVALS, progress_to_stderr  # noqa: F401 - re-exported for __main__
from .dictations import DICTATION_STYLES
from .facts import Facts, Seeds, drafting_seeds, validator_seeds
from .notes import NOTE_STYLES, Style
from .score import fidelity

# The gate (tests/styles/test_styles.py, marker styles_gate): zero false supported, and at most this share of
# keep variants refused, for notes and for dictations separately.
MAX_FALSE_REFUSAL_RATIO = 0.01
# Styles drawn per seed and category (0 = every applicable style). Notes are cheap (~3 ms), dictations are not
# (~15-20 ms); the caps keep the whole run near 4,000 variants and well under two minutes on two cores.
# Category 6 applies to the few ultrasound seeds only: all of its styles are drawn.
PER_NOTE = {"keep": 3, "break": 1, "6.ultrasound_records": {"keep": 0}}
PER_DICTATION = {"keep": 2, "break": 1, "6.ultrasound_records": {"keep": 0}}
CATEGORY_TITLES = {
    "0.control": "control: the seed's facts in a plain four-section layout",
    "1.amounts": "medication amounts as practices write them",
    "2.second_procedure": "a second procedure in the note",
    "3.explanations": "explanations, corrections, equipment lists",
    "4.imaging_names": "other names for the same imaging",
    "5.outside_procedure": "statements outside the procedure section",
    "6.ultrasound_records": "ultrasound records in other words",
    "7.layouts": "layouts",
    "8.medicare": "Medicare (not rendered: the seeds carry no LCD facts)",
    "9.unfilled_fields": "unfilled EHR fields",
    "10.normalisation": "normalisation",
}


@dataclass(frozen=True)
class StyleVariant:
    id: str  # seed/category/style
    seed_id: str
    source: str  # validator | dictation
    category: str
    style: str
    kind: str  # keep | break
    text: str
    codes: tuple[str, ...]  # notes: the claim; dictations: the code lines the draft must carry (keep) / asks (break)
    asked: tuple[str, ...] | None  # dictations: passed to draft(); None lets the drafter suggest
    payer: str | None
    facts: Facts

    @property
    def expected_supported(self) -> bool:
        return self.kind == "keep"


@dataclass
class Generated:
    variants: list[StyleVariant] = field(default_factory=list)
    skipped_seeds: dict[str, str] = field(default_factory=dict)
    not_applicable: Counter = field(default_factory=Counter)  # (category, style) → seeds it did not apply to
    seeds: int = 0


def _categories(styles: list[Style]) -> dict[str, list[Style]]:
    out: dict[str, list[Style]] = defaultdict(list)
    for st in styles:
        out[st.category].append(st)
    return out


def generate(seeds: Seeds, styles: list[Style], per: dict | None = None) -> Generated:
    per = per or {"keep": 0, "break": 0}
    out = Generated(skipped_seeds=dict(seeds.skipped), seeds=len(seeds.seeds))
    cats = _categories(styles)
    used: Counter = Counter()
    for s in seeds.seeds:
        seen: set[str] = set()
        for category, sts in cats.items():
            made: dict[str, list[tuple[Style, str]]] = {"keep": [], "break": []}
            for n, st in enumerate(sts):
                text = st.fn(s, random.Random(f"{s.id}:{category}:{n}"))
                if text is None:
                    out.not_applicable[(category, st.name)] += 1
                    continue
                if text in seen:
                    continue
                seen.add(text)
                made[st.kind].append((st, text))
            pick = random.Random(f"{s.id}:{category}:pick")
            for kind, items in made.items():
                k = per.get(category, {}).get(kind, per.get(kind, 0))
                if k <= 0 or k >= len(items):
                    chosen = items
                else:  # the least-used styles first (a style few seeds allow — bilateral, ultrasound — is never
                    # starved), ties in a seeded random order; then back in registry order
                    shuffled = pick.sample(items, len(items))
                    chosen = sorted(sorted(shuffled, key=lambda x: used[(category, x[0].name)])[:k],
                                    key=lambda x: sts.index(x[0]))
                for st, _ in chosen:
                    used[(category, st.name)] += 1
                for st, text in chosen:
                    if s.source == "dictation":
                        # a break asks for the seed's code lines; a second procedure does too (the drafter may
                        # rightly suggest codes for it); otherwise the case's own request
                        asked = s.codes if kind == "break" or category == "2.second_procedure" else s.asked
                    else:
                        asked = s.codes
                    out.variants.append(StyleVariant(f"{s.id}/{category}/{st.name}", s.id, s.source, category,
                                                     st.name, kind, text, s.codes, asked, s.payer, s.facts))
    return out


def note_seeds(path: Path = EVALS / "validator.jsonl") -> Seeds:
    return validator_seeds(load_validator(path))


def dictation_seeds(paths: tuple[Path, ...] = (EVALS / "drafting.jsonl", EVALS / "drafting_fidelity.jsonl")) -> Seeds:
    cases = []
    for p in paths:
        cases += load_drafting(p)
    return drafting_seeds(cases)


@dataclass
class Outcome:
    variant: StyleVariant
    ok: bool
    reasons: list[str]  # why it failed: validator error rules / refusal / fidelity problems
    detail: list[str] = field(default_factory=list)  # rule: message, for --show


@dataclass
class Tally:
    source: str
    generated: Generated
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def of(self, kind: str, category: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if o.variant.kind == kind and (category is None or
                                                                         o.variant.category == category)]

    @property
    def false_refused(self) -> list[Outcome]:
        return [o for o in self.of("keep") if not o.ok]

    @property
    def false_supported(self) -> list[Outcome]:
        return [o for o in self.of("break") if not o.ok]

    @property
    def false_refusal_ratio(self) -> float:
        keeps = self.of("keep")
        return len(self.false_refused) / len(keeps) if keeps else 0.0

    def categories(self) -> list[str]:
        return sorted({o.variant.category for o in self.outcomes}, key=lambda c: int(c.split(".")[0]))


def _errors(report) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in report.findings if f.severity == "error"]


def run_notes(per: dict | None = PER_NOTE, progress=None) -> Tally:
    from notedraft.validate import validate

    start = time.monotonic()
    gen = generate(note_seeds(), NOTE_STYLES, per)
    t = Tally("notes", gen)
    for n, v in enumerate(gen.variants, 1):
        try:
            r = validate(v.text, list(v.codes), v.payer)
        except Exception as exc:  # noqa: BLE001 - a crash is a finding
            t.outcomes.append(Outcome(v, False, [f"raised {type(exc).__name__}"], [str(exc)]))
            continue
        ok = r.supported == v.expected_supported
        errs = _errors(r)
        reasons = [] if ok else (list(dict.fromkeys(e.split(":")[0] for e in errs)) or ["supported"])
        t.outcomes.append(Outcome(v, ok, reasons, errs if not ok else []))
        if progress and n % 1000 == 0:
            progress(n, len(gen.variants))
    t.seconds = time.monotonic() - start
    return t


def run_dictations(per: dict | None = PER_DICTATION, progress=None) -> Tally:
    from notedraft.drafting import draft

    start = time.monotonic()
    gen = generate(dictation_seeds(), DICTATION_STYLES, per)
    t = Tally("dictations", gen)
    for n, v in enumerate(gen.variants, 1):
        try:
            d = draft(v.text, codes=list(v.asked) if v.asked is not None else None, strategy="template")
        except Exception as exc:  # noqa: BLE001
            t.outcomes.append(Outcome(v, False, [f"raised {type(exc).__name__}"], [str(exc)]))
            continue
        supported = bool(d.report.supported)
        errs = _errors(d.report)
        if v.kind == "break":
            ok = not supported
            reasons = [] if ok else ["supported"]
            detail = [] if ok else [f"codes {list(d.codes)}"]
        else:
            reasons, detail = [], []
            if not supported:
                reasons += [f"refused: {e.split(':')[0]}" for e in errs] or ["refused"]
                detail += errs
            elif sorted(d.codes) != sorted(v.codes):
                reasons.append("codes")
                detail.append(f"codes {list(d.codes)} != expected {list(v.codes)}")
            if supported:
                problems = fidelity(d.note, v.facts, v.text)
                reasons += [f"fidelity: {p.split(':')[0]}" for p in problems]
                detail += problems
            ok = not reasons
        if not ok:
            detail.append("draft: " + d.note.replace("\n", " | ")[:600])
        t.outcomes.append(Outcome(v, ok, list(dict.fromkeys(reasons)), detail))
        if progress and n % 500 == 0:
            progress(n, len(gen.variants))
    t.seconds = time.monotonic() - start
    return t


# --- reporting ----------------------------------------------------------------------------------------------------
def summary(t: Tally) -> str:
    g = t.generated
    keeps, breaks = t.of("keep"), t.of("break")
    return (f"{t.source}: {g.seeds} seeds ({len(g.skipped_seeds)} could not be read cleanly: n/a), "
            f"{len(t.outcomes)} variants ({len(keeps)} keep, {len(breaks)} break) in {t.seconds:.1f} s\n"
            f"  FALSE REFUSALS {len(t.false_refused)}/{len(keeps)} ({t.false_refusal_ratio:.1%}, gate <= "
            f"{MAX_FALSE_REFUSAL_RATIO:.0%}); FALSE SUPPORTED {len(t.false_supported)}/{len(breaks)} (gate 0)"
            + _wrong_codes_line(t) + _clean_line(t))


def _wrong_codes_line(t: Tally) -> str:
    out = ""
    wrong = [o for o in t.of("keep") if o.reasons[:1] == ["codes"]]
    if wrong:
        out += (f"\n  of the failing keep variants, {len(wrong)} are drafts SUPPORTED WITH OTHER CODE LINES than the "
                f"case's (e.g. {wrong[0].variant.id}: {wrong[0].detail[0]})")
    lost = [o for o in t.of("keep") if o.reasons and o.reasons[0].startswith("fidelity")]
    if lost:
        out += (f"\n  and {len(lost)} are drafts supported with the right codes that lose, alter or infer a gold fact "
                f"(e.g. {lost[0].variant.id}: {lost[0].detail[0]})")
    return out


def refused_controls(t: Tally) -> set[str]:
    """Seeds whose plain re-rendering (0.control) is already refused: their other variants inherit that refusal."""
    return {o.variant.seed_id for o in t.outcomes if o.variant.category == "0.control" and not o.ok}


def _clean_line(t: Tally) -> str:
    bad = refused_controls(t)
    if not bad:
        return ""
    k = [o for o in t.of("keep") if o.variant.seed_id not in bad]
    fr = sum(not o.ok for o in k)
    return (f"\n  {len(bad)} seeds' plain control is itself refused ({', '.join(sorted(bad))}); on the other seeds: "
            f"false refusals {fr}/{len(k)} ({fr / len(k) if k else 0:.1%})")


def table(t: Tally) -> str:
    out = [summary(t), "", f"  {'category':26} {'keep':>5} {'false ref':>10} {'rate':>6}   {'break':>5} "
                           f"{'false sup':>9}"]
    for cat in t.categories():
        k, b = t.of("keep", cat), t.of("break", cat)
        fr = sum(not o.ok for o in k)
        fs = sum(not o.ok for o in b)
        rate = f"{fr / len(k):.0%}" if k else "-"
        out.append(f"  {cat:26} {len(k):>5} {fr:>10} {rate:>6}   {len(b):>5} {fs:>9}")
    out.append("  8.medicare                   (not rendered: the seeds state no LCD criteria — duration, "
               "provocative tests, conservative care — and inventing them would not be meaning-preserving)")
    return "\n".join(out)


def style_table(t: Tally, category: str) -> str:
    rows = defaultdict(Counter)
    for o in t.outcomes:
        if o.variant.category == category:
            rows[(o.variant.kind, o.variant.style)]["n"] += 1
            rows[(o.variant.kind, o.variant.style)]["fail"] += not o.ok
    return "\n".join(f"    {kind:5} {st:40} {c['n']:>4} variants, {c['fail']:>4} failing"
                     for (kind, st), c in sorted(rows.items()))


def top_reasons(t: Tally, n: int = 10, primary: bool = True) -> list[tuple[str, int, list[str]]]:
    """The most common failure reasons. primary: each failing variant counted once, by its first error (the
    validator's own order, so a conflict or an unread amount comes before the requirements it then fails);
    otherwise by every error rule it shows."""
    counts: Counter = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for o in t.outcomes:
        if o.ok:
            continue
        for r in (o.reasons[:1] if primary else o.reasons):
            key = f"{o.variant.kind}: {r}"
            counts[key] += 1
            if len(examples[key]) < 3:
                examples[key].append(o.variant.id)
    return [(k, c, examples[k]) for k, c in counts.most_common(n)]


def show(t: Tally, category: str, limit: int = 20) -> str:
    out = [f"{t.source}, {category}: failing variants (first {limit})", style_table(t, category), ""]
    fails = [o for o in t.outcomes if o.variant.category == category and not o.ok]
    for o in fails[:limit]:
        v = o.variant
        out.append(f"[{v.kind}] {v.id}  codes={list(v.codes)}" + (f" asked={list(v.asked) if v.asked else None}"
                                                                   if v.source == "dictation" else ""))
        out.append("  " + v.text.replace("\n", "\n  "))
        for d in o.detail or ["(no error finding: the claim was supported)"]:
            out.append(f"    -> {d}")
        out.append("")
    if len(fails) > limit:
        out.append(f"... {len(fails) - limit} more")
    return "\n".join(out)


def as_json(tallies: list[Tally]) -> dict:
    res = {}
    for t in tallies:
        cats = {}
        for cat in t.categories():
            k, b = t.of("keep", cat), t.of("break", cat)
            styles = defaultdict(lambda: {"variants": 0, "failing": 0})
            for o in k + b:
                styles[f"{o.variant.kind}:{o.variant.style}"]["variants"] += 1
                styles[f"{o.variant.kind}:{o.variant.style}"]["failing"] += not o.ok
            cats[cat] = {"keep": len(k), "false_refused": sum(not o.ok for o in k), "break": len(b),
                         "false_supported": sum(not o.ok for o in b), "styles": dict(styles)}
        res[t.source] = {
            "seeds": t.generated.seeds, "seeds_not_read": t.generated.skipped_seeds,
            "variants": len(t.outcomes), "keep": len(t.of("keep")), "break": len(t.of("break")),
            "false_refused": len(t.false_refused), "false_supported": len(t.false_supported),
            "false_refusal_ratio": round(t.false_refusal_ratio, 4), "seconds": round(t.seconds, 1),
            "categories": cats,
            "top_reasons": [{"reason": r, "count": c, "examples": e} for r, c, e in top_reasons(t, 20)],
            "all_reasons": [{"reason": r, "count": c, "examples": e} for r, c, e in top_reasons(t, 40, False)],
            "failing": [{"id": o.variant.id, "kind": o.variant.kind, "reasons": o.reasons} for o in t.outcomes
                        if not o.ok],
        }
    return res
