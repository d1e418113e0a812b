"""The facts a family's codes need beyond the encounter's: spinal region, levels billed, the joint's size class.

Read by generic code from the family's data (`[levels]` and `[sites]` in `families/<name>/family.toml`); nothing
here names a family. Every value fails closed: two regions, a level that is not the family's kind of level, or two
joint size classes are "mixed" (a question), never a choice.

- `[levels]`: `pattern` is what one billed level looks like in `Facts.levels` (a facet joint "L4-5", a foramen
  "L5" or "L5-S1"); `key = "upper"` counts "L4-5" and "L4" as one level (a transforaminal level is the root);
  `regions` maps a region to the regex its levels match; `region_words` maps a region to words in the family's
  procedure sentences that name it ("caudal" is lumbar/sacral).
- `[sites]`: `classes` maps a size class to the words that name a joint or bursa of that class; a class is read
  only in the family's own procedure mentions (a strong anchor's neighbourhood), never in the history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from .family import Family, by_name, by_procedure
from .models import Facts, Span

_VERTEBRA = re.compile(r"^([CTLS])(\d+)(?:-([CTLS])?(\d+))?$", re.IGNORECASE)
_UNREAD_STATUS = ("negated", "historical", "quoted", "declined", "planned", "conditional")
SITE_WINDOW = 40


@dataclass
class FamilyFacts:
    region: str = "unstated"  # a region of the family's [levels], "mixed", or "unstated"
    region_evidence: list[Span] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)  # the billed levels, as keys, in text order
    level_evidence: list[Span] = field(default_factory=list)
    unreadable_levels: list[str] = field(default_factory=list)  # levels not of the family's kind (a question)
    site_class: str = "unstated"  # a class of the family's [sites], "mixed", or "unstated"
    site_evidence: list[Span] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)


_DERMATOME_AFTER = re.compile(r"(?:\s*(?:and|or|/|,|-)\s*[CTLS]\d)*\s+(?:(?:nerve\s+)?(?:root\s+)?distributions?|dermatom\w*)\b",
                              re.IGNORECASE)

def family_of(procedure: str) -> Family | None:
    return by_procedure().get(procedure)


# "L45", "C56": a lumbar or cervical disc level written without its hyphen (the digits are two adjacent vertebrae;
# no such vertebra exists). Thoracic "T12" is a vertebra, never split.
_RUN_TOGETHER = re.compile(r"^([LC])([1-7])([2-8])$", re.IGNORECASE)


def normal_level(value: str) -> str:
    """One spelling of a level as written: "L4/5", "L4 - 5" and "L45" are "L4-5"; "L5S1" is "L5-S1"."""
    v = re.sub(r"\s+", "", value).replace("/", "-")
    v = re.sub(r"^([CTLS]\d{1,2})([CTLS]\d)$", r"\1-\2", v, flags=re.IGNORECASE)
    m = _RUN_TOGETHER.match(v)
    if m and int(m.group(3)) == int(m.group(2)) + 1 and (m.group(1).upper() == "C" or int(m.group(3)) <= 5):
        v = f"{m.group(1)}{m.group(2)}-{m.group(3)}"
    return v


def _level_key(value: str, key: str, root_offsets: dict[str, int] | None = None) -> str:
    """One spelling per level: "L4-5", "L4-L5" and "l4 - l5" are "L4-L5"; with `key = "upper"`, "L4-5" is "L4",
    and a root named alone is its foramen's upper vertebra (`root_offsets`: the C6 root is the C5-6 foramen, "C5")."""
    v = normal_level(value).upper()
    m = _VERTEBRA.match(v)
    if not m:
        return v
    if key == "upper" and m.group(4) is None and root_offsets and m.group(1) in root_offsets:
        return f"{m.group(1)}{int(m.group(2)) + root_offsets[m.group(1)]}"
    if key == "upper" or m.group(4) is None:
        return f"{m.group(1)}{m.group(2)}"
    return f"{m.group(1)}{m.group(2)}-{m.group(3) or m.group(1)}{m.group(4)}"


def read(facts: Facts, text: str | None) -> FamilyFacts:
    fam = family_of(facts.procedure)
    if fam is None:
        return FamilyFacts()
    return _read_cached(fam.name, text or "", _facts_key(facts), facts)


def _facts_key(facts: Facts) -> tuple:
    return (facts.procedure, tuple((f.value, f.span.start if f.span else -1) for f in facts.levels))


_CACHE: dict[tuple, FamilyFacts] = {}


def _read_cached(name: str, text: str, key: tuple, facts: Facts) -> FamilyFacts:
    k = (name, hash(text), key)
    hit = _CACHE.get(k)
    if hit is None:
        if len(_CACHE) > 512:
            _CACHE.clear()
        hit = _CACHE[k] = _read(by_name()[name], text, facts)
    return hit


def _read(fam: Family, text: str, facts: Facts) -> FamilyFacts:
    out = FamilyFacts()
    spec = fam.spec
    lv = spec.levels
    if lv is not None:
        pattern = re.compile(lv.pattern, re.IGNORECASE)
        mentions, procedural = _mention_sentences(fam, text)
        elsewhere: list[str] = []
        every, spread = _every_level(text, facts, lv.spread_words)
        for f in every:
            value = normal_level(f.value)
            if f.span is not None and not procedural(f.span.start):
                continue  # a level in the history, plan or exam is not a level injected today
            if f.span is not None and _DERMATOME_AFTER.match(text, f.span.end):
                continue  # "radiculopathy in the L5 and S1 distribution": where the pain runs, not a level injected
            if not pattern.match(value):
                out.unreadable_levels.append(f.value)
                continue
            k = _level_key(value, lv.key, lv.root_offsets)
            if f.span is None or not any(lo <= f.span.start < hi for lo, hi in mentions):
                elsewhere.append(k)
                continue
            if k not in out.levels:
                out.levels.append(k)
            out.level_evidence.append(f.span)
        # The title names no level and the technique does ("Cervical facet joint injection." ... "the needle was
        # passed down to the C4-5 facet joint"): the levels of the family's own technique sentences are its levels.
        if not out.levels and elsewhere and lv.technique_words:
            technique = _technique_sentences(fam, text, lv.technique_words)
            for f in every:
                value = normal_level(f.value)
                if f.span is None or not pattern.match(value) or not procedural(f.span.start):
                    continue
                if any(lo <= f.span.start < hi for lo, hi in technique):
                    k = _level_key(value, lv.key, lv.root_offsets)
                    if k not in out.levels:
                        out.levels.append(k)
                    out.level_evidence.append(f.span)
            elsewhere = [k for k in elsewhere if k not in out.levels]
        # A level named outside every sentence that names the procedure ("MRI shows L3-4 arthropathy") and not
        # among the levels it names may or may not have been injected: the count is a question, never a guess.
        for f in spread:  # the contrast's spread at a level read is that level's (kept as dictated), else nothing
            value = normal_level(f.value)
            if pattern.match(value) and _level_key(value, lv.key, lv.root_offsets) in out.levels and procedural(f.span.start):
                out.level_evidence.append(f.span)
        extra = [k for k in dict.fromkeys(elsewhere) if k not in out.levels]
        out.unreadable_levels = list(dict.fromkeys(out.unreadable_levels))
        if lv.nerve_offsets and out.levels:
            out.unreadable_levels = [v for v in out.unreadable_levels
                                     if not _nerve_of(v, out.levels, lv.nerve_offsets)]
        out.unreadable_levels += [f"{k} (named outside the procedure's own sentences)" for k in extra]
        regions: dict[str, list[Span]] = {}
        for f in facts.levels:
            for region, rx in lv.regions.items():
                if re.match(rx, re.sub(r"\s+", "", f.value), re.IGNORECASE):
                    regions.setdefault(region, []).extend([f.span] if f.span else [])
        for region, spans in _words_in_mentions(fam, text, lv.region_words).items():
            regions.setdefault(region, []).extend(spans)
        if len(regions) == 1:
            (out.region, out.region_evidence), = regions.items()
        elif regions:
            out.region = "mixed"
            out.region_evidence = [s for spans in regions.values() for s in spans]
    if spec.sites is not None:
        classes = _words_in_mentions(fam, text, spec.sites.classes, window=SITE_WINDOW)
        out.sites = sorted({s.text.lower() for spans in classes.values() for s in spans})
        if len(classes) == 1:
            (out.site_class, out.site_evidence), = classes.items()
        elif classes:
            out.site_class = "mixed"
            out.site_evidence = [s for spans in classes.values() for s in spans]
    return out


_ORDER = {"C": 0, "T": 7, "L": 19, "S": 24}  # C1 is 1, T1 8, L1 20, S1 25


def _ordinal(vertebra: str) -> int | None:
    m = re.match(r"^([CTLS])(\d{1,2})$", vertebra.upper())
    return _ORDER[m.group(1)] + int(m.group(2)) if m else None


def _nerve_of(value: str, joints: list[str], offsets: dict[str, list[int]]) -> bool:
    """A single vertebra ("L3") that names a nerve of one of the joints read ("L4-L5": the L3 and L4 medial
    branches supply it, by the family's `nerve_offsets`). A vertebra no named joint explains stays a question
    (nerves "L3, L4, L5" with only "L4-5" named may mean a second joint)."""
    n = _ordinal(normal_level(value))
    if n is None:
        return False
    for j in joints:
        upper = _ordinal(j.split("-")[0])
        letter = j[:1].upper()
        if upper is not None and letter in offsets and n - upper in offsets[letter]:
            return True
    return False


def _every_level(text: str, facts: Facts, spread_words: list[str]) -> tuple[list, list]:
    """Every affirmed level mention in the text, in text order (`Facts.levels` keeps a value's first mention only:
    "L5-S1 foraminal stenosis on MRI ... L5-S1 TFESI performed today" is a level of the procedure's own sentence
    too). A level the contrast spread to ("spread along the left S1 nerve root") is no level at all."""
    if not text:
        return list(facts.levels), []
    from . import lexicon as lx
    from .context import read as read_text
    from .models import Fact

    ctx = read_text(text)
    spread = re.compile("|".join(f"(?:{w})" for w in spread_words), re.IGNORECASE) if spread_words else None
    out, spread_to = [], []
    for m in ctx.finditer(lx.SPINE_LEVEL):
        if ctx.status(m.start(), m.end()) != "affirmed":
            continue
        value = re.sub(r"\s+", " ", m.group("level")).strip()
        fact = Fact(value=value, span=ctx.span(*m.span("level")))
        if spread is not None and spread.search(ctx.text, ctx.clause(m.start())[0], m.start()):
            spread_to.append(fact)
            continue
        out.append(fact)
    return out, spread_to


def _mention_sentences(fam: Family, text: str):
    """The sentences that name the family's procedure (strong anchors outside the history, plan and consent), and
    a test of whether a position lies in a procedural part of the text."""
    if not text:
        return [], lambda pos: True
    from . import events
    from .context import read as read_text

    ctx = read_text(text)
    scopes = events.scopes_of(ctx)
    out = []
    for a in scopes.strong(fam.name):
        if ctx.section_of(a.start).kind in events.NON_PROCEDURAL or ctx.status(a.start, a.end) in _UNREAD_STATUS:
            continue
        out.append(ctx.sentence(a.start))
    return out, lambda pos: 0 <= pos < len(ctx.text) and ctx.section_of(pos).kind not in events.NON_PROCEDURAL


# A technique sentence places the needle, or injects: "a 25-gauge needle was passed down to the C4-5 facet joint".
_TECHNIQUE_VERB = re.compile(r"\b(?:needles?|advanced|passed|placed|directed|inserted|introduced|inject\w*|entered"
                             r"|wheal)\b",
                             re.IGNORECASE)


def _technique_sentences(fam: Family, text: str, words: list[str]) -> list[tuple[int, int]]:
    """The sentences of the family's own event (owned by it, in a procedural section, affirmed) that place the
    needle at one of `words`."""
    from . import events
    from .context import read as read_text

    ctx = read_text(text)
    scopes = events.scopes_of(ctx)
    rx = re.compile("|".join(f"(?:{w})" for w in words), re.IGNORECASE)
    out = []
    for m in rx.finditer(ctx.text):
        owner = scopes.owner_at(m.start())
        if owner is None and scopes.families == [fam.name]:
            owner = fam.name  # one procedure in the note: every sentence is its event's
        if ctx.section_of(m.start()).kind in events.NON_PROCEDURAL or owner != fam.name:
            continue
        if ctx.status(m.start(), m.end()) in _UNREAD_STATUS:
            continue
        lo, hi = ctx.sentence(m.start())
        if _TECHNIQUE_VERB.search(ctx.text, lo, hi) and (lo, hi) not in out:
            out.append((lo, hi))
    return out


@lru_cache(maxsize=64)
def _compiled(words: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((name, re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)) for name, pats in words)


def _words_in_mentions(fam: Family, text: str, words: dict[str, list[str]], window: int | None = None
                       ) -> dict[str, list[Span]]:
    """Which of `words` stand in the family's own procedure mentions: the sentence of each strong anchor (or,
    with `window`, that many characters either side of it), outside the history, plan and consent."""
    if not words or not text:
        return {}
    from . import events
    from .context import read as read_text

    ctx = read_text(text)
    scopes = events.scopes_of(ctx)
    found: dict[str, list[Span]] = {}
    compiled = _compiled(tuple((k, tuple(v)) for k, v in words.items()))
    seen: set[tuple[int, int]] = set()
    for a in scopes.strong(fam.name):
        if ctx.section_of(a.start).kind in events.NON_PROCEDURAL:
            continue
        if ctx.status(a.start, a.end) in _UNREAD_STATUS:
            continue
        if window is None:
            lo, hi = ctx.sentence(a.start)
        else:
            s_lo, s_hi = ctx.sentence(a.start)
            lo, hi = max(s_lo, a.start - window), min(s_hi, a.end + window)
        for name, rx in compiled:
            for m in rx.finditer(ctx.text, lo, hi):
                if (m.start(), m.end()) in seen or ctx.status(m.start(), m.end()) in _UNREAD_STATUS:
                    continue
                seen.add((m.start(), m.end()))
                found.setdefault(name, []).append(ctx.span(m.start(), m.end()))
    return found
