"""The word diff behind the history view and the edit-distance metric."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from notedraft.web.textdiff import edit_stats, word_diff

text = st.text(alphabet=st.sampled_from(list("ab c\n.<>")), max_size=40)


@given(text, text)
def test_the_diff_shows_the_new_text_exactly_and_every_deleted_word(old, new):
    segments = word_diff(old, new)
    assert "".join(s["text"] for s in segments if s["op"] != "delete") == new
    # Equal runs are shown with the new text's spacing, so the old side matches word for word.
    assert "".join(s["text"] for s in segments if s["op"] != "insert").split() == old.split()


def test_edit_stats_count_changed_words():
    assert edit_stats("a b c d", "a b c d")["edit_distance"] == 0
    assert edit_stats("a b c d", "a x c d") == {"edit_distance": 1, "first_words": 4, "final_words": 4,
                                                "edit_ratio": 0.25}
    assert edit_stats("a b\nc d", "a b c d")["edit_distance"] == 0  # re-wrapping is not an edit
    assert edit_stats("", "new text")["edit_ratio"] == 2.0
