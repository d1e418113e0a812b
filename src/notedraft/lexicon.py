"""One lexicon for dictations and finished notes: the words that name guidance, sides, confirmation and context.

The words are data (`lexicon/facts.toml`; drugs and units in `lexicon/drugs.toml`, `units.toml`, read by
`medications.py`). This module is their loader: `lexicon.NEEDLE_CONFIRMATION` is compiled on first use, so a
command that never reads a note pays nothing at start-up. Patterns are plain `re`: the validator stays
dependency-free.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from .recache import load_toml

_FILE = Path(__file__).parent / "lexicon" / "facts.toml"


@lru_cache(maxsize=1)
def _entries() -> dict:
    with _FILE.open("rb") as fh:
        return load_toml(fh)


def _compile(entry: dict) -> re.Pattern[str]:
    return re.compile("|".join(entry["patterns"]), re.IGNORECASE if "i" in entry.get("flags", "") else 0)


@lru_cache(maxsize=None)
def pattern(name: str) -> re.Pattern[str]:
    """The named entry of facts.toml, compiled once."""
    return _compile(_entries()[name])


@lru_cache(maxsize=1)
def _guidance_terms() -> dict[str, re.Pattern[str]]:
    return {kind: _compile(entry) for kind, entry in _entries()["GUIDANCE_TERMS"].items()}


@lru_cache(maxsize=1)
def _other_procedures() -> list[tuple[str, re.Pattern[str]]]:
    return [(kind, _compile(entry)) for kind, entry in _entries()["OTHER_PROCEDURES"].items()]


def ultrasound_mentions(text: str, scan=None):
    """Ultrasound is special: the upper-case abbreviation "US" is case-sensitive, the words are not.
    `scan(pattern)` may stand in for `pattern.finditer(text)` (TextContext.finditer)."""
    seen: set[int] = set()
    for p in (_guidance_terms()["ultrasound"], pattern("_US_WORDS")):
        for m in scan(p) if scan else p.finditer(text):
            if m.start() not in seen:
                seen.add(m.start())
                yield m


def __getattr__(name: str):
    # Called only for a name not yet in the module: once compiled, an entry is kept as a module attribute, so
    # every later `lexicon.NAME` is a plain attribute read.
    if name == "GUIDANCE_TERMS":
        value = globals()[name] = _guidance_terms()
        return value
    if name == "OTHER_PROCEDURES":
        value = globals()[name] = _other_procedures()
        return value
    if name.isupper() and name in _entries():
        value = globals()[name] = pattern(name)
        return value
    # the drug and amount tables live in notedraft.medications (compiled on first use, not at import)
    from . import medications

    if name in medications.EXPORTS:
        return getattr(medications, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
