"""Defect 5's merge: a three-way word merge of two edits of one revision (properties replayable: derandomized)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from notedraft.web.textdiff import CONFLICT_START, merge3

WORDS = st.lists(st.sampled_from(["fluoroscopic", "guidance", "40", "mg", "Kenalog", "left", "right", "joint.",
                                  "No", "complications."]), min_size=1, max_size=12)


def text(words):
    return " ".join(words)


@settings(derandomize=True, max_examples=300)
@given(WORDS, WORDS)
def test_one_sided_edits_are_taken_whole(base, other):
    assert merge3(text(base), text(other), text(base)) == (text(other), 0)
    assert merge3(text(base), text(base), text(other)) == (text(other), 0)
    assert merge3(text(base), text(other), text(other)) == (text(other), 0)


def test_edits_to_different_places_both_land():
    base = "Left SI joint injection under fluoroscopic guidance. 40 mg Kenalog was injected. No complications."
    theirs = base.replace("40 mg Kenalog", "40 mg Kenalog and 2 mL of 0.25% bupivacaine")
    mine = base.replace("No complications.", "No complications. Tolerated well.")
    merged, conflicts = merge3(base, theirs, mine)
    assert conflicts == 0
    assert "2 mL of 0.25% bupivacaine" in merged and "Tolerated well." in merged


def test_the_same_words_changed_differently_keep_both_versions():
    base = "40 mg Kenalog was injected."
    merged, conflicts = merge3(base, base.replace("40", "80"), base.replace("40", "20"))
    assert conflicts == 1 and CONFLICT_START in merged and "80" in merged and "20" in merged
