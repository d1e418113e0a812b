"""Score a draft against the gold facts its dictation was rendered from — with this file's own string checks, never
with notedraft's extractor (that is what is being measured).

Every gold fact must reach the draft as dictated, normalised: each drug by its generic name (or a correct brand /
British name of the same drug), each amount in canonical units next to that drug — mass in mg, volume in mL (never
"cc"), concentration in %, product strength in mg/mL — a per-side amount marked per side and a total marked total;
the side; the guidance. And nothing inferred: no mg or mL amount next to a drug that the gold does not give it
(e.g. a mass computed from a product strength, or a volume made up for a dose).
"""

from __future__ import annotations

import re

from .facts import LEXICON, Facts, Med
from .phrases import ALIASES

_ALL_NAMES = sorted({n for g, names in ALIASES.items() for n in names} | set(LEXICON) | {"midazolam", "versed"},
                    key=len, reverse=True)
_NAME_RE = re.compile(r"(?i)(?<![A-Za-z])(" + "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in _ALL_NAMES)
                      + r")(?![A-Za-z])")
_PRODUCT_STRENGTH_RE = re.compile(r"(?i)\bkenalog-(\d+)\b")
_AMT_RE = re.compile(r"(?i)(?<![\d.])(\d+(?:\.\d+)?|\.\d+)\s*(mg/ml|mg|ml|%)(?![A-Za-z])")


def _generic(name: str) -> str:
    key = re.sub(r"\s+", " ", name.lower())
    if key in LEXICON:
        return LEXICON[key][0]
    for g, names in ALIASES.items():
        if key in names:
            return g
    return {"versed": "midazolam"}.get(key, key)


def segments(note: str) -> list[tuple[str, str]]:
    """(generic, text) for each drug mention: the text from the previous different drug's mention to the next one,
    within one line."""
    out = []
    for line in re.split(r"\n|;\s", note):
        hits = [(m.start(), m.end(), _generic(m.group(1))) for m in _NAME_RE.finditer(line)]
        for i, (a, b, g) in enumerate(hits):
            start = 0
            for j in range(i - 1, -1, -1):
                if hits[j][2] != g:
                    start = hits[j][1]
                    break
            end = len(line)
            for j in range(i + 1, len(hits)):
                if hits[j][2] != g:
                    end = hits[j][0]
                    break
            out.append((g, line[start:end]))
    return out


def _amounts(text: str) -> dict[str, set[float]]:
    got: dict[str, set[float]] = {"mg": set(), "ml": set(), "%": set(), "mg/ml": set()}
    for v, u in _AMT_RE.findall(text):
        got[u.lower()].add(float(v))
    for v in _PRODUCT_STRENGTH_RE.findall(text):  # "Kenalog-40" is 40 mg/mL by its name
        got["mg/ml"].add(float(v))
    return got


def _has(meds_seg: list[str], m: Med) -> list[str]:
    """What `m` needs that no single segment of its drug carries."""
    def needs(seg: str) -> list[str]:
        a, miss = _amounts(seg), []
        # the dose as dictated, or the strength and volume it multiplies from ("1 mL of 10 mg/mL" is 10 mg: the
        # drafter writes the dictated form and never the computed mass)
        from_strength = any(abs(st * v - m.dose) < 1e-9 for st in a["mg/ml"] for v in a["ml"]) if m.dose else False
        if m.dose is not None and m.dose not in a["mg"] and not from_strength:
            miss.append(f"{m.dose:g} mg")
        if m.volume is not None and m.volume not in a["ml"]:
            miss.append(f"{m.volume:g} mL")
        if m.conc is not None and m.conc not in a["%"]:
            miss.append(f"{m.conc:g}%")
        if m.strength is not None and m.strength not in a["mg/ml"]:
            miss.append(f"{m.strength:g} mg/mL")
        if m.basis == "per_side" and not re.search(r"(?i)\beach\b|\bper (?:side|joint)\b|apiece", seg):
            miss.append("per side")
        if m.basis == "total" and not re.search(r"(?i)\btotal\b", seg):
            miss.append("total")
        return miss
    best = None
    for seg in meds_seg:
        miss = needs(seg)
        if not miss:
            return []
        best = miss if best is None or len(miss) < len(best) else best
    return best or ["no amounts"]


def fidelity(note: str, f: Facts, dictation: str) -> list[str]:
    problems = []
    low = note.lower()
    # side
    if f.bilateral:
        if not (re.search(r"\bbilateral\b", low) or (re.search(r"\bleft\b", low) and re.search(r"\bright\b", low))):
            problems.append("side: bilateral not stated")
    else:
        if not re.search(rf"\b{f.side}\b", low):
            problems.append(f"side: {f.side} not stated")
        other = {"left": "right", "right": "left"}[f.side]
        if re.search(rf"(?i)\b{other}\b|\b{other[0]}\b", dictation) is None and re.search(rf"\b{other}\b", low):
            problems.append(f"side: {other} appears in the draft")
    # guidance
    pats = {"fluoroscopy": r"fluoroscop", "ct": r"\bct\b|computed tomograph", "ultrasound": r"ultrasound|sonograph"}
    if f.guidance in pats:
        if not re.search(pats[f.guidance], low):
            problems.append(f"guidance: {f.guidance} not stated")
    else:
        for m in re.finditer(r"under (?:fluoroscop|ct\b|ultrasound)|(?:fluoroscop\w*|ultrasound|\bct)[- ]guid\w*", low):
            around = low[max(0, m.start() - 25): m.end() + 25]
            if not re.search(r"\bnot\b|\bno\b|without|n't", around):
                problems.append("guidance: imaging stated for a no-imaging injection")
                break
    # medications
    segs = segments(note)
    by_name: dict[str, list[Med]] = {}
    for m in f.meds:
        by_name.setdefault(m.name, []).append(m)
    for name, meds in by_name.items():
        mine = [t for g, t in segs if g == name]
        if not mine:
            problems.append(f"drug: {name} missing")
            continue
        for m in meds:
            miss = _has(mine, m)
            if miss:
                problems.append(f"amount: {name} lacks {', '.join(miss)}")
        allowed_mg = {x for m in meds for x in (m.dose,) if x is not None}
        allowed_ml = {m.volume for m in meds if m.volume is not None}
        for t in mine:
            a = _amounts(t)
            extra_mg = a["mg"] - allowed_mg
            extra_ml = a["ml"] - allowed_ml
            if extra_mg:
                problems.append(f"inferred: {name} {', '.join(f'{x:g} mg' for x in sorted(extra_mg))}")
            if extra_ml:
                problems.append(f"inferred: {name} {', '.join(f'{x:g} mL' for x in sorted(extra_ml))}")
    return sorted(set(problems))
