"""The vocabulary rule packs are written in: each check reads Facts and the claim's code lines.

A check returns an Outcome: whether it holds, the spans that show it (or, when it fails, the spans that show
why, e.g. "fluoroscopy was not used"), and a short detail for the message ("undosed: lidocaine").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice

from . import lexicon as lx
from .models import CodeLine, Facts, Span

SIDE_OF_MODIFIER = {"LT": "left", "RT": "right", "50": "bilateral"}


@dataclass
class Claim:
    """What a check may look at: the facts, the line being checked, every line on the claim, the payer."""

    facts: Facts
    line: CodeLine
    lines: list[CodeLine]
    payer: str | None = None
    text: str | None = None  # the note, when a check must find its words again (the setting)
    index: LineIndex | None = None  # the lines by code, built once per claim (see LineIndex)


@dataclass
class LineIndex:
    """The claim's lines grouped by code. Checks that compare a line with the others used to scan every line,
    which made a claim cost O(lines²); with this they cost O(1) per line."""

    by_code: dict[str, list[CodeLine]]
    modifiers: dict[str, frozenset[str]]  # every modifier any line of that code carries

    @classmethod
    def of(cls, lines: list[CodeLine]) -> LineIndex:
        by_code: dict[str, list[CodeLine]] = {}
        for line in lines:
            by_code.setdefault(line.code, []).append(line)
        mods = {code: frozenset(m for line in group for m in line.modifiers) for code, group in by_code.items()}
        return cls(by_code, mods)


def _index(c: Claim) -> LineIndex:
    return c.index if c.index is not None else LineIndex.of(c.lines)


@dataclass
class Outcome:
    ok: bool
    evidence: list[Span] = field(default_factory=list)
    detail: str = ""


Check = Callable[..., Outcome]
class _Checks(dict):
    """The check registry. The Medicare SI LCD overlay's checks (`lcd_*`, in coverage.py) are imported on first use,
    so `notedraft validate` without a payer does not pay for compiling that module's patterns at start-up."""

    LAZY_PREFIX = "lcd_"

    def __missing__(self, key: str) -> Check:
        if isinstance(key, str) and key.startswith(self.LAZY_PREFIX):
            from . import coverage  # noqa: F401  (registers its checks with @check)

            if dict.__contains__(self, key):
                return dict.__getitem__(self, key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        # a rule pack naming an lcd_ check is accepted at load time; tests/test_coverage.py checks each one exists
        return dict.__contains__(self, key) or (isinstance(key, str) and key.startswith(self.LAZY_PREFIX))


CHECKS: dict[str, Check] = _Checks()


def check(fn: Check) -> Check:
    CHECKS[fn.__name__] = fn
    return fn


def _discounted(facts: Facts, kinds: set[str]) -> list[Span]:
    return [d.span for d in facts.discounted if d.kind in kinds]


@check
def always(c: Claim) -> Outcome:
    return Outcome(True)


@check
def procedure_is(c: Claim, any: list[str]) -> Outcome:
    f = c.facts
    if f.not_done:  # "aborted before injection", a consult that only recommends it
        return Outcome(False, list(f.not_done), f"{f.procedure.replace('_', ' ')}, not done: {f.not_done[0].text.strip()!r}")
    ok = f.procedure in any
    return Outcome(ok, [f.procedure_span] if f.procedure_span else [], f.procedure.replace("_", " "))


@check
def guidance_is(c: Claim, any: list[str]) -> Outcome:
    f = c.facts
    ok = f.guidance in any
    if ok:
        return Outcome(True, list(f.guidance_spans), f.guidance)
    # Show the scribe why a mention of the wanted modality did not count ("fluoroscopy was not used").
    aside = [d for d in f.discounted if d.kind in any]
    detail = f.guidance + "".join(f"; set aside: {d.span.text!r} ({d.reason})" for d in aside[:3])
    evidence = sorted(list(f.guidance_spans) + [d.span for d in aside], key=lambda s: s.start)
    return Outcome(False, evidence, detail)


@check
def side_stated(c: Claim) -> Outcome:
    f = c.facts
    return Outcome(f.side != "unstated", list(f.side_spans), f.side)


@check
def side_matches_modifiers(c: Claim) -> Outcome:
    """LT/RT/50 must name the documented side; a bilateral note needs -50 (or, per payer, LT and RT lines)."""
    f = c.facts
    claimed = {SIDE_OF_MODIFIER[m] for m in c.line.modifiers if m in SIDE_OF_MODIFIER}
    if not claimed:
        return Outcome(True, list(f.side_spans), "no side modifier")
    if len(claimed) > 1:
        return Outcome(False, list(f.side_spans), "one line carries " + " and ".join(sorted(claimed)))
    (side,) = claimed
    if side == f.side:
        return Outcome(True, list(f.side_spans), side)
    if f.side == "bilateral" and _lines_cover_both_sides(c):
        return Outcome(True, list(f.side_spans), side)
    return Outcome(False, list(f.side_spans), f"the code line says {side}, the note documents {f.side}")


def _lines_cover_both_sides(c: Claim) -> bool:
    return {"LT", "RT"} <= _index(c).modifiers.get(c.line.code, frozenset())


@check
def bilateral_needs_modifier(c: Claim) -> Outcome:
    f = c.facts
    if f.side != "bilateral":
        return Outcome(True, list(f.side_spans), f.side)
    ok = "50" in c.line.modifiers or _lines_cover_both_sides(c)
    return Outcome(ok, list(f.side_spans), "bilateral")


@check
def has_modifier(c: Claim, any: list[str]) -> Outcome:
    return Outcome(bool(set(c.line.modifiers) & set(any)), [], ",".join(c.line.modifiers) or "none")


@check
def same_code_on_two_side_lines(c: Claim) -> Outcome:
    """True when this code appears on two lines, one -LT and one -RT (the ASC way, not the professional one)."""
    return Outcome(_lines_cover_both_sides(c) and "50" not in c.line.modifiers, [], str(c.line))


@check
def claim_has_code(c: Claim, any: list[str]) -> Outcome:
    by_code = _index(c).by_code
    count = sum(len(by_code.get(code, ())) for code in any) - (c.line.code in any)  # this line is not an "other"
    shown = islice((str(line) for code in any for line in by_code.get(code, ()) if line is not c.line), 3)
    detail = ", ".join(shown) + (f" and {count - 3} more" if count > 3 else "")
    # Met, the evidence is the procedure the other line bills, as the note documents it.
    evidence = [c.facts.procedure_span] if count > 0 and c.facts.procedure_span else []
    return Outcome(count > 0, evidence, detail)


@check
def diagnosis_documented(c: Claim) -> Outcome:
    dx = c.facts.diagnoses
    return Outcome(bool(dx), [d.span for d in dx if d.span], ", ".join(d.code or d.text or "" for d in dx))


@check
def diagnoses_billable(c: Claim) -> Outcome:
    bad = [d for d in c.facts.diagnoses if d.billable is False]
    from .icd10 import billable_children

    detail = ", ".join(f"{d.code} ({d.text}; use {billable_children(d.code or '')})" for d in bad)
    shown = bad or [d for d in c.facts.diagnoses if d.code] or c.facts.diagnoses  # met: the codes that are billable
    return Outcome(not bad, [d.span for d in shown if d.span], detail)


@check
def diagnosis_code_prefix(c: Claim, any: list[str]) -> Outcome:
    hits = [d for d in c.facts.diagnoses if d.code and d.code.startswith(tuple(any))]
    return Outcome(bool(hits), [d.span for d in hits if d.span], ", ".join(d.code or "" for d in hits))


@check
def purpose_stated(c: Claim) -> Outcome:
    f = c.facts
    return Outcome(f.purpose != "unstated", [f.purpose_span] if f.purpose_span else [], f.purpose)


@check
def purpose_is(c: Claim, any: list[str]) -> Outcome:
    f = c.facts
    return Outcome(f.purpose in any, [f.purpose_span] if f.purpose_span else [], f.purpose)


def _injectates(f: Facts):
    # The code's dose requirement is about what went into the joint: not contrast, skin local, sedation, or a
    # second procedure's drug (those are documented as dictated; drafting asks about their missing amounts).
    return [m for m in f.medications if m.injectate]


@check
def medications_documented(c: Claim) -> Outcome:
    meds = _injectates(c.facts)
    return Outcome(bool(meds), [m.span for m in meds if m.span], ", ".join(m.name for m in meds))


@check
def medications_dosed(c: Claim) -> Outcome:
    meds = _injectates(c.facts)
    undosed = [m for m in meds if not m.dosed]
    evidence = [m.span for m in (undosed or meds) if m.span]
    detail = ", ".join(f"{m.as_written} ({m.name})" if m.as_written.lower() != m.name else m.name for m in undosed)
    return Outcome(not undosed, evidence, detail)


def _span_check(span: Span | None, f: Facts, kind: str) -> Outcome:
    if span:
        return Outcome(True, [span])
    return Outcome(False, _discounted(f, {kind}))


@check
def needle_confirmation(c: Claim) -> Outcome:
    unconfirmed = [e for e in c.facts.events if e.status == "performed" and not e.needle_confirmation]
    if c.facts.needle_confirmation and unconfirmed:  # each side narrated apart, one without its confirmation
        return Outcome(False, [s for e in unconfirmed for s in e.evidence[:1]] + [c.facts.needle_confirmation],
                       f"the {unconfirmed[0].side} side's narration documents no confirmation")
    return _span_check(c.facts.needle_confirmation, c.facts, "needle_confirmation")


@check
def needle_confirmation_not_denied(c: Claim) -> Outcome:
    """Silence about how the needle was confirmed is one thing; a note that says placement was not confirmed, or
    doubts it ("could not confirm", "tip seen entering? not documented"), documents a failed confirmation."""
    f = c.facts
    if f.needle_confirmation is not None:
        return Outcome(True, [f.needle_confirmation])
    denied = [d.span for d in f.discounted
              if d.kind == "needle_confirmation" and d.reason in ("negated", "doubted", "unchecked")]
    return Outcome(not denied, denied, "; ".join(repr(s.text) for s in denied[:2]))


@check
def contrast_documented(c: Claim) -> Outcome:
    return _span_check(c.facts.contrast, c.facts, "contrast")


@check
def images_recorded(c: Claim) -> Outcome:
    return _span_check(c.facts.images_recorded, c.facts, "images_recorded")


@check
def guidance_described(c: Claim) -> Outcome:
    return _span_check(c.facts.guidance_description, c.facts, "guidance_description")


@check
def pain_scores_recorded(c: Claim) -> Outcome:
    f = c.facts
    spans = [p.span for p in (f.pain_pre, f.pain_post) if p and p.span]
    missing = [name for name, p in (("pre-procedure", f.pain_pre), ("post-procedure", f.pain_post)) if p is None]
    return Outcome(not missing, spans, " and ".join(missing))


@check
def muscle_count(c: Claim, min: int = 0, max: int = 10_000) -> Outcome:
    muscles = c.facts.muscles
    n = len(muscles)
    return Outcome(min <= n <= max, [m.span for m in muscles if m.span], f"{n} muscle(s)")


@check
def payer_is(c: Claim, any: list[str]) -> Outcome:
    return Outcome((c.payer or "").lower() in any, [], c.payer or "none")


@check
def setting_is(c: Claim, any: list[str]) -> Outcome:
    ok = c.facts.setting in any
    return Outcome(ok, _setting_spans(c) if ok else [], c.facts.setting)


def _setting_spans(c: Claim) -> list[Span]:
    # Facts keep the setting without its span; find the words again in the note when the claim carries it.
    pattern = {"facility": lx.FACILITY, "office": lx.OFFICE}.get(c.facts.setting)
    m = pattern.search(c.text) if pattern and c.text else None
    return [Span(start=m.start(), end=m.end(), text=m.group())] if m else []


@check
def each_side_documented(c: Claim) -> Outcome:
    """A bilateral claim needs two procedure events performed today, the left and the right: not the word
    "bilateral" in a history, and not a side that was aborted or only reached periarticular tissue."""
    f = c.facts
    sides = f.performed_sides()
    not_done = [e for e in f.events if e.status != "performed"]
    evidence = sorted({(s.start, s.end): s for e in f.events for s in e.evidence + e.status_evidence}.values(),
                      key=lambda s: s.start)
    detail = ", ".join(sorted(sides)) or "no side performed"
    if not_done:
        detail += "; " + ", ".join(f"{e.side} {e.status}" for e in not_done)
    return Outcome(sides == {"left", "right"}, evidence, detail)


# --- Procedure families (families/<name>/): facts read from the family's data by family_facts.py -------------

def _family(c: Claim):
    from .family_facts import read

    return read(c.facts, c.text)


@check
def family_region_is(c: Claim, any: list[str]) -> Outcome:
    """The spinal region of the family's levels and words; two regions ("mixed") or none never match."""
    ff = _family(c)
    return Outcome(ff.region in any, ff.region_evidence, ff.region.replace("_", "/"))


@check
def family_region_single(c: Claim) -> Outcome:
    ff = _family(c)
    detail = {"mixed": "more than one spinal region", "unstated": "no level or region named"}.get(ff.region, ff.region)
    return Outcome(ff.region not in ("mixed", "unstated"), ff.region_evidence, detail)


@check
def family_level_count(c: Claim, min: int = 1, max: int = 10_000) -> Outcome:
    """The number of levels the family bills; a level that is not of the family's kind ("L4" for a facet joint,
    whose levels are joints "L4-5") fails closed: how many joints it means is a question."""
    ff = _family(c)
    n = len(ff.levels)
    if ff.unreadable_levels:
        return Outcome(False, ff.level_evidence,
                       f"level(s) {', '.join(ff.unreadable_levels)} do not name this procedure's levels")
    return Outcome(min <= n <= max, ff.level_evidence, f"{n} level(s)" + (f": {', '.join(ff.levels)}" if n else ""))


@check
def family_site_class_is(c: Claim, any: list[str]) -> Outcome:
    ff = _family(c)
    detail = ff.site_class + (f" ({', '.join(ff.sites)})" if ff.sites else "")
    return Outcome(ff.site_class in any, ff.site_evidence, detail)


@check
def line_units_match_levels(c: Claim) -> Outcome:
    """A per-level code is on the claim once per level it bills, with the same modifiers on each of its lines."""
    from .rulepack import load_packs
    from .validate import level_units

    pack = load_packs()[c.line.code]
    expected = level_units(pack, c.facts, c.text)
    same = [x for x in _index(c).by_code.get(c.line.code, []) if x.modifiers == c.line.modifiers]
    ff = _family(c)
    return Outcome(len(same) == expected, ff.level_evidence,
                   f"{len(same)} line(s) of {c.line}; the documented levels ({len(ff.levels)}) bill {expected}")


@check
def claim_has_primary_taking(c: Claim) -> Outcome:
    """Another line on the claim is a code whose pack takes this (guidance) code separately."""
    from .rulepack import load_packs

    packs = load_packs()
    hosts = [x for x in c.lines if x is not c.line and x.code in packs and c.line.code in packs[x.code].guidance_add_ons]
    evidence = [c.facts.procedure_span] if hosts and c.facts.procedure_span else []
    return Outcome(bool(hosts), evidence, ", ".join(str(x) for x in hosts[:3]))


@check
def family_one_site(c: Claim) -> Outcome:
    """The family's procedure mentions name one joint (or bursa): a right knee and a left shoulder are two lines,
    never one -50, and notedraft does not split a claim between joints it cannot tell apart."""
    import re as _re

    ff = _family(c)

    def norm(s: str) -> str:
        return _re.sub(r"(?:\s+joints?)?s?$", "", s.strip().lower())

    # Names side by side ("index finger PIP joint", "acromioclavicular (AC) joint") are one joint.
    spans = sorted(ff.site_evidence, key=lambda s: s.start)
    group = {norm(s.text): norm(s.text) for s in spans}

    def root(n: str) -> str:
        while group[n] != n:
            n = group[n]
        return n

    for a, b in zip(spans, spans[1:]):
        if 0 <= b.start - a.end <= 3:
            group[root(norm(b.text))] = root(norm(a.text))
    roots = {root(n) for n in group}
    return Outcome(len(roots) <= 1, ff.site_evidence, ", ".join(sorted(group)) or "none")
