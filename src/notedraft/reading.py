"""One reading of a text, computed once and shared: normalised characters, sections with a kind, `Field: value`
lines, checkboxes, table rows, quotations, sentences and clauses with their doubt cues.

The reading fails closed. A mention counts as *established* (status "affirmed") only when it stands in a part of
the text that describes today's procedure, outside quotations, unchecked boxes and negative or empty fields, and
its clause carries no doubt cue of any kind: negation (also "wasnt", "wasn’t"), failure, absence, substitution,
modal or conditional, hedge, question, request or instruction, plan, history, an unknown verb of its predicate,
or hidden or mixed-script characters. Every other mention is *mentioned, not established*, and keeps the reason.
Adding a new way to say "not" is therefore never needed for safety: a word the reader does not know as an
affirmative verb is already a doubt.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from . import lexicon as lx
from .layouts import flatten, json_fields
from .fastscan import derived as fastscan_derived, may_match, needs, scan_twin
from .leads import Plan, WordIndex, derived as leads_derived, leads

Status = Literal[
    "affirmed", "negated", "planned", "historical", "declined", "conditional",
    "quoted", "unchecked", "doubted", "instruction",
]
SectionKind = Literal[
    "body", "header", "procedure", "diagnosis", "history", "plan", "consent", "exam", "medications", "complications",
    "equipment",
]

I = re.IGNORECASE
WINDOW = 240  # how far back a sentence-wide cue may stand from its mention, in characters
SCANS_BEFORE_TWIN = 2
SEARCHES_BEFORE_TWIN = 50

# --- normalisation -------------------------------------------------------------------------------------------------

# Quotes and dashes that look alike are read alike; each maps one character to one, so offsets hold.
_LOOKALIKES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"',
                             "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "\u00a0": " "})
_LATIN = re.compile(r"[A-Za-z]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def normalise(text: str) -> tuple[str, list[int] | None, list[int]]:
    """(normalised text, offset map or None for identity, positions in the normalised text where hidden characters
    were removed). NFKC per character; format and bidi controls (zero-width space, soft hyphen, right-to-left
    override…) removed, their places remembered so the clause holding them is a doubt, not a fact."""
    text = text.translate(_LOOKALIKES)
    if text.isascii():
        return text, None, []
    out: list[str] = []
    index: list[int] = []
    hidden: list[int] = []
    # ASCII runs are copied whole (their offsets map one to one); only the other characters are looked at one by one
    last = 0
    for m in _NON_ASCII.finditer(text):
        i = m.start()
        if last < i:
            out.append(text[last:i])
            index.extend(range(last, i))
        last = i + 1
        ch = m.group()
        if unicodedata.category(ch) == "Cf":
            hidden.append(len(index))  # one offset per character written so far
            continue
        norm = unicodedata.normalize("NFKC", ch).translate(_LOOKALIKES)
        for c in norm:
            out.append(c)
            index.append(i)
    if last < len(text):
        out.append(text[last:])
        index.extend(range(last, len(text)))
    return "".join(out), index, hidden


# --- structure -----------------------------------------------------------------------------------------------------

_LINE = re.compile(r"[^\r\n]*")
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z -]*NEEDED\]")
# An EHR field nobody filled in is no statement: an unselected SmartList ("{DIAGNOSTIC/THERAPEUTIC:304512}"), a
# SmartPhrase token ("@PURPOSE@"), "***". Blanked like a placeholder, so its words are never read as facts.
_UNFILLED = re.compile(r"\{[^{}\r\n]{1,120}:\s*\d+\}|@[A-Z][A-Z0-9_]*@|\*{3,}")
# A SOAP note's "S:" and "O:" open a line (its "A:" and "P:" are left unnamed: a SOAP procedure note puts the
# procedure done under P, and a bare "R:" or "L:" labels a side)
_BARE_HEADING = re.compile(r"^[ \t]*(?P<name>[A-Z][A-Z0-9 /&'-]{1,40}[A-Z]|[A-Z][a-z]+(?: [A-Za-z][a-z]+){0,2})[ \t]*\r?$"
                           r"(?=\n[ \t]*\S)", re.MULTILINE)
_HEADING = re.compile(r"(?:^[ \t]*|[\r\n,.]\s*)(?P<name>[A-Z][A-Za-z0-9 /&'()#-]{1,50}?|(?<![^\n])[SO](?=:[ \t]))\s*:", re.MULTILINE)
# A field's value that says the thing was not done, or says nothing: "N/A", "none", "not used", "____", "0 seconds".
_NEGATIVE_VALUE = re.compile(
    r"^\s*[(\[]?\s*(?:$|[_.\-*\s]+$|_{2,}|n/?a\b|none\b|nil\b|no\s*(?:[.;,]|$)|not\b|never\b|unavailable\b|declined\b|deferred\b"
    r"|omitted\b|not\s+(?:used|done|performed|applicable|available|obtained|utilized)\b"
    r"|0+(?:\.0+)?\s*(?:s|sec|secs|seconds?|min|mins|minutes?|mgy|mgy\*?cm2?|mrem|images?|views?)?\s*$|zero\b|unknown\b|\?)",
    I,
)
_LOWER_HEADING = re.compile(r"^[ \t]*(?P<name>[a-z][a-z ]{1,30}?)[ \t]*:(?!\d)", re.MULTILINE)
_ITEM_NUMBER = re.compile(r"(?:\d{1,2}|[a-zA-Z])[.)]|[-*•]")
_HEADING_TAB = re.compile(r"[ \t]*[A-Za-z][A-Za-z0-9 /&'#()-]{0,50}:\t+[^\t|]*$")
_FIELD = re.compile(r"[ \t]*(?P<label>[A-Za-z][A-Za-z0-9 /&'#-]{0,50}?)[ \t]*(?P<sep>:|=|\?|\s-\s|\t)[ \t,]*"
                    r"(?P<value>(?:[^\r\n;.]|\.(?=\d))*)")
_BOX = re.compile(r"\[\s*(?P<c1>[xX✓✔*])?\s*\]|\(\s*(?P<c2>[xX✓✔*])?\s*\)(?=\s*[A-Za-z])|(?P<c3>[☒☑✅])|(?P<u>☐)")
_YES_NO_BOX = re.compile(r"\b(?P<word>yes|no|y|n)\s*(?P<box>\[\s*[xX✓✔*]?\s*\]|\(\s*[xX✓✔*]?\s*\)|[☒☑☐])"
                         r"|(?P<box2>\[\s*[xX✓✔*]?\s*\]|\(\s*[xX✓✔*]?\s*\)|[☒☑☐])\s*(?P<word2>yes|no|y|n)\b", I)
_YES_NO_HEADER = re.compile(r"^\s*[A-Za-z][\w /-]*?\s{2,}(?P<yes>yes|y)\s{2,}(?P<no>no|n)\s*$", I)
_NEGATIVE_CELL = re.compile(r"(?:no|n|none|n/a|na|not\s+(?:used|done|performed|given))\b", I)
_BOX_MARKS = frozenset("☒☑✅☐")  # the box characters _BOX and _YES_NO_BOX read besides brackets
_COLUMN_MARK = re.compile(r"(?<!\w)[xX✓✔](?!\w)")
_QUOTE = re.compile(r'"[^"\r\n]{3,}"|(?<![A-Za-z])\'[^\'\r\n]{12,}\'(?![A-Za-z])')
_QUOTE_LEAD = re.compile(r"\b(?:polic(?:y|ies)|guideline|LCD|article|payer|insurer|states?|stating|reads?|quote[ds]?"
                         r"|per\s+(?:the\s+)?(?:policy|payer|LCD|guideline))\b[^.\r\n]{0,40}:\s*$", I)

# Sentence ends: punctuation then space, a question mark, line breaks, and MTSamples headings run together with
# commas (",PROCEDURE:,  Informed consent...").
# (not after a title or an abbreviation: "I talked with Mr. Benally about ...", "fluoro vs. ultrasound")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?;])(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bvs\.)(?<!\be\.g\.)(?<!\bi\.e\.)"
                             r"(?<!\bapprox\.)[\s,]+|(?<=[.!?;][\"')\]])[\s,]+|(?<=\?)|[\r\n]\s*|,\s*(?=[A-Z][A-Z0-9 /&()'-]{2,}:)|(?<=[A-Z]{3}):\s*,?\s*")
# A line break inside a sentence of hard-wrapped prose ("Her previous right SI joint\ninjection on 09/30/2025 was
# done under fluoroscopic guidance"): a long line that ends in no punctuation, followed by a line that goes on in
# lower case. Short lines (a dictation's items, a list) stay sentences of their own.
_WRAP_MIN_LINE = 45
_WRAP_END = re.compile(r"[A-Za-z0-9,%)]$")
_WRAP_NEXT = re.compile(r"[ \t]*[a-z0-9(]")


def _wrapped(text: str, m: re.Match[str]) -> bool:
    brk = m.group()
    if brk[:1] not in ("\r", "\n") or "\n\n" in brk or "\n\r\n" in brk:
        return False  # (an empty match after "?" is a sentence's end, never a wrap)
    return wraps_at(text, m.start(), m.end())


def wraps_at(text: str, brk: int, nxt: int) -> bool:
    """Whether the line break at text[brk:nxt] wraps a sentence onto the next line (see _WRAP_MIN_LINE)."""
    if nxt >= len(text) or brk <= 0:
        return False
    line = text[text.rfind("\n", 0, brk) + 1 : brk].rstrip("\r")
    return (len(line) >= _WRAP_MIN_LINE and _WRAP_END.search(line) is not None
            and _WRAP_NEXT.match(text, nxt) is not None)


# Clause breaks. "and" joins clauses only when both sides have a verb of their own (see _and_breaks).
_CLAUSE_BREAK = re.compile(
    r"[,;()\[\]|\t]|\s[-–]\s|:\s|\b(?:but|however|although|though|whereas|yet|so|then|thus|therefore|because|since"
    r"|while|after|once|until|which|where)\b"
    # "before" splits a clause, except before a later procedure it names ("diagnostic block before RFA": the RFA
    # is planned, read by the cue in rules/reading/cues.toml)
    r"|\bbefore\b(?!\s+(?:an?\s+|the\s+|possible\s+|potential\s+|future\s+|planned\s+|eventual\s+|considering\s+)?"
    r"(?:(?:lateral|medial)\s+branch(?:es)?\s+(?:nerve\s+)?|genicular\s+(?:nerve\s+)?|SIJ?\s+|sacroiliac\s+(?:joint\s+)?|facet\s+|(?:left|right|bilateral|lumbar|cervical|thoracic|sacral)\s+)*(?:RFA|RF\b|RFTC|radio-?frequency|ablation|neurotomy|denervation|rhizotomy|cryo\w*))"
    r"|(?=\b(?:instead\s+of|in\s+lieu\s+of|rather\s+than|as\s+opposed\s+to|in\s+place\s+of|as\s+an\s+alternative\s+to)\b)"
    # run-on dictation ("... failed PT she's here for a therapeutic epidural ..."): a pronoun subject opens a clause
    r"|(?=\b(?:she|he|we|they)(?:'s\b|\s+(?:is|was|were|has|had|did|then|tolerated|received|underwent|presented|"
    r"presents|returns|returned|reports|reported|denies|denied)\b))",
    I,
)
_AND = re.compile(r"\band\b|&|\+", I)
_VERBISH = re.compile(r"\b(?:was|were|is|are|been|be|had|has|have|did|does|do|could|would|will|can|may|might"
                      r"|\w{3,}ed)\b", I)

# --- doubt cues ----------------------------------------------------------------------------------------------------


def _load_cues() -> dict:
    # rules/reading/cues.toml: the cue rules, section kinds and today-words (see that file)
    from .recache import load_toml
    from pathlib import Path

    with (Path(__file__).parent / "rules" / "reading" / "cues.toml").open("rb") as fh:
        return load_toml(fh)


def _alternation(patterns: list[str], flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), flags)


_CUES = _load_cues()
# (status, pattern, forward-only): a forward cue doubts only the mentions after it in the clause
_CLAUSE_DOUBT: list[tuple[Status, re.Pattern[str], str]] = [
    (c["status"], _alternation(c["patterns"]), c.get("direction", "both")) for c in _CUES["cue"]]
# words of a directional cue: they are read by their direction above, never as an unknown verb
_DIRECTIONAL = _alternation([p for c in _CUES["cue"] if c.get("direction", "both") != "both" for p in c["patterns"]])
_LABEL_CUES: list[tuple[Status, re.Pattern[str]]] = [(c["status"], _alternation(c["patterns"])) for c in _CUES["label_cue"]]
_PRESENT_TODAY = _alternation(_CUES["today"]["patterns"])
_SECTION_KINDS: list[tuple[SectionKind, re.Pattern[str]]] = [
    (c["kind"], _alternation(c["patterns"])) for c in _CUES["section"]]

# Forward-scoped negation: "no imaging", "without fluoroscopy", "non-fluoroscopic" negate the words they govern.
_DETERMINER_NEGATION = lx.NEGATION_BEFORE
# A following clause that is only a negative predicate reaches back: "fluoro, not used", "fluoroscopy - N/A",
# "C-arm (unavailable)".
_NEGATIVE_TAIL = re.compile(
    r"^[\s,;:()\-]*(?:(?:but|and|was|were|is|are|it|this|which|that)\s+)*"
    r"(?:not\b(?!\s+(?:elsewhere|otherwise)\s+(?:classified|specified))|never\b|n/a\b|none\b|no\s*(?:[.;,)]|$)|unavailable|unable|declined|deferred|omitted|skipped|aborted"
    r"|cancel+ed|failed(?!\s+(?:\d|conservative|PT\b|physical|therapy|treatment|NSAIDs?|medications?|meds|injections?"
    r"|chiro\w*|home|exercise|rest|activity|to\s+(?:respond|improve|help|relieve|control|resolve|alleviate)))"  # "failed PT" is history, not a failure today
    r"|broken|down\b|contraindicated|was\s*n'?t|wasnt|werent|weren't|isnt|isn't|unused|withheld|held\b"
    r"|0+(?:\.0+)?\s*(?:s|sec|secs|seconds?|min|mins|minutes?|mgy|images?|views?)?\s*(?:[.;,)](?!\d)|$)|zero\b)",  # not "0.5 mL"
    I,
)
# "X, not Y" contrasts X with Y: the "not" is Y's ("under ultrasound guidance, not fluoroscopy").
_CONTRASTIVE = re.compile(r"^[\s,;:()\-]*(?:and\s+|but\s+)?not\s+(?:the\s+|a\s+)?(?:fluoro\w*|ultra-?sound\w*|sonograph\w*"
                          r"|CT\b|US\b|C-arm|left|right|bilateral\w*|landmarks?|palpation)", I)
# Past-tense predicates this reader knows to describe a thing done ("was advanced", "confirmed"). Any other -ed
# word in the clause is an unknown verb and so a doubt ("fluoroscopy was forgone", "the C-arm malfunctioned").
_AFFIRMATIVE_ED = frozenset(_CUES["verbs"]["affirmative_ed"])
_ED_WORD = re.compile(r"\b[A-Za-z]{4,}ed\b")
_NOT_VERBS = frozenset(_CUES["verbs"]["not_verbs"])
# "went in easily" / "went into the joint" is the injectate given, "went ahead with" the procedure done; "the C-arm
# went down" is not
_IRREGULAR_PARTICIPLE = re.compile(r"\b(?:given|seen|shown|taken|done|withdrawn|made|put|set|kept|held|broken|gone"
                                   r"|went(?!\s+(?:in|into|ahead)\b)|forgotten|forgot|hidden|written|undergone)\b", I)
_AFFIRMATIVE_IRREGULAR = frozenset(_CUES["verbs"]["affirmative_irregular"])
_MIXED_SCRIPT_WORD = re.compile(r"\w*[^\W\d_]\w*")
_SUBSTITUTION = re.compile(r"\s*(?:instead\s+of|in\s+lieu\s+of|rather\s+than|as\s+opposed\s+to|in\s+place\s+of)\b", I)
# A clause that goes on about the same thing without a new subject: "but not injected", "(all held, none injected)",
# "neither was injected", "which was not used".
_CONTINUES_SUBJECT = re.compile(
    r"[\s,;:()\[\]\-]*(?:(?:but|and|yet|though|although|however|then|so)\s+)?"
    r"(?:it|its|this|these|that|those|they|them|all|none|neither|both|each|either|which|not|never|no\s*(?:[.;,)]|$)"
    r"|was|were|is|are|been|being|held|prepared|drawn|only|also|later|subsequently)\b", I)


@dataclass(frozen=True)
class Mention:
    kind: str
    start: int
    end: int
    text: str
    status: Status
    section: str | None


@dataclass(frozen=True)
class Section:
    start: int
    end: int
    name: str | None
    kind: SectionKind


@dataclass(frozen=True)
class Field:
    """A `Label: value` line (also `Label - value`). A negative or empty value makes the label's words unestablished."""

    start: int
    end: int
    label_end: int
    negative: bool
    value_start: int = 0


@dataclass(frozen=True)
class Box:
    """A checkbox item: its line's text after the box, and whether the box is checked."""

    start: int
    end: int
    checked: bool


class Reading:
    """The one reading of a text. Offsets are in the normalised text; `span()` maps them back to the original."""

    def __init__(self, original: str, shown: str | None = None) -> None:
        """`shown`: the text spans quote, when `original` is a view of it with parts blanked (events.mask): the
        same length, so every offset holds."""
        self.original = original
        self.shown = original if shown is None else shown
        text, index, hidden = normalise(original)
        # A drafter's "[DOSE NEEDED]" is no statement: blanked (same length, offsets hold) so its words are not read;
        # the validator reports the placeholder itself (note.placeholder).
        text = json_fields(text)  # {"procedure": "...", "fluoroscopy_used": true}: the label: value lines it holds
        text = _PLACEHOLDER.sub(lambda m: " " * len(m.group()), text)
        text = _UNFILLED.sub(lambda m: " " * len(m.group()), text)
        text = flatten(text)  # "Side? -> Right", "<field id="dx">…</field>": the Label: value lines they stand for
        self.text = text
        self._index = index
        self._hidden = hidden
        self._lower = _lowered(text)
        # Keyed by id(pattern): hashing a compiled pattern hashes its whole code (microseconds for a lexicon
        # entry, on every lookup). `_pinned` keeps each pattern alive while this reading is, so an id stays its own.
        self._pinned: dict[int, re.Pattern[str]] = {}
        self._scans: dict[int, list[re.Match[str]]] = {}
        self._statuses: dict[tuple, Status] = {}
        self._cues: dict[int, tuple[list[int], list[int]]] = {}
        self._starts = [0] + [m.end() for m in _SENTENCE_BREAK.finditer(text) if not _wrapped(text, m)]
        self._headings = [(m.start("name"), m.group("name").strip()) for m in _HEADING.finditer(text)
                          if not _not_a_heading(m.group("name"))]
        if "\n" in text:  # "PAST PROCEDURAL HISTORY" or "Assessment" alone on its line, without a colon: a heading
            # of a known kind (a title such as "LEFT SI JOINT INJECTION" names no section)
            bare = [(m.start("name"), m.group("name").strip()) for m in _BARE_HEADING.finditer(text)
                    if _kind_of(m.group("name").strip()) != "body"]
            if bare:
                self._headings = sorted(set(self._headings + bare))
        if ":" in text:  # "plan: repeat in 3 months": a lower-case heading, kept when it names a section that is
            # not the procedure's (a lower-case "left:" or "fluoro:" in a dictation labels a fact, not a section)
            lower = [(m.start("name"), m.group("name").strip()) for m in _LOWER_HEADING.finditer(text)
                     if _kind_of(m.group("name").strip()) not in ("body", "procedure", "medications")]
            if lower:
                self._headings = sorted(set(self._headings + lower))
        self._heading_pos = [h[0] for h in self._headings]
        self.sections = self._sections()
        self._section_starts = [sec.start for sec in self.sections]
        self.fields, self.boxes, self.rows = self._lines()
        self._field_starts = [f.start for f in self.fields]
        self._box_starts = [b.start for b in self.boxes]
        self._rows = [_Row(a, b) for a, b in self.rows]
        self._row_starts = [a for a, _ in self.rows]
        self.quotes = self._quotes()
        self._clause_breaks = self._clauses()
        self.instructions = [(m.start(), self.sentence(max(m.start(), m.end() - 1))[1]) for m in self.finditer(lx.INSTRUCTION)]

    # --- offsets -----------------------------------------------------------------------------------------------

    def span(self, start: int, end: int):
        """A models.Span of the ORIGINAL text for [start, end) of the normalised text."""
        from .models import Span

        if self._index is None:
            return Span(start=start, end=end, text=self.shown[start:end])
        if start >= len(self._index):
            o = len(self.original)
            return Span(start=o, end=o, text="")
        s = self._index[start]
        e = self._index[end - 1] + 1 if end > start else s
        return Span(start=s, end=e, text=self.shown[s:e])

    def masked(self, family: str) -> "Reading":
        """The reading of this text with the parts another procedure owns blanked (see events.py); cached."""
        views = self.__dict__.setdefault("_views", {})
        if family not in views:
            from .events import mask, scopes_of

            views[family] = Reading(mask(self, scopes_of(self), family), shown=self.shown)
        return views[family]

    # --- scanning ----------------------------------------------------------------------------------------------

    def finditer(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        found = self._scans.get(id(pattern))
        if found is None:
            self._pinned[id(pattern)] = pattern
            found = self._scans[id(pattern)] = _scan_all(pattern, self.text, self._lower, self._word_index())
        return found

    def scan(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        found = self._scans.get(id(pattern))
        return iter(found) if found is not None else _scan(pattern, self.text, self._lower, self._word_index())

    def search(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        return next(self.scan(pattern), None)

    def _word_index(self) -> WordIndex | None:
        words = self.__dict__.get("_words", False)
        if words is False:
            words = self.__dict__["_words"] = WordIndex(self.text, self._lower) if self._lower is not None else None
        return words

    def _spans(self, pattern: re.Pattern[str]) -> tuple[list[int], list[int]]:
        spans = self._cues.get(id(pattern))
        if spans is None:
            found = self.finditer(pattern)  # pins the pattern
            spans = self._cues[id(pattern)] = ([m.start() for m in found], [m.end() for m in found])
        return spans

    def cue_within(self, pattern: re.Pattern[str], lo: int, hi: int) -> bool:
        starts, ends = self._spans(pattern)
        i = bisect.bisect_left(starts, lo)
        return i < len(starts) and ends[i] <= hi

    def cues_within(self, pattern: re.Pattern[str], lo: int, hi: int) -> Iterator[tuple[int, int]]:
        starts, ends = self._spans(pattern)
        i = bisect.bisect_left(starts, lo)
        while i < len(starts) and ends[i] <= hi:
            yield starts[i], ends[i]
            i += 1

    # --- structure ---------------------------------------------------------------------------------------------

    def _sections(self) -> list[Section]:
        """Sections by heading. A heading at a line start, after a comma (MTSamples) or in capitals opens a block
        that runs to the next heading; a heading inside a line ("... Diagnosis: M46.1. The left side ...") holds
        only its own sentence, and what follows is body again."""
        text = self.text
        out: list[Section] = []
        first_end = self._headings[0][0] if self._headings else len(text)
        # Text before the first heading: a title line ("BILATERAL SACROILIAC JOINT INJECTIONS,") or a dictation.
        out.append(Section(0, first_end, None, "header" if self._headings else "body"))
        for i, (pos, name) in enumerate(self._headings):
            end = self._headings[i + 1][0] if i + 1 < len(self._headings) else len(text)
            line_start = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
            lead = text[line_start:pos].strip()  # "7. Injection history:": a numbered item's label heads its line
            block = not lead or _ITEM_NUMBER.fullmatch(lead) is not None or text[:pos].rstrip().endswith(",") or name.isupper()
            if block:
                # "DIAGNOSIS: M46.1." holds its own line (and the list items under it); a heading alone on its
                # line, or MTSamples' one-line notes, hold everything up to the next heading
                own = _line_block_end(text, pos, end)
                if _kind_of(name) in ("diagnosis", "complications", "medications") and own < end or (
                        _kind_of(name) in ("diagnosis", "complications", "medications") and "\n" in text[pos:end]):
                    # "Dx: M46.1. The right-sided injection was not performed.": the diagnosis is one statement
                    s_end = self.sentence(pos)[1]
                    if text[s_end - 2 : s_end].strip().endswith(":"):
                        s_end = self.sentence(s_end)[1]
                    own = min(own, s_end)
                if _kind_of(name) == "consent" and own > pos:  # "Consent: risks ... were reviewed." is one statement
                    own = min(own, self.sentence(self.sentence(pos)[1])[1] if text[self.sentence(pos)[1] - 2:self.sentence(pos)[1]].strip().endswith(":") else self.sentence(pos)[1])
                out.append(Section(pos, own, name, self._heading_kind(pos, name)))
                if own < end:
                    out.append(Section(own, end, None, "body"))
                continue
            own_end = min(end, self.sentence(pos)[1])
            out.append(Section(pos, own_end, name, self._heading_kind(pos, name)))
            if own_end < end:
                out.append(Section(own_end, end, None, "body"))
        return out

    def _heading_kind(self, pos: int, name: str) -> SectionKind:
        """A heading's kind; a radiology report's "EXAM: CT-GUIDED LEFT C6 TRANSFORAMINAL INJECTION" names the
        procedure done (the study), not a physical examination."""
        kind = _kind_of(name)
        if kind == "exam" and _STUDY_HEADING.fullmatch(name.strip()):
            line_end = self.text.find("\n", pos)
            if _PROCEDURE_TITLE.search(self.text, pos, line_end if line_end >= 0 else len(self.text)):
                return "procedure"
        return kind

    def _lines(self) -> tuple[list[Field], list[Box], list[tuple[int, int]]]:
        fields: list[Field] = []
        boxes: list[Box] = []
        rows: list[tuple[int, int]] = []
        text = self.text
        columns: tuple[int, int] | None = None  # (Yes column, No column) of a "Imaging   Yes   No" header
        for m in _LINE.finditer(text):
            a, b = m.span()
            if a == b:
                continue
            line = m.group()
            header = _YES_NO_HEADER.match(line)
            if header:
                columns = (header.start("yes"), header.start("no"))
                continue
            if columns is not None:
                if not line.strip() or ":" in line:
                    columns = None
                else:  # "Fluoroscopy    X": checked when the mark stands under Yes
                    mark = _COLUMN_MARK.search(line, len(line) - len(line.lstrip()) + 1)
                    yes_col, no_col = columns
                    checked = mark is not None and abs(mark.start() - yes_col) < abs(mark.start() - no_col)
                    boxes.append(Box(a, b, checked))
                    continue
            # a row: cells split by pipes or tabs; "DESCRIPTION:<tab>prose" is a heading and its text, not a row
            if line.count("|") >= 2 or ("\t" in line.strip() and not _HEADING_TAB.match(line)):
                rows.append((a, b))
            if "[" not in line and "(" not in line and (line.isascii() or not _BOX_MARKS.intersection(line)):
                continue  # no box can stand in a line without a bracket or a box character
            yes_no = list(_YES_NO_BOX.finditer(line))
            words = {(m.group("word") or m.group("word2") or "")[:1].lower() for m in yes_no}
            if {"y", "n"} <= words:  # "Fluoroscopy  Yes [ ]  No [X]"; "☒ No imaging" alone is an item, not a column
                state = _yes_no_state(yes_no)
                boxes.append(Box(a, b, state))
                continue
            found = list(_BOX.finditer(line))
            if len(found) == 1 and not line[found[0].end():].strip() and line[: found[0].start()].strip():
                box = found[0]  # "Fluoroscopic guidance [ ]": the box follows what it stands for
                boxes.append(Box(a, a + box.end(), bool(box.group("c1") or box.group("c2") or box.group("c3"))))
                continue
            for j, box in enumerate(found):
                end = found[j + 1].start() if j + 1 < len(found) else len(line)
                checked = bool(box.group("c1") or box.group("c2") or box.group("c3"))
                boxes.append(Box(a + box.start(), a + end, checked))
            if found:
                continue
        fields = self._fields()
        return fields, boxes, rows

    def _fields(self) -> list[Field]:
        """`Label: value` at a line start or a sentence start ("... joint. C-arm used: No. ..."), value to the end of
        its line, semicolon or full stop."""
        text = self.text
        starts = sorted(set(self._starts) | {m.start() for m in _LINE.finditer(text)})
        out: list[Field] = []
        last_end = -1
        for pos in starts:
            if pos < last_end:
                continue
            f = _FIELD.match(text, pos)
            if f is None or _not_a_heading(f.group("label")) or len(f.group("label").split()) > 6:
                continue
            value = f.group("value")
            negative = bool(_NEGATIVE_VALUE.match(value))
            out.append(Field(f.start("label"), f.end(), f.end("label"), negative, f.start("value")))
            last_end = f.end()
        return out

    def _quotes(self) -> list[tuple[int, int]]:
        out = [(m.start(), m.end()) for m in _QUOTE.finditer(self.text)]
        # "Per the payer policy: ..." quotes the rest of its line.
        for m in re.finditer(r"[^\r\n]+", self.text):
            line = m.group()
            c = line.find(":")
            if c > 0 and _QUOTE_LEAD.search(line[: c + 1]):
                start = m.start() + c + 1
                if self.text[start:].lstrip().startswith('"'):
                    continue  # the quotation marks themselves say where the quote ends
                out.append((start, min(m.end(), self.sentence(start + 1)[1])))
        return sorted(out)

    def _clauses(self) -> list[int]:
        text = self.text
        breaks = set(self._starts)
        for m in self.finditer(_CLAUSE_BREAK):
            breaks.add(m.start() if m.group().startswith(("instead", "in lieu", "rather", "as ", "in place")) or not m.group().strip() else m.end())
        starts = sorted(breaks)
        # "and" splits a clause only when both sides carry their own verb ("placed under fluoroscopy and no
        # paresthesias were noted"); "fluoroscopy and ultrasound were not used" stays one clause.
        for m in self.finditer(_AND):
            i = bisect.bisect_right(starts, m.start()) - 1
            lo = starts[i] if i >= 0 else 0
            hi = starts[i + 1] if i + 1 < len(starts) else len(text)
            if _VERBISH.search(text, lo, m.start()) and _VERBISH.search(text, m.end(), hi):
                breaks.add(m.end())
        return sorted(breaks)

    def clause(self, pos: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._clause_breaks, pos) - 1
        start = self._clause_breaks[i] if i >= 0 else 0
        end = self._clause_breaks[i + 1] if i + 1 < len(self._clause_breaks) else len(self.text)
        s_start, s_end = self.sentence(pos)
        return max(start, s_start), min(end, s_end)

    def sentence(self, pos: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._starts, pos) - 1
        start = self._starts[i]
        end = self._starts[i + 1] if i + 1 < len(self._starts) else len(self.text)
        return start, end

    def section(self, pos: int) -> str | None:
        return self.section_of(pos).name

    def section_of(self, pos: int) -> Section:
        i = bisect.bisect_right(self._section_starts, pos) - 1
        return self.sections[max(i, 0)]

    def section_kind(self, pos: int) -> Literal["history", "plan", "diagnosis", "body"]:
        """The coarse kind older callers use: history, plan, diagnosis or body."""
        kind = self.section_of(pos).kind
        if kind in ("history", "plan", "diagnosis"):
            return kind  # type: ignore[return-value]
        if kind in ("consent", "exam", "equipment"):
            return "plan" if kind == "consent" else "history"
        return "body"

    def _in(self, spans, pos: int) -> bool:
        for a, b in spans:
            if a <= pos < b:
                return True
            if a > pos:
                return False
        return False

    def field_at(self, pos: int) -> Field | None:
        return _at(self.fields, self._field_starts, pos)

    def box_at(self, pos: int) -> Box | None:
        return _at(self.boxes, self._box_starts, pos)

    def row_at(self, pos: int) -> tuple[int, int] | None:
        found = _at(self._rows, self._row_starts, pos)
        return (found.start, found.end) if found else None

    # --- status ------------------------------------------------------------------------------------------------

    def in_instruction(self, pos: int) -> bool:
        i = bisect.bisect_right(self.instructions, (pos, len(self.text) + 1)) - 1
        return i >= 0 and pos < self.instructions[i][1]

    def status(self, start: int, end: int, allow: re.Pattern[str] | None = None) -> Status:
        """Where the mention [start, end) stands. `allow` names cue words that are the fact itself for this
        reader (the Medicare overlay reads "failed PT" as conservative care tried), not a doubt about it."""
        key = (start, end, self._pin(allow))
        if key not in self._statuses:
            self._allow = allow
            try:
                self._statuses[key] = self._status(start, end)
            finally:
                self._allow = None
        return self._statuses[key]

    _allow: re.Pattern[str] | None = None

    def _pin(self, pattern: re.Pattern[str] | None) -> int | None:
        if pattern is None:
            return None
        self._pinned[id(pattern)] = pattern
        return id(pattern)

    def _value_governs_label(self, field: Field) -> bool:
        """A label is read by its value when it is a label ("Fluoroscopy used: No"), not when the "label" is a
        statement and the value a second one with a subject of its own ("bilateral SIJ injections under
        fluoroscopy: left side aborted due to discomfort; ...")."""
        if field.negative:
            return True
        label_words = len(self.text[field.start : field.label_end].split())
        value_words = len(self.text[field.value_start : field.end].split())
        return label_words <= 3 or value_words <= 5

    def _local_status(self, start: int, end: int) -> Status:
        if self.in_instruction(start):
            return "instruction"
        if self._in(self.quotes, start):
            return "quoted"
        box = self.box_at(start)
        if box is not None and not box.checked:
            return "unchecked"
        field = self.field_at(start)
        if field is not None and start < field.label_end and self._value_governs_label(field):
            # a word in a field's label is established only by the value: "C-arm used: No", "Fluoroscopy: ____",
            # "Diagnostic or therapeutic: to be decided"
            if field.negative:
                return "negated"
            value_status = self._clause_status(field.value_start, field.value_start, field.value_start, field.end,
                                               field.value_start, field.end)
            if value_status != "affirmed":
                return value_status
            if "?" in self.text[field.value_start : field.end]:
                return "doubted"
        if field is not None and start >= field.label_end:
            label = self.text[field.start : field.label_end]
            for status, pattern in _LABEL_CUES:
                if pattern.search(label):
                    return status  # "Procedure planned: bilateral SI joint injections"
        row = self.row_at(start)
        s_start, s_end = self.sentence(start)
        if row is not None:  # a table row is one statement: a doubt anywhere in it reaches every cell
            c_start, c_end = row
        else:
            c_start, c_end = self.clause(start)
            c_end = max(c_end, min(end, s_end))
            if self.text[max(s_start, c_start - 2) : c_start].strip() in ("(", "["):
                c_start = self.clause(max(s_start, c_start - 2))[0]  # "R/O sacroiliitis (M46.1)": the parenthesis
                # belongs to the clause it stands in
        clause_status = self._clause_status(start, end, c_start, c_end, s_start, s_end)
        if clause_status != "affirmed":
            return clause_status
        if box is None and self.text[s_start:s_end].rstrip().endswith("?") and not self._asks_why(end, s_start, s_end):
            return "doubted"  # "Fluoroscopy? No."
        if row is not None:
            cells = [c.strip() for c in re.split(r"[|\t]", self.text[c_start:c_end])]
            if any(c and (_NEGATIVE_VALUE.fullmatch(c) or _NEGATIVE_CELL.match(c)) for c in cells):
                return "negated"  # "| Fluoroscopy | No |"
        if row is None and box is None and not (field is not None and start < field.label_end):
            if self.text[s_end - 2 : s_end].strip().endswith(";") and s_end < len(self.text):
                s_end = self.sentence(s_end)[1]  # "...bupivacaine; neither was injected."
            open_at = self.text.rfind("(", s_start, start)
            if open_at > self.text.rfind(")", s_start, start):
                close = self.text.find(")", end, s_end)
                if close > 0:
                    # an item of a parenthesised list: what follows the list is said of every item ("Other causes
                    # (radiculopathy, stenosis, fracture) not supported by exam or imaging")
                    c_end = close + 1
            reached = self._reached_back(c_end, s_end)
            if reached != "affirmed":
                return reached
        return "affirmed"

    def _asks_why(self, end: int, s_start: int, s_end: int) -> bool:
        """The question closing the sentence is the block's reason, asked in parentheses after the mention:
        "DIAGNOSTIC block (is the right SIJ the pain generator?)" states a diagnostic purpose, it does not doubt it."""
        m = _RATIONALE_QUESTION.search(self.text[s_start:s_end].rstrip())
        return m is not None and s_start + m.start() >= end

    def _reached_back(self, c_end: int, s_end: int) -> Status:
        """A following clause of the same sentence that continues the subject reaches back to the mention:
        "fluoro, not used", "Kenalog 40 mg (all held, none injected)", "drawn up but not injected", "; neither was"."""
        if self._asks_why(c_end - 1, max(0, c_end - 1), s_end):
            return "affirmed"  # "(is the right SIJ the pain generator?)": the block's reason, not about the mention
        pos, hops = c_end, 0
        while pos < s_end and hops < 4:
            tail = self.text[pos : min(s_end + 40, pos + 60)]
            if _NEGATIVE_TAIL.match(tail) and not _CONTRASTIVE.match(tail):
                return "negated"
            while pos < s_end and self.text[pos] in " \t\r\n,;:()[]|-":
                pos += 1
            if pos >= s_end:
                break
            n_start, n_end = self.clause(pos)
            n_end = max(n_end, n_start + 1)
            head = self.text[n_start:n_end]
            if _CONTRASTIVE.match(head):
                pos, hops = n_end, hops + 1  # "..., not fluoroscopy": the other thing's negation
                continue
            if _SUBSTITUTION.match(head):
                return "affirmed"  # "... in lieu of fluoroscopy (contrast allergy)": what follows is the other thing
            # a parenthesis with its own subject ("(images not retained)") speaks of that subject; one that goes on
            # about the mention ("(not injected)", "(all held, none injected)") reaches back
            if _CONTINUES_SUBJECT.match(head):
                status = self._clause_status(n_start, n_start, n_start, n_end, n_start, n_end)
                if status != "affirmed":
                    return status
            elif _VERBISH.search(head):
                return "affirmed"  # a new statement with its own verb: what follows is about something else
            # a parenthesis or the rest of a noun phrase ("(Kenalog) 40 mg and 2 mL ...") — read on
            pos, hops = n_end, hops + 1
        return "affirmed"

    @staticmethod
    def has_verb(s: str) -> bool:
        return _VERBISH.search(s) is not None

    def doubt_in(self, lo: int, hi: int) -> Status:
        """The doubt cues of the text [lo, hi) itself, as a clause: "deferred", "rule out", "pending". Every cue in
        the range governs it, whichever way it reads ("r/o sacroiliitis", "sacroiliitis, suspected")."""
        return self._clause_status(lo, lo, lo, hi, lo, hi, any_direction=True)

    def local_status(self, start: int, end: int, allow: re.Pattern[str] | None = None) -> Status:
        """The status from the mention's own clause and structure only, without the section it stands in: a
        diagnosis in an Assessment/Plan section is still a diagnosis. `allow` as in status()."""
        allow = allow if allow is not None else self._allow
        key = (start, end, "local", self._pin(allow))  # with `allow`: a verdict read with other cue words is cached apart
        if key not in self._statuses:
            saved, self._allow = self._allow, allow
            try:
                self._statuses[key] = self._local_status(start, end)
            finally:
                self._allow = saved
        return self._statuses[key]

    def _status(self, start: int, end: int) -> Status:
        local = self.local_status(start, end)
        if local != "affirmed":
            return local
        s_start, s_end = self.sentence(start)
        kind = self.section_of(start).kind
        lo = max(s_start, start - WINDOW)
        if kind in ("history", "exam") and not self.cue_within(_PRESENT_TODAY, s_start, s_end):
            return "historical"
        if kind == "plan":
            return "planned"
        if kind == "equipment":
            return "doubted"  # at hand is not used: an equipment list establishes no guidance
        if kind == "consent":
            return "conditional"
        if self.cue_within(lx.HYPOTHETICAL_SENTENCE, lo, start):
            return "conditional"  # "Risks of ... were discussed": consent talk before the mention
        if any(self._allow is None or not self._allow.fullmatch(self.text, a, b)
               for a, b in self.cues_within(lx.PLANNED, lo, start)):
            return "planned"
        if self._history_reaches(start, lo, s_end) or (
            self.cue_within(lx.HISTORICAL_WEAK, lo, start) and not self.cue_within(_PRESENT_TODAY, lo, min(s_end, start + WINDOW))
        ):
            return "historical"
        return "affirmed"

    def _history_reaches(self, start: int, lo: int, s_end: int) -> bool:
        """A history cue earlier in the sentence reaches the mention unless a today-word stands after the last cue,
        up to the end of the mention's own clause (a run-on "s/p TKA, ... did left genicular RFA today under
        fluoroscopy": what follows "today" is today's). A cue in the mention's own clause is read by its clause."""
        last = max((b for _, b in self.cues_within(lx.HISTORICAL, lo, start)), default=None)
        if last is None:
            return False
        _, c_end = self.clause(start)
        return not self.cue_within(_PRESENT_TODAY, last, min(c_end, s_end))

    def _clause_status(self, start: int, end: int, lo: int, hi: int, s_start: int, s_end: int,
                       any_direction: bool = False) -> Status:
        # A clause is read at most WINDOW characters either side of its mention: text with no punctuation for
        # kilobytes ("40 mg 40 mg ...") stays linear to read.
        lo, hi = max(lo, start - WINDOW), min(hi, max(end, start) + WINDOW)
        text = self.text
        if self._hidden and any(lo <= h <= hi for h in self._hidden):
            return "doubted"  # a zero-width or bidi character inside the clause: what is shown is not what is read
        clause = text[lo:hi]
        if not clause.isascii() and _mixed_script(clause):
            return "doubted"
        if "?" in clause or text[max(0, lo - 2) : lo].strip() == "?":
            return "doubted"  # "? fluoro", "Fluoroscopy? No."
        before = text[lo:start]
        # substitution: "US guided instead of fluoro" — what follows the cue is the thing not used
        if _SUBSTITUTED_BEFORE.match(before):
            return "negated"
        if _DECLINED_BEFORE.search(before):
            return "declined"
        if _negated_before(before):
            return "negated"
        # The first cue rule (in _CLAUSE_DOUBT's order) with a cue in [lo, hi) that counts decides; all the rules'
        # cues are in one list by start (_doubt_cues), so a clause is one bisection, not one per rule.
        starts, cues = self._doubt_cues()
        best = len(_CLAUSE_DOUBT)
        for j in range(bisect.bisect_left(starts, lo), len(starts)):
            a, b, k = cues[j]
            if a > hi:
                break
            if b > hi or k >= best:
                continue
            status, _pattern, direction = _CLAUSE_DOUBT[k]
            if self._allow is not None and self._allow.fullmatch(text, a, b):
                continue
            if not any_direction and ((direction == "forward" and a >= start)
                                      or (direction == "backward" and a < start)):
                continue
            if a < start or b > end:  # a cue word inside the mention itself ("non-fluoroscopic") is the mention's
                if status == "negated" and _determiner_only(text[a:b]):
                    continue  # "no", "without": they govern the words after them (_negated_before)
                best = k
        if best < len(_CLAUSE_DOUBT):
            return _CLAUSE_DOUBT[best][0]
        for m in _ED_WORD.finditer(text, lo, hi):
            if self._allow is not None and self._allow.fullmatch(m.group()):
                continue
            if _DIRECTIONAL.match(text, m.start()):
                continue  # "for suspected sacroiliitis", "converted to CT": read by their direction above
            if m.start() < start or m.end() > end:
                if m.group().lower() not in _AFFIRMATIVE_ED and m.group().lower() not in _NOT_VERBS:
                    return "doubted"  # an unknown verb: "fluoroscopy was forgone", "the C-arm malfunctioned"
        for m in _IRREGULAR_PARTICIPLE.finditer(text, lo, hi):
            if (m.start() < start or m.end() > end) and m.group().lower() not in _AFFIRMATIVE_IRREGULAR:
                return "doubted"
        return "affirmed"

    def _doubt_cues(self) -> tuple[list[int], list[tuple[int, int, int]]]:
        """Every cue of every _CLAUSE_DOUBT rule in the text, as (start, end, rule index) sorted by start (and rule),
        with the starts apart for bisection; built once per reading."""
        found = self.__dict__.get("_doubt")
        if found is None:
            cues = sorted((a, b, k) for k, (_s, pattern, _d) in enumerate(_CLAUSE_DOUBT)
                          for a, b in zip(*self._spans(pattern)))
            found = self._doubt = ([c[0] for c in cues], cues)
        return found

    def clause_before(self, start: int, lo: int | None = None) -> str:
        c_start, _ = self.clause(start)
        return self.text[max(c_start, lo if lo is not None else 0, start - WINDOW) : start]

    def clause_after(self, end: int, hi: int | None = None) -> str:
        _, c_end = self.clause(max(0, end - 1))
        return self.text[end : min(c_end, hi if hi is not None else len(self.text), end + WINDOW)]

    def sentence_before(self, start: int) -> str:
        s_start, _ = self.sentence(start)
        return self.text[max(s_start, start - WINDOW) : start]

    def whole_sentence(self, pos: int) -> str:
        s_start, s_end = self.sentence(pos)
        lo = max(s_start, pos - WINDOW)
        return self.text[lo : min(s_end, pos + WINDOW)]

    def mention(self, kind: str, m: re.Match[str], group: int | str = 0) -> Mention:
        start, end = m.span(group)
        return Mention(kind, start, end, self.text[start:end], self.status(start, end), self.section(start))


_EOL = re.compile(r"\r\n|\r|\n")


def _line_block_end(text: str, pos: int, end: int) -> int:
    """Where a heading's section ends: the end of its line when the heading has a value on that line, extended over
    following lines that are list items or indented; the next heading otherwise."""
    m = _EOL.search(text, pos, end)
    if m is None:
        return end
    colon = text.find(":", pos, m.start())
    if colon < 0 or not text[colon + 1 : m.start()].strip(" \t,"):
        return end  # "HISTORY:" alone on its line: a block
    while True:
        nxt = _EOL.search(text, m.end(), end)
        line = text[m.end() : nxt.start() if nxt else end]
        if not re.match(r"[ \t]+\S|\s*(?:\d+[.)]|[-*•])\s", line) and not wraps_at(text, m.start(), m.end()):
            return m.end()  # (a value wrapped onto the next line goes on: "Plan: ... repeat the\nright SI joint ...")
        if nxt is None:
            return end
        m = nxt


@dataclass(frozen=True)
class _Row:
    start: int
    end: int


def _at(items, starts: list[int], pos: int):
    """The item (sorted by start, not overlapping) that holds `pos`, or None."""
    i = bisect.bisect_right(starts, pos) - 1
    return items[i] if i >= 0 and pos < items[i].end else None


def _not_a_heading(name: str) -> bool:
    # "at 10:30", "ratio 1:1", a URL: not headings
    return bool(re.fullmatch(r"[\d\s.:/-]*|https?|(?![SO]$)[A-Za-z]", name.strip()))  # SOAP's "S:", "O:" are


@lru_cache(maxsize=1024)  # a pure function of the heading; a long note repeats its headings
def _kind_of(name: str) -> SectionKind:
    for kind, pattern in _SECTION_KINDS:
        if pattern.search(name):
            return kind
    return "body"


def _yes_no_state(found: list[re.Match[str]]) -> bool:
    """`Yes [ ] No [X]`: established only when the Yes box is checked and the No box is not."""
    yes = no = False
    for m in found:
        word = (m.group("word") or m.group("word2") or "").lower()
        box = m.group("box") or m.group("box2") or ""
        checked = bool(re.search(r"[xX✓✔*☒☑]", box))
        if word.startswith("y"):
            yes = yes or checked
        else:
            no = no or checked
    return yes and not no


def _mixed_script(clause: str) -> bool:
    for m in _MIXED_SCRIPT_WORD.finditer(clause):
        w = m.group()
        if w.isascii():
            continue
        letters = [c for c in w if c.isalpha()]
        if any(_LATIN.match(c) for c in letters) and any(not c.isascii() and _script(c) != "LATIN" for c in letters):
            return True
    return False


@lru_cache(maxsize=512)
def _script(ch: str) -> str:
    try:
        return unicodedata.name(ch).split()[0]
    except ValueError:
        return "UNKNOWN"


def _determiner_only(word: str) -> bool:
    # "no", "without" govern the words after them ("no complications", "without difficulty"): they negate a mention
    # only from just before it (_negated_before), never a whole clause
    return word.lower() in ("no", "without", "w/o", "non", "negative for")


def _negated_before(before: str) -> bool:
    # A determiner negation must sit within the last few words before the mention, with only words like "the use
    # of" between: "without fluoroscopy", "no imaging", but not "no sedation ... under fluoroscopy" — there the
    # clause's own cues decide.
    tail = " ".join(before.split()[-8:])  # (an or-list between: "without central or foraminal stenosis or ...")
    cue = None
    for cue in _DETERMINER_NEGATION.finditer(tail):
        pass
    return cue is not None and lx.NEGATION_PASS_THROUGH.fullmatch(tail, cue.end()) is not None


_RATIONALE_QUESTION = re.compile(r"\(\s*(?:is|are|was|were)\b[^()?]{0,80}\bpain\s+(?:generators?|sources?)\s*\?$", re.I)
_STUDY_HEADING = re.compile(r"exam(?:ination)?(?:\s+performed)?|study|examination\s+type", re.I)
_PROCEDURE_TITLE = re.compile(r"\b(?:inject\w*|block|arthrogra\w*|epidural|ablation|neurotomy|aspiration)\b", re.I)
_SUBSTITUTED_BEFORE = re.compile(r"\s*(?:instead\s+of|in\s+lieu\s+of|rather\s+than|as\s+opposed\s+to|in\s+place\s+of"
                                 r"|as\s+an\s+alternative\s+to)\b", re.I)
_DECLINED_BEFORE = re.compile(r"\b(?:declin\w*|refus\w*)\b", re.I)


def _lowered(text: str) -> str | None:
    """The lower-cased copy the fast scans read, or None when lower-casing would not keep every offset and every
    case-insensitive match: ASCII text, or text whose only non-ASCII characters are no letters ("®", "°", "±",
    "•"). A non-ASCII letter may change length when lower-cased ("İ") or match another letter only under re's
    case folding ("ı" ~ "i"), so such a text is scanned with the patterns alone."""
    if text.isascii():
        return text.lower()
    if any(c.isalpha() for c in set(text) if not c.isascii()):
        return None
    lower = text.lower()
    return lower if len(lower) == len(text) else None


# id(pattern) -> (what a match needs, its openings' Plan or None, the pattern): kept once both are derived, so a
# scan costs one lookup before its work
_PREPARED: dict[int, tuple[tuple | None, Plan | None, re.Pattern[str]]] = {}


def _prepared(pattern: re.Pattern[str]) -> tuple[tuple | None, Plan | None] | None:
    known = _PREPARED.get(id(pattern))
    if known is not None:
        return known[0], known[1]
    demand = needs(pattern, after=SCANS_BEFORE_TWIN)
    plan = leads(pattern, after=SCANS_BEFORE_TWIN)
    if not (fastscan_derived(pattern) and leads_derived(pattern)):
        return None  # not derived yet (a pattern is parsed only once it has been used a few times)
    _PREPARED[id(pattern)] = (demand, Plan.of(plan) if plan is not None else None, pattern)
    return demand, _PREPARED[id(pattern)][1]


def _scan_all(pattern: re.Pattern[str], text: str, lower: str | None, words: WordIndex | None) -> list[re.Match[str]]:
    """list(_scan(...)), with the word-index path written out: most scans take it, and a list costs less than a
    generator."""
    if lower is not None and words is not None:
        prep = _prepared(pattern)
        if prep is not None:
            demand, plan = prep
            if demand is not None and not may_match(demand, text, lower):
                return []
            if plan is not None:
                out: list[re.Match[str]] = []
                pos = 0
                match = pattern.match
                for start in words.candidates(plan):
                    if start < pos:
                        continue
                    m = match(text, start)
                    if m is None:
                        continue
                    if m.end() == m.start():
                        out += pattern.finditer(text, m.start())
                        return out
                    out.append(m)
                    pos = m.end()
                return out
    return list(_scan(pattern, text, lower, words))


def _scan(pattern: re.Pattern[str], text: str, lower: str | None, words: WordIndex | None = None
          ) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)`, tried only where the text's words allow a match to start (leads.py), else found
    faster with the pattern's twin (see fastscan.scan_twin), and not run at all over a text that lacks the words
    every match needs (fastscan.needs)."""
    if lower is not None:
        demand = needs(pattern, after=SCANS_BEFORE_TWIN)
        if demand is not None and not may_match(demand, text, lower):
            return
        plan = leads(pattern, after=SCANS_BEFORE_TWIN) if words is not None else None
        if plan is not None:
            pos = 0
            for start in words.candidates(Plan.of(plan)):
                if start < pos:
                    continue
                m = pattern.match(text, start)
                if m is None:
                    continue
                if m.end() == m.start():
                    yield from pattern.finditer(text, m.start())
                    return
                yield m
                pos = m.end()
            return
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
        elif m.end() == m.start():
            yield from pattern.finditer(text, m.start())
            return
        else:
            yield m
            pos = m.end()


def contains(pattern: re.Pattern[str], s: str, *, at_start: bool = False) -> bool:
    twin, lowered = scan_twin(pattern, exact=True, after=SEARCHES_BEFORE_TWIN)
    if lowered:
        if s.isascii():
            s = s.lower()
        else:
            twin = pattern
    return (twin.match(s) if at_start else twin.search(s)) is not None


def matches(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    """`list(pattern.finditer(text))`, taken from the text's shared Reading when the Reading reads the text
    unchanged (ASCII, no placeholder blanked): one scan of the pattern per text, whoever asks. Offsets are the
    text's own either way."""
    r = read(text)
    return r.finditer(pattern) if r.text == text else list(pattern.finditer(text))


@lru_cache(maxsize=64)
def read(text: str) -> Reading:
    """The Reading of `text`, computed once: extraction, grounding, validation and queries share it."""
    return Reading(text)
