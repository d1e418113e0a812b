"""Where a mention stands: affirmed, negated, planned, historical, declined or hypothetical.

Clinical text mentions fluoroscopy in consent discussions, plans and histories far more often than in the
sentence that says it was used. A NegEx-style reading: a cue counts only inside the mention's clause (negation)
or sentence (plans, history, consent), and only within a bounded window, so a 1 MB note stays linear.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from . import lexicon as lx
from .fastscan import scan_twin

Status = Literal["affirmed", "negated", "planned", "historical", "declined", "conditional"]

# Sentence ends: punctuation then space, line breaks, and MTSamples headings run together with commas
# (",PROCEDURE:,  Informed consent...").
_SENTENCE_BREAK = re.compile(r"(?<=[.!?;])\s+|[\r\n]\s*|,\s*(?=[A-Z][A-Z0-9 /&()'-]{2,}:)|(?<=[A-Z]{3}):\s*,?\s*")
_CLAUSE_BREAK = re.compile(r",|;|\bbut\b|\bhowever\b|\balthough\b|\band\b|\bthen\b|\bwhereas\b|\s-\s", re.IGNORECASE)
_HEADING = re.compile(r"(?:^|[\r\n,.]\s*)(?P<name>[A-Z][A-Za-z /&'()-]{1,40}):", re.MULTILINE)
_HISTORY_HEADING = re.compile(r"history|\bhpi\b|\bhx\b|previous|prior|allerg", re.IGNORECASE)
_PLAN_HEADING = re.compile(r"\bplan\b|recommend|disposition|follow|instructions", re.IGNORECASE)
_DIAGNOSIS_HEADING = re.compile(r"diagnos|indication|impression|assessment|reason|complaint", re.IGNORECASE)
_DECLINED_AFTER = re.compile(r"^\W*(?:was\s+|were\s+)?(?:declined|refused|deferred)\b", re.IGNORECASE)
_AGO_AFTER = re.compile(r"^[^.;]{0,60}?\b(?:ago|in\s+(?:19|20)\d\d|last\s+(?:year|month|week))\b", re.IGNORECASE)

WINDOW = 240  # how far back a cue may stand from its mention, in characters
# A pattern scans with its faster twin (fastscan.scan_twin) once it has been used this often in the process.
SCANS_BEFORE_TWIN = 2  # whole-text scans: once per note and pattern
SEARCHES_BEFORE_TWIN = 50  # searches in the window around a mention: many per note


@dataclass(frozen=True)
class Mention:
    kind: str
    start: int
    end: int
    text: str
    status: Status
    section: str | None


class TextContext:
    """Precomputed sentence and heading boundaries for one text, shared by every extractor pass."""

    def __init__(self, text: str) -> None:
        self.text = text
        # ASCII text keeps its offsets when lower-cased, so case-insensitive patterns can scan a lower-case copy.
        self._lower = text.lower() if text.isascii() else None
        self._scans: dict[re.Pattern[str], list[re.Match[str]]] = {}
        self._statuses: dict[tuple[int, int], Status] = {}
        self._cues: dict[re.Pattern[str], tuple[list[int], list[int]]] = {}
        self._starts = [0] + [m.end() for m in _SENTENCE_BREAK.finditer(text)]
        self._headings = [(m.start("name"), m.group("name").strip()) for m in _HEADING.finditer(text)]
        self._heading_pos = [h[0] for h in self._headings]
        self.instructions = [(m.start(), self.sentence(max(m.start(), m.end() - 1))[1]) for m in self.finditer(lx.INSTRUCTION)]

    def finditer(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        """`pattern.finditer(text)` as a list, computed once per pattern (several passes look for the same words)."""
        found = self._scans.get(pattern)
        if found is None:
            found = self._scans[pattern] = list(_scan(pattern, self.text, self._lower))
        return found

    def scan(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        """`pattern.finditer(text)`, lazily, for a pass that stops at the first match it wants."""
        found = self._scans.get(pattern)
        return iter(found) if found is not None else _scan(pattern, self.text, self._lower)

    def search(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """`pattern.search(text)`."""
        return next(self.scan(pattern), None)

    def _spans(self, pattern: re.Pattern[str]) -> tuple[list[int], list[int]]:
        spans = self._cues.get(pattern)
        if spans is None:
            found = self.finditer(pattern)
            spans = self._cues[pattern] = ([m.start() for m in found], [m.end() for m in found])
        return spans

    def cue_within(self, pattern: re.Pattern[str], lo: int, hi: int) -> bool:
        """Whether a match of `pattern` in the text lies inside [lo, hi): a cue in the window around a mention,
        looked up in the one scan of the whole text rather than searched for again at every mention."""
        starts, ends = self._spans(pattern)
        i = bisect.bisect_left(starts, lo)  # matches do not overlap, so the first to start in the window ends first
        return i < len(starts) and ends[i] <= hi

    def in_instruction(self, pos: int) -> bool:
        """Whether `pos` lies in an instruction addressed to the tool (from its cue to the end of its sentence)."""
        i = bisect.bisect_right(self.instructions, (pos, len(self.text) + 1)) - 1
        return i >= 0 and pos < self.instructions[i][1]  # later instructions end later: the last to start decides

    def sentence(self, pos: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._starts, pos) - 1
        start = self._starts[i]
        end = self._starts[i + 1] if i + 1 < len(self._starts) else len(self.text)
        return start, end

    def section(self, pos: int) -> str | None:
        i = bisect.bisect_right(self._heading_pos, pos) - 1
        return self._headings[i][1] if i >= 0 else None

    def section_kind(self, pos: int) -> Literal["history", "plan", "diagnosis", "body"]:
        name = self.section(pos)
        if name is None:
            return "body"
        if _DIAGNOSIS_HEADING.search(name):
            return "diagnosis"
        if _HISTORY_HEADING.search(name):
            return "history"
        if _PLAN_HEADING.search(name):
            return "plan"
        return "body"

    def clause_before(self, start: int, lo: int | None = None) -> str:
        """The text from the last clause break before `start` (within its sentence and WINDOW) to `start`."""
        if lo is None:
            lo = max(self.sentence(start)[0], start - WINDOW)
        starts, ends = self._spans(_CLAUSE_BREAK)
        i = bisect.bisect_right(ends, start) - 1  # the last break that ends before the mention
        return self.text[ends[i] if i >= 0 and starts[i] >= lo else lo : start]

    def clause_after(self, end: int, hi: int | None = None) -> str:
        """The text from `end` to the first clause break after it (within its sentence and WINDOW)."""
        if hi is None:
            hi = min(self.sentence(end)[1], end + WINDOW)
        starts, ends = self._spans(_CLAUSE_BREAK)
        i = bisect.bisect_left(starts, end)  # the first break after the mention
        return self.text[end : starts[i] if i < len(starts) and ends[i] <= hi else hi]

    def sentence_before(self, start: int) -> str:
        s_start, _ = self.sentence(start)
        return self.text[max(s_start, start - WINDOW) : start]

    def whole_sentence(self, pos: int) -> str:
        s_start, s_end = self.sentence(pos)
        lo = max(s_start, pos - WINDOW)
        return self.text[lo : min(s_end, pos + WINDOW)]

    def status(self, start: int, end: int) -> Status:
        key = (start, end)
        if key not in self._statuses:
            self._statuses[key] = self._status(start, end)
        return self._statuses[key]

    def _status(self, start: int, end: int) -> Status:
        if self.in_instruction(start):
            return "conditional"  # words inside an instruction to the tool are not facts about the patient
        s_start, s_end = self.sentence(start)
        lo, hi = max(s_start, start - WINDOW), min(s_end, start + WINDOW)  # the sentence around the mention
        before = self.clause_before(start, lo)
        after = self.clause_after(end, min(self.sentence(end)[1], end + WINDOW))
        clause_start = start - len(before)
        cue = self.cue_within
        if cue(lx.DECLINED, clause_start, start) or contains(_DECLINED_AFTER, after, at_start=True):
            return "declined"
        if _negated_before(before) or contains(lx.NEGATION_AFTER, after, at_start=True):
            return "negated"
        if cue(lx.ALLERGY, clause_start, start):
            return "historical"  # "allergy to lidocaine": part of the history, not a drug given
        if cue(lx.HISTORICAL, lo, start) or contains(_AGO_AFTER, self.text[end : end + 80], at_start=True):
            return "historical"
        if cue(lx.HISTORICAL_WEAK, lo, start) and not cue(lx.PRESENT_ENCOUNTER, lo, hi):
            return "historical"
        if cue(lx.PLANNED, lo, start) or contains(lx.PLANNED_AFTER, after, at_start=True):
            return "planned"
        if cue(lx.HYPOTHETICAL_SENTENCE, lo, hi):
            return "conditional"
        kind = self.section_kind(start)
        if kind == "history":
            return "historical"
        if kind == "plan":
            return "planned"
        return "affirmed"

    def mention(self, kind: str, m: re.Match[str], group: int | str = 0) -> Mention:
        start, end = m.span(group)
        return Mention(kind, start, end, self.text[start:end], self.status(start, end), self.section(start))


def _scan(pattern: re.Pattern[str], text: str, lower: str | None) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)`, found faster with the pattern's twin (see fastscan.scan_twin)."""
    twin, lowered = scan_twin(pattern, after=SCANS_BEFORE_TWIN)
    haystack = lower if lowered else text
    if twin is pattern or haystack is None:
        yield from pattern.finditer(text)
        return
    pos = 0
    while (candidate := twin.search(haystack, pos)) is not None:
        m = pattern.match(text, candidate.start())
        if m is None:
            pos = candidate.start() + 1
        elif m.end() == m.start():  # an empty match: finditer's own rules, from here on
            yield from pattern.finditer(text, m.start())
            return
        else:
            yield m
            pos = m.end()


def contains(pattern: re.Pattern[str], s: str, *, at_start: bool = False) -> bool:
    """`pattern.search(s)` (or `.match` with at_start) as yes/no, on a lower-cased copy of ASCII text when the
    pattern ignores case (see fastscan.scan_twin)."""
    twin, lowered = scan_twin(pattern, exact=True, after=SEARCHES_BEFORE_TWIN)
    if lowered:
        if s.isascii():
            s = s.lower()
        else:
            twin = pattern
    return (twin.match(s) if at_start else twin.search(s)) is not None


def _negated_before(before: str) -> bool:
    # A negation cue must sit within the last few words of the clause: "without fluoroscopy", "no imaging",
    # not "No CSF was seen and the needle ... under fluoroscopy" (that clause break is handled by the caller),
    # and only words like "the use of" may stand between cue and mention: "without sedation under fluoroscopy"
    # negates the sedation, not the fluoroscopy.
    tail = " ".join(before.split()[-5:])
    cue = None
    for cue in lx.NEGATION_BEFORE.finditer(tail):
        pass
    return cue is not None and lx.NEGATION_PASS_THROUGH.fullmatch(tail, cue.end()) is not None
