"""Where a mention stands: affirmed, negated, planned, historical, declined or hypothetical.

Clinical text mentions fluoroscopy in consent discussions, plans and histories far more often than in the
sentence that says it was used. A NegEx-style reading: a cue counts only inside the mention's clause (negation)
or sentence (plans, history, consent), and only within a bounded window, so a 1 MB note stays linear.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Literal

from . import lexicon as lx

Status = Literal["affirmed", "negated", "planned", "historical", "declined", "conditional"]

# Sentence ends: punctuation then space, line breaks, and MTSamples headings run together with commas
# (",PROCEDURE:,  Informed consent...").
_SENTENCE_BREAK = re.compile(r"(?<=[.!?;])\s+|\n\s*|,\s*(?=[A-Z][A-Z0-9 /&()'-]{2,}:)|(?<=[A-Z]{3}):\s*,?\s*")
_CLAUSE_BREAK = re.compile(r",|;|\bbut\b|\bhowever\b|\balthough\b|\band\b|\bthen\b|\bwhereas\b|\s-\s", re.IGNORECASE)
_HEADING = re.compile(r"(?:^|[\n,.]\s*)(?P<name>[A-Z][A-Za-z /&'()-]{1,40}):", re.MULTILINE)
_HISTORY_HEADING = re.compile(r"history|\bhpi\b|\bhx\b|previous|prior|allerg", re.IGNORECASE)
_PLAN_HEADING = re.compile(r"\bplan\b|recommend|disposition|follow|instructions", re.IGNORECASE)
_DIAGNOSIS_HEADING = re.compile(r"diagnos|indication|impression|assessment|reason|complaint", re.IGNORECASE)
_AGO_AFTER = re.compile(r"^[^.;]{0,60}?\b(?:ago|in\s+(?:19|20)\d\d|last\s+(?:year|month|week))\b", re.IGNORECASE)

WINDOW = 240  # how far back a cue may stand from its mention, in characters


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
        self._starts = [0] + [m.end() for m in _SENTENCE_BREAK.finditer(text)]
        self._headings = [(m.start("name"), m.group("name").strip()) for m in _HEADING.finditer(text)]
        self._heading_pos = [h[0] for h in self._headings]
        self.instructions = [(m.start(), self.sentence(m.start())[1]) for m in self.finditer(lx.INSTRUCTION)]

    def finditer(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        """`pattern.finditer(text)` as a list, computed once per pattern (several passes look for the same words)."""
        found = self._scans.get(pattern)
        if found is None:
            found = self._scans[pattern] = _scan(pattern, self.text, self._lower)
        return found

    def search(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """`pattern.search(text)`, on the lower-case copy when it can be."""
        twin = lx.lowercase_twin(pattern) if self._lower is not None else None
        if twin is None:
            return pattern.search(self.text)
        m = twin.search(self._lower)  # type: ignore[arg-type]
        return pattern.match(self.text, m.start()) if m else None

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

    def clause_before(self, start: int) -> str:
        s_start, _ = self.sentence(start)
        lo = max(s_start, start - WINDOW)
        before = self.text[lo:start]
        cut = 0
        for m in _CLAUSE_BREAK.finditer(before):
            cut = m.end()
        return before[cut:]

    def clause_after(self, end: int) -> str:
        _, s_end = self.sentence(end)
        after = self.text[end : min(s_end, end + WINDOW)]
        m = _CLAUSE_BREAK.search(after)
        return after[: m.start()] if m else after

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
        if any(a <= start < b for a, b in self.instructions):
            return "conditional"  # words inside an instruction to the tool are not facts about the patient
        before = self.clause_before(start)
        after = self.clause_after(end)
        if lx.DECLINED.search(before) or re.match(r"\W*(?:was\s+|were\s+)?(?:declined|refused|deferred)\b", after, re.I):
            return "declined"
        if _negated_before(before) or lx.NEGATION_AFTER.search(after):
            return "negated"
        if lx.ALLERGY.search(before):
            return "historical"  # "allergy to lidocaine": part of the history, not a drug given
        sentence_before = self.sentence_before(start)
        if lx.HISTORICAL.search(sentence_before) or _AGO_AFTER.match(self.text[end : end + 80]):
            return "historical"
        if lx.HISTORICAL_WEAK.search(sentence_before) and not lx.PRESENT_ENCOUNTER.search(self.whole_sentence(start)):
            return "historical"
        if lx.PLANNED.search(sentence_before) or lx.PLANNED_AFTER.match(after):
            return "planned"
        if lx.HYPOTHETICAL_SENTENCE.search(self.whole_sentence(start)):
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


def _scan(pattern: re.Pattern[str], text: str, lower: str | None) -> list[re.Match[str]]:
    twin = lx.lowercase_twin(pattern) if lower is not None else None
    if twin is None:
        return list(pattern.finditer(text))
    out = []
    for m in twin.finditer(lower):  # type: ignore[arg-type]
        real = pattern.match(text, m.start())
        if real is None or real.end() != m.end():  # the twin is exact on ASCII text; stay correct if it ever is not
            return list(pattern.finditer(text))
        out.append(real)
    return out


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
