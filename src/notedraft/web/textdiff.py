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


CONFLICT_START, CONFLICT_MIDDLE, CONFLICT_END = "<<<<<<< theirs\n", "\n=======\n", "\n>>>>>>> mine"


def _changes(base: list[str], other: list[str]) -> list[tuple[int, int, list[str]]]:
    """(base start, base end, replacement tokens) for each change from `base` to `other`."""
    sm = difflib.SequenceMatcher(None, base, other, autojunk=False)
    return [(i1, i2, other[j1:j2]) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"]


def merge3(base: str, theirs: str, mine: str) -> tuple[str, int]:
    """A three-way merge of two edits of `base`, word by word: (merged text, number of conflicts).

    A change only one side made is taken; the same change on both sides is taken once; where the two sides changed
    the same words differently, both versions are kept between conflict markers (theirs first) for a person to
    settle — the editor will not save a text that still holds a marker.
    """
    b, t, m = _tokens(base), _tokens(theirs), _tokens(mine)
    ours, their = _changes(b, m), _changes(b, t)
    out: list[str] = []
    conflicts = 0
    pos = 0
    i = j = 0
    while i < len(their) or j < len(ours):
        # Take the next change (or overlapping group of changes) in base order.
        group_t, group_m = [], []
        start = min(c[0] for c in ([their[i]] if i < len(their) else []) + ([ours[j]] if j < len(ours) else []))
        end = start
        grew = True
        while grew:
            grew = False
            while i < len(their) and (their[i][0] < end or their[i][0] == start or
                                      (their[i][0] == end and their[i][0] == their[i][1] and group_m)):
                group_t.append(their[i]); end = max(end, their[i][1]); i += 1; grew = True  # noqa: E702
            while j < len(ours) and (ours[j][0] < end or ours[j][0] == start or
                                     (ours[j][0] == end and ours[j][0] == ours[j][1] and group_t)):
                group_m.append(ours[j]); end = max(end, ours[j][1]); j += 1; grew = True  # noqa: E702
        out.extend(b[pos:start])

        def apply(group):
            text, at = [], start
            for s, e, rep in group:
                text.extend(b[at:s]); text.extend(rep); at = e  # noqa: E702
            text.extend(b[at:end])
            return text

        if not group_m:
            out.extend(apply(group_t))
        elif not group_t:
            out.extend(apply(group_m))
        else:
            theirs_part, mine_part = apply(group_t), apply(group_m)
            if theirs_part == mine_part:
                out.extend(theirs_part)
            else:
                conflicts += 1
                out.append(CONFLICT_START + "".join(theirs_part).rstrip("\n") + CONFLICT_MIDDLE
                           + "".join(mine_part).rstrip("\n") + CONFLICT_END + "\n")
        pos = end
    out.extend(b[pos:])
    return "".join(out), conflicts
