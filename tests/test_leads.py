"""A pattern tried only where the word index says a match can open (leads.py) finds exactly what `finditer` finds:
the same matches, spans and groups, in the same order, on every pattern the reader scans and on texts written to
catch a missed opening (digits after digits, a look-behind before a word, capitals, an optional first word)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from notedraft import reading
from notedraft.evals.dataset import load_validator
from notedraft.leads import Plan, WordIndex, derive
from notedraft.validate import validate

CASES = [c for f in ("validator.jsonl", "validator_families.jsonl")
         for c in load_validator(Path(__file__).parents[1] / "evals" / f)]


def _indexed(pattern: re.Pattern[str], text: str) -> list[tuple]:
    lower = reading._lowered(text)
    assert lower is not None, "these texts have no non-ASCII letter"
    lazy = [(m.span(), m.groups()) for m in reading._scan(pattern, text, lower, WordIndex(text, lower))]
    listed = [(m.span(), m.groups()) for m in reading._scan_all(pattern, text, lower, WordIndex(text, lower))]
    assert lazy == listed
    return listed


def _plain(pattern: re.Pattern[str], text: str) -> list[tuple]:
    return [(m.span(), m.groups()) for m in pattern.finditer(text)]


def _scanned_patterns() -> list[re.Pattern[str]]:
    seen: dict[int, re.Pattern[str]] = {}
    original = reading._scan

    def recording(pattern, text, lower, words=None):
        seen.setdefault(id(pattern), pattern)
        return original(pattern, text, lower, words)

    reading._scan = recording
    try:
        for case in CASES[::4]:
            reading.read.cache_clear()
            validate(case.note, list(case.codes))
    finally:
        reading._scan = original
    return list(seen.values())


PATTERNS = _scanned_patterns()
WORDS = ("left right bilateral bilat L R SI SIJ joint sacroiliac sacroiliitis injection injected fluoro fluoroscopy "
         "fluoroscopic C-arm ultrasound US CT contrast kenalog Depo-Medrol triamcinolone bupivacaine bupi lidocaine "
         "mg mL cc % point five two one half quarter not no without never denies planned will prior history of "
         "previously confirmed verified needle placement intra-articular IA the other side both sides diagnostic "
         "therapeutic Dx M46.1 M53.3 images saved PACS landmarks palpation unable failed please ignore").split()
JOINERS = (" ", " ", " ", ", ", ". ", ": ", "; ", "\n", " - ", "/", "(", ") ", "\t", "  ")


def _random_text(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(5, 60)):
        word = rng.choice(WORDS)
        roll = rng.random()
        if roll < 0.15:
            word = word.upper()
        elif roll < 0.25:
            word = word.capitalize()
        elif roll < 0.4:
            word = str(rng.choice([1, 2, 4, 10, 20, 40, 80, 0.25, 0.5, 1.5, 120])) + rng.choice(["", " ", "/"]) + word
        out.append(word + rng.choice(JOINERS))
    return "".join(out)


def test_the_reader_scans_most_patterns_through_the_index():
    planned = [p for p in PATTERNS if derive(p) is not None]
    assert len(PATTERNS) > 40
    assert len(planned) >= 0.8 * len(PATTERNS), "most lexicon patterns open with a word, a digit or a literal"


@pytest.mark.parametrize("seed", range(6))
def test_indexed_scan_equals_finditer_on_every_scanned_pattern(seed):
    rng = random.Random(seed)  # fixed: a failure replays
    texts = [_random_text(rng) for _ in range(25)]
    for case in CASES[seed::24]:
        if case.note.isascii():
            texts.append(case.note)
    for pattern in PATTERNS:
        for text in texts:
            assert _indexed(pattern, text) == _plain(pattern, text), (pattern.pattern[:120], text[:200])


@pytest.mark.parametrize("source, text", [
    (r"\b(?:the\s+)?other\s+side\b", "on the other side and other side"),  # an optional first word
    (r"(?<![\d/.])\d*\.?\d+\s*mg", "12 mg, 3/4 mg, .5 mg, 1.25mg, 40mg x2 120 mg"),  # digits after digits are no opening
    (r"(?:(?<![^,;:\n])|(?<=[,;:\n] ))(?:anatomic\s+)?landmarks?(?=\s*[,;\n])", "Guidance: landmarks, x; anatomic landmarks\n"),
    (r"\bCT[- ]?(?i:guid\w*)|\bct\b", "CT-guided; ct guided; Ct Guidance; CTguid"),  # case-sensitive and inline flags
    (r"\bw/o\s+imaging|\bS[1-3]\b", "w/o imaging, W/O imaging, S1 and s2, S4"),  # a literal past its word
    (r"a(?:dcortyl|ncef)|\bkenalog", "Adcortyl, ancef; Kenalog-40, KENALOG"),
    (r"\band\b|&|\+", "A and B & C + D, candy"),
    (r"\bnot\b|\bno\s+fluoro", "not, nothing, knot; no fluoro, nofluoro"),  # whole words, not prefixes
    (r"[,;]|\s[-–]\s|(?=\b(?:instead\s+of|rather\s+than)\b)", "US - not fluoro – instead of CT, rather than x; insteadof"),
])
def test_openings_cover_each_construct(source, text):
    for flags in (0, re.IGNORECASE):
        pattern = re.compile(source, flags)
        assert derive(pattern) is not None
        assert _indexed(pattern, text) == _plain(pattern, text)


@pytest.mark.parametrize("source, flags", [
    (r"x*", 0),  # an empty match opens anywhere
    (r"\s+left", 0),  # no literal opening
    (r"\bleft", re.ASCII),  # \b of another alphabet than the index's
    (r"(?i:é)cho", 0),  # non-ASCII case folding is re's, not str.lower's
    (r"x|(?!y)", 0),  # an empty match guarded only by what may not follow
])
def test_patterns_without_openings_keep_their_scan(source, flags):
    assert derive(re.compile(source, flags)) is None


def test_a_plan_keys_word_openings_by_their_first_letters():
    plan = Plan.of(derive(re.compile(r"\b(?:fluoro\w*|ultrasound|US\b)", re.IGNORECASE)))
    # a whole word read in any case is found by one set intersection; the openings of longer words by their letters
    assert set(plan.words) == {"fl", "ul"} and plan.simple == {"us"} and not plan.finds
    words = WordIndex("Under FLUORO; then fluoroscopy and us.", "under fluoro; then fluoroscopy and us.")
    assert words.candidates(plan) == [6, 19, 35]


def test_a_case_sensitive_opening_is_looked_up_lower_cased_and_kept_only_as_written():
    plan = Plan.of(derive(re.compile(r"\b(?:US|IA)\b|C-arm")))
    text = "US-guided; us here; IA and ia; C-arm, c-arm, C-ARM."
    assert WordIndex(text, text.lower()).candidates(plan) == [0, 20, 31]
