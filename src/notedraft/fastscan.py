"""Fast scanning: a faster twin of each lexicon pattern, used only to find where matches may start.

Kept apart from the lexicon so the lexicon stays a list of words; nothing here changes what a pattern matches.
"""

from __future__ import annotations

import re

# Python's `re` runs a case-insensitive pattern 2-4x slower than the same pattern in lower case, and tries every
# alternative that opens with \b at every position of the text. A twin of each pattern, used only to find where
# matches start, avoids both: it is written in lower case for a lower-cased copy of ASCII text (whose offsets survive
# lower-casing), it factors the alternatives' \b into one test, and, where every alternative then opens with a
# plain letter, it drops the \b so `re` can jump between candidates. A twin matches at every position the pattern
# matches (and maybe more); TextContext.finditer re-reads each candidate with the original pattern, so matches,
# groups and spans are always the original pattern's own.
_TWINS: dict[tuple[re.Pattern[str], bool], tuple[re.Pattern[str], bool]] = {}
_USES: dict[tuple[re.Pattern[str], bool], int] = {}
_NAMED_GROUP = re.compile(r"\(\?P(?:<[^>]*>|=[^)]*\))")
_LEADING_GROUP = re.compile(r"\((?:\?:|\?P<\w+>)?")


def scan_twin(pattern: re.Pattern[str], *, exact: bool = False, after: int = 0) -> tuple[re.Pattern[str], bool]:
    """(twin, lower): the candidate finder for `pattern` and whether it reads lower-cased text (for a pattern that
    ignores case). With `exact`, a twin that matches exactly where the pattern does, for a yes/no search.

    Compiling a twin costs more than one scan saves, so a pattern gets its twin only once it has been used `after`
    times: a single `notedraft validate` stays as quick to start as before, a batch of notes runs fast."""
    key = (pattern, exact)
    twin = _TWINS.get(key)
    if twin is None:
        uses = _USES[key] = _USES.get(key, 0) + 1
        if uses <= after:
            return pattern, False
        lower = bool(pattern.flags & re.IGNORECASE)
        source = _lower_source(pattern.pattern) if lower else pattern.pattern
        twin_source = _twin_source(source, exact=exact)
        changed = lower or twin_source != source
        twin = _TWINS[key] = (re.compile(twin_source, pattern.flags & ~re.IGNORECASE) if changed else pattern, lower)
    return twin


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
        unbounded = [b for a in alternatives for b in _distribute(a[2:] if a.startswith("\\b") else a)]
        if len(unbounded) <= 16 and all(_literal_led(a) for a in unbounded):
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
