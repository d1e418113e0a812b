"""Spoken corrections in a dictation: "left, no sorry, right", "kenalog 80 mg, scratch that, Kenalog 40 mg",
"40 — scratch that — 80 of kenalog", "under fluoro, I mean CT".

A physician who corrects himself dictated the LATER value. `resolve(dictation)` returns the dictation with every
withdrawn value and every cue blanked out (replaced by spaces, so each position still indexes the original): the
reader never sees the corrected-away value, so it cannot reach the draft, the codes or the grounding.

What is withdrawn: the values said right before the cue (back to the previous separator) of the kinds the first item
after the cue states — a side for a side, guidance for guidance, an amount (and its drug) for an amount. When the
item after the cue states no kind said before it ("left, I mean 40 of kenalog"), or nothing at all ("kenalog 40 mg,
scratch that"), the correction is ambiguous: nothing is guessed, what was said before the cue is left out of the
draft too, the draft is refused and the physician is asked.

The cues, separators and kinds are data: lexicon/corrections.toml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .models import Finding, Span
from .recache import load_toml

_FILE = Path(__file__).parent / "lexicon" / "corrections.toml"
I = re.IGNORECASE


@dataclass
class Resolved:
    text: str  # the dictation with withdrawn values and cues blanked; same length as the dictation
    withdrawn: list[Span] = field(default_factory=list)  # what was corrected away (in the original dictation)
    findings: list[Finding] = field(default_factory=list)  # ambiguous corrections: errors
    questions: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.withdrawn)


@cache
def _data() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, re.Pattern[str]]]:
    from . import medications

    with _FILE.open("rb") as fh:
        data = load_toml(fh)
    cue = "|".join(data["cues"])
    # a run of cues set off from the words around them: "sorry, correction,", "— scratch that —"
    cues = re.compile(rf"(?<![\w-])(?:(?:{cue})(?![\w-])[\s,:;!.–—-]*)+", I)
    separators = re.compile(data["separators"], I)
    kinds = {k: re.compile(v, I) for k, v in data["kinds"].items()}
    lx = medications.lexicon()
    kinds["drug"] = lx.drug_pattern
    kinds["amount"] = re.compile(rf"(?<![\w.])(?:{lx.amount.pattern}|{lx.number})", I)
    return cues, separators, kinds


def _kinds_in(kinds: dict[str, re.Pattern[str]], text: str, lo: int, hi: int) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for kind, p in kinds.items():
        spans = [(m.start(), m.end()) for m in p.finditer(text, lo, hi) if m.end() > m.start()]
        if spans:
            out[kind] = spans
    return out


_ORDINALS = ("one", "two", "three", "four", "five", "six")


@cache
def _marker() -> re.Pattern[str]:
    """A spoken list number right before a drug's name or a drug's amount in digits: "meds one Kenalog 40 mg two
    2 mL of 0.25% bupivacaine" ("number two", "item two")."""
    from . import medications

    lx = medications.lexicon()
    amount = lx.amount.pattern
    return re.compile(rf"(?<![\w.-])(?:(?:number|item|no\.?)\s+)?(?P<n>{'|'.join(_ORDINALS)})\b(?=[\s,:.)-]+"
                      rf"(?:(?=\d)(?:{amount})|{lx.drug_pattern.pattern}))", I)


def _list_markers(text: str) -> str:
    """Blank out a spoken numbered list's markers ("one ... two ..."), set off as separators, when they run in order
    from "one": one of them alone ("two 2 mL") is never taken for a list number."""
    found = list(_marker().finditer(text))
    run: list[re.Match[str]] = []
    for m in found:
        n = _ORDINALS.index(m.group("n").lower())
        if n == len(run):
            run.append(m)
        elif n == 0:
            run = [m]
    if len(run) < 2:
        return text
    chars = list(text)
    for m in run:
        chars[m.start()] = ";"
        for i in range(m.start() + 1, m.end()):
            chars[i] = " "
    return "".join(chars)


@cache
def _no_imaging_then_drug() -> re.Pattern[str]:
    """"by landmarks no imaging kenalog 40 mg" (a voice run-on): the denial of imaging ends where a drug's name or
    an amount begins; the drug is not what "no" denies."""
    from . import medications

    lx = medications.lexicon()
    return re.compile(rf"\b(?:no|without|w/o)\s+(?:image|imaging|fluoro\w*|ultrasound|US|CT)(?:\s+guidance)?(?P<gap> )"
                      rf"(?=\d|{lx.drug_pattern.pattern})", I)


def _runon_boundaries(text: str) -> str:
    if "no " not in text.lower() and "w/o" not in text.lower() and "without" not in text.lower():
        return text
    chars = None
    for m in _no_imaging_then_drug().finditer(text):
        chars = chars or list(text)
        chars[m.start("gap")] = ";"
    return "".join(chars) if chars else text


def _generic(text: str, span: tuple[int, int]) -> str:
    from . import medications

    written = text[span[0] : span[1]].lower()
    return medications.lexicon().drugs.get(written, (written, ""))[0]


def resolve(dictation: str) -> Resolved:
    cues, separators, kinds = _data()
    listed = _runon_boundaries(_list_markers(dictation))
    if cues.search(listed) is None:  # the common case: no correction, nothing to do
        return Resolved(listed)
    text = list(listed)
    out = Resolved(dictation)
    work = listed
    for m in list(cues.finditer(listed)):
        # each cue is read in a window around it (with the corrections before it applied): linear in the text
        w0 = max(0, m.start() - 160)
        work = "".join(text[w0 : min(len(text), m.end() + 300)])
        # the cue with the punctuation that sets it off: "R SIJ inj, sorry, correction, left SIJ inj"
        head = work[: m.start() - w0]
        lo = len(head.rstrip(" \t,;:–—-"))
        hi = m.end() - w0
        seps = list(separators.finditer(work, max(0, lo - 120), lo))
        start = seps[-1].end() if seps else max(0, lo - 120)
        nxt = separators.search(work, hi)
        end = nxt.start() if nxt else len(work)
        before = _kinds_in(kinds, work, start, lo)
        # the correction is the first item after the cue: its first few words say what kind of value it replaces
        # (a run-on's "scratch that" is followed by the rest of the dictation, whose sides and drugs are not it)
        first = re.match(r"\s*(?:\S+\s+){0,3}", work[hi:end])
        after = {k: v for k, v in _kinds_in(kinds, work, hi, end).items() if v[0][0] < hi + first.end() + 1}
        said = re.sub(r"\s+", " ", dictation[w0 + max(start, lo - 50) : w0 + min(end, hi + 50)]).strip()
        replaced = [k for k in after if k in before]
        if "drug" in replaced and "amount" in after and after["amount"][0][0] < after["drug"][0][0] and \
                _generic(work, before["drug"][-1]) != _generic(work, after["drug"][0]):
            # "kenalog 40 mg sorry 80 mg bupivacaine 2 ml": the 80 mg may be the kenalog's or the bupivacaine's
            replaced = []
        if not replaced:
            # "kenalog 40 mg, scratch that, dx ...": withdrawn, with nothing of its kind said in its place. What may
            # have been withdrawn is left out of the draft too, and the physician is asked
            spans = [(start, lo)] if before else []
            out.findings.append(Finding(
                rule="dictation.ambiguous_correction", severity="error",
                message=f"The dictation corrects itself ({said!r}) but does not say clearly what the correction "
                        "replaces; nothing is guessed and the draft is not supported until the physician says which "
                        "value holds.",
                fix="Dictate the corrected value once, without the withdrawn one.",
                evidence=[Span(start=w0 + start, end=w0 + end, text=dictation[w0 + start : w0 + end])]))
            out.questions.append(f"The dictation says {said!r}: what is the correct value?")
        else:
            # only the replaced kinds go: in "kenalog 40, I mean 80" the drug stays and its amount is replaced
            spans = [s for k in replaced for s in before[k]]
        for a, b in spans + [(lo, hi)]:
            for i in range(w0 + a, w0 + b):
                if text[i] not in "\r\n":
                    text[i] = " "
        for a, b in spans:
            out.withdrawn.append(Span(start=w0 + a, end=w0 + b, text=dictation[w0 + a : w0 + b]))
    work = "".join(text)
    out.text = work
    return out
