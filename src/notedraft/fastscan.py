"""Fast scanning: a faster twin of each lexicon pattern, used only to find where matches may start.

Kept apart from the lexicon so the lexicon stays a list of words; nothing here changes what a pattern matches.
"""

from __future__ import annotations

import os
import re

from . import recache

# What the command line's cache keeps of this module's work is keyed by this file's size and modification time as
# well as by the pattern: an edited fastscan derives afresh, never from what an older one derived.
_st = os.stat(__file__)
_VERSION = (_st.st_size, _st.st_mtime_ns)

# Python's `re` runs a case-insensitive pattern 2-4x slower than the same pattern in lower case, and tries every
# alternative that opens with \b at every position of the text. A twin of each pattern, used only to find where
# matches start, avoids both: it is written in lower case for a lower-cased copy of ASCII text (whose offsets survive
# lower-casing), it factors the alternatives' \b into one test, and, where every alternative then opens with a
# plain letter, it drops the \b so `re` can jump between candidates. A twin matches at every position the pattern
# matches (and maybe more); TextContext.finditer re-reads each candidate with the original pattern, so matches,
# groups and spans are always the original pattern's own.
# Keyed by (id(pattern), exact): hashing a compiled pattern hashes its whole code. Each value holds its pattern,
# which keeps it alive, so an id is never reused for another pattern while its entry stands.
_TWINS: dict[tuple[int, bool], tuple[re.Pattern[str], bool, re.Pattern[str]]] = {}
_USES: dict[tuple[int, bool], tuple[int, re.Pattern[str]]] = {}
_NAMED_GROUP = re.compile(r"\(\?P(?:<[^>]*>|=[^)]*\))")
_LEADING_GROUP = re.compile(r"\((?:\?:|\?P<\w+>)?")


def scan_twin(pattern: re.Pattern[str], *, exact: bool = False, after: int = 0) -> tuple[re.Pattern[str], bool]:
    """(twin, lower): the candidate finder for `pattern` and whether it reads lower-cased text (for a pattern that
    ignores case). With `exact`, a twin that matches exactly where the pattern does, for a yes/no search.

    Compiling a twin costs more than one scan saves, so a pattern gets its twin only once it has been used `after`
    times: a single `notedraft validate` stays as quick to start as before, a batch of notes runs fast. Under the
    command line's cache (recache.py) the twin's source is kept from run to run, so there it is used at once."""
    key = (id(pattern), exact)
    twin = _TWINS.get(key)
    if twin is None:
        memo = ("twin", _VERSION, pattern.pattern, int(pattern.flags), exact)
        known = recache.derived(memo)
        if known is not None:
            twin_source, lower = known
        else:
            uses = _USES.get(key, (0, pattern))[0] + 1
            _USES[key] = (uses, pattern)
            if uses <= after and not recache.active():
                return pattern, False
            lower = bool(pattern.flags & re.IGNORECASE)
            source = _lower_source(pattern.pattern) if lower else pattern.pattern
            twin_source = _twin_source(source, exact=exact)
            recache.remember(memo, (twin_source, lower))
        changed = lower or twin_source != pattern.pattern
        twin = _TWINS[key] = (re.compile(twin_source, pattern.flags & ~re.IGNORECASE) if changed else pattern, lower,
                              pattern)
    return twin[0], twin[1]


def _lower_source(source: str) -> str:
    # Literals are lower-cased; escapes (\b, \W, \S, \A) and group names keep their case.
    out: list[str] = []
    i = 0
    while i < len(source):
        named = _NAMED_GROUP.match(source, i)
        if named:
            out.append(named.group())
            i = named.end()
        elif source[i] == "\\":
            out.append(source[i : i + 2])
            i += 2
        else:
            out.append(source[i].lower())
            i += 1
    return "".join(out)


def _twin_source(source: str, *, exact: bool) -> str:
    alternatives = _alternatives(source)
    if alternatives is None:
        return source
    if not exact:
        alternatives = _flatten(alternatives)
        unbounded = [b for a in alternatives for b in _distribute(a[2:] if a.startswith("\\b") else a)]
        if len(unbounded) <= _MAX_UNBOUNDED and all(_literal_led(a) for a in unbounded):
            return "|".join(unbounded)
        if len(unbounded) == 1 and (group := _LEADING_GROUP.match(unbounded[0])) and group.group() != "(":
            inner = _alternatives(unbounded[0][group.end() : _group_end(unbounded[0])]) or [""]
            if len(inner) <= 16 and all(_literal_led(a) for a in inner):  # \b(?P<drug>kenalog|...)
                return unbounded[0]
    bounded = [a[2:] for a in alternatives if a.startswith("\\b")]
    others = [a for a in alternatives if not a.startswith("\\b")]
    if len(bounded) > 1:  # the order of alternatives does not change where a match can start
        return "|".join([r"\b(?:" + "|".join(bounded) + ")", *others])
    return source


_MAX_UNBOUNDED = 64  # past this many openings, false candidates cost more than one \b test saves


def _flatten(alternatives: list[str]) -> list[str]:
    """For a candidate finder only: `(?:a|b)|c` is `a|b|c`, and a look-behind that opens an alternative is dropped
    (`(?<=Guidance: )CT\\b` finds its candidates as `CT\\b` does; the pattern itself checks the look-behind)."""
    out: list[str] = []
    for a in alternatives:
        while a.startswith(("(?<=", "(?<!")) and _group_end(a) + 1 < len(a):
            a = a[_group_end(a) + 1 :]
        if a.startswith("(?:") and _group_end(a) == len(a) - 1:
            inner = _alternatives(a[3:-1])
            if inner is not None:
                out += _flatten(inner)
                continue
        out.append(a)
    return out


def _distribute(alternative: str) -> list[str]:
    """`(?:under|with)\\s+US` → `under\\s+US`, `with\\s+US`: one alternative per opening word."""
    if not alternative.startswith("(?:"):
        return [alternative]
    end = _group_end(alternative)
    rest = alternative[end + 1 :]
    inner = _alternatives(alternative[3:end])
    if inner is None or rest[:1] in ("?", "*", "+", "{"):
        return [alternative]
    return [a + rest for a in inner]


def _literal_led(alternative: str) -> bool:
    # Opens with one plain character or one character class, unrepeated: `re` can then jump to candidates.
    if alternative[:1] == "[":
        end = alternative.find("]", 2)
        return end > 0 and "\\" not in alternative[:end] and alternative[end + 1 : end + 2] not in ("?", "*", "+", "{")
    return bool(alternative) and alternative[0] not in "\\()[].^$|?*+{" and alternative[1:2] not in ("?", "*", "+", "{")


def _outside_classes(source: str):
    """(index, char, depth) for each character of a pattern outside escapes and [...] classes; `depth` counts the
    groups open before it. Returns the final (depth, in_class) through StopIteration's value for balance checks."""
    depth, in_class, i = 0, False, 0
    while i < len(source):
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = not (c == "]" and source[i - 1] not in "[^")
        elif c == "[":
            in_class = True
        else:
            if c == ")":
                depth -= 1
            yield i, c, depth
            if c == "(":
                depth += 1
        i += 1
    return depth, in_class


def _alternatives(source: str) -> list[str] | None:
    """The top-level alternatives of a pattern (None when its groups or classes do not balance)."""
    parts, last = [], 0
    walk = _outside_classes(source)
    while True:
        try:
            i, c, depth = next(walk)
        except StopIteration as end:
            depth, in_class = end.value
            break
        if c == "|" and depth == 0:
            parts.append(source[last:i])
            last = i + 1
    return None if depth or in_class else [*parts, source[last:]]


def _group_end(source: str) -> int:
    """Where the group that opens `source` closes."""
    for i, c, depth in _outside_classes(source):
        if c == ")" and depth == 0:
            return i
    return len(source)


# --- what a match must contain -------------------------------------------------------------------------------------
# A pattern can match a text only if the text holds the literal words every match is made of: "fluoroscop" for
# \bfluoroscop\w*, one of "under", "with" for (?:under|with)\s+US. Checking a few substrings (`in`, in C) costs
# far less than running a pattern over a whole text, so a pattern whose words are absent is not run at all.
# Derived from the pattern's own parse tree (re._parser); any construct it does not follow makes no demand, so
# the test only ever says "cannot match" when no match is possible.
_NEEDS: dict[int, tuple[tuple | None, re.Pattern[str]]] = {}  # by id(pattern), as _TWINS
_NEEDS_USES: dict[int, tuple[int, re.Pattern[str]]] = {}
_MAX_CLAUSES = 1  # keep the most telling demand of a sequence
_MAX_WORDS = 12  # a demand of more alternatives than this costs more to test than it saves


def needs(pattern: re.Pattern[str], *, after: int = 0) -> tuple | None:
    """((word, ignore_case), ...) groups, every group needing one of its words in the text; None when the
    pattern demands nothing this can test (or has not been used `after` times: the parse costs a compile)."""
    known = _NEEDS.get(id(pattern))
    if known is not None:
        return known[0]
    memo = ("needs", _VERSION, pattern.pattern, int(pattern.flags))
    kept = recache.derived(memo)  # (demand,) from an earlier run of the command line
    if kept is not None:
        _NEEDS[id(pattern)] = (kept[0], pattern)
        return kept[0]
    uses = _NEEDS_USES.get(id(pattern), (0, pattern))[0] + 1
    _NEEDS_USES[id(pattern)] = (uses, pattern)
    if uses <= after and not recache.active():
        return None
    try:
        from re import _parser

        tree = _parser.parse(pattern.pattern, pattern.flags)
        clauses = _seq_needs(list(tree), bool(pattern.flags & re.IGNORECASE), _parser)
    except Exception:  # an engine this was not written for: no demand
        clauses = []
    result = tuple(tuple(sorted(c)) for c in clauses) or None
    _NEEDS[id(pattern)] = (result, pattern)
    recache.remember(memo, (result,))
    return result


def derived(pattern: re.Pattern[str]) -> bool:
    """Whether needs() has settled its answer for `pattern` (it answers None until a pattern has been used enough)."""
    return id(pattern) in _NEEDS


def may_match(demand: tuple, text: str, lower: str) -> bool:
    """False only when the text (ASCII; `lower` its lower-cased copy) lacks every word of some group."""
    for group in demand:
        for word, ignore_case in group:
            if word in (lower if ignore_case else text):
                break
        else:
            return False
    return True


def _score(clause: frozenset) -> tuple[int, int]:
    # longer words are rarer; a case-sensitive capital ("CT", "US") is rarer than its letters suggest
    return (min(len(w) + (3 if not ic and any(ch.isupper() for ch in w) else 0) for w, ic in clause), -len(clause))


def _best(clauses: list[frozenset]) -> list[frozenset]:
    unique = list(dict.fromkeys(c for c in clauses if c and len(c) <= _MAX_WORDS))
    return sorted(unique, key=_score, reverse=True)[:_MAX_CLAUSES]


def _seq_needs(items: list, ignore_case: bool, _parser) -> list[frozenset]:
    c = _parser  # the opcodes live in re._constants, re-exported by re._parser
    clauses: list[frozenset] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            clauses.append(frozenset({("".join(run).lower() if ignore_case else "".join(run), ignore_case)}))
            run.clear()

    for op, av in items:
        if op is c.LITERAL and av < 128:
            run.append(chr(av))
            continue
        flush()
        if op is c.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            ic = (ignore_case or bool(add_flags & re.IGNORECASE)) and not del_flags & re.IGNORECASE
            clauses += _seq_needs(list(sub), ic, _parser)
        elif op is c.ATOMIC_GROUP:
            clauses += _seq_needs(list(av), ignore_case, _parser)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)) and av[0] >= 1:
            clauses += _seq_needs(list(av[2]), ignore_case, _parser)
        elif op is c.BRANCH:
            union: set = set()
            for alternative in av[1]:
                best = _best(_seq_needs(list(alternative), ignore_case, _parser))
                if not best:
                    union = set()  # an alternative that demands nothing: the branch demands nothing
                    break
                union |= best[0]
            else:
                if union:
                    clauses.append(frozenset(union))
        # anything else (classes, any-character, assertions, anchors, back-references) demands nothing
    flush()
    return _best(clauses)
