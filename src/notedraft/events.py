"""Which procedure each part of a text is about: facts bind to the event whose target they name.

A note may describe two procedures ("left SI joint injection under fluoroscopy; then a left piriformis injection
under ultrasound"). Each procedure's guidance, drugs and side are its own: the piriformis injection's ultrasound
is no second guidance for the SI joint, and a facet injection under fluoroscopy supports no SI code. So before
facts are read, every sentence (or clause, when one sentence speaks of two procedures) is given an owner:

- a sentence that names one family's procedure (`Family.names`, or a target with an action) is that family's;
- the sentences after it are the same family's, until another procedure is named or a section that is not the
  procedure (history, plan, diagnosis, exam, consent) begins;
- clauses that state the encounter (a diagnosis, the purpose, consent, complications) or speak of every
  procedure ("both injections") belong to every event.

`Scopes.masked(family)` is the text with the parts other families own blanked (same length, so every offset
holds): the reader reads a family's facts from it. A text that names one family has no owners to mask.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from .family import Family, families
from .reading import WINDOW

NON_PROCEDURAL = ("history", "plan", "diagnosis", "exam", "consent")

# A clause about the encounter or about every procedure: it belongs to every event, whatever was named before it.
_SHARED = re.compile(
    r"\b(?:dx|diagnos\w*|indication\w*|impression|assessment|ICD|purpose|diagnostic|therapeutic|consent\w*"
    r"|complications?|tolerat\w*|discharg\w*|time-?out|vital\s+signs|pain\s+(?:score|scale|level)|NRS|VAS"
    r"|both\s+(?:procedures|injections|sides|blocks)|all\s+(?:procedures|injections|blocks|levels|sites)"
    r"|each\s+(?:procedure|injection|block)|the\s+procedures|these\s+procedures|the\s+injections)\b"
    r"|\b[A-TV-Z][0-9][0-9AB]\.[0-9A-Z]{1,4}\b",
    re.IGNORECASE,
)
# Where a clause naming two procedures splits: the last joining word or mark between the two names.
_JOIN = re.compile(r",|;|\+|&|\band\b|\bthen\b|\balso\b|\bplus\b|\bfollowed\s+by\b|\bas\s+well\s+as\b|\bwith\b", re.IGNORECASE)


@dataclass(frozen=True)
class Anchor:
    """A mention of a family's procedure: `strong` when it names the procedure (a name, or a target with an
    action in its clause), weak when it only names the anatomy."""

    family: str
    start: int
    end: int
    strong: bool


@dataclass
class Scopes:
    anchors: list[Anchor]
    owners: list[tuple[int, int, str]] = field(default_factory=list)  # normalised [start, end) → family
    families: list[str] = field(default_factory=list)  # families with a strong anchor, in text order

    def owner_at(self, pos: int) -> str | None:
        i = bisect.bisect_right(self.owners, (pos, float("inf"), "")) - 1
        if i >= 0 and pos < self.owners[i][1]:
            return self.owners[i][2]
        return None

    def strong(self, family: str) -> list[Anchor]:
        return [a for a in self.anchors if a.family == family and a.strong]


def _in_sentence(pattern: re.Pattern[str] | None, text: str, lo: int, hi: int) -> bool:
    return pattern is not None and pattern.search(text, lo, hi) is not None


def _near(ctx, start: int, end: int, bounds: tuple[int, int]) -> tuple[int, int]:
    # a sentence is read at most WINDOW characters either side of its mention: text with no full stop for
    # kilobytes ("L SIJ L SIJ ...") stays linear to read
    return max(bounds[0], start - WINDOW), min(bounds[1], end + WINDOW)


def _clause_over_parentheses(ctx, pos: int) -> tuple[int, int]:
    """The mention's clause, read across parentheses: "lumbar facet (zygapophyseal) joint injections" is one."""
    text = ctx.text
    start, end = ctx.clause(pos)
    s_start, s_end = ctx.sentence(pos)
    while start > s_start and text[max(s_start, start - 2):start].strip()[-1:] in ("(", ")"):
        start = ctx.clause(start - 2)[0]
    while end < s_end and text[end - 1 : end + 1].strip()[:1] in ("(", ")"):
        nxt = ctx.clause(end + 1)[1]
        if nxt <= end:
            break
        end = nxt
    return start, end


def find_anchors(ctx) -> list[Anchor]:
    """Every mention of a family's procedure, after each family's `context` and `yields_to` are applied."""
    text = ctx.text
    found: dict[str, list[Anchor]] = {}
    fams = families()
    for fam in fams:
        out: list[Anchor] = []
        for pattern, is_name in ((fam.names, True), (fam.targets, False)):
            if pattern is None:
                continue
            for m in ctx.finditer(pattern):
                s_start, s_end = _near(ctx, m.start(), m.end(), ctx.sentence(m.start()))
                if fam.context is not None and not _in_sentence(fam.context, text, s_start, s_end):
                    continue
                if is_name:
                    strong = True
                else:
                    c_start, c_end = _near(ctx, m.start(), m.end(), _clause_over_parentheses(ctx, m.start()))
                    strong = _in_sentence(fam.actions, text, c_start, c_end) or (
                        ctx.section_of(m.start()).kind == "header"
                        and _in_sentence(fam.actions, text, s_start, s_end))
                out.append(Anchor(fam.name, m.start(), m.end(), strong))
        found[fam.name] = out
    # A sentence that names a family this one yields to is that family's ("RF ablation of the SI joint's lateral
    # branches" is si_rfa; "lateral branch" alone there is not a block).
    sentence_of = {name: {ctx.sentence(a.start)[0] for a in anchors if a.strong} for name, anchors in found.items()}
    anchors: list[Anchor] = []
    for fam in fams:
        taken = set().union(*(sentence_of.get(y, set()) for y in fam.spec.detect.yields_to)) if fam.spec.detect.yields_to else set()
        anchors += [a for a in found[fam.name] if ctx.sentence(a.start)[0] not in taken]
    if not any(ctx.section_of(a.start).kind not in NON_PROCEDURAL for a in anchors):
        # No procedure (nor a procedure's site) named anywhere: a family's technique words ("a Tuohy needle ...
        # loss of resistance was obtained") name it. Only then: beside a named procedure or joint ("L SIJ, loss of
        # resistance into the joint") they are that procedure's technique.
        for fam in fams:
            if fam.technique is not None:
                anchors += [Anchor(fam.name, m.start(), m.end(), True) for m in ctx.finditer(fam.technique)]
    return sorted(_without_overlaps(anchors), key=lambda a: (a.start, a.family))


def _without_overlaps(anchors: list[Anchor]) -> list[Anchor]:
    """Where two families' mentions overlap ("medial branch" is facet's name; "branch" is SI's too), the longer
    mention wins, a name over a target."""
    ordered = sorted(anchors, key=lambda a: (a.start, -(a.end - a.start), not a.strong))
    drop: set[int] = set()
    for i, a in enumerate(ordered):  # a sweep: each mention meets only the ones that start inside it
        j = i + 1
        while j < len(ordered) and ordered[j].start < a.end:
            b = ordered[j]
            if b.family != a.family:
                loser = j if (b.end - b.start, b.strong) <= (a.end - a.start, a.strong) else i
                drop.add(loser)
            j += 1
    return [a for i, a in enumerate(ordered) if i not in drop]


# a procedure only planned or refused in a sentence is not what the next sentences describe; a historical one may
# be ("status post transforaminal epidurogram (see operative note).  Using AP and lateral views ...")
_NOT_AN_EVENT = ("planned", "negated", "declined", "conditional")


def scopes_of(ctx) -> Scopes:
    cached = getattr(ctx, "_scopes", None)
    if cached is not None:
        return cached
    anchors = find_anchors(ctx)
    procedural = [a for a in anchors if ctx.section_of(a.start).kind not in NON_PROCEDURAL]
    order: list[str] = []
    for a in procedural:
        if a.strong and a.family not in order:
            order.append(a.family)
    scopes = Scopes(anchors=anchors, families=order)
    if len(order) > 1:
        scopes.owners = _owners(ctx, [a for a in procedural if a.family in order])
    ctx._scopes = scopes
    return scopes


def _owners(ctx, anchors: list[Anchor]) -> list[tuple[int, int, str]]:
    text = ctx.text
    starts = [a.start for a in anchors]
    owners: list[tuple[int, int, str]] = []
    current: str | None = None
    sentence_starts = ctx._starts
    for i, s_start in enumerate(sentence_starts):
        s_end = sentence_starts[i + 1] if i + 1 < len(sentence_starts) else len(text)
        if s_end <= s_start:
            continue
        if ctx.section_of(s_start).kind in NON_PROCEDURAL:
            current = None
            continue
        lo, hi = bisect.bisect_left(starts, s_start), bisect.bisect_left(starts, s_end)
        inside = anchors[lo:hi]
        strong = [a for a in inside if a.strong]
        named = list(dict.fromkeys(a.family for a in (strong or inside)))
        if not named:
            if current is not None and not _SHARED.search(text, s_start, s_end):
                owners.append((s_start, s_end, current))
            continue
        if len(named) == 1:
            # a weak mention names where the needle went ("placed into the right L5-S1 facet joint"): the
            # sentences after it speak of that procedure too
            owners.append((s_start, s_end, named[0]))
            if not strong or any(ctx.status(a.start, a.end) not in _NOT_AN_EVENT for a in strong):
                current = named[0]  # a procedure only planned here ("block before lateral branch RFA") is not what
            continue  # the next sentences go on about
        owners += _split_sentence(ctx, s_start, s_end, strong or inside)
        current = (strong or inside)[-1].family
    return _merged(owners + _block_diagnoses(ctx, anchors, owners))


def _sides_in(text: str, lo: int, hi: int) -> set[str]:
    from . import lexicon as lx

    found = {m.lastgroup for m in lx.SIDE_WORDS.finditer(text, lo, hi) if m.lastgroup}
    found |= {"left" if m.group("letter") == "L" else "right" for m in lx.SIDE_LETTER.finditer(text, lo, hi)}
    return found


def _block_diagnoses(ctx, anchors: list[Anchor], owners: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """A sided diagnosis line inside one procedure's block is that procedure's ("PROCEDURE 1: right lateral branch
    blocks / DIAGNOSIS: right SI joint pain / TECHNIQUE: ..."): a diagnosis sentence that no family owns, with the
    same family owning the procedural sentences just before and just after it, no other procedure named between
    them, and every side it names named by that family's sentence before it. Anything else stays shared (a
    diagnosis of the other side stays every event's, and a question)."""
    text = ctx.text
    owned = sorted(owners)
    if not owned:
        return []
    starts = [o[0] for o in owned]
    out: list[tuple[int, int, str]] = []
    sentence_starts = ctx._starts
    for i, s_start in enumerate(sentence_starts):
        s_end = sentence_starts[i + 1] if i + 1 < len(sentence_starts) else len(text)
        if s_end <= s_start or ctx.section_of(s_start).kind != "diagnosis":
            continue
        j = bisect.bisect_right(starts, s_start) - 1
        if j < 0 or owned[j][1] > s_start or j + 1 >= len(owned):
            continue  # owned already, or nothing owned before or after it
        before, after = owned[j], owned[j + 1]
        if before[2] != after[2]:
            continue
        if any(a.family != before[2] and before[1] <= a.start < after[0] for a in anchors):
            continue
        if not all(any(a.family == before[2] and lo <= a.start < hi for a in anchors)
                   for lo, hi in (before[:2], after[:2])):
            continue  # both neighbours name the procedure or its site themselves, not only carry it from before
        if not re.search(r"[\r\n]", text[max(s_start, s_end - 1) : after[0]]):
            continue  # the rest of a diagnosis line ("Dx: left sacroiliitis; left piriformis syndrome") is the line's
        sides = _sides_in(text, s_start, s_end)
        if not sides or not sides <= _sides_in(text, before[0], before[1]):
            continue
        out.append((s_start, s_end, before[2]))
    return out


def _split_sentence(ctx, s_start: int, s_end: int, anchors: list[Anchor]) -> list[tuple[int, int, str]]:
    """A sentence that names two procedures: each clause is the family it names; a clause naming none goes with
    the clause before it (the first with the clause after), unless it states the encounter; a clause naming two
    splits at the last joining word between them."""
    text = ctx.text
    breaks = [b for b in ctx._clause_breaks if s_start < b < s_end]
    bounds = [s_start, *breaks, s_end]
    pieces: list[tuple[int, int, str | None]] = []
    starts = [x.start for x in anchors]
    for a, b in zip(bounds, bounds[1:]):
        inside = anchors[bisect.bisect_left(starts, a) : bisect.bisect_left(starts, b)]
        fams = list(dict.fromkeys(x.family for x in inside))
        if len(fams) <= 1:
            pieces.append((a, b, fams[0] if fams else None))
            continue
        cut_from = a
        for prev, nxt in zip(inside, inside[1:]):
            if prev.family == nxt.family:
                continue
            joins = list(_JOIN.finditer(text, prev.end, nxt.start))
            cut = joins[-1].start() if joins else nxt.start
            pieces.append((cut_from, cut, prev.family))
            cut_from = cut
        pieces.append((cut_from, b, inside[-1].family))
    out: list[tuple[int, int, str]] = []
    first_named = next((f for _, _, f in pieces if f), None)
    last: str | None = None
    for a, b, fam in pieces:
        if fam is None:
            if _SHARED.search(text, a, b):
                continue
            fam = last or first_named
        if fam is not None:
            out.append((a, b, fam))
            last = fam
    return out


def _merged(owners: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for a, b, fam in sorted(owners):
        if out and out[-1][2] == fam and out[-1][1] >= a:
            out[-1] = (out[-1][0], max(out[-1][1], b), fam)
        else:
            out.append((a, b, fam))
    return out


def mask(ctx, scopes: Scopes, family: str) -> str:
    """The original text with every part another family owns blanked: same length, line breaks kept."""
    chars = list(ctx.original)
    for a, b, owner in scopes.owners:
        if owner == family:
            continue
        span = ctx.span(a, b)
        for i in range(span.start, span.end):
            if chars[i] not in "\r\n":
                chars[i] = " "
    return "".join(chars)


def family_of(procedure: str) -> Family | None:
    for fam in families():
        if fam.procedure == procedure:
            return fam
    return None
