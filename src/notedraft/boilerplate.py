"""Boilerplate facts: "No complications", "tolerated the procedure well", "consent was obtained", "time-out
performed", "images saved". They read like filler, but each is a statement about today's encounter, and a note may
make one only when the dictation does (issue 11, item 5).

The facts and their phrasings are data (`rules/grounding/boilerplate.toml`). Both texts go through the same
fail-closed reader (`reading.read`), so one rule decides what counts as saying a fact:

- a text *affirms* a fact when a phrasing of it stands in a clause the reader establishes (not negated, hedged,
  planned, historical, conditional, quoted, unchecked, asked or requested);
- a text *opposes* it when it affirms an opposite phrasing ("small vasovagal episode" against "no complications"),
  or negates or declines the fact itself ("images were not saved", "declined consent").

A note's statement is grounded only when the dictation affirms the same fact and never its opposite; a dictation
that says both is a conflict, and then neither statement is grounded and the drafter writes neither: the physician
is asked, no side wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .models import Finding, Span
from .reading import Reading, read
from .recache import load_toml

FACTS_FILE = Path(__file__).parent / "rules" / "grounding" / "boilerplate.toml"
RULE = "grounding.unsupported"  # the same rule as every other unsupported statement (grounding.RULE)
CONFLICT_RULE = "dictation.boilerplate_conflict"

# A phrase that negates itself inside the match: "images were not saved", "consent could not be obtained".
# ("without difficulty", "no blood on aspiration" are phrasings of facts themselves, so "no"/"without" are not read
# here; a "no" before the phrasing is the reader's.)
_INNER_NEGATION = re.compile(r"\b(?:not|never|unable)\b|n't\b", re.IGNORECASE)
# A statement of the fact itself that the reader negates or declines states its opposite.
_NEGATIVE_STATUSES = ("negated", "declined")


class BoilerplateFact(BaseModel):
    """One [[fact]] of boilerplate.toml (see the file's header for each field)."""

    model_config = ConfigDict(extra="forbid")
    key: str
    label: str
    opposite_label: str
    note: list[str]
    dictation: list[str] = Field(default_factory=list)
    opposite: list[str] = Field(default_factory=list)
    negative: bool = False
    home: str | None = None
    clause_only: bool = False
    allow: str | None = None
    sentence: str = ""
    place: Literal["before", "technique", "after"] = "after"
    examples: list[str] = Field(default_factory=list)

    @field_validator("note", "dictation", "opposite")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"bad pattern {p!r}: {exc}") from None
        return patterns

    def patterns(self) -> tuple[re.Pattern[str], re.Pattern[str] | None, re.Pattern[str] | None,
                                re.Pattern[str] | None]:
        return _compiled(self.key)


@lru_cache(maxsize=1)
def load_facts(path: Path = FACTS_FILE) -> tuple[BoilerplateFact, ...]:
    with path.open("rb") as fh:
        data = load_toml(fh)
    facts = tuple(BoilerplateFact.model_validate(f) for f in data.get("fact", []))
    keys = [f.key for f in facts]
    if len(keys) != len(set(keys)):
        raise ValueError(f"{path.name}: duplicate fact keys")
    return facts


def _alternation(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    # Whole words only: "time out" is not inside "overtime outcome"; each phrasing keeps its own `at` group name
    # unique by position, so the alternation renames them (at0, at1, ...).
    parts = [re.sub(r"\(\?P<at>", f"(?P<at{i}>", p) for i, p in enumerate(patterns)]
    return re.compile(r"(?<![\w/-])(?:" + "|".join(f"(?:{p})" for p in parts) + r")(?![\w])", re.IGNORECASE)


@lru_cache(maxsize=None)
def _compiled(key: str) -> tuple[re.Pattern[str], re.Pattern[str] | None, re.Pattern[str] | None,
                                 re.Pattern[str] | None]:
    fact = next(f for f in load_facts() if f.key == key)
    states = _alternation(fact.note + fact.dictation)
    assert states is not None  # `note` is required and non-empty in practice; the tests check every fact
    home = re.compile(fact.home, re.IGNORECASE) if fact.home else None
    allow = re.compile(fact.allow, re.IGNORECASE) if fact.allow else None
    return states, _alternation(fact.opposite), home, allow


# --- reading one text ----------------------------------------------------------------------------------------------


@dataclass
class Statements:
    """What one text says about one fact: the spans that affirm it and those that state its opposite."""

    affirmed: list[Span] = field(default_factory=list)
    opposed: list[Span] = field(default_factory=list)


def _decisive_span(ctx: Reading, m: re.Match[str]) -> tuple[int, int]:
    """The whole phrasing, except in a `Label: value` field ("Complications: None", "EBL: none"), where the reader
    reads a label through its value and a value of "none" negates the label: there the value (`at`) decides."""
    field = ctx.field_at(m.start())
    if field is not None and m.start() < field.label_end:
        for name, value in m.groupdict().items():
            if name.startswith("at") and value is not None:
                return m.span(name)
    return m.span()


_SECTION_STATUS = {"history": "historical", "plan": "planned", "consent": "conditional"}


def _status(ctx: Reading, start: int, end: int, home: re.Pattern[str] | None, clause_only: bool = False,
            allow: re.Pattern[str] | None = None) -> str:
    """The reader's verdict on [start, end). In the fact's own section ("Consent: obtained", "Disposition: home
    stable", "Vitals: stable") only the clause decides: those headings otherwise read as consent talk, a plan or
    history, and every such note would state its consent or discharge without being read as stating it."""
    local = ctx.local_status(start, end, allow)
    if local != "affirmed":
        return local
    section = ctx.section_of(start)
    if home is not None and section.name and home.search(section.name):
        return "affirmed"
    if clause_only:  # the sentence's consent talk is this fact's own context; a history or plan section is not
        return _SECTION_STATUS.get(section.kind, "affirmed")
    return ctx.status(start, end, allow)


def read_fact(fact: BoilerplateFact, text: str, ctx: Reading | None = None) -> Statements:
    ctx = ctx if ctx is not None else read(text)
    states, opposite, home, allow = fact.patterns()
    out = Statements()
    for m in ctx.finditer(states):
        start, end = _decisive_span(ctx, m)
        status = _status(ctx, start, end, home, fact.clause_only, allow)
        if status == "affirmed" and not fact.negative and _INNER_NEGATION.search(m.group()):
            status = "negated"  # "images were not saved": the negation sits inside the phrasing itself
        if status == "affirmed":
            out.affirmed.append(ctx.span(*m.span()))
        elif status in _NEGATIVE_STATUSES and not fact.negative:
            # quoted with its clause, so a finding reads "the dictation says 'not prepped'", not "'prepped'"
            c_start, c_end = ctx.clause(m.start())
            text = ctx.text
            while c_end > c_start and text[c_end - 1] in " \t\r\n.,;:":
                c_end -= 1
            out.opposed.append(ctx.span(min(c_start, m.start()), max(c_end, m.end())))
    if opposite is not None:
        for m in ctx.finditer(opposite):
            start, end = _decisive_span(ctx, m)
            if _status(ctx, start, end, home) == "affirmed":
                out.opposed.append(ctx.span(*m.span()))
    return out


def read_all(text: str) -> dict[str, Statements]:
    ctx = read(text)
    return {f.key: read_fact(f, text, ctx) for f in load_facts()}


# --- grounding a note against its dictation ------------------------------------------------------------------------


def _unsupported(what: str, why: str, span: Span) -> Finding:
    return Finding(rule=RULE, severity="error", message=f"unsupported: {what} ({why})",
                   fix="Remove it from the note, or ask the physician to dictate it; boilerplate is a fact too.",
                   evidence=[span])


def findings(note: str, dictation: str) -> list[Finding]:
    """Each boilerplate fact the note states (or whose opposite it states) that the dictation does not state the
    same way, or contradicts. One finding per fact and direction, on the note's first such span."""
    said = read_all(dictation)
    wrote = read_all(note)
    out: list[Finding] = []
    for fact in load_facts():
        d, n = said[fact.key], wrote[fact.key]
        if n.affirmed:
            if d.opposed:
                out.append(_unsupported(fact.label, f"the dictation says {d.opposed[0].text!r}", n.affirmed[0]))
            elif not d.affirmed:
                out.append(_unsupported(fact.label, "not in the dictation", n.affirmed[0]))
        if n.opposed:
            if d.affirmed:
                out.append(_unsupported(f"{fact.opposite_label} ({n.opposed[0].text!r})",
                                        f"the dictation says {d.affirmed[0].text!r}", n.opposed[0]))
            elif not d.opposed:
                out.append(_unsupported(f"{fact.opposite_label} ({n.opposed[0].text!r})", "not in the dictation",
                                        n.opposed[0]))
    return out


# --- what the drafter may write ------------------------------------------------------------------------------------


def dictated(dictation: str) -> dict[str, Statements]:
    """The facts the dictation affirms and never opposes: the only boilerplate a draft may state."""
    return {k: s for k, s in read_all(dictation).items() if s.affirmed and not s.opposed}


def conflict_questions(dictation: str) -> list[str]:
    """The physician query for each conflict of conflict_findings()."""
    out = []
    for fact in load_facts():
        s = read_fact(fact, dictation)
        if s.affirmed and s.opposed:
            out.append(f"The dictation says {s.affirmed[0].text!r} and also {s.opposed[0].text!r}: which is true, "
                       f"{fact.label} or {fact.opposite_label}?")
    return out


def conflict_findings(dictation: str) -> list[Finding]:
    """A dictation that affirms a fact and also its opposite ("no comps ... small vasovagal episode"): the draft
    states neither, and the physician is asked."""
    out = []
    for fact in load_facts():
        s = read_fact(fact, dictation)
        if s.affirmed and s.opposed:
            out.append(Finding(
                rule=CONFLICT_RULE, severity="error",
                message=f"The dictation says {s.affirmed[0].text!r} ({fact.label}) and also {s.opposed[0].text!r} "
                        f"({fact.opposite_label}); the draft states neither.",
                fix="Ask the physician which is true, and dictate only that.",
                evidence=[s.affirmed[0], s.opposed[0]]))
    return out
