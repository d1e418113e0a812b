"""Where a pattern's matches can start, looked up in a word index instead of found by scanning the text.

Most lexicon patterns open with a word: `\\b(?:sacroiliitis|sacroiliac\\s+...)`, `\\bfluoro...`, a drug name.
A match of such a pattern can only start where a word of the text starts with one of its opening literals, and
a Reading knows its words (WordIndex, built once per text). So instead of running sixty-odd patterns over the
whole text, each pattern is tried only at the few places the index names, with the pattern itself
(`pattern.match` there): the matches, groups and spans are the pattern's own, in the order `finditer` gives.

A pattern's openings are derived from its own parse tree (re._parser); any construct this does not follow makes
the pattern keep its whole-text scan. The openings are a superset of where matches start, never fewer, which
tests/test_leads.py checks against `finditer` on every lexicon pattern.
"""

from __future__ import annotations

import bisect
import os
import re

from . import recache

_st = os.stat(__file__)
_VERSION = (_st.st_size, _st.st_mtime_ns)

# (opening literal, ignore case, at a word start) for each way a match can begin
Lead = tuple[str, bool, bool]
_LEADS: dict[int, tuple[tuple[Lead, ...] | None, re.Pattern[str]]] = {}  # by id(pattern), as fastscan's tables
_USES: dict[int, tuple[int, re.Pattern[str]]] = {}
_MAX_LEADS = 256  # past this many openings a pattern's scan is cheaper than its lookups
_WORD = re.compile(r"\w+")


def leads(pattern: re.Pattern[str], *, after: int = 0) -> tuple[Lead, ...] | None:
    """The openings of `pattern`, or None when it must be scanned (not derivable, or used fewer than `after` times
    in a process without the command line's cache: the parse costs more than one scan saves)."""
    known = _LEADS.get(id(pattern))
    if known is not None:
        return known[0]
    memo = ("leads", _VERSION, pattern.pattern, int(pattern.flags))
    kept = recache.derived(memo)
    if kept is not None:
        _LEADS[id(pattern)] = (kept[0], pattern)
        return kept[0]
    uses = _USES.get(id(pattern), (0, pattern))[0] + 1
    _USES[id(pattern)] = (uses, pattern)
    if uses <= after and not recache.active():
        return None
    result = derive(pattern)
    _LEADS[id(pattern)] = (result, pattern)
    recache.remember(memo, (result,))
    return result


def derived(pattern: re.Pattern[str]) -> bool:
    """Whether leads() has settled its answer for `pattern`."""
    return id(pattern) in _LEADS


def derive(pattern: re.Pattern[str]) -> tuple[Lead, ...] | None:
    if pattern.flags & re.ASCII:
        return None  # its \b is not the word index's
    try:
        from re import _parser

        tree = list(_parser.parse(pattern.pattern, pattern.flags))
        ic = bool(pattern.flags & re.IGNORECASE)
        alternatives = [list(a) for a in tree[0][1][1]] if len(tree) == 1 and tree[0][0] is _parser.BRANCH else [tree]
        found = []
        for alternative in alternatives:
            if _nullable(alternative, _parser):
                # an empty match can stand anywhere, unless a look-ahead says what must follow it:
                # "|(?=\binstead\s+of)" opens only where its words do
                got = _guarded(alternative, ic, _parser)
            else:
                got = _seq(alternative, ic, False, False, _parser)
            if got is None:
                return None
            found += got
    except Exception:  # an engine this was not written for: scan
        return None
    if not found or len(found) > _MAX_LEADS:
        return None
    return tuple(sorted(set(found)))


DIGIT, DIGIT_RUN = "\x00d", "\x00D"  # any digit; a digit after none (a look-behind forbids a digit before)
WHOLE = "\x02"  # after a literal: the word it spells ends there
SPACE_BEFORE = "\x01"  # SPACE_BEFORE + "-": one character (a blank, which the pattern checks) before a "-"


def _seq(items: list, ic: bool, ws: bool, nodigit: bool, c, tail: bool = False) -> list[Lead] | None:
    """Openings of the non-empty matches of a sequence (its FIRST set, as literals); None when not derivable.
    `ws`: a word boundary stands before it; `nodigit`: a look-behind forbids a digit before it; `tail`: what
    follows the sequence opens with no word character (so a literal that ends it ends a word)."""
    i = 0
    while i < len(items):  # zero-width items before the first that consumes
        op, av = items[i]
        if op is c.AT and av is c.AT_BOUNDARY:
            ws = True
        elif op is c.ASSERT_NOT and av[0] == -1 and _has_digit_class(list(av[1]), c):
            nodigit = True
        elif not _zero_width(items[i], c):
            break
        i += 1
    if i == len(items):
        return []
    op, av = items[i]
    if op is c.LITERAL:
        run = []
        while i < len(items) and items[i][0] is c.LITERAL:
            ch = chr(items[i][1])
            if ic and not _foldable(ch):
                return None  # re's case folding of a non-ASCII letter is not str.lower's
            run.append(ch)
            i += 1
        prefix = "".join(run).lower() if ic else "".join(run)
        if i < len(items) and items[i][0] in (c.SUBPATTERN, c.BRANCH) and not _nullable([items[i]], c):
            more = _seq([items[i]], ic, False, False, c, _opens_nonword(items[i + 1 :], tail, c))
            if more and len(more) <= _MAX_LEADS and all(lic == ic and lit[:1] not in "\x00\x01" for lit, lic, _ in more):
                return [(prefix + lit, ic, ws) for lit, _, _ in more]
        if _is_word_char(run[-1]) and _opens_nonword(items[i:], tail, c):
            prefix += WHOLE  # "\bnot\b": the word is "not", not every word that starts with it
        return [(prefix, ic, ws)]
    if _is_space(items[i], c) and i + 1 < len(items):
        after = _item(items[i + 1], ic, False, False, c) if items[i + 1][0] is c.IN else (
            [(chr(items[i + 1][1]).lower() if ic else chr(items[i + 1][1]), ic, False)]
            if items[i + 1][0] is c.LITERAL and (not ic or _foldable(chr(items[i + 1][1]))) else None)
        if after and all(len(lit) == 1 and lit != "\x00" for lit, _, _ in after):
            return [(SPACE_BEFORE + lit, lic, False) for lit, lic, _ in after]  # "\s[-–]\s": one blank before a dash
        return None
    head = _item(items[i], ic, ws, nodigit, c, _opens_nonword(items[i + 1 :], tail, c))
    if head is None or not _nullable([items[i]], c):
        return head
    rest = _seq(items[i + 1 :], ic, ws, nodigit, c, tail)  # the item may match nothing: the rest opens the match
    return None if rest is None else head + rest


def _guarded(items: list, ic: bool, c) -> list[Lead] | None:
    """Openings of a sequence that may match nothing, when a look-ahead before anything else it matches says what
    must follow: the look-ahead's own openings."""
    ws = False
    for op, av in items:
        if op is c.AT and av is c.AT_BOUNDARY:
            ws = True
        elif op is c.ASSERT and av[0] == 1 and not _nullable(list(av[1]), c):
            got = _seq(list(av[1]), ic, ws, False, c)
            return got or None
        elif op is not c.ASSERT_NOT:
            return None
    return None


def _item(item, ic: bool, ws: bool, nodigit: bool, c, tail: bool = False) -> list[Lead] | None:
    op, av = item
    if op is c.SUBPATTERN:
        _group, add, remove, sub = av
        sub_ic = (ic or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
        return _seq(list(sub), sub_ic, ws, nodigit, c, tail)
    if op is c.BRANCH:
        out: list[Lead] = []
        for alternative in av[1]:
            got = _seq(list(alternative), ic, ws, nodigit, c, tail)
            if got is None:
                return None
            out += got
        return out
    if op in (c.MAX_REPEAT, c.MIN_REPEAT):  # a repeated body may be followed by itself: no tail known
        return _seq(list(av[2]), ic, ws, nodigit, c, tail and av[1] == 1)
    if op is c.CATEGORY and av is c.CATEGORY_DIGIT or op is c.IN and av == [(c.CATEGORY, c.CATEGORY_DIGIT)]:
        return [(DIGIT_RUN if nodigit else DIGIT, False, False)]
    if op is c.IN and len(av) <= 8 and all(o is c.LITERAL for o, _ in av):
        chars = {chr(v).lower() if ic else chr(v) for _, v in av}
        if ic and not all(_foldable(ch) for ch in chars):
            return None
        return [(ch, ic, ws) for ch in chars]
    return None


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"  # re's \w for str patterns


def _opens_nonword(items: list, tail: bool, c) -> bool:
    """Whether what `items` match (then `tail`) opens with no word character: a \b after a word character, a
    blank, a non-word literal. False when unsure."""
    for k, (op, av) in enumerate(items):
        if op is c.AT:
            return av is c.AT_BOUNDARY  # after a word character, a boundary means no word character follows
        if op in (c.ASSERT, c.ASSERT_NOT):
            continue
        if op is c.LITERAL:
            return not _is_word_char(chr(av))
        if op is c.CATEGORY:
            return av in (c.CATEGORY_SPACE, c.CATEGORY_NOT_WORD)
        if op is c.IN:
            return all(o is c.LITERAL and not _is_word_char(chr(v))
                       or o is c.CATEGORY and v in (c.CATEGORY_SPACE, c.CATEGORY_NOT_WORD) for o, v in av)
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            body = _opens_nonword(list(av[2]), False, c)
            return body and (av[0] >= 1 or _opens_nonword(items[k + 1 :], tail, c))
        return False
    return tail


def _foldable(ch: str) -> bool:
    """Whether str.lower() finds `ch` where re's IGNORECASE does: ASCII (in a text without non-ASCII letters, the
    only texts indexed), or a character without case ("–", "•")."""
    return ch.isascii() or ch.lower() == ch == ch.upper()


def _is_space(item, c) -> bool:
    op, av = item
    return op is c.CATEGORY and av is c.CATEGORY_SPACE or op is c.IN and av == [(c.CATEGORY, c.CATEGORY_SPACE)]


def _zero_width(item, c) -> bool:
    op, av = item
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return True
    if op is c.SUBPATTERN:
        return all(_zero_width(x, c) for x in av[3])
    if op is c.BRANCH:
        return all(all(_zero_width(x, c) for x in alt) for alt in av[1])
    return False


def _has_digit_class(items: list, c) -> bool:
    """A one-character class that holds every digit: (?<![\\d/.]) or (?<!\\d)."""
    if len(items) != 1:
        return False
    op, av = items[0]
    if op is c.CATEGORY:
        return av is c.CATEGORY_DIGIT
    return op is c.IN and any(o is c.CATEGORY and v is c.CATEGORY_DIGIT for o, v in av) \
        and not any(o is c.NEGATE for o, _ in av)


def _nullable(items: list, c) -> bool:
    """Whether the sequence can match the empty string (True when unsure)."""
    for op, av in items:
        if op in (c.LITERAL, c.NOT_LITERAL, c.IN, c.ANY, c.CATEGORY):
            return False
        if op is c.SUBPATTERN and not _nullable(list(av[3]), c):
            return False
        if op is c.BRANCH and not any(_nullable(list(a), c) for a in av[1]):
            return False
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1 and not _nullable(list(av[2]), c):
            return False
    return True


class Plan:
    """A pattern's openings sorted for lookup: word openings keyed by their first two letters (so one set
    intersection drops the ones the text lacks), other openings found with str.find."""

    __slots__ = ("simple", "words", "finds", "digits")

    def __init__(self, openings: tuple[Lead, ...]) -> None:
        # first two letters (lower-cased) -> (the word lower-cased, the literal, whether the word is whole, whether
        # case is ignored); a case-sensitive opening is looked up lower-cased and then checked as written
        self.words: dict[str, list[tuple[str, str, bool, bool]]] = {}
        # whole words read in any case, as written: found by one set intersection with the text's words
        simple: set[str] = set()
        self.finds: list[tuple[str, bool, int]] = []  # (literal, ignore case, characters before it)
        self.digits = ""  # "", or DIGIT / DIGIT_RUN (the wider wins)
        for lit, ic, ws in openings:
            if lit in (DIGIT, DIGIT_RUN):
                self.digits = DIGIT if DIGIT in (lit, self.digits) else DIGIT_RUN
                continue
            if lit.startswith(SPACE_BEFORE):
                self.finds.append((lit[1:], ic, 1))
                continue
            whole = lit.endswith(WHOLE)
            lit = lit.rstrip(WHOLE)
            word = _word_part(lit)
            if not ws or not word:
                self.finds.append((lit, ic, 0))
                continue
            whole = whole or len(word) < len(lit)  # the literal runs past its word: the word is whole
            if ic:
                lit = lit.lower()
            word = word.lower()
            if whole and ic and lit == word:
                simple.add(word)
                continue
            self.words.setdefault(word[:2], []).append((word, lit, whole, ic))
        self.simple = frozenset(simple)

    _cache: dict[int, tuple["Plan", tuple]] = {}

    @classmethod
    def of(cls, openings: tuple[Lead, ...]) -> "Plan":
        known = cls._cache.get(id(openings))
        if known is None:
            known = cls._cache[id(openings)] = (cls(openings), openings)
        return known[0]


def _word_part(lit: str) -> str:
    for k, ch in enumerate(lit):
        if not (ch.isalnum() or ch == "_"):
            return lit[:k]
    return lit


_DIGIT = re.compile(r"\d")


class WordIndex:
    """A text's distinct words, lower-cased and as written, sorted, with the first one and two letters they open
    with: `candidates` looks an opening up among them and finds the places of only those the text holds.
    `lower` is the text lower-cased with every offset kept (Reading builds it only for such texts)."""

    __slots__ = ("text", "lower", "_table_built", "_digits", "_digit_runs")

    def __init__(self, text: str, lower: str) -> None:
        self.text, self.lower = text, lower
        self._table_built: tuple[list[str], dict[str, list[int]], set[str], frozenset[str]] | None = None
        self._digits: list[int] | None = None
        self._digit_runs: list[int] | None = None

    def _table(self) -> tuple[list[str], dict[str, list[int]], set[str], frozenset[str]]:
        """(sorted distinct words, each word's start offsets, their first one and two letters, the words as a set)
        of the lower-cased text. Lower-casing keeps every offset and every word boundary (see __init__), so the written text's words
        stand at the same places."""
        table = self._table_built
        if table is None:
            at: dict[str, list[int]] = {}
            for m in _WORD.finditer(self.lower):
                places = at.get(m.group())
                if places is None:
                    at[m.group()] = [m.start()]
                else:
                    places.append(m.start())
            twos = {w[:2] for w in at}
            table = self._table_built = (sorted(at), at, twos | {w[:1] for w in twos}, frozenset(at))
        return table

    def candidates(self, plan: Plan) -> list[int]:
        """Sorted offsets where one of the plan's openings stands in the text."""
        found: list[int] = []
        if plan.simple:
            at, words = self._table()[1::2]
            for word in plan.simple & words:  # iterates the smaller of the two
                found += at[word]
        if plan.words:
            keys, at, firsts, _ = self._table()
            lower, text = self.lower, self.text
            for first in plan.words.keys() & firsts:
                for word, lit, whole, ic in plan.words[first]:
                    if whole:
                        places = at.get(word)
                        if places is None:
                            continue
                        if ic and len(lit) == len(word):
                            found += places
                        else:  # "c-arm" (the word "c", then the rest), or "US" as written
                            hay = lower if ic else text
                            found += [p for p in places if hay.startswith(lit, p)]
                        continue
                    i = bisect.bisect_left(keys, word)  # every word the literal opens
                    while i < len(keys) and keys[i].startswith(word):
                        if ic:
                            found += at[keys[i]]
                        else:
                            found += [p for p in at[keys[i]] if text.startswith(lit, p)]
                        i += 1
        for lit, ic, before in plan.finds:
            hay = self.lower if ic else self.text
            start = hay.find(lit)
            while start >= 0:
                if start >= before:
                    found.append(start - before)
                start = hay.find(lit, start + 1)
        if plan.digits:
            if self._digits is None:
                text = self.text
                self._digits = [m.start() for m in _DIGIT.finditer(text)]
                self._digit_runs = [p for p in self._digits if p == 0 or not _DIGIT.match(text, p - 1)]
            found += self._digits if plan.digits == DIGIT else self._digit_runs
        return sorted(set(found))

