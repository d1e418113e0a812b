"""Code lines as a user writes them ("27096-50", "20552-LT", "76942") parsed against the rule packs."""

from __future__ import annotations

import re

from .models import CodeLine
from .rulepack import load_packs

_LINE = re.compile(r"^(?P<code>[0-9]{5}|[A-Z][0-9]{4})(?P<mods>(?:-[0-9A-Z]{2})*)$")
KNOWN_MODIFIERS = {"LT", "RT", "50", "KX", "26", "TC", "59", "XS", "XU", "76", "77", "GA", "GZ", "JW", "JZ"}


class CodeError(ValueError):
    """A code line that cannot be read: unknown code, malformed or unknown modifier."""


def parse_code_line(raw: str) -> CodeLine:
    text = raw.strip().upper().replace(" ", "")
    m = _LINE.match(text)
    if not m:
        raise CodeError(f"malformed code line {raw!r}: expected CODE or CODE-MOD, e.g. 27096, 27096-50, 20552-LT")
    code = m.group("code")
    packs = load_packs()
    if code not in packs:
        raise CodeError(f"unknown code {code!r}: notedraft has rule packs for {', '.join(sorted(packs))}")
    mods = tuple(x for x in m.group("mods").split("-") if x)
    for mod in mods:
        if mod not in KNOWN_MODIFIERS:
            raise CodeError(f"unknown modifier -{mod} in {raw!r}: known modifiers are {', '.join(sorted(KNOWN_MODIFIERS))}")
    if len(set(mods)) != len(mods):
        raise CodeError(f"repeated modifier in {raw!r}")
    return CodeLine(code=code, modifiers=mods)


def parse_code_lines(raws: list[str]) -> list[CodeLine]:
    return [parse_code_line(r) for r in raws]
