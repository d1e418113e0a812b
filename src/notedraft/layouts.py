"""Exported layouts read as the `Label: value` lines they stand for, character for character (same length, so every
offset into the text still indexes the original).

- a question-and-answer macro ("Which side was injected? -> Right"): the question is the label, the answer its value;
  a question with no answer stays a question (a doubt);
- a speech-recognition transcript that spells its punctuation ("... bupivacaine period she tolerated it well"):
  the spoken marks are the marks, so "no complications" does not reach back across the "period" to the drug;
- an XML or HTML export (`<field id="dx">Right sacroiliitis M46.1</field>`): each field's id is its label, each
  closing tag ends a line, and other tags are blank.
"""

from __future__ import annotations

import re

# "Question? -> Answer", "Question?: Answer", "Question? => Answer": an answered question. The answer must hold a
# word or a number: "Fluoroscopy? ->" answers nothing.
_ANSWERED = re.compile(r"\?(?P<arrow>[ \t]*(?:->|=>|→|:)[ \t]*)(?=[^\s?])")
_TAG = re.compile(r"<(?P<close>/)?(?P<name>[A-Za-z][\w:-]*)(?P<attrs>[^<>]*)>")
_FIELD_ID = re.compile(r"""\b(?:id|name|label|title)\s*=\s*["'](?P<label>[^"'<>]{1,40})["']""")


# Spoken punctuation, read as such only in a text that spells it more than it writes full stops ("a period of six
# weeks" in a punctuated note stays words).
_SPOKEN_MARK = re.compile(r"\b(?:(?P<stop>period|full\s+stop)(?!\s+of\b)|(?P<comma>comma)|(?P<semi>semicolon)"
                          r"|(?P<para>new\s+(?:paragraph|line)|next\s+paragraph))\b", re.IGNORECASE)
_WRITTEN_STOP = re.compile(r"[.!?](?:\s|$)")


def flatten(text: str) -> str:
    spoken = _SPOKEN_MARK.findall(text) if "period" in text.lower() or "comma" in text.lower() else []
    if len(spoken) >= 2 and len(spoken) > len(_WRITTEN_STOP.findall(text)):
        text = _SPOKEN_MARK.sub(_mark, text)
    if "?" in text:
        text = _ANSWERED.sub(lambda m: ":" + " " * len(m.group("arrow")), text)
    if "<" in text and "</" in text:
        text = _TAG.sub(_tag, text)
    return text


def _tag(m: re.Match[str]) -> str:
    size = len(m.group())
    if m.group("close"):  # "</field>": the field's line ends here
        return "\n" + " " * (size - 1)
    field = _FIELD_ID.search(m.group("attrs"))
    label = field.group("label").replace("_", " ").strip() + ": " if field else ""
    if not label or len(label) + 1 > size:
        return "\n" + " " * (size - 1) if m.group("name").lower() in ("br", "p", "div", "section", "tr") else " " * size
    return "\n" + " " * (size - 1 - len(label)) + label


def _mark(m: re.Match[str]) -> str:
    size = len(m.group())
    mark = "." if m.group("stop") else "," if m.group("comma") else ";" if m.group("semi") else "\n"
    return mark + " " * (size - 1)
