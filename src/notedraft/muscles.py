"""The muscles a note's trigger points were injected in, counted as CPT counts them (20552: one or two muscles,
20553: three or more).

- The same muscle on each side is two muscles: "left and right upper trapezius", "bilateral trapezius" and
  "L trapezius ... R trapezius" are two. A muscle named with no side beside the same muscle named with one is that
  muscle again, never a second ("left trapezius ... the trapezius was injected" is one).
- A muscle counts only where the text affirms it (lexicon MUSCLES; the reader's statuses). Muscles named in the
  exam that found the trigger points ("Exam: taut bands in the left trapezius, ...") count only when the
  procedure states how many muscles were injected and the exam names exactly that many: the count and the names
  confirm each other. Any other count is not a guess: the affirmed muscles alone are read.

A sided muscle's value carries its side ("right trapezius"), so the drafted note states what it bills and reads
back to the same count; `name()` is the muscle without it.
"""

from __future__ import annotations

import re

from . import lexicon as lx
from .models import Fact

_SIDES = re.compile(
    r"(?P<sides>(?:\b(?:left|right|lt|rt|bilateral|bilat|b/l|both)\b|(?-i:\b[LR]\b))"
    r"(?:\s*(?:and|&|/|,)\s*(?:\b(?:left|right|lt|rt)\b|(?-i:\b[LR]\b)))?)\.?\s+"
    r"(?:(?:upper|middle|mid|lower|superior|inferior)\s+)?(?:(?:fibers\s+of\s+(?:the\s+)?)?)$", re.IGNORECASE)
_WORD = {"left": "left", "lt": "left", "l": "left", "right": "right", "rt": "right", "r": "right"}
_SIDE_PREFIX = re.compile(r"^(?:left|right)\s+", re.IGNORECASE)
_COUNT = re.compile(r"\b(?P<n>\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:(?:different|separate|"
                    r"distinct|total)\s+)?muscles?\b", re.IGNORECASE)
# shorthand for a muscle, and the name the note writes ("L trap" is the left trapezius)
_SHORT = [(re.compile(p, re.IGNORECASE), full) for p, full in (
    (r"^traps?$|^trapz$", "trapezius"), (r"^levator(?:\s+scap\w*)?$", "levator scapulae"), (r"^rhomb$", "rhomboid"),
    (r"^SCM$", "sternocleidomastoid"), (r"^glut\w*\s+med$", "gluteus medius"), (r"^glut\w*\s+max$", "gluteus maximus"),
    (r"^glut\w*\s+min$", "gluteus minimus"), (r"^TFL$", "tensor fasciae latae"))]
_NUMBER = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10}


_SHORT_IN_TEXT = re.compile(r"\b(?:traps?|trapz|levator(?:\s+scap\w*)?(?!\s+ani\b)|rhomb|SCM|glut(?:e|eus)?\s+(?:med|max|min)|TFL)\b"
                            r"(?!\w)", re.IGNORECASE)
_SIDE_SHORT = re.compile(r"\b(?:(?-i:[LR])|lt|rt|bilat|b/l)\b\.?", re.IGNORECASE)
_SIDE_FULL = {"l": "left", "lt": "left", "r": "right", "rt": "right", "bilat": "bilateral", "b/l": "bilateral"}


def spelled_out(written: str) -> str:
    """A muscle as dictated, in the words a note writes: "bilat upper traps" is "bilateral upper trapezius"."""
    def muscle(m: re.Match) -> str:
        return next((full for short, full in _SHORT if short.match(m.group())), m.group())

    text = _SHORT_IN_TEXT.sub(muscle, written)
    return _SIDE_SHORT.sub(lambda m: _SIDE_FULL[m.group().rstrip(".").lower()], text)


def name(value: str) -> str:
    """The muscle without its side: "right trapezius" is "trapezius"."""
    return _SIDE_PREFIX.sub("", value.strip())


def _sides(text: str, start: int) -> tuple[list[str], int]:
    """The sides written right before a muscle, and where they start ("Left and right upper trapezius")."""
    m = _SIDES.search(text, max(0, start - 40), start)
    if not m:
        return [], start
    words = re.findall(r"[A-Za-z/]+", m.group("sides"))
    if any(w.lower() in ("bilateral", "bilat", "b/l", "both") for w in words):
        return ["left", "right"], m.start()
    return list(dict.fromkeys(_WORD[w.lower()] for w in words if w.lower() in _WORD)), m.start()


def _read(ctx, statuses: tuple[str, ...], exam_only: bool = False) -> list[Fact]:
    sided: dict[tuple[str, str], Fact] = {}
    plain: dict[str, Fact] = {}
    for m in ctx.finditer(lx.MUSCLES):
        status = ctx.status(m.start(), m.end())
        if status not in statuses:
            continue
        if exam_only and status != "affirmed" and ctx.section_of(m.start()).kind != "exam":
            continue
        muscle = re.sub(r"\s+", " ", m.group("muscle")).strip()
        muscle = next((full for short, full in _SHORT if short.match(muscle)), muscle)
        key = muscle.lower().rstrip("s")
        a, b = m.span("muscle")
        sides, lo = _sides(ctx.text, a)
        span = ctx.span(lo, b)  # the muscle with its sides, as written: what the note writes back
        for side in sides:
            sided.setdefault((side, key), Fact(value=f"{side} {muscle}", span=span))
        if not sides:
            plain.setdefault(key, Fact(value=muscle, span=span))
    named = {k for _, k in sided}
    out = list(sided.values()) + [f for k, f in plain.items() if k not in named]
    return sorted(out, key=lambda f: f.span.start if f.span else -1)


def _stated_count(ctx) -> int | None:
    counts = set()
    for m in ctx.finditer(_COUNT):
        if ctx.status(m.start(), m.end()) == "affirmed" and ctx.section_of(m.start()).kind not in ("exam", "history"):
            w = m.group("n").lower()
            counts.add(int(w) if w.isdigit() else _NUMBER[w])
    return counts.pop() if len(counts) == 1 else None


def read_muscles(ctx) -> list[Fact]:
    affirmed = _read(ctx, ("affirmed",))
    n = _stated_count(ctx)
    if n is not None and len(affirmed) < n:
        with_exam = _read(ctx, ("affirmed", "historical"), exam_only=True)
        if len(with_exam) == n:
            return with_exam
    return affirmed
