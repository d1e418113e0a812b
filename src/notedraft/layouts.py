"""Exported layouts read as the `Label: value` lines they stand for, character for character (same length, so every
offset into the text still indexes the original).

- a question-and-answer macro ("Which side was injected? -> Right"): the question is the label, the answer its value;
  a question with no answer stays a question (a doubt);
- a speech-recognition transcript that spells its punctuation ("... bupivacaine period she tolerated it well"):
  the spoken marks are the marks, so "no complications" does not reach back across the "period" to the drug;
- an XML or HTML export (`<field id="dx">Right sacroiliitis M46.1</field>`): each field's id is its label, each
  closing tag ends a line, and other tags are blank;
- an HL7 v2 message (`OBX|1|TX|PROC^Procedure||Left SI joint injection||||||F`): each OBX is its observation's
  label (OBX-3's text) and value (OBX-5, with OBX-6's units), an NTE its comment, `\\.br\\` a line break; header
  and identity segments (MSH, PID, an order's OBR) are blank: an order is not a statement that it was done;
- a JSON export (`{"procedure": "Left SI joint injection", "fluoroscopy_used": true}`): each key is a label on a line
  of its own ("fluoroscopy used: yes"), its value the value; quotes and brackets are blank, and true, false and null
  read as yes, no and none.
"""

from __future__ import annotations

import json
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
    if "|" in text and _HL7_SEGMENT.search(text):
        text = _hl7(text)
    if "|" in text and len(_PIPE_FIELD.findall(text)) >= 3:
        text = _PIPE_FIELD.sub(_pipe_field, text)
    if "...." in text:
        text = _LEADER.sub(lambda m: m.group("label") + ":" + " " * (len(m.group("dots")) - 1), text)
    return text


# A dotted-leader log ("Side ........................ Right", "C-arm ....... Not used"): each line is the field
# "Side: Right", of the same length.
_LEADER = re.compile(r"(?m)^(?P<label>[ \t]*[A-Za-z][\w /()&+%.,-]{0,40}?[\w%)])(?P<dots>[ \t]*\.{4,}[ \t]*)(?=\S)")


# A key|value export ("LATERALITY|B (bilateral)", "PROC_NAME|Sacroiliac joint injection"): each line is the field
# "LATERALITY: B (bilateral)", of the same length so every offset holds.
_PIPE_FIELD = re.compile(r"(?m)^(?P<key>[A-Z][A-Z0-9_]{1,30})\|(?=[^|\r\n])")


def _pipe_field(m: re.Match[str]) -> str:
    return m.group("key").replace("_", " ") + ":"


# A segment line: three capitals (or a Z-segment) and the field separator. A message has an MSH, or two OBX/NTE.
_HL7_SEGMENT = re.compile(r"(?m)^(?:MSH|OBX|NTE)\|")
_HL7_LINE = re.compile(r"(?m)^(?P<seg>[A-Z][A-Z0-9]{2})\|(?P<rest>[^\r\n]*)")
_HL7_ESCAPE = re.compile(r"\\(?:\.br|X0D|X0A|X0D0A|[A-Z])\\")


def _hl7(text: str) -> str:
    segments = [m for m in _HL7_LINE.finditer(text)]
    kinds = [m.group("seg") for m in segments]
    if "MSH" not in kinds and kinds.count("OBX") + kinds.count("NTE") < 2:
        return text
    out, last = [], 0
    for m in segments:
        out.append(text[last : m.start()])
        out.append(_hl7_segment(m.group()))
        last = m.end()
    out.append(text[last:])
    return "".join(out)


# OBX-11 result status: deleted, entered in error ("wrong"), cannot be obtained: no statement stands
_WITHDRAWN = {"D", "W", "X"}


def _hl7_segment(line: str) -> str:
    """One segment, character for character: an OBX as `label: value units`, an NTE as its comment, others blank."""
    fields, starts, pos = line.split("|"), [], 0
    for f in fields:
        starts.append(pos)
        pos += len(f) + 1
    chars = [" "] * len(line)

    def keep(k: int, text: str | None = None) -> None:
        if k < len(fields):
            value = fields[k] if text is None else text
            chars[starts[k] : starts[k] + len(value)] = _hl7_text(value)

    seg = fields[0]
    if seg == "NTE":
        keep(3)
    elif seg == "OBX" and len(fields) > 5 and (len(fields) <= 11 or fields[11].strip() not in _WITHDRAWN):
        ident = fields[3].split("^")
        label_at = 1 if len(ident) > 1 and ident[1].strip() else 0
        label = ident[label_at].strip()
        keep(5)
        units = fields[6].split("^")[0].strip() if len(fields) > 6 else ""
        if units and fields[5].strip():
            chars[starts[6] : starts[6] + len(units)] = units  # "40|mg": the units follow their value
        if label:
            offset = starts[3] + sum(len(c) + 1 for c in ident[:label_at]) + ident[label_at].index(label)
            chars[offset : offset + len(label)] = label
            chars[offset + len(label)] = ":"  # in place of the "^" or "|" after it
    return "".join(chars)


def _hl7_text(value: str) -> str:
    """A field's text with its escapes and separators read: "\\.br\\" breaks the line, ^ and ~ separate words."""
    value = _HL7_ESCAPE.sub(lambda m: " " * (len(m.group()) - 1)  # the next line starts flush, not indented
                            + ("\n" if m.group() in ("\\.br\\", "\\X0A\\", "\\X0D0A\\", "\\X0D\\") else " "), value)
    return value.replace("^", " ").replace("~", ",")


def json_fields(text: str) -> str:
    """Each JSON document in the text (the whole text, or a line of it) as label: value lines. Read before
    anything else blanks a part of the text: a JSON object `{"dose": 40}` looks like an unfilled EHR field."""
    return _json_lines(text) if '":' in text or '" :' in text else text


_JSON_WORDS = {"true": "yes ", "false": "no   ", "null": "none"}  # same length, words the reader knows
_JSON_KEY = re.compile(r'\s*:')


def _json_lines(text: str) -> str:
    """The text with each JSON document in it (the whole text, or a line) read as label: value lines."""
    stripped = text.strip()
    if stripped[:1] in "{[" and _is_json(stripped):
        start = text.index(stripped[0])
        return text[:start] + _json_as_fields(stripped) + text[start + len(stripped):]
    out, changed = [], False
    for line in text.splitlines(keepends=True):
        body = line.strip()
        if body[:1] == "{" and _is_json(body):
            start = line.index("{")
            line = line[:start] + _json_as_fields(body) + line[start + len(body):]
            changed = True
        out.append(line)
    return "".join(out) if changed else text


def _is_json(s: str) -> bool:
    try:
        return isinstance(json.loads(s), (dict, list))
    except ValueError:
        return False


def _json_as_fields(doc: str) -> str:
    """A JSON document (already known to parse), character for character: keys become line-opening labels."""
    out: list[str] = []
    i, n = 0, len(doc)
    while i < n:
        ch = doc[i]
        if ch == '"':
            j = i + 1
            while doc[j] != '"':
                j += 2 if doc[j] == "\\" else 1
            body = _unescape(doc[i + 1 : j])
            colon = _JSON_KEY.match(doc, j + 1)
            if colon:  # a key: "\n" + key + ":" in the place of its quotes and colon
                out.append("\n" + body.replace("_", " ") + ":" + " " * (colon.end() - j - 1))
                i = colon.end()
                continue
            out.append(" " + body + " ")
            i = j + 1
        elif ch in "{}[]":
            out.append(" ")
            i += 1
        elif ch == ",":
            after = doc[i + 1 :].lstrip()
            out.append(" " if after[:1] in ('"', "{", "]", "}") and _next_is_key(after) else ",")
            i += 1
        elif doc.startswith(("true", "false", "null"), i):
            word = next(w for w in _JSON_WORDS if doc.startswith(w, i))
            out.append(_JSON_WORDS[word])
            i += len(word)
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _next_is_key(after: str) -> bool:
    if after[:1] != '"':
        return after[:1] in "{]}"
    j = 1
    while j < len(after) and after[j] != '"':
        j += 2 if after[j] == "\\" else 1
    return _JSON_KEY.match(after, j + 1) is not None


def _unescape(body: str) -> str:
    """A JSON string's characters, escapes kept to their length: "\\n" is a line break and a blank."""
    return (body.replace("\\n", "\n ").replace("\\t", "\t ").replace('\\"', ' "').replace("\\/", " /")
            .replace("\\\\", " \\"))


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
