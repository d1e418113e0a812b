"""Code lines as a user writes them ("27096-50", "20552-LT", "76942") parsed against the rule packs."""

from __future__ import annotations

import re

from .models import CodeLine, Finding
from .rulepack import load_packs

_LINE = re.compile(r"^(?P<code>[0-9]{5}|[A-Z][0-9]{4}|[0-9]{4}T)(?P<mods>(?:-[0-9A-Z]{2})*)$")
# A claim for one procedure has a handful of lines. The cap bounds the work a request can ask for and says so
# (400 in the editor, exit 2 in the CLI) instead of validating thousands of lines.
MAX_CODE_LINES = 50
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


def check_claim_size(count: int) -> None:
    if count > MAX_CODE_LINES:
        raise CodeError(f"a claim has at most {MAX_CODE_LINES} code lines; got {count}")


def parse_code_lines(raws: list[str]) -> list[CodeLine]:
    check_claim_size(len(raws))
    return [parse_code_line(r) for r in raws]


def duplicate_line_findings(lines: list[CodeLine]) -> list[Finding]:
    """One error per code line given more than once: the same line twice bills the same service twice."""
    counts: dict[CodeLine, int] = {}
    packs = load_packs()
    for line in lines:
        pack = packs.get(line.code)
        if pack is not None and pack.max_units > 1:
            continue  # a per-level add-on: one line per additional level; its pack checks the count
        counts[line] = counts.get(line, 0) + 1
    return [
        Finding(rule="claim.duplicate_line", severity="error", code=str(line),
                message=f"{line} appears {n} times on the claim; each service is billed once.",
                fix=f"Remove the repeated {line} line(s); for both sides use -50 (or -LT and -RT as the payer asks).")
        for line, n in counts.items() if n > 1
    ]
