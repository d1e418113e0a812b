"""Typography is not meaning: a note typed with an ellipsis, smart quotes, dashes, non-breaking spaces, a degree sign
or a plus-minus reads exactly as the same note typed in ASCII, and every span still points at its own words.

Word processors and EHR templates substitute these characters silently; a verdict that changed with them would
depend on which keyboard the scribe used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from notedraft.evals.dataset import load_validator
from notedraft.validate import validate

CASES = load_validator(Path(__file__).parents[1] / "evals" / "validator.jsonl")

# ASCII → what a word processor types instead (each keeps the reading of the sentence)
TYPOGRAPHY = [
    ("...", "\u2026"),
    ('"', "\u201c"),
    ("'", "\u2019"),
    (" - ", " \u2013 "),
    ("--", "\u2014"),
    (": ", ":\u00a0"),
    (", ", ",\u00a0"),
]


def typeset(text: str) -> str:
    for ascii_, fancy in TYPOGRAPHY:
        text = text.replace(ascii_, fancy)
    return text


def verdict(text: str, case) -> tuple:
    report = validate(text, case.codes, payer=case.payer)
    return report.supported, sorted({f.rule for f in report.findings}), report.suggested_codes


def _changed(case) -> bool:
    return typeset(case.note) != case.note


@pytest.mark.parametrize("case", [c for c in CASES if _changed(c)], ids=lambda c: c.id)
def test_typeset_punctuation_never_changes_a_verdict(case):
    assert verdict(typeset(case.note), case) == verdict(case.note, case)


@pytest.mark.parametrize("case", [c for c in CASES if _changed(c)][:40], ids=lambda c: c.id)
def test_every_span_points_at_its_own_words_in_the_typeset_note(case):
    text = typeset(case.note)
    report = validate(text, case.codes, payer=case.payer)
    spans = [s for f in report.findings for s in f.evidence] + [s for r in report.satisfied for s in r.evidence]
    assert spans
    for span in spans:
        assert text[span.start : span.end] == span.text


PREFIXES = ["\u2026\n", "\u201cPer patient\u201d \u2013\u00a0\n", "Temp 36.8\u00b0C, BP 120/80 \u00b1 5.\n"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_line_of_typography_before_a_note_changes_nothing(prefix):
    case = next(c for c in CASES if c.id == "full-left-fluoro")
    assert verdict(prefix + case.note, case) == verdict(case.note, case)
    report = validate(prefix + case.note, case.codes)
    for r in report.satisfied:
        for span in r.evidence:
            assert (prefix + case.note)[span.start : span.end] == span.text
