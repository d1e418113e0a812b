"""Word-level diffs between revisions, and the edit distance behind the minimally-edited-note rate.

Both come from one `difflib.SequenceMatcher` over whitespace-separated words (punctuation stays on its word), so the
history view and the metric always agree on what changed.
"""

from __future__ import annotations

import difflib
import re

_WORD = re.compile(r"\S+\s*|\s+")


def _tokens(text: str) -> list[str]:
    """Words with their trailing whitespace; the tokens concatenate back to `text` exactly."""
    return _WORD.findall(text)


def _opcodes(a: list[str], b: list[str]):
    # Compare on the words alone so that re-wrapping a line is not an edit.
    return difflib.SequenceMatcher(None, [t.strip() for t in a], [t.strip() for t in b], autojunk=False).get_opcodes()


def word_diff(old: str, new: str) -> list[dict]:
    """Segments [{op: 'equal'|'insert'|'delete', text}] that render the change from `old` to `new` inline.

    The non-delete segments concatenate to `new` exactly; equal runs carry the new text's spacing, so a change of
    spacing or line breaks alone shows no segment as changed.
    """
    a, b = _tokens(old), _tokens(new)
    segments: list[dict] = []
    for tag, i1, i2, j1, j2 in _opcodes(a, b):
        if tag == "equal":
            segments.append({"op": "equal", "text": "".join(b[j1:j2])})
            continue
        if tag in ("delete", "replace"):
            deleted = "".join(a[i1:i2])
            if segments and not segments[-1]["text"][-1:].isspace():
                deleted = " " + deleted  # keep the deleted words apart from the word before them
            segments.append({"op": "delete", "text": deleted})
        if tag in ("insert", "replace"):
            segments.append({"op": "insert", "text": "".join(b[j1:j2])})
    return segments


def edit_stats(first: str, final: str) -> dict:
    """Words inserted, deleted or replaced from `first` to `final`, and that count over the first draft's length."""
    a, b = _tokens(first), _tokens(final)
    words_a = sum(1 for t in a if t.strip())
    distance = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in _opcodes(a, b) if tag != "equal")
    return {
        "edit_distance": distance,
        "first_words": words_a,
        "final_words": sum(1 for t in b if t.strip()),
        "edit_ratio": round(distance / max(words_a, 1), 4),
    }
