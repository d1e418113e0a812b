"""The dictation as the drafter, grounding and the editor read it: the physician's words, then their answers.

An answer is dictated text too, so it reaches the draft through the same reading as the dictation. It is never a
loose sentence tacked on the end (which would land in whatever section the dictation ended in — a "Plan:" would
make it a plan): answers to history questions (the Medicare LCD criteria: duration, location, severity, tests,
conservative care...) go under a `History (physician's answers):` heading, which the reader takes as history —
and the LCD criteria count history as evidence — and answers about today's procedure (guidance, confirmation,
doses) under `Procedure details (physician's answers):`, which it takes as today's procedure. Each answer starts a
line, as the physician wrote it.
"""

from __future__ import annotations

HEADINGS = {"history": "History (physician's answers):", "procedure": "Procedure details (physician's answers):"}
KINDS = tuple(HEADINGS)


def question_kind(question: str) -> str:
    """'history' for a question about the patient's history (the Medicare SI LCD criteria), else 'procedure'."""
    try:
        from notedraft.coverage import QUESTIONS
    except ImportError:  # pragma: no cover
        return "procedure"
    return "history" if question in set(QUESTIONS.values()) else "procedure"


def compose(dictation: str, answers: list[dict]) -> tuple[str, list[dict]]:
    """(the full text, its parts). `answers`: {text, kind, ...} in the order given; parts carry code-point offsets
    into the full text so the editor can label each piece (the original, a heading, each answer)."""
    text = dictation
    parts = [{"kind": "original", "start": 0, "end": len(dictation)}]
    for kind in KINDS:
        mine = [a for a in answers if a.get("kind", "procedure") == kind]
        if not mine:
            continue
        text += "\n\n"
        start = len(text)
        text += HEADINGS[kind]
        parts.append({"kind": "heading", "section": kind, "start": start, "end": len(text)})
        for a in mine:
            text += "\n"
            start = len(text)
            text += a["text"]
            parts.append({"kind": "answer", "section": kind, "start": start, "end": len(text),
                          **{k: a.get(k) for k in ("query_id", "question", "answered_by", "answered_at", "round")}})
    return text, parts
