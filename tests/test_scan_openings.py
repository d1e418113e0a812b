"""No lexicon pattern's scan may open with a run of blanks that can be empty-started anywhere: the scanner's twin
(fastscan.scan_twin, which drops a leading look-behind) would try it from every blank of a long text, and a 1 MB
note padded with spaces took minutes from the command line. Checked on the parsed twin, not by timing."""

from __future__ import annotations

import re
import re._constants as C
import re._parser as P

import pytest

from notedraft import lexicon as lx
from notedraft.fastscan import scan_twin

_BLANK_CATEGORIES = {C.CATEGORY_SPACE, C.CATEGORY_NOT_DIGIT, C.CATEGORY_NOT_WORD}


def _matches_blank(items) -> bool:
    for op, av in items:
        if op is C.LITERAL and av in (9, 32):
            return True
        if op is C.ANY:
            return True
        if op is C.IN:
            if any((o is C.LITERAL and a in (9, 32)) or (o is C.CATEGORY and a in _BLANK_CATEGORIES)
                   or (o is C.RANGE and a[0] <= 32 <= a[1]) or o is C.NEGATE for o, a in av):
                return True
        if op is C.CATEGORY and av in _BLANK_CATEGORIES:
            return True
        if op is C.SUBPATTERN and _matches_blank(av[3]):
            return True
        if op is C.BRANCH and any(_matches_blank(b) for b in av[1]):
            return True
    return False


def _opens_with_blank_run(items) -> bool:
    """The pattern can start a match at a blank with a repeat over blanks (`[ \\t]*x`, `\\s*x`, `(?:\\s*)x`)."""
    if not items:
        return False
    op, av = items[0]
    if op is C.SUBPATTERN:
        return _opens_with_blank_run(list(av[3]))
    if op is C.BRANCH:
        return any(_opens_with_blank_run(list(b)) for b in av[1])
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        lo, hi, body = av
        return hi > 1 and _matches_blank(list(body))
    return False


def _lexicon_patterns():
    entries = lx._entries()
    for name, entry in entries.items():
        if "patterns" in entry:
            yield name, lx.pattern(name)
        else:
            for kind in entry:
                if isinstance(entry[kind], dict) and "patterns" in entry[kind]:
                    yield f"{name}.{kind}", lx._compile(entry[kind])


@pytest.mark.parametrize("name,pattern", list(_lexicon_patterns()), ids=lambda x: x if isinstance(x, str) else "")
def test_no_scan_opens_with_a_run_of_blanks(name, pattern):
    twin, _ = scan_twin(pattern, after=0)
    for candidate in (pattern, twin):
        parsed = P.parse(candidate.pattern, candidate.flags & ~re.UNICODE)
        assert not _opens_with_blank_run(list(parsed)), f"{name}: {candidate.pattern[:200]}"


def test_the_checker_finds_the_shape_it_guards_against():
    assert _opens_with_blank_run(list(P.parse(r"\bfoo\b|[ \t]*landmarks?")))
    assert _opens_with_blank_run(list(P.parse(r"(?:\s*)bar")))
    assert not _opens_with_blank_run(list(P.parse(r"\blandmarks?[ \t]*$")))
