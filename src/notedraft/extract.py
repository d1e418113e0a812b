"""Text → Facts. The same deterministic reader serves dictations ("L SIJ inj, fluoro, 40 kenalog") and notes.

Only mentions that are *affirmed* count as facts; negated, planned, historical, declined and consent-discussion
mentions are kept in `Facts.discounted` so a scribe can see why "fluoroscopy" in the text did not count.
"""

from __future__ import annotations

import bisect
import dataclasses
import re

from . import icd10
from . import lexicon as lx
from .context import Mention, TextContext, contains
from .models import Diagnosis, Discounted, Fact, Facts, Medication, Span

_NON_PROCEDURAL_SECTIONS = ("diagnosis", "history", "plan")


def extract_facts(text: str) -> Facts:
    ctx = TextContext(text)
    facts = Facts()
    _guidance(ctx, facts)
    _procedure(ctx, facts)
    _side(ctx, facts)
    facts.medications = _medications(ctx)
    facts.unread_amounts = _unread_amounts(ctx, facts.medications)
    facts.diagnoses = _diagnoses(ctx)
    _purpose(ctx, facts)
    facts.needle_confirmation = _first_affirmed(ctx, lx.NEEDLE_CONFIRMATION, "needle_confirmation", facts)
    facts.contrast = _first_affirmed(ctx, lx.CONTRAST, "contrast", facts)
    facts.images_recorded = _first_affirmed(ctx, lx.IMAGES_RECORDED, "images_recorded", facts)
    facts.guidance_description = _first_affirmed(ctx, lx.GUIDANCE_DESCRIPTION, "guidance_description", facts)
    _pain_scores(ctx, facts)
    _complications(ctx, facts)
    facts.levels = _unique_facts(ctx, lx.SPINE_LEVEL, "level")
    facts.muscles = _unique_facts(ctx, lx.MUSCLES, "muscle")
    if ctx.search(lx.FACILITY):
        facts.setting = "facility"
    elif ctx.search(lx.OFFICE):
        facts.setting = "office"
    return facts


def span_of(ctx: TextContext, start: int, end: int) -> Span:
    return Span(start=start, end=end, text=ctx.text[start:end])


def _span(m: Mention) -> Span:
    return Span(start=m.start, end=m.end, text=m.text)


def _discount(facts: Facts, m: Mention) -> None:
    facts.discounted.append(Discounted(kind=m.kind, reason=m.status, span=_span(m)))  # type: ignore[arg-type]


# --- guidance ---------------------------------------------------------------------------------------------------


def _guidance(ctx: TextContext, facts: Facts) -> None:
    mentions: list[Mention] = []
    for kind in ("fluoroscopy", "ct"):
        mentions += [ctx.mention(kind, m) for m in ctx.finditer(lx.GUIDANCE_TERMS[kind])]
    mentions += [ctx.mention("ultrasound", m) for m in lx.ultrasound_mentions(ctx.text, ctx.finditer)]
    affirmed: dict[str, list[Mention]] = {}
    negated: list[Mention] = []
    for m in sorted(mentions, key=lambda m: m.start):
        if m.status == "affirmed":
            affirmed.setdefault(m.kind, []).append(m)
        else:
            _discount(facts, m)
            if m.status == "negated":
                negated.append(m)
    # CT fluoroscopy is CT guidance; fluoroscopy or CT outrank ultrasound when a note names both, because
    # ultrasound is often used only to scout while the needle is placed under fluoroscopy.
    for kind in ("ct", "fluoroscopy", "ultrasound"):
        if kind in affirmed:
            facts.guidance = kind  # type: ignore[assignment]
            facts.guidance_spans = [_span(m) for m in affirmed[kind]]
            return
    no_imaging = [ctx.mention("no_imaging", m) for m in ctx.finditer(lx.NO_IMAGING)]
    evidence = [m for m in no_imaging if m.status == "affirmed"] + negated
    if evidence:
        facts.guidance = "none"
        facts.guidance_spans = [_span(m) for m in sorted(evidence, key=lambda m: m.start)]


# --- procedure --------------------------------------------------------------------------------------------------

_SACRAL = re.compile(r"\bS[1-4]\b|\bsacral\b|\bsacroiliac\b|\bSIJ?\b", re.IGNORECASE)


def _procedure(ctx: TextContext, facts: Facts) -> None:
    si: list[tuple[int, str, Span]] = []
    others: list[tuple[int, str, Span]] = []
    diagnosis_phrases = ctx.finditer(lx.DIAGNOSIS_TERMS)
    phrase_starts = [m.start() for m in diagnosis_phrases]

    def procedural(m: re.Match[str]) -> bool:
        i = bisect.bisect_right(phrase_starts, m.start()) - 1  # inside a diagnosis phrase ("sacroiliac joint pain")?
        if i >= 0 and m.start() < diagnosis_phrases[i].end():
            return False
        if ctx.section_kind(m.start()) in _NON_PROCEDURAL_SECTIONS:
            return False
        return ctx.status(m.start(), m.end()) == "affirmed"

    for m in ctx.finditer(lx.SI_JOINT):
        if not procedural(m):
            continue
        sentence = ctx.whole_sentence(m.start())
        if contains(lx.SI_RFA, sentence):
            kind = "si_rfa"
        elif contains(lx.SI_NERVE, sentence):
            kind = "si_nerve_block"
        else:
            kind = "si_joint_injection"
        si.append((m.start(), kind, span_of(ctx, *m.span())))
    for pattern, kind in ((lx.SI_RFA, "si_rfa"), (lx.SI_NERVE, "si_nerve_block")):
        for m in ctx.finditer(pattern):
            if procedural(m) and contains(_SACRAL, ctx.whole_sentence(m.start())):
                si.append((m.start(), kind, span_of(ctx, *m.span())))
    for kind, pattern in lx.OTHER_PROCEDURES if not si else ():
        for m in ctx.scan(pattern):
            if procedural(m):
                others.append((m.start(), kind, span_of(ctx, *m.span())))
                break
    # SI-family readings win: an SI joint note also mentions lumbar levels, needles into "the joint", etc.
    candidates = si or others
    if not candidates:
        return
    _, kind, span = min(candidates, key=lambda c: c[0])
    facts.procedure = kind  # type: ignore[assignment]
    facts.procedure_span = span


# --- side ---------------------------------------------------------------------------------------------------------


_COMPARED_BEFORE = re.compile(r"(?:greater|worse|more)\s+than\s*$", re.IGNORECASE)
_COMPARED_AFTER = re.compile(r"\s*(?:greater|worse|more)\s+than\b", re.IGNORECASE)


def _side(ctx: TextContext, facts: Facts) -> None:
    found: dict[str, list[Span]] = {"left": [], "right": [], "bilateral": []}
    text = ctx.text
    matches = [(m, m.lastgroup) for m in ctx.finditer(lx.SIDE_WORDS)]
    matches += [(m, "left" if m.group("letter") == "L" else "right") for m in lx.SIDE_LETTER.finditer(text)]
    for m, side in sorted(matches, key=lambda x: x[0].start()):
        mention = ctx.mention(f"side:{side}", m)
        if mention.status != "affirmed":
            _discount(facts, mention)
            continue
        if ctx.section_kind(m.start()) in _NON_PROCEDURAL_SECTIONS:
            continue
        after = text[m.end() : m.end() + 30]
        before = text[max(0, m.start() - 20) : m.start()]
        if contains(lx.SIDE_NOT_PROCEDURAL, after.lstrip(), at_start=True) or contains(_COMPARED_BEFORE, before):
            continue
        if contains(lx.SIDE_AFTER_CONTRAST, text[max(0, m.start() - 60) : m.start()]):
            continue
        sentence_start, sentence_end = ctx.sentence(m.start())
        sentence = text[max(sentence_start, m.start() - 200) : min(sentence_end, m.end() + 200)]
        if not contains(lx.PROCEDURE_ANCHOR, sentence.replace(m.group(0), " ", 1)):
            continue
        if contains(_COMPARED_AFTER, after, at_start=True):
            continue
        found[side].append(_span(mention))
    if found["bilateral"] or (found["left"] and found["right"]):
        facts.side = "bilateral"
        facts.side_spans = sorted(found["bilateral"] + found["left"] + found["right"], key=lambda s: s.start)
    elif found["left"]:
        facts.side, facts.side_spans = "left", found["left"]
    elif found["right"]:
        facts.side, facts.side_spans = "right", found["right"]


# --- medications --------------------------------------------------------------------------------------------------

# Where one drug's amounts end: punctuation, a sentence's full stop (not a decimal point), joining words.
_DOSE_BOUNDARY = re.compile(
    r"[,;:()\r\n]|\.(?!\d)|\+|\bplus\b|\band\b|\bwith\b|\bw/|\bfollowed\s+by\b|\bthen\b|\bx\b", re.IGNORECASE
)
# An amount set off by a comma after a drug with none yet: "Depo-Medrol 40 mg/mL, 1 mL", "1% lidocaine, 2 mL per site".
_TRAILING_AMOUNT = re.compile(
    r"\s*,\s*(?P<amount>\d*\.?\d+\s*(?:mg|mcg|cc|ml|milliliters?)\b)"
    r"(?=\s*(?:[,;)\r\n]|\.(?!\d)|\band\b|$)|\s+(?:per|each|at\s+each|into\s+each|to\s+each|in\s+total|total)\b)",
    re.IGNORECASE,
)
_BARE_LEFT = re.compile(r"(?P<n>\d*\.?\d+)\s*(?:of\s+)?$")
_BARE_RIGHT = re.compile(r"^\s*(?P<n>\d*\.?\d+)(?!\s*(?:%|mg|mcg|cc|ml|units?|/))(?![\w.])", re.IGNORECASE)


def _window(ctx: TextContext, lo: int, hi: int, *, left: bool) -> str:
    chunk = ctx.text[lo:hi]
    if left:
        cut = 0
        for m in _DOSE_BOUNDARY.finditer(chunk):
            cut = m.end()
        return chunk[cut:]
    # "Triamcinolone (Kenalog) 40 mg": the closing parenthesis of a name in parentheses does not end the clause.
    skip = len(chunk) - len(chunk.lstrip(" )")) if chunk.lstrip(" ").startswith(")") else 0
    m = _DOSE_BOUNDARY.search(chunk, skip)
    return chunk[: m.start()] if m else chunk


def _medications(ctx: TextContext) -> list[Medication]:
    text = ctx.text
    drug_matches = ctx.finditer(lx.DRUG_PATTERN)
    meds: list[Medication] = []
    for i, m in enumerate(drug_matches):
        status = ctx.status(m.start(), m.end())
        if status != "affirmed":
            continue
        written = m.group("drug")
        generic, role = lx.DRUGS[written.lower()]
        prev_end = drug_matches[i - 1].end() if i else 0
        next_start = drug_matches[i + 1].start() if i + 1 < len(drug_matches) else len(text)
        left = _window(ctx, max(prev_end, m.start() - 45), m.start(), left=True)
        right = _window(ctx, m.end(), min(next_start, m.end() + 30), left=False)
        if right.startswith("-") and re.match(r"-\d", right):  # "Kenalog-40" names the product, not a dose
            right = right[3:]
        dose, concentration, volume = _amounts(left, right, role)
        if not (dose or volume):
            more = _TRAILING_AMOUNT.match(text, m.end() + len(right))
            if more and more.end() <= next_start:
                right = text[m.end() : more.end()]
                dose, concentration, volume = _amounts(left, right, role)
        lo = m.start() - len(left)
        hi = m.end() + len(right.rstrip())
        meds.append(
            Medication(
                name=generic,
                as_written=written,
                dose=dose,
                concentration=concentration,
                volume=volume,
                role=role,  # type: ignore[arg-type]
                span=span_of(ctx, lo + (len(left) - len(left.lstrip())), hi),
            )
        )
    return _dedupe_medications(meds)


def _unread_amounts(ctx: TextContext, meds: list[Medication]) -> list[Span]:
    # The medications' spans, merged into disjoint sorted intervals so that "is this amount inside one?" is a
    # bisect. It was `any(a <= pos < b for a, b in spans)`: amounts x medications, quadratic on a long list of
    # doses ("Kenalog 1 mg. Kenalog 2 mg. ..." took 98 s for 8,000 of them, 134 KB).
    starts: list[int] = []
    ends: list[int] = []
    for a, b in sorted((m.span.start, m.span.end) for m in meds if m.span):
        if starts and a <= ends[-1]:
            ends[-1] = max(ends[-1], b)
        else:
            starts.append(a)
            ends.append(b)

    def claimed(pos: int) -> bool:
        i = bisect.bisect_right(starts, pos) - 1
        return i >= 0 and pos < ends[i]

    out: list[Span] = []
    for pattern in (lx.MASS, lx.VOLUME):
        for m in ctx.finditer(pattern):
            if claimed(m.start()) or ctx.status(m.start(), m.end()) != "affirmed":
                continue
            # the same window a drug reads its dose from: if a drug stands in it, the amount is that drug's
            left = _window(ctx, max(0, m.start() - 45), m.start(), left=True)
            right = _window(ctx, m.end(), min(len(ctx.text), m.end() + 45), left=False)
            if lx.DRUG_PATTERN.search(left + " " + right) or lx.AMOUNT_EXPLAINED.search(left + m.group() + right):
                continue
            word = re.match(r"\s*(?:of\s+)?([A-Za-z][\w-]*)", ctx.text[m.end() : m.end() + 30])
            out.append(span_of(ctx, m.start(), m.end() + (word.end() if word else 0)))
    return sorted(out, key=lambda s: s.start)


def _amounts(left: str, right: str, role: str) -> tuple[str | None, str | None, str | None]:
    def last(pattern: re.Pattern[str], s: str):
        found = list(pattern.finditer(s))
        return found[-1] if found else None

    mass = last(lx.MASS, left) or lx.MASS.search(right)
    per_ml = lx.PER_ML.search(left + " " + right)
    volume = last(lx.VOLUME, left) or lx.VOLUME.search(right)
    percent = last(lx.PERCENT, left) or lx.PERCENT.search(right)
    dose = f"{_num(mass.group('n'))} {_unit(mass.group('unit'))}" if mass else None
    vol = f"{_num(volume.group('n'))} mL" if volume else None
    conc = f"{_num(percent.group('n'))}%" if percent else (f"{_num(per_ml.group('n'))} mg/mL" if per_ml else None)
    if per_ml and mass and per_ml.group("n") == mass.group("n"):
        dose = None  # "40 mg/mL" is a concentration, not an amount given
    # Dictation shorthand: "40 kenalog", "depo-medrol 80", "2cc 0.25 bupi". A bare number next to a steroid is its
    # dose in mg (the only unit steroids are dosed in); a bare decimal below 2 next to a local anesthetic is its
    # concentration in percent. Any other bare number is left unread rather than guessed.
    bare = _BARE_LEFT.search(left) or _BARE_RIGHT.search(right)
    if bare and not (mass or (percent and role == "anesthetic")):
        n = float(bare.group("n"))
        if role == "steroid" and not dose and n >= 1 and not (volume and bare.group("n") == volume.group("n")):
            dose = f"{_num(bare.group('n'))} mg"
        elif role == "anesthetic" and not conc and n < 2 and not (volume and bare.group("n") == volume.group("n")):
            conc = f"{_num(bare.group('n'))}%"
    return dose, conc, vol


def _num(n: str) -> str:
    return ("0" + n) if n.startswith(".") else n


def _unit(u: str) -> str:
    u = u.lower()
    return {"milligram": "mg", "milligrams": "mg", "microgram": "mcg", "micrograms": "mcg", "unit": "units"}.get(u, u)


def _dedupe_medications(meds: list[Medication]) -> list[Medication]:
    """Drop repeats (same drug, same dose text) and an undosed mention once a dosed one of that drug is kept.

    Bookkeeping per drug name keeps this linear: comparing each medication with every kept one (re-rendering
    its dose text each time) was quadratic in the number of dosed mentions."""
    out: list[Medication | None] = []
    doses: dict[str, set[str]] = {}  # drug name -> dose texts kept
    undosed: dict[str, tuple[int, str]] = {}  # drug name -> (place in out, dose text) of its kept undosed mention
    for med in meds:
        same = doses.setdefault(med.name, set())
        text = med.dose_text()
        if same and (not med.dosed or text in same):
            continue
        if med.dosed and med.name in undosed:  # at most one: an undosed mention is kept only as a drug's first
            place, old = undosed.pop(med.name)
            out[place] = None
            same.discard(old)
        if not med.dosed:
            undosed[med.name] = (len(out), text)
        same.add(text)
        out.append(med)
    return [m for m in out if m is not None]


# --- diagnoses, purpose, other facts -----------------------------------------------------------------------------

_DX_TEXT_END = re.compile(r"\.(?!\d)|[;,\r\n]")  # not the full stop inside a code such as M46.1
# A visible placeholder the drafter leaves for a missing fact ("[DIAGNOSIS NEEDED]"): never a fact itself.
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z -]*NEEDED\]")


def _diagnoses(ctx: TextContext) -> list[Diagnosis]:
    text = ctx.text
    out: list[Diagnosis] = []
    seen: set[str] = set()
    for m in lx.ICD10.finditer(text):
        code = m.group("code").upper()
        if code in seen or ctx.status(m.start(), m.end()) in ("negated", "historical"):
            continue
        seen.add(code)
        out.append(Diagnosis(code=code, text=icd10.title(code), billable=icd10.billable(code), span=span_of(ctx, *m.span())))
    placeholders = list(_PLACEHOLDER.finditer(text))
    placeholder_starts = [p.start() for p in placeholders]

    def in_placeholder(pos: int) -> bool:
        i = bisect.bisect_right(placeholder_starts, pos) - 1
        return i >= 0 and pos < placeholders[i].end()

    for m in ctx.finditer(lx.DIAGNOSIS_LABEL):
        if in_placeholder(m.start()):
            continue
        rest = text[m.end() : m.end() + 120]
        if re.match(r"\s*(?:\+|&|/|and\s+ther)", rest, re.IGNORECASE):
            continue  # "dx + therapeutic" states the purpose, not a diagnosis
        end = _DX_TEXT_END.search(rest)
        phrase = rest[: end.start()] if end else rest
        phrase = _dx_words(phrase)
        if len(phrase) >= 4 and phrase.lower() not in seen and re.search(r"[a-z]{3}", phrase, re.IGNORECASE):
            start = m.end() + rest.index(phrase)
            if _PLACEHOLDER.search(phrase) or ctx.in_instruction(start):
                continue  # a drafter's "[DIAGNOSIS NEEDED]", or words of an instruction to the tool, are not a diagnosis
            seen.add(phrase.lower())
            out.append(Diagnosis(text=phrase, span=span_of(ctx, start, start + len(phrase))))
    for m in ctx.finditer(lx.DIAGNOSIS_TERMS):
        if ctx.status(m.start(), m.end()) != "affirmed":
            continue
        if any(d.span and d.span.start <= m.start() < d.span.end for d in out) or m.group(0).lower() in seen:
            continue
        seen.add(m.group(0).lower())
        out.append(Diagnosis(text=m.group(0), span=span_of(ctx, *m.span())))
    return out


def _dx_words(segment: str) -> str:
    """The words of a labelled diagnosis without its ICD-10 codes: the first run between codes that has a word.
    Always a substring of the segment, so its span can be found ("sacroiliitis (M46.1)" → "sacroiliitis")."""
    pos = 0
    for code in [*lx.ICD10.finditer(segment), None]:
        piece = segment[pos : code.start() if code else len(segment)].strip(" ,:-()")
        if re.search(r"[a-z]{3}", piece, re.IGNORECASE):
            return piece
        pos = code.end() if code else pos
    return ""


def _purpose(ctx: TextContext, facts: Facts) -> None:
    diagnostic = [m for m in ctx.finditer(lx.PURPOSE_DIAGNOSTIC) if ctx.status(m.start(), m.end()) == "affirmed"]
    therapeutic = [m for m in ctx.finditer(lx.PURPOSE_THERAPEUTIC) if ctx.status(m.start(), m.end()) == "affirmed"]
    if diagnostic and therapeutic:
        facts.purpose = "diagnostic_and_therapeutic"
        first = min(diagnostic[0].start(), therapeutic[0].start())
        last = max(diagnostic[0].end(), therapeutic[0].end())
        facts.purpose_span = span_of(ctx, first, last) if last - first < 60 else span_of(ctx, *diagnostic[0].span())
    elif diagnostic:
        facts.purpose, facts.purpose_span = "diagnostic", span_of(ctx, *diagnostic[0].span())
    elif therapeutic:
        facts.purpose, facts.purpose_span = "therapeutic", span_of(ctx, *therapeutic[0].span())


# A phrase that negates itself: "images were not saved", "placement could not be verified", "images not retained".
_INNER_NEGATION = re.compile(r"\b(?:not|never|no|without|w/o|unable|unsuccessful(?:ly)?)\b|n't\b", re.IGNORECASE)


def _first_affirmed(ctx: TextContext, pattern: re.Pattern[str], kind: str, facts: Facts) -> Span | None:
    for m in ctx.scan(pattern):
        mention = ctx.mention(kind, m)
        if mention.status == "affirmed" and _INNER_NEGATION.search(mention.text):
            mention = dataclasses.replace(mention, status="negated")  # "images were not saved"
        if mention.status == "affirmed":
            return _span(mention)
        _discount(facts, mention)
    return None


def _pain_scores(ctx: TextContext, facts: Facts) -> None:
    scores = list(lx.PAIN_SCORE.finditer(ctx.text))
    for i, m in enumerate(scores):
        before = ctx.text[max(0, m.start() - 30) : m.start()]
        fact = Fact(value=f"{m.group('score')}/10", span=span_of(ctx, *m.span()))
        post = lx.PAIN_POST.search(before) and not re.search(r"pre\w*\W*$", before, re.IGNORECASE)
        if post and facts.pain_pre is not None and facts.pain_post is None:
            facts.pain_post = fact
        elif facts.pain_pre is None and not (post and i > 0):
            facts.pain_pre = fact
        elif facts.pain_post is None:
            facts.pain_post = fact


def _complications(ctx: TextContext, facts: Facts) -> None:
    m = ctx.search(lx.COMPLICATIONS_NONE)
    if m:
        facts.complications = Fact(value="none", span=span_of(ctx, *m.span()))
        return
    for m in ctx.scan(lx.COMPLICATION_EVENT):
        if ctx.status(m.start(), m.end()) == "affirmed":
            facts.complications = Fact(value=m.group(0), span=span_of(ctx, *m.span()))
            return


def _unique_facts(ctx: TextContext, pattern: re.Pattern[str], kind: str) -> list[Fact]:
    out: dict[str, Fact] = {}
    for m in ctx.finditer(pattern):
        value = re.sub(r"\s+", " ", m.group(kind)).strip()
        key = value.lower().rstrip("s")
        if key not in out and ctx.status(m.start(), m.end()) == "affirmed":
            out[key] = Fact(value=value, span=span_of(ctx, *m.span(kind)))
    return list(out.values())
