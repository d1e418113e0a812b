"""Metamorphic edits over the hand-written family notes (evals/validator_families.jsonl, tags[1] = family).

Same contract as generators.py (SI joint): a "break" edit removes or contradicts one fact the claimed code needs,
so the verdict must be "not supported"; a "keep" edit rewrites the note without changing a fact, so it must stay
supported. The generator reads the notes with its own regexes and a small table of what each code needs
(NEEDS below, written from the CPT descriptors, not read from notedraft's rule packs): it is the measuring stick.

Seeds: every supported family case, plus each not-supported case whose expected suggestion names other codes (the
note is then a seed for the suggested claim, e.g. an odd/even trap note with the code it does support). Every
random choice comes from random.Random(f"{seed}:{seed_id}"); `per` caps the phrasings per category and seed.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .generators import (
    CHECKBOX, CONSIDERED, COUNTERFACTUAL, DRUG_NEG_TAILS, DRUGS_NEG_TAILS, FAILURE, HEDGE, NEG_CUES, NEG_FORMS,
    QUESTION, REQUEST, UNICODE_NOT, Generated, Variant, _pick, _tidy,
)

EVALS = Path(__file__).resolve().parents[2] / "evals"
FAMILY_CASES = EVALS / "validator_families.jsonl"

# What each code needs of the imaging (CPT descriptors): "image" fluoroscopy or CT named and used; "ultrasound";
# "none" (the code is the no-imaging one: imaging affirmed makes it the wrong code); "no_us" (any guidance but
# ultrasound: ultrasound makes it the US code); None: imaging is included "when performed", either way.
NEEDS = {
    **dict.fromkeys(["62321", "62323", "64479", "64480", "64483", "64484", "64490", "64491", "64492", "64493",
                     "64494", "64495", "64633", "64634", "64635", "64636", "64625", "64451", "77002", "27096"],
                    "image"),
    **dict.fromkeys(["0228T", "0229T", "0230T", "0231T", "0213T", "0214T", "0215T", "0216T", "0217T", "0218T",
                     "20604", "20606", "20611"], "ultrasound"),
    **dict.fromkeys(["62320", "62322"], "none"),
    **dict.fromkeys(["20600", "20605", "20610"], "no_us"),
}
# Codes whose descriptor bills an injectate (a dose or volume must be documented); ablations do not.
INJECTS = {"62320", "62321", "62322", "62323", "64479", "64480", "64483", "64484", "0228T", "0229T", "0230T",
           "0231T", "64490", "64491", "64492", "64493", "64494", "64495", "0213T", "0214T", "0215T", "0216T",
           "0217T", "0218T", "64451", "64454", "20600", "20604", "20605", "20606", "20610", "20611", "20552",
           "20553", "27096"}
# Per-level codes: the add-on line one more level would bill (None: the code bills "third and any additional").
NEXT_LEVEL = {"64483": "64484", "64484": "64484", "64479": "64480", "64480": "64480", "0228T": "0229T",
              "0229T": "0229T", "0230T": "0231T", "0231T": "0231T", "64490": "64491", "64491": "64492",
              "64492": None, "64493": "64494", "64494": "64495", "64495": None, "0213T": "0214T", "0214T": "0215T",
              "0215T": None, "0216T": "0217T", "0217T": "0218T", "0218T": None, "64633": "64634",
              "64634": "64634", "64635": "64636", "64636": "64636"}
LEVELED_FAMILIES = {"epidural_interlaminar", "epidural_transforaminal", "facet", "facet_rfa"}

MOD = {
    "fluoroscopy": r"fluoroscop\w*|\bfluoro\b|\bC-arm\b|image[- ]intensifier",
    "ct": r"(?-i:\bCT\b)|computed tomograph\w*",
    "ultrasound": r"ultrasound\w*|(?-i:\bUS\b)|sonograph\w*",
}
NAMES = {"fluoroscopy": ["Fluoroscopy", "Fluoroscopic guidance", "C-arm"], "ct": ["CT", "CT guidance"],
         "ultrasound": ["Ultrasound", "Ultrasound guidance", "US"]}
# "under fluoroscopic guidance", "under real-time ultrasound", "without fluoroscopy"
GUIDE_PHRASE = r"\s*,?\s*\b(?:under|with|using|without|via)\s+(?:real[- ]time\s+)?(?:{m})(?:[- ]guid(?:ed|ance))?" \
               r"(?:\s+(?:guidance|control|imaging))?"
LEVEL = r"\b[CTLS]\d(?:-[CTLS]?\d)?\b"
LEVEL_LIST = re.compile(rf"(?:{LEVEL})(?:(?:,\s*|,?\s+and\s+)(?:{LEVEL}))*")
SIDE = re.compile(r"\b(?:left|right|bilateral|Left|Right|Bilateral|LEFT|RIGHT|BILATERAL)\b")
DOSE = re.compile(r"\b\d+(?:\.\d+)?\s*(?:mg|mL|ml|cc|%)(?![A-Za-z])")
DRUG = re.compile(r"triamcinolone|kenalog|methylprednisolone|depo-?medrol|dexamethasone|decadron|betamethasone|"
                  r"celestone|bupivacaine|marcaine|lidocaine|xylocaine|ropivacaine", re.I)
MUSCLES = ["trapezius", "rhomboid", "levator scapulae", "splenius capitis", "infraspinatus"]
PLANNED = ["Consult note. Recommendation (not performed today): {n}\nThe patient will be scheduled for this procedure.",
           "PLAN: {n}\nThis will be scheduled; nothing was performed today.",
           "Pre-procedure planning note, procedure not yet performed. Planned: {n}"]
HISTORY = ["PAST PROCEDURES (2022, not today): {n}\nToday: follow-up visit only; no procedure was performed.",
           "HISTORY: In 2021 the patient had the following procedure: {n}\nNo procedure today.",
           "Prior operative report, copied for reference (procedure done last year): {n}\nNo injection today."]
RELOCATED = ["PLAN: repeat the procedure under {m} if relief is short-lived.",
             "HISTORY: a prior injection was done under {m} in 2023.",
             "Recommendations: consider {m} guidance next time."]
QUOTED = ['Per payer policy: "This procedure must be performed under {m} guidance."',
          "The LCD states: 'image guidance ({m}) is required for coverage.'"]
BOILER_BEFORE = ["Informed consent was obtained after discussing risks including bleeding, infection and nerve injury.",
                 "Time-out performed: correct patient, procedure and site verified.",
                 "Vitals: BP 128/80, HR 72, SpO2 98% on room air. Allergies: NKDA."]
BOILER_AFTER = ["The patient tolerated the procedure well and was discharged home in stable condition.",
                "Post-procedure instructions were given; follow up in 2 weeks.",
                "Radial pulses 2/4 bilateral."]
ABBREV = [(r"under fluoroscopic guidance", "under fluoro"), (r"fluoroscopic guidance", "C-arm guidance"),
          (r"\bultrasound\b", "US"), (r"(?i)\btransforaminal epidural steroid injection\b", "TFESI"),
          (r"(?i)\binterlaminar epidural steroid injection\b", "ILESI"),
          (r"(?i)\bepidural steroid injection\b", "ESI"), (r"(?i)\bradiofrequency ablation\b", "RFA"),
          (r"\bwith\b", "w/"), (r"(?<=\d) ?mL\b", " cc"), (r"\bBilateral\b", "B/L"), (r"\bbilateral\b", "B/L"),
          (r"\bNo complications\b", "No cx"), (r"(?i)\bdiagnosis\b", "Dx"), (r"\bacromioclavicular\b", "AC")]


@dataclass(frozen=True)
class FamilySeed:
    id: str
    family: str
    note: str
    codes: tuple[str, ...]
    payer: str | None = None

    @property
    def bases(self) -> list[str]:
        return [c.split("-")[0] for c in self.codes]

    @property
    def modifiers(self) -> set[str]:
        return {m for c in self.codes for m in c.split("-")[1:]}

    @property
    def needs(self) -> set[str]:
        return {NEEDS[b] for b in self.bases if NEEDS.get(b)}

    def modality(self) -> str | None:
        """The modality the claim needs established, when the note names it."""
        for mod in ("ct", "fluoroscopy", "ultrasound"):
            if re.search(MOD[mod], self.note, re.I) and not re.search(rf"\bwithout\s+(?:{MOD[mod]})", self.note,
                                                                       re.I):
                if ("image" in self.needs and mod != "ultrasound") or ("ultrasound" in self.needs
                                                                      and mod == "ultrasound"):
                    return mod
        return None


def family_seeds(path: Path = FAMILY_CASES, families: set[str] | None = None) -> list[FamilySeed]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    out: dict[str, FamilySeed] = {}
    for r in rows:
        if r["expected"]["supported"] and r["note"] not in out:
            out[r["note"]] = FamilySeed(r["id"], r["tags"][1], r["note"], tuple(r["codes"]), r.get("payer"))
    for r in rows:
        sugg = r["expected"].get("suggested_codes") or []
        if not r["expected"]["supported"] and sugg and r["note"] not in out and not r.get("payer"):
            out[r["note"]] = FamilySeed(r["id"] + "~suggested", r["tags"][1], r["note"], tuple(sugg), None)
    seeds = list(out.values())
    return [s for s in seeds if families is None or s.family in families]


# --- helpers ------------------------------------------------------------------------------------------------------
def _units(note: str) -> list[str]:
    return re.split(r"((?<=[.!?])[ \t]+|\r?\n)", note)


def _strip_modality(note: str, mod: str) -> str | None:
    """The note with every mention of `mod` removed (phrase-level; a sentence about it alone is dropped)."""
    word = MOD[mod]
    text = re.sub(GUIDE_PHRASE.format(m=word), "", note, flags=re.I)
    parts = _units(text)
    for i in range(0, len(parts), 2):
        if re.search(word, parts[i], re.I):
            parts[i] = ""
    text = _tidy("".join(parts))
    if re.search(word, text, re.I) or text == _tidy(note):
        return None
    return text


def _insert_after_procedure(note: str, sentence: str) -> str:
    lines = note.split("\n")
    at = next((i for i, ln in enumerate(lines) if ln.upper().startswith("PROCEDURE")), 0)
    lines.insert(at + 1, sentence)
    return "\n".join(lines)


def _fill(t: str, name: str) -> str:
    keep = name.isupper() or name[:2] in ("CT", "US") or name[1:2] == "-"
    low = name if keep else name[0].lower() + name[1:]
    return t.format(M=name, m=low).replace(" guidance guidance", " guidance")


# --- break edits --------------------------------------------------------------------------------------------------
def guidance_breaks(s: FamilySeed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str, tuple]]:
    needs = s.needs
    if "none" in needs:  # the no-imaging code: imaging affirmed (or "without" turned round) makes it the wrong code
        for t in ("Fluoroscopic guidance was used to position the needle.", "Under fluoroscopy the needle was advanced.",
                  "CT guidance was used for needle placement."):
            yield "guidance.affirmed_for_no_imaging_code", t, _insert_after_procedure(s.note, t), s.codes
        flipped = re.sub(r"\bwithout fluoroscopy\b", "under fluoroscopic guidance", s.note)
        if flipped != s.note:
            yield "guidance.affirmed_for_no_imaging_code", "without → under fluoroscopy", flipped, s.codes
        return
    if "no_us" in needs and not ({"image", "ultrasound"} & needs):
        if re.search(MOD["ultrasound"], s.note, re.I):
            return
        t = "The needle was placed under ultrasound guidance; the needle tip was seen entering the joint."
        yield "guidance.swapped_modality", t, _insert_after_procedure(s.note, t), s.codes
        return
    mod = s.modality()
    if mod is None or not ({"image", "ultrasound"} & needs):
        return
    base = _strip_modality(s.note, mod)
    if base is None:
        return
    yield "guidance.removed", f"{mod} removed", base, s.codes
    names = NAMES[mod] if per <= 0 else rng.sample(NAMES[mod], min(2, len(NAMES[mod])))

    def phr(category: str, templates: list[str]):
        made = sorted({_fill(t, n) for n in names for t in templates})
        for t in _pick(rng, made, per):
            yield category, t, _insert_after_procedure(base, t), s.codes

    yield from phr("guidance.negated", [f"{{M}} {c}." for c in NEG_CUES] + NEG_FORMS)
    yield from phr("guidance.failure", FAILURE)
    yield from phr("guidance.conditional", COUNTERFACTUAL)
    yield from phr("guidance.considered", CONSIDERED)
    yield from phr("guidance.hedge", HEDGE)
    yield from phr("guidance.request", REQUEST)
    yield from phr("guidance.question", QUESTION)
    yield from phr("guidance.unicode", [f"{{M}} was {v} used." for v in UNICODE_NOT.values()])
    yield from phr("guidance.checkbox", CHECKBOX)
    yield from phr("guidance.quoted", QUOTED)
    for t in _pick(rng, sorted({_fill(r, n) for n in names for r in RELOCATED}), per):
        yield "guidance.relocated", t, _tidy(base + "\n" + t), s.codes
    # the other modality named instead (fluoro ↔ ultrasound): the claim is now the other family code
    other = "ultrasound" if mod != "ultrasound" else "fluoroscopic"
    swapped = re.sub(MOD[mod], other if mod != "ultrasound" else "fluoroscopy", s.note, flags=re.I)
    swapped = swapped.replace("fluoroscopy guidance", "fluoroscopic guidance")
    if swapped != s.note:
        yield "guidance.swapped_modality", f"{mod} → {other}", swapped, s.codes
    t = f"The needle was placed under {other} guidance."
    yield "guidance.conflict", t, _insert_after_procedure(s.note, t), s.codes


def level_breaks(s: FamilySeed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str, tuple]]:
    if s.family not in LEVELED_FAMILIES or not re.search(LEVEL, s.note):
        return
    # levels removed everywhere (with the "at" before them); for an interlaminar code a region word left in the
    # procedure lines would still place it: no clean edit then
    stripped = _tidy(re.sub(rf"\s*\bat\s+(?={LEVEL})", " ", s.note))
    stripped = _tidy(re.sub(rf"\s*{LEVEL_LIST.pattern}\s*", " ", stripped))
    stripped = re.sub(r"(?m) +([.,;])", r"\1", stripped)
    body = "\n".join(ln for ln in stripped.split("\n") if not ln.upper().startswith("DIAGNOSIS"))
    if s.family != "epidural_interlaminar" or not re.search(r"lumbar|cervical|thoracic|caudal|sacral", body, re.I):
        yield "levels.removed", "levels removed", stripped, s.codes
    # one more level on the claim than the note documents
    last = s.codes[-1]
    base, *mods = last.split("-")
    nxt = NEXT_LEVEL.get(base)
    if nxt:
        line = "-".join([nxt, *mods])
        yield "levels.extra_line", f"+{line} on the claim", s.note, s.codes + (line,)
    # the note's levels turned into another region's (lumbar L4-L5 ↔ cervical C4-C5), claim kept
    flip = {"L": "C", "S": "T", "C": "L", "T": "L"}
    other = re.sub(r"\b([CTLS])(\d)(?:-([CTLS])?(\d))?\b",
                   lambda m: flip[m.group(1)] + m.group(2) + ("-" + (flip[m.group(3)] if m.group(3) else "")
                                                              + m.group(4) if m.group(4) else ""), s.note)
    other = re.sub(r"(?i)\b(lumbar|cervical)\b", lambda m: {"lumbar": "cervical", "cervical": "lumbar"}[
        m.group(1).lower()].capitalize() if m.group(1)[0].isupper() else {"lumbar": "cervical", "cervical": "lumbar"}[
        m.group(1).lower()], other)
    other = re.sub(r"\bM54\.16\b", "M54.12", other) if other != s.note else other
    if other != s.note and not re.search(r"caudal|sacral hiatus", s.note, re.I):
        yield "levels.other_region", "levels moved to the other region", other, s.codes


def side_breaks(s: FamilySeed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str, tuple]]:
    mods = s.modifiers & {"LT", "RT", "50"}
    if not mods or not SIDE.search(s.note):
        return
    gone = _tidy(re.sub(r"\s*\b(?:left|right|bilateral)\b", "", s.note, flags=re.I))
    gone = re.sub(r"(?m)^(\w+: )([a-z])", lambda m: m.group(1) + m.group(2).upper(), gone)
    if not SIDE.search(gone):
        yield "side.removed", "side words removed", gone, s.codes
    if mods & {"LT", "RT"}:
        sw = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}
        swapped = re.sub(r"\b(left|right|Left|Right|LEFT|RIGHT)\b", lambda m: sw[m.group(1)], s.note)
        yield "side.swapped", "every side swapped", swapped, s.codes
        hits = list(re.finditer(r"\b(left|right|Left|Right)\b", s.note))
        if len(hits) >= 2:
            first = hits[0].end()
            body = re.sub(r"\b(left|right|Left|Right)\b", lambda m: sw[m.group(1)], s.note[first:])
            yield "side.conflict", "body side swapped", s.note[:first] + body, s.codes
        fifty = tuple(c.split("-")[0] + "-50" if c.split("-")[1:] else c for c in s.codes)
        yield "side.bilateral_claimed", "one side documented, -50 claimed", s.note, fifty
    if "50" in mods:
        t = "The right side was not performed (vasovagal episode); only the left side was injected."
        yield "side.one_side_aborted", t, _tidy(s.note + "\n" + t), s.codes


def drug_breaks(s: FamilySeed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str, tuple]]:
    if not INJECTS & set(s.bases) or not DRUG.search(s.note):
        return
    parts = _units(s.note)
    drug_units = [i for i in range(0, len(parts), 2) if DRUG.search(parts[i])]
    # the injectate's doses removed (every dose in a sentence that names a drug)
    undosed = list(parts)
    for i in drug_units:
        undosed[i] = re.sub(r"\s+of\b", "", DOSE.sub("", parts[i]))
        undosed[i] = re.sub(r"\s{2,}", " ", undosed[i]).replace(" ,", ",").replace(" .", ".")
    text = _tidy("".join(undosed))
    if not any(DOSE.search(_units(text)[i]) for i in drug_units):
        yield "drug.dose_missing", "doses removed", text, s.codes
    # not injected
    verb = re.compile(r"\s*\b(?:(?:were|was)\s+)?(?:injected|administered|given)\b(?:\s+(?:into|at)\s+each\s+"
                      r"[\w ]+)?\.?\s*$", re.I)
    for n in range(per if per > 0 else len(DRUG_NEG_TAILS)):
        made = list(parts)
        for i in drug_units:
            tails = DRUGS_NEG_TAILS if len(DRUG.findall(parts[i])) >= 2 else DRUG_NEG_TAILS
            core = verb.sub("", parts[i].rstrip(" .")).rstrip(" .,;")
            core = re.sub(r"^DESCRIPTION:\s*", "", core) if core.startswith("DESCRIPTION:") else core
            made[i] = core + tails[(n + rng.randrange(len(tails))) % len(tails)]
        if any(re.search(r"^(?:PROCEDURE|DIAGNOSIS)", parts[i]) for i in drug_units):
            return  # the drug is named in the title line: negating it there is no clean edit
        yield "drug.not_injected", f"negation tail #{n}", _tidy("".join(made)), s.codes


def procedure_breaks(s: FamilySeed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str, tuple]]:
    flat = s.note.replace("\n", " ")
    for t in _pick(rng, PLANNED, per):
        yield "procedure.planned_only", t.split(":")[0], t.format(n=flat), s.codes
    for t in _pick(rng, HISTORY, per):
        yield "procedure.historical", t.split(":")[0], t.format(n=flat), s.codes
    yield ("procedure.aborted", "aborted before anything was injected",
           _tidy(re.sub(r"\b(?:was|were) injected\b", "was drawn up but not injected", s.note) +
                 "\nThe procedure was aborted before any needle was placed; nothing was injected or lesioned."), s.codes)


def site_breaks(s: FamilySeed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str, tuple]]:
    bases = set(s.bases)
    if bases & {"20552", "20553"}:
        m = re.search(r"found in the (.+?)\.", s.note)
        if m:
            side = re.match(r"(left|right) ", m.group(1))
            sd = side.group(0) if side else ""
            named = [x for x in MUSCLES if x in m.group(1)]
            if "20553" in bases and len(named) >= 3:
                two = f"{sd}{named[0]} and {sd}{named[1]}"
                yield "muscles.fewer", "two muscles", s.note.replace(m.group(1), two), s.codes
            if "20552" in bases:
                extra = next(x for x in MUSCLES if x not in named)
                many = ", ".join(f"{sd}{x}" for x in named) + f" and {sd}{extra}"
                many = re.sub(r", (?=[^,]*$)", ", ", many)
                yield "muscles.more", "a third muscle", s.note.replace(m.group(1), many), s.codes
    body = "\n".join(ln for ln in s.note.split("\n") if not ln.upper().startswith("DIAGNOSIS"))
    if bases & {"20610", "20611"}:  # a major joint named as a small one everywhere the procedure is described
        joint = re.search(r"\b(?:hip joint|knee|shoulder|hip)\b", body)
        if joint:
            yield "site.other_class", f"{joint[0]} → index finger PIP joint", re.sub(
                rf"\b{joint[0]}\b", "index finger PIP joint", s.note), s.codes
    if bases & {"20600", "20604", "20605", "20606"}:
        yield "site.other_class", "→ knee", re.sub(
            r"\b(?:index finger PIP joint|wrist|elbow|acromioclavicular joint)\b", "knee", s.note), s.codes
    if "64454" in bases:
        yield ("technique.other", "block → radiofrequency ablation",
               s.note.replace("nerve block", "nerve radiofrequency ablation").replace(
                   "Bupivacaine 0.5% 1 mL at each nerve.", "Lesions at 80 degrees for 90 seconds at each nerve; "
                                                             "bupivacaine 0.5% 1 mL at each nerve."), s.codes)
    if "64624" in bases:
        yield ("technique.other", "ablation → block",
               s.note.replace("nerve radiofrequency ablation", "nerve block").replace(
                   "Lesions at 80 degrees for 90 seconds at", "Bupivacaine 0.5% 1 mL was injected at"), s.codes)


BREAKERS = [("guidance", guidance_breaks), ("levels", level_breaks), ("side", side_breaks), ("drug", drug_breaks),
            ("procedure", procedure_breaks), ("site", site_breaks)]


# --- keep edits ---------------------------------------------------------------------------------------------------
def _level_forms(note: str) -> Iterator[tuple[str, str]]:
    """The same levels written another way: 'L4-L5' → 'L4-5', 'L4/5', 'L4–L5', 'L4-L5 and L5-S1' → 'L4-5, L5-S1'."""
    pair = re.compile(r"\b([CTL])(\d)-([CTLS])(\d)\b")
    if not pair.search(note):
        return
    yield "L4-L5 → L4-5", pair.sub(lambda m: f"{m[1]}{m[2]}-{m[4]}" if m[1] == m[3] else m[0], note)
    yield "L4-L5 → L4/5", pair.sub(lambda m: f"{m[1]}{m[2]}/{m[4]}" if m[1] == m[3] else f"{m[1]}{m[2]}/{m[3]}{m[4]}",
                                   note)
    yield "L4-L5 → L4–L5 (en dash)", pair.sub(lambda m: f"{m[1]}{m[2]}\u2013{m[3]}{m[4]}", note)
    yield "L4-L5 → L4 - L5", pair.sub(lambda m: f"{m[1]}{m[2]} - {m[3]}{m[4]}", note)
    if re.search(rf"{LEVEL} and {LEVEL}", note):
        yield "and → comma list", re.sub(rf"({LEVEL}), ({LEVEL}) and ({LEVEL})", r"\1, \2, \3",
                                         re.sub(rf"(?<![,\w-])({LEVEL}) and ({LEVEL})", r"\1, \2", note))


def keep_edits(s: FamilySeed, rng: random.Random, per: int) -> Iterator[tuple[str, str]]:
    note = s.note
    yield from _level_forms(note)
    yield "Title Case headings", re.sub(r"(?m)^([A-Z][A-Z /-]+):", lambda m: m.group(1).title() + ":", note)
    for t in _pick(rng, BOILER_BEFORE, per):
        yield "boilerplate before", t + "\n" + note
    for t in _pick(rng, BOILER_AFTER, per):
        yield "boilerplate after", note.rstrip() + "\n" + t
    lines = note.split("\n")
    if lines and lines[0].upper().startswith("DIAGNOSIS"):
        yield "diagnosis moved to the end", "\n".join(lines[1:] + lines[:1])
    done = set()
    for pat, rep in ABBREV:
        text = re.sub(pat, rep, note)
        if text != note and text not in done:
            done.add(text)
            yield f"{pat} → {rep}", text
    every = note
    for pat, rep in ABBREV[:1] + ABBREV[2:]:
        every = re.sub(pat, rep, every)
    if every != note and every not in done:
        yield "all abbreviations", every
    yield "dictated run-on", re.sub(r"(?<=[a-z0-9)%])\.\s+(?=[A-Z])", ", ", re.sub(r"\.?\n", ", ", note))
    yield "MTSamples sections", ",".join(re.sub(r"(?m)^([A-Za-z][A-Za-z /-]+):\s*", r"\1:,  ", note).split("\n"))
    yield "CRLF and padding", "  " + note.replace("\n", "  \r\n") + "\r\n"


def _category(label: str) -> str:
    if label.startswith(("L4-L5", "and → comma")):
        return "keep.level_spelling"
    if "heading" in label.lower():
        return "keep.heading_case"
    if label.startswith("boilerplate"):
        return "keep.boilerplate"
    if label.startswith("diagnosis moved"):
        return "keep.reorder"
    if label in ("dictated run-on", "MTSamples sections"):
        return "keep.run_together"
    if label.startswith("CRLF"):
        return "keep.whitespace"
    return "keep.abbreviate"


def generate(seeds: list[FamilySeed], per: int = 3, seed: int = 17) -> Generated:
    out = Generated()
    for s in seeds:
        rng = random.Random(f"{seed}:{s.id}")
        seen = {(s.note, s.codes)}
        for fact, fn in BREAKERS:
            produced = False
            for category, edit, text, codes in fn(s, rng, per):
                if (text, tuple(codes)) in seen:
                    continue
                seen.add((text, tuple(codes)))
                produced = True
                out.variants.append(Variant(s.id, "break", category, fact, edit, text, tuple(codes), s.payer))
            if not produced:
                out.not_applicable[fact] = out.not_applicable.get(fact, 0) + 1
        for edit, text in keep_edits(s, rng, per):
            if (text, s.codes) in seen:
                continue
            seen.add((text, s.codes))
            out.variants.append(Variant(s.id, "keep", _category(edit), "", edit, text, s.codes, s.payer))
    return out
