"""The speed machinery never changes a result: the compiled-regex and TOML caches of the command line
(recache.py) hand back the engine's own patterns and the parser's own data, and the word prefilter of the reader
(fastscan.needs) only skips a pattern that cannot match. Work is checked, never timed."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import notedraft.lexicon as lx
from notedraft import fastscan, reading
from notedraft.reading import _CLAUSE_DOUBT, Reading

SRC = Path(__file__).resolve().parents[1] / "src"


def _run(code: str, cache: Path) -> str:
    env = {"PATH": "/usr/bin:/bin", "NOTEDRAFT_CACHE_DIR": str(cache), "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


def test_a_cached_pattern_is_the_engines_own_and_toml_reads_the_same(tmp_path):
    probe = (
        "import re, tomllib, json\n"
        "from notedraft import recache\n"
        "assert recache.install()\n"
        "import notedraft.lexicon as lx, notedraft.reading\n"
        "p = lx.pattern('INSTRUCTION')\n"
        "fresh = recache._original(p.pattern, p.flags & ~re.UNICODE)\n"
        "print(p == fresh, p.groupindex == fresh.groupindex, p.groups == fresh.groups)\n"
        "print(json.dumps(recache._toml_original(open(lx._FILE, 'rb')) == lx._entries()))\n"
    )
    first = _run(probe, tmp_path)  # fills the cache
    assert list(tmp_path.glob("re-*.marshal")) and list(tmp_path.glob("toml-*.marshal"))
    second = _run(probe, tmp_path)  # answered from it
    assert first == second == "True True True\ntrue\n"


def test_the_cache_can_be_turned_off(tmp_path):
    out = _run("from notedraft import recache; print(recache.install())", Path("off"))
    assert out == "False\n"


WORDS = ["fluoroscopy", "CT", "guided", "under", "US", "ultrasound", "no", "not", "without", "Kenalog", "40", "mg",
         "2", "mL", "0.25%", "bupivacaine", "left", "right", "bilateral", "SI", "joint", "injection", "plan", "will",
         "prior", "history", ",", ".", ";", "(", ")", "\n", "Dx:", "M46.1", "ignore", "previous", "instructions",
         "confirmed", "contrast", "®", "±", "°"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=30))
def test_the_word_prefilter_only_skips_patterns_that_cannot_match(words):
    text = " ".join(words)
    lower = reading._lowered(text)
    patterns = [p for _s, p, _d in _CLAUSE_DOUBT] + [lx.pattern(name) for name in lx._entries()
                                                      if name.isupper() and isinstance(lx._entries()[name], dict)
                                                      and "patterns" in lx._entries()[name]]
    for p in patterns:
        demand = fastscan.needs(p)
        if lower is not None and demand is not None and not fastscan.may_match(demand, text, lower):
            assert p.search(text) is None, (p.pattern[:80], text)
    r = Reading(text)  # and the reading's own scans are the patterns' own matches
    for p in patterns[:40]:
        assert [m.span() for m in r.finditer(p)] == [m.span() for m in p.finditer(r.text)]
