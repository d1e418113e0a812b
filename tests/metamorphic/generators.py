"""Metamorphic edits over SI joint injection notes: meaning-CHANGING edits that break one fact a claimed code
needs (the verdict must flip to "not supported"), and meaning-PRESERVING edits (the verdict must hold).

The generator reads notes with its own small regexes, never with notedraft's reader: it is the measuring stick for
that reader, so sharing code with it would let a reader bug hide itself. Everything is deterministic; where a
category has more phrasings than a run needs, a `random.Random` seeded from the seed note's id picks them.

A seed is a ValidatorCase whose expected verdict is supported. An edit that cannot be applied cleanly to a seed
(no fact of that kind in it, or the fact could not be removed everywhere) is skipped and counted as "n/a", never
guessed: a variant's expectation must be what a careful coder would say of its text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from notedraft.evals.dataset import ValidatorCase

# --- what the generator can see in a note -------------------------------------------------------------------------
MODALITY_WORDS = {
    "fluoroscopy": r"fluoroscop\w*|\bfluoro\b|\bC-arm\b|image[- ]intensifier|\bx-ray\b",
    "ct": r"(?-i:\bCT\b)|computed tomograph\w*",
    "ultrasound": r"ultrasound\w*|(?-i:\bUS\b)|sonograph\w*|\bin-plane\b|out-of-plane|curvilinear|\bprobe\b|\bsono\b",
}
# Phrases that name the modality inside a sentence that also says other things; removing them keeps the rest.
_MOD_PHRASES = [
    r",?\s*(?:under|with|using|via)\s+(?:real[- ]time\s+)?(?:{m})(?:[- ]guid(?:ed|ance))?"
    r"(?:\s+(?:guidance|control|imaging|visuali[sz]ation))?",
    r"(?:{m})[- ]guided,?\s*",
    r"\s*[—-]\s*(?:{m})\s+guidance",
    r"(?:{m})\s+(?:was\s+)?used[;,]?\s*",
    r",\s*(?:{m})\s*,",
]
SIDE_WORD = re.compile(r"\b(left|right|Left|Right|LEFT|RIGHT|L|R|LT|RT)\b(?=[\s-]*(?:SI|S\.I\.|sacro|side|SIJ|joint|"
                       r"sided|jt|inj)|[,.;:)]|\s*$)")
ANY_SIDE = re.compile(r"\b(?:left|right|bilateral(?:ly)?|bilat|B/L|both|each|L|R)\b", re.I)
CONFIRM = re.compile(r"confirm|outlin|arthrogra|spread|entering|verif|needle tips?\b|visuali[sz]|seen\b|flow\b",
                     re.I)
DOSE = re.compile(r"\b\d+(?:\.\d+)?\s*(?:mg|mL|ml|cc|%)(?![A-Za-z])")
DRUG = re.compile(r"kenalog|triamcinolone|depo-?medrol|methylprednisolone|dexamethasone|decadron|celestone|"
                  r"betamethasone|bupivacaine|bupi\b|marcaine|sensorcaine|lidocaine|lido\b|xylocaine|ropivacaine|"
                  r"naropin", re.I)
ICD = re.compile(r"\b[A-TV-Z][0-9]{2}(?:\.[0-9A-Z]{1,4})?\b")
DX_WORDS = re.compile(r"\bdiagnos[ie]s\b|\bdx\s*:|sacroiliitis|dysfunction|arthropathy|spondyl", re.I)
PURPOSE = re.compile(r"therapeutic|diagnostic|\bdx\s*(?:\+|and|&|/)\s*(?:tx|therap)|\bpurpose\b", re.I)
IMAGES = re.compile(r"\bimages?\b|\bPACS\b|\bstills?\b|archiv|\bsaved\b|\bstored\b|\brecorded\b", re.I)
CONTEXT_SECTION = re.compile(r"\b(?:history|hpi|plan|prior|previous|addendum|impression)\b", re.I)

_SPLIT = re.compile(r"((?<=[.!?])[ \t]+|\r?\n)")


def split_units(text: str) -> list[str]:
    """[unit, sep, unit, sep, ..., unit]: sentences and lines with their separators; ''.join() gives the text back."""
    return _SPLIT.split(text)


def join_units(parts: list[str]) -> str:
    return "".join(parts)


def _cap(s: str) -> str:
    s = s.lstrip(" ,;")
    return s[:1].upper() + s[1:] if s else s


def _swap_side(m: re.Match) -> str:
    w = m.group(1)
    table = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT",
             "L": "R", "R": "L", "LT": "RT", "RT": "LT"}
    return table[w]


@dataclass(frozen=True)
class Seed:
    id: str
    note: str
    codes: tuple[str, ...]
    guidance: str | None
    side: str | None
    payer: str | None = None

    @property
    def bases(self) -> set[str]:
        return {c.split("-")[0] for c in self.codes}

    @property
    def modifiers(self) -> set[str]:
        return {m for c in self.codes for m in c.split("-")[1:]}

    @property
    def modality(self) -> str | None:
        """The imaging the claim needs established: fluoro/CT for 27096, ultrasound for 76942 (and for 20552 when
        the seed is ultrasound-guided, its confirmation)."""
        if "27096" in self.bases:
            if self.guidance in ("fluoroscopy", "ct"):
                return self.guidance
            return "ct" if re.search(MODALITY_WORDS["ct"], self.note) else "fluoroscopy"
        if "76942" in self.bases or self.guidance == "ultrasound":
            return "ultrasound"
        return None

    @property
    def needs_confirmation(self) -> bool:
        return self.modality is not None

    @property
    def unilateral(self) -> bool:
        return self.side in ("left", "right")


def seeds_from_cases(cases: list[ValidatorCase]) -> list[Seed]:
    return [Seed(c.id, c.note, tuple(c.codes), c.expected.guidance, c.expected.side, c.payer)
            for c in cases if c.expected.supported and c.source == "hand"]


@dataclass(frozen=True)
class Variant:
    seed_id: str
    kind: str  # "break": the verdict must be not supported; "keep": it must stay supported
    category: str  # e.g. "guidance.negated"
    fact: str  # the fact a break edit breaks; "" for keep
    edit: str  # the phrase or operation, for the report
    text: str
    codes: tuple[str, ...]
    payer: str | None = None

    @property
    def expected_supported(self) -> bool:
        return self.kind == "keep"


@dataclass
class Generated:
    variants: list[Variant] = field(default_factory=list)
    not_applicable: dict[str, int] = field(default_factory=dict)  # category → seeds it could not be applied to


# --- thesaurus ----------------------------------------------------------------------------------------------------
NAMES = {
    "fluoroscopy": ["Fluoroscopy", "Fluoroscopic guidance", "Fluoro", "C-arm", "Image intensifier"],
    "ct": ["CT", "CT guidance", "Computed tomography"],
    "ultrasound": ["Ultrasound", "Ultrasound guidance", "US", "Sonographic guidance"],
}
SUBSTITUTES = {
    "fluoroscopy": ["landmark technique", "palpation", "ultrasound"],
    "ct": ["landmark technique", "palpation", "ultrasound"],
    "ultrasound": ["landmark technique", "palpation"],
}
OTHER_MODALITY = {"fluoroscopy": "ultrasound", "ct": "ultrasound", "ultrasound": "fluoroscopic"}
NEG_CUES = ["was not used", "wasn't used", "wasn’t used", "was not utilized", "was never used", "was NOT used",
            "was not employed", "was omitted", "was not available", "did not work and was not used"]
NEG_FORMS = ["No {m} was used.", "Without {m}.", "{M}: N/A.", "{M}: none.", "{M}: no.", "{M} time: 0 seconds.",
             "{M} time 0.0 min.", "{M}: not used.", "We did not use {m}.", "Didn’t use {m}.", "{M} - not performed.",
             "Did not use {m} today."]
FAILURE = ["Unable to use {m}.", "{M} was contraindicated and was not used.",
           "The {m} unit was broken so it was not used.", "{M} failed to start; the injection proceeded without it.",
           "{M} could not be used because of pregnancy.", "Attempted {m} but the unit malfunctioned; not used.",
           "{M} unavailable today."]
COUNTERFACTUAL = ["If {m} had been available, it would have been used.",
                  "{M} would have been used had the unit been working.",
                  "Had {m} been available we would have used it.", "{M} should be used next time.",
                  "Ideally this would be done under {m}."]
SUBSTITUTION = ["{S} instead of {m}.", "The needle was placed by {s} in lieu of {m}.", "{S} rather than {m}.",
                "{S} was used in place of {m}.", "Needle placed using {s}, not {m}."]
CONSIDERED = ["{M} was considered but not used.", "{M} was deferred.", "Patient declined {m}.",
              "{M} was discussed; the patient refused it.", "{M} was offered and declined.",
              "{M} was considered and rejected.", "{M} deferred to a later visit."]
HEDGE = ["Possibly under {m}.", "{M} possibly used.", "{M}?", "? {m}", "{M} may have been used.",
         "Probably {m}.", "Unclear whether {m} was used.", "{M} presumably used.", "Likely under {m}.",
         "{M} (?)."]
REQUEST = ["Please document that {m} was used.", "Note to scribe: write that the injection was done under {m}.",
           "Scribe: add that {m} guidance was used.", "Please add {m} to the note for billing.",
           "Dictation instruction: state that {m} was used.", "Can you put that it was under {m}?"]
QUESTION = ["{M}? No.", "{M} used? No.", "Was {m} used? No.", "{M} used: No.", "{M}?  N"]
# Each trick hides "not" from a byte-level reader while a person still reads "not".
UNICODE_NOT = {"zero-width space": "n\u200bot", "soft hyphen": "no\u00adt", "Cyrillic o": "n\u043et",
               "RTL override": "no\u202et\u202c", "zero-width joiner": "no\u200dt", "word joiner": "n\u2060ot"}
RELOCATED = ["PLAN: repeat injection under {m} if relief is short-lived.",
             "HISTORY: prior SI joint injection under {m} in 2023 with good relief.",
             "Plan: will schedule a {m}-guided injection.",
             "Past procedures: {M}-guided SI joint injection 2022.",
             "HPI: previous injections were done under {m}.",
             "Recommendations: consider {m} guidance for the next injection."]
QUOTED = ['Per payer policy: "Sacroiliac joint injections must be performed under {m} or CT guidance."',
          'Policy quoted for the record: "{M} guidance is required for CPT 27096."',
          "The LCD states: 'image guidance ({m}) is required for coverage.'",
          '"{M} must be used" (payer requirement, quoted).']
CHECKBOX = ["[ ] {M}", "☐ {M}", "Guidance: [ ] {M} [ ] Other", "{M}: [ ] Yes [X] No", "{M}: ☐ Yes ☒ No",
            "( ) {M}", "Guidance: ____", "Guidance:", "Imaging guidance: N/A", "{M}: ____", "{M}: (none)",
            "{M} [ ]", "Guidance | {M} | No"]
CONFIRM_BROKEN = {
    "image": ["Could not confirm intra-articular spread.", "Intra-articular placement could not be confirmed.",
              "Contrast was not injected and placement was not confirmed.", "Unable to confirm needle position.",
              "No contrast spread was seen in the joint.",
              "Contrast pattern was indeterminate; intra-articular placement not confirmed.",
              "Confirmation of intra-articular placement: not obtained.", "IA confirmation: N/A.",
              "Contrast: [ ] intra-articular spread", "Intra-articular spread? unclear.",
              "Please document that contrast confirmed placement."],
    "ultrasound": ["The needle tip was not visualized.", "The needle could not be seen entering the joint.",
                   "Needle tip visualization: not obtained.", "Could not confirm intra-articular placement.",
                   "Injectate spread was not seen.", "Needle tip seen entering the joint? not documented."],
}
DRUG_NEG_TAILS = [" wasn't injected.", " wasn’t injected.", " was not given.", " - not administered.",
                  ": held, not injected.", " (not injected; procedure aborted).", " was prepared; none of it was injected."]
# With two drugs in one sentence a singular tail could be read as negating only the last one; these cover all.
DRUGS_NEG_TAILS = [" were drawn up but not injected.", " - none of these were injected.", " (all held, none injected).",
                   "; neither was injected.", ": prepared, not administered (procedure aborted)."]
DX_BROKEN = ["{c} was ruled out.", "Diagnosis: {c} ruled out.", "Rule out {c}.", "R/O sacroiliitis ({c}).",
             "Diagnosis: deferred.", "Diagnosis: ____", "Dx: pending workup.", "Possible sacroiliitis ({c})?",
             "Diagnosis: to be determined.", "Diagnosis: [ ] {c}", "Dx: ?"]
PURPOSE_BROKEN = ["", "Purpose: ____", "Purpose: not stated.", "Purpose: ?", "Diagnostic or therapeutic: to be decided.",
                  "Purpose: [ ] diagnostic [ ] therapeutic"]
ABORTS = ["The procedure was aborted before injection; nothing was injected.",
          "Aborted before injection: the patient became vasovagal during positioning.",
          "Injection not performed: the patient withdrew consent after the time-out.",
          "The needle could not enter the joint and the procedure was aborted before any medication was given.",
          "Procedure cancelled; the needle was never placed.", "Aborted before injection."]
SIDE_ABORTS = ["The {x} side was aborted before injection, nothing was injected.",
               "{X} SIJ: unable to enter the joint, aborted, no medication injected.",
               "The {x}-sided injection was not performed (vasovagal episode).",
               "Only the {y} side was injected; the {x} side was deferred.",
               "{Y} side completed. {X} side cancelled before the needle was placed."]
SIDE_HERRINGS = ["Radial pulses 2/4 bilateral.", "HISTORY: bilateral SI joint injections in 2022.",
                 "Imaging history: bilateral renal lesions, stable.", "Bilateral lower extremity strength 5/5.",
                 "Prior bilateral injections gave 50% relief.", "Plan: consider bilateral injections next time."]
IMAGES_BROKEN = ["Images were not saved.", "No images were retained.", "Image storage: N/A.",
                 "Images: [ ] saved to PACS", "Please save the images to PACS.",
                 "Images could not be saved (PACS down)."]
BOILERPLATE_BEFORE = [
    "Informed consent was obtained after discussing risks including bleeding, infection, nerve injury, allergic "
    "reaction, radiation exposure and no relief.",
    "Vitals: BP 132/84, HR 76, SpO2 97% on room air. Allergies: NKDA.",
    "Time-out performed: correct patient, procedure and site verified.",
    "The patient was placed prone and the skin was prepped with chlorhexidine and draped in sterile fashion.",
]
BOILERPLATE_AFTER = [
    "The patient tolerated the procedure well and was discharged home in stable condition.",
    "Radial pulses 2/4 bilateral.",
    "A skin wheal was raised with the needle held at a right angle to the skin.",
    "Past history includes bilateral renal lesions, followed by urology.",
    "Post-procedure instructions were given; follow up in 2 weeks.",
]
ABBREVIATIONS = [
    (r"under fluoroscopic guidance", "under fluoro"), (r"Under fluoroscopic guidance", "Under fluoro"),
    (r"\bfluoroscopy\b", "fluoro"), (r"\bbilateral\b", "B/L"), (r"\bBilateral\b", "B/L"),
    (r"\bintra-articular\b", "IA"), (r"\bIntra-articular\b", "IA"), (r"\bbupivacaine\b", "bupi"),
    (r"(?<=\d) ?mL\b", " cc"), (r"\bsacroiliac joint\b", "SIJ"), (r"\bwith\b", "w/"), (r"\blidocaine\b", "lido"),
    (r"\bdiagnosis\b", "dx"), (r"\bDiagnosis\b", "Dx"), (r"\bultrasound\b", "US"),
    (r"\bfluoroscopic guidance\b", "C-arm"),
]


# --- edit helpers -------------------------------------------------------------------------------------------------
def _names(mod: str, rng: random.Random, k: int) -> list[str]:
    names = NAMES[mod]
    return names if k >= len(names) else rng.sample(names, k)


def _fill(template: str, name: str, sub: str = "") -> str:
    keep = name.isupper() or name[:2] in ("CT", "US") or name[1:2] == "-"  # CT, US, C-arm keep their capitals
    low = name if keep else name[0].lower() + name[1:]
    return template.format(M=name, m=low, S=_cap(sub), s=sub).replace(" guidance-guided", "-guided")


def neutralize_modality(note: str, mod: str) -> tuple[str, int] | None:
    """The note with every mention of `mod` removed: phrase-level where the sentence says more, whole sentence
    otherwise. Returns (text, index in the unit list where the guidance was), or None when nothing was there."""
    word = MODALITY_WORDS[mod]
    pat = re.compile(word, re.I)
    parts = split_units(note)
    first = None
    for i in range(0, len(parts), 2):
        u = parts[i]
        if not pat.search(u):
            continue
        first = i if first is None else first
        for p in _MOD_PHRASES:
            u = re.sub(p.format(m=word), "", u, flags=re.I)
        if pat.search(u):
            u = ""  # a sentence about the modality only: drop it
        parts[i] = _cap(u) if u.strip(" ,.;") else ""
    if first is None:
        return None
    text = join_units(parts)
    if pat.search(text):
        return None
    return text, first


def insert_unit(note: str, index: int, sentence: str) -> str:
    parts = split_units(note)
    sep = "\n" if "\n" in note else " "
    index = min(index, len(parts) - 1)
    parts[index] = (sentence + sep + parts[index]) if parts[index].strip() else sentence
    return _tidy(join_units(parts))


def _tidy(text: str) -> str:
    # runs of spaces are left alone: in a column-aligned template they carry meaning
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r",\.", ".", text)
    text = re.sub(r"(?m)^[ \t]+|[ \t]+$", "", text)
    text = re.sub(r"\s+([.,;])(?=\s|$)", r"\1", text)
    text = re.sub(r"\.{2,}", ".", text)
    return text.strip()


def replace_units(note: str, match: Callable[[str], bool], make: Callable[[str], str]) -> str | None:
    parts = split_units(note)
    hit = False
    for i in range(0, len(parts), 2):
        if match(parts[i]):
            parts[i] = make(parts[i])
            hit = True
    return _tidy(join_units(parts)) if hit else None


def replace_clauses(note: str, match: Callable[[str], bool], make: Callable[[str, bool], str]) -> str | None:
    """Like replace_units, but a dictated run-on ("L SIJ inj, fluoro, IA confirmed w contrast, ...") is edited
    clause by clause, so breaking one fact leaves the others in place. make(unit, first) builds the replacement;
    `first` is true for the first hit only, so the breaking phrase appears once."""
    parts = split_units(note)
    hit = False
    for i in range(0, len(parts), 2):
        u = parts[i]
        clauses = u.split(", ")
        if len(clauses) >= 3:
            for j, c in enumerate(clauses):
                if match(c):
                    clauses[j] = make(c, not hit).rstrip(".")
                    hit = True
            parts[i] = ", ".join(x for x in clauses if x.strip())
        elif match(u):
            parts[i] = make(u, not hit)
            hit = True
    return _tidy(join_units(parts)) if hit else None


# --- break edits --------------------------------------------------------------------------------------------------
def guidance_breaks(seed: Seed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str]]:
    mod = seed.modality
    # Without ultrasound, a 20552 SI injection is still 20552 (landmarks): only 76942 needs ultrasound established.
    if mod is None or (mod == "ultrasound" and "76942" not in seed.bases):
        return
    neutral = neutralize_modality(seed.note, mod)
    if neutral is None:
        return
    base, at = neutral
    at = max(at, 2)  # after the note's first line or sentence, where a reader meets the procedure first
    names = _names(mod, rng, 2)

    def phrasings(category: str, templates: list[str]) -> Iterator[tuple[str, str, str]]:
        made = []
        for name in names:
            for t in templates:
                for sub in (SUBSTITUTES[mod] if "{s}" in t.lower() else [""]):
                    made.append(_fill(t, name, sub))
        for s in _pick(rng, sorted(set(made)), per):
            yield category, s, insert_unit(base, at, s)

    negated = [f"{{M}} {cue}." for cue in NEG_CUES] + NEG_FORMS
    yield from phrasings("guidance.negated", negated)
    yield from phrasings("guidance.failure", FAILURE)
    yield from phrasings("guidance.conditional", COUNTERFACTUAL)
    yield from phrasings("guidance.substitution", SUBSTITUTION)
    yield from phrasings("guidance.considered", CONSIDERED)
    yield from phrasings("guidance.hedge", HEDGE)
    yield from phrasings("guidance.request", REQUEST)
    yield from phrasings("guidance.question", QUESTION)
    tricks = [f"{{M}} was {v} used." for v in UNICODE_NOT.values()] + [f"{{M}} {v} used." for v in UNICODE_NOT.values()]
    yield from phrasings("guidance.unicode", tricks)
    # moved to another section / quoted / template field: the modality is only mentioned
    for s in _pick(rng, sorted({_fill(t, n) for n in names for t in RELOCATED}), per):
        yield "guidance.relocated", s, _tidy(base + "\n" + s)
    yield from phrasings("guidance.quoted", QUOTED)
    yield from phrasings("guidance.checkbox", CHECKBOX)
    # a second modality affirmed for the same needle placement: a conflict, never a choice
    other = OTHER_MODALITY[mod]
    for s in (f"The needle was placed under {other} guidance.", f"Needle advanced under {other} guidance."):
        yield "guidance.conflict", s, insert_unit(seed.note, len(split_units(seed.note)) - 1, s)


def side_breaks(seed: Seed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str, tuple[str, ...]]]:
    note, codes = seed.note, seed.codes
    hits = list(SIDE_WORD.finditer(note))
    if seed.unilateral and hits:
        if len(hits) >= 2:  # the header keeps its side, the body names the other one
            first = hits[0]
            body = note[first.end():]
            yield "side.swapped_body", "body side swapped", codes, note[:first.end()] + SIDE_WORD.sub(_swap_side, body)
        if {"LT", "RT"} & seed.modifiers:
            yield "side.swapped_all", "every side swapped", codes, SIDE_WORD.sub(_swap_side, note)
        stripped = _tidy(re.sub(r"\b(?:left|right|L|R|LT|RT)\b[- ]?(?:sided\s+)?", "", note, flags=re.I))
        if not ANY_SIDE.search(stripped):
            yield "side.deleted", "side words removed", codes, stripped
        # "bilateral" only in history, an exam line or a plan: a -50 claim is not supported
        fifty = tuple(c.split("-")[0] + "-50" if c.split("-")[0] in ("27096", "20552") else c for c in codes)
        for s in _pick(rng, SIDE_HERRINGS, per):
            yield "side.bilateral_elsewhere", s, fifty, _tidy(note + "\n" + s)
    if seed.side == "bilateral" and "50" in seed.modifiers:
        made = []
        for x, y in (("right", "left"), ("left", "right")):
            for t in SIDE_ABORTS:
                made.append(t.format(x=x, X=x.capitalize(), y=y, Y=y.capitalize()))
        for s in _pick(rng, made, per):
            yield "side.one_side_aborted", s, codes, insert_unit(note, len(split_units(note)) - 1, s)


def confirmation_breaks(seed: Seed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str]]:
    if not seed.needs_confirmation:
        return
    mod = seed.modality
    modpat = re.compile(MODALITY_WORDS[mod], re.I)
    keep_guidance = {"fluoroscopy": "Fluoroscopic guidance was used.", "ct": "CT guidance was used.",
                     "ultrasound": "Ultrasound guidance was used."}[mod]
    pool = CONFIRM_BROKEN["ultrasound" if mod == "ultrasound" else "image"]
    for s in _pick(rng, pool, per):
        def make(u: str, first: bool, s: str = s) -> str:
            # the guidance named in the same sentence stays affirmed: only the confirmation is broken
            keep = [keep_guidance] if modpat.search(u) else []
            return " ".join(keep + ([s] if first else []))
        text = replace_clauses(seed.note, lambda u: bool(CONFIRM.search(u)), make)
        if text and not CONFIRM.search(text.replace(s, "")):
            yield "confirmation.not_confirmed", s, text


def drug_breaks(seed: Seed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str]]:
    def is_drug(u: str) -> bool:
        return bool(DRUG.search(u))

    verb = re.compile(r"\s*\b(?:(?:were|was)\s+)?(?:injected|administered|given|instilled|delivered)\b\.?\s*$", re.I)
    rng_offset = rng.randrange(len(DRUG_NEG_TAILS))
    for n in range(per if per > 0 else len(DRUG_NEG_TAILS)):
        def make(u: str, n: int = n) -> str:
            tails = DRUGS_NEG_TAILS if len(DRUG.findall(u)) >= 2 else DRUG_NEG_TAILS
            tail = tails[(n + rng_offset) % len(tails)]
            core = verb.sub("", u.rstrip(" .")).rstrip(" .,")
            core = re.sub(r"^(?:Injected|Injectate)\s*:?\s*|^.*?\breceived\s+", "", core)
            return _cap(core) + tail
        text = replace_units(seed.note, is_drug, make)
        if text:
            yield "drug.not_injected", f"negation tail #{(n + rng_offset)}", text
    # doses removed
    def undose(u: str) -> str:
        return re.sub(r"\s+of\b", "", DOSE.sub("", u)) if is_drug(u) else u
    parts = split_units(seed.note)
    text = _tidy(join_units([undose(p) if i % 2 == 0 else p for i, p in enumerate(parts)]))
    bare = re.compile(r"\b\d+(?:\.\d+)?\s+(?:" + DRUG.pattern + ")", re.I)  # "40 kenalog" is still a dose
    if text != seed.note and not bare.search(text) and not any(
            DOSE.search(p) and is_drug(p) for p in split_units(text)[::2]):
        yield "drug.dose_missing", "doses removed", text
    # the same drug given a second, different dose: a conflict
    m = re.search(r"(?P<a>kenalog|triamcinolone|depo-?medrol|methylprednisolone|dexamethasone|celestone|"
                  r"betamethasone)\s*(?:\([A-Za-z-]+\)\s*)?(?P<d>\d+)\s*mg|(?P<d2>\d+)\s*mg\s+(?:of\s+)?"
                  r"(?P<a2>kenalog|triamcinolone|depo-?medrol|methylprednisolone|dexamethasone|celestone|"
                  r"betamethasone)", seed.note, re.I)
    negated = re.compile(r"\bnot\b|n[’']t\b|\bnever\b|\bheld\b", re.I)
    unit = next((u for u in split_units(seed.note)[::2] if m and m.group(0) in u), "")
    if m and not negated.search(unit):  # "40 mg Kenalog wasn't injected" + "Kenalog 60 mg was injected" is no conflict
        drug = m.group("a") or m.group("a2")
        dose = int(m.group("d") or m.group("d2"))
        other = dose * 3 // 2 if dose * 3 // 2 != dose * 2 else dose + 10
        s = f"{_cap(drug)} {other} mg was injected."
        yield "drug.dose_conflict", s, insert_unit(seed.note, len(split_units(seed.note)) - 1, s)


def diagnosis_breaks(seed: Seed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str]]:
    codes = ICD.findall(seed.note)
    code = codes[0] if codes else "M46.1"

    def is_dx(u: str) -> bool:
        return bool(ICD.search(u) or DX_WORDS.search(u))

    for t in _pick(rng, DX_BROKEN, per):
        s = t.format(c=code)
        text = replace_clauses(seed.note, is_dx, lambda u, first, s=s: s if first else "")
        if text is None:
            continue
        rest = text.replace(s, "")
        # a symptom left elsewhere ("right buttock pain") could still carry medical necessity: no clean edit
        if ICD.search(rest) or DX_WORDS.search(rest) or re.search(r"(?i)\bpain\b", rest):
            return  # the diagnosis is also stated inside another sentence: no clean edit
        # keep the unit separator intact when one replaced sentence stood for several
        yield "diagnosis.not_established", s, _dedupe(text, s)


def _dedupe(text: str, s: str) -> str:
    first = text.find(s)
    if first < 0:
        return text
    head, tail = text[: first + len(s)], text[first + len(s):]
    return _tidy(head + tail.replace(s, ""))


def purpose_breaks(seed: Seed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str]]:
    def strip_purpose(u: str) -> str:
        if not PURPOSE.search(u):
            return u
        rest = re.sub(r"(?i)\b(?:purpose\s*:?|this was an?|the injection was|indication\s*:?)\s*", "", u)
        rest = re.sub(r"(?i)(?:diagnostic|dx)\s*(?:\+|and|&|/)\s*(?:therapeutic|tx)|(?:diagnostic|therapeutic)"
                      r"(?:\s+injection)?|\binjection\s+for\s+(?:diagnostic|therapeutic)\s+purposes", "", rest)
        return "" if not rest.strip(" .,;:") else rest

    for s in _pick(rng, PURPOSE_BROKEN, per):
        parts = split_units(seed.note)
        idx = next((i for i in range(0, len(parts), 2) if PURPOSE.search(parts[i])), None)
        if idx is None:
            return
        parts = [strip_purpose(p) if i % 2 == 0 else p for i, p in enumerate(parts)]
        text = _tidy(join_units(parts))
        if PURPOSE.search(text):
            return
        text = insert_unit(text, idx, s) if s else text
        yield ("purpose.deleted" if not s else "purpose.unstated"), (s or "purpose removed"), text


def procedure_breaks(seed: Seed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str]]:
    # Aborted: the drug sentences say so too, so the note is consistent (nothing injected), not a contradiction
    # whose reading could be argued; the abort sentence closes the note.
    held = replace_units(seed.note, lambda u: bool(DRUG.search(u)),
                         lambda u: _cap(re.sub(r"\s*\b(?:(?:were|was)\s+)?(?:injected|administered|given)\b\.?\s*$", "",
                                               u.rstrip(" .")).rstrip(" .,")) + " were drawn up but not injected.")
    for s in _pick(rng, ABORTS, per):
        if held:
            yield "procedure.aborted", s, _tidy(held + ("\n" if "\n" in seed.note else " ") + s)
    # every mention, so a procedure named in a history line does not leave today's injection standing
    proc = re.compile(r"(?i)\b(?:sacroiliac|SI|S\.I\.)\s+(?:joint|jt)\s+inj(?:ection)?s?\b|\bSIJ\s+inj(?:ection)?s?\b")
    if proc.search(seed.note):
        for repl in ("sacroiliac lateral branch block", "sacroiliac radiofrequency ablation"):
            yield "procedure.other_procedure", repl, proc.sub(repl, seed.note)
    yield ("procedure.planned_only", "recommended, not performed",
           "Consult note. Recommendation (not performed today): " + seed.note.replace("\n", " ") +
           "\nThe patient will be scheduled for this injection.")


def images_breaks(seed: Seed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str]]:
    if "76942" not in seed.bases:
        return
    for s in _pick(rng, IMAGES_BROKEN, per):
        text = replace_clauses(seed.note, lambda u: bool(IMAGES.search(u)), lambda u, first, s=s: s if first else "")
        if text:
            yield "images.not_recorded", s, _dedupe(text, s)


# --- keep edits ---------------------------------------------------------------------------------------------------
_FACT_PATTERNS = [SIDE_WORD, CONFIRM, DRUG, re.compile("|".join(MODALITY_WORDS.values()), re.I),
                  re.compile(r"(?i)inject|joint|SIJ|procedure")]


def _movable(u: str) -> bool:
    """A sentence that carries only a diagnosis, only a purpose, or nothing a rule reads, and labels nothing that
    follows it (a table header row or a "Medications:" line does)."""
    if not u.strip() or "|" in u or "\t" in u or u.rstrip().endswith(":") or re.search(r"\bYes\b.*\bNo\b", u):
        return False
    return not any(p.search(u) for p in _FACT_PATTERNS)


def _aligned_columns(note: str) -> bool:
    """Columns aligned with spaces or tabs ("Fluoroscopy    X" under "Yes   No"): layout carries meaning there."""
    return bool(re.search(r"(?m)^\S.*\S {3,}\S", note) or "\t" in note)


def keep_edits(seed: Seed, rng: random.Random, per: int) -> Iterator[tuple[str, str, str]]:
    note = seed.note
    parts = split_units(note)
    units = list(range(0, len(parts), 2))
    layout_free = not _aligned_columns(note)
    if layout_free and not CONTEXT_SECTION.search(note) and len(units) > 2:
        for i in units[1:]:
            whole_line = (i == 0 or "\n" in parts[i - 1]) and (i + 1 >= len(parts) or "\n" in parts[i + 1])
            # a heading sentence ("DESCRIPTION: The patient was placed prone.") labels what follows it: stays
            if _movable(parts[i]) and (whole_line or ":" not in parts[i]):
                rest = [p for j, p in enumerate(parts) if j not in (i, i + 1 if i + 1 < len(parts) else i)]
                sep = "\n" if "\n" in note else " "
                yield "keep.reorder", f"unit {i // 2} moved to the end", _tidy(join_units(rest) + sep + parts[i])
    if re.search(r"(?m)^[A-Z][A-Z /]+:", note):
        yield "keep.heading_case", "Title Case headings", re.sub(
            r"(?m)^([A-Z][A-Z /]+):", lambda m: m.group(1).title() + ":", note)
        yield "keep.heading_case", "lower case headings", re.sub(
            r"(?m)^([A-Z][A-Z /]+):", lambda m: m.group(1).lower() + ":", note)
    elif re.search(r"(?m)^[A-Z][a-z]+:", note):
        yield "keep.heading_case", "UPPER CASE headings", re.sub(
            r"(?m)^([A-Z][a-z]+):", lambda m: m.group(1).upper() + ":", note)
    for s in _pick(rng, BOILERPLATE_BEFORE, per):  # a header block on its own line, as templates put it
        yield "keep.boilerplate", s, s + "\n" + note
    end = "" if re.search(r"[.!?:]\s*$", note) or "\n" in note else "."  # a dictation may end without a period
    for s in _pick(rng, BOILERPLATE_AFTER, per):
        yield "keep.boilerplate", s, note.rstrip() + end + ("\n" if "\n" in note else " ") + s
    done = set()
    def shifts_columns(text: str) -> bool:
        return not layout_free and any(x != y and _aligned_columns(x)
                                       for x, y in zip(note.split("\n"), text.split("\n")))

    for pat, rep in ABBREVIATIONS:
        text = re.sub(pat, rep, note)
        if text != note and text not in done and not shifts_columns(text):
            done.add(text)
            yield "keep.abbreviate", f"{pat} → {rep}", text
    everything = note
    for pat, rep in ABBREVIATIONS[:-1]:
        everything = re.sub(pat, rep, everything)
    if everything != note and everything not in done and not shifts_columns(everything):
        yield "keep.abbreviate", "all abbreviations", everything
    if not layout_free:
        return
    if "\n" in note:
        runon = re.sub(r"(?m)^([A-Za-z][A-Za-z /]+):\s*", r"\1:,  ", note.replace("\r", ""))
        yield "keep.run_together", "MTSamples sections", ",".join(runon.split("\n"))
    runon = re.sub(r"\.?\r?\n", ", ", note)
    runon = re.sub(r"(?<=[a-z0-9)%])\.\s+(?=[A-Z])", ", ", runon)
    if runon != note:
        yield "keep.run_together", "dictated run-on", runon
    yield "keep.whitespace", "CRLF and padding", "  " + note.replace("\r\n", "\n").replace("\n", "  \r\n") + "\r\n\r\n"


def _pick(rng: random.Random, items: list[str], k: int) -> list[str]:
    items = list(items)
    return items if k <= 0 or k >= len(items) else rng.sample(items, k)


# --- the generator ------------------------------------------------------------------------------------------------
BREAKERS: list[tuple[str, Callable]] = [
    ("guidance", guidance_breaks), ("side", side_breaks), ("confirmation", confirmation_breaks),
    ("drug", drug_breaks), ("diagnosis", diagnosis_breaks), ("purpose", purpose_breaks),
    ("procedure", procedure_breaks), ("images", images_breaks),
]


def generate(seeds: list[Seed], per: int = 4, seed: int = 8) -> Generated:
    """Every variant of every seed. `per` caps the phrasings drawn per category and seed (0 = all of them)."""
    out = Generated()
    for s in seeds:
        rng = random.Random(f"{seed}:{s.id}")
        seen = {s.note}
        for fact, fn in BREAKERS:
            produced = False
            for item in fn(s, rng, per):
                if fact == "side":
                    category, edit, codes, text = item
                else:
                    (category, edit, text), codes = item, s.codes
                if text in seen:
                    continue
                seen.add(text)
                produced = True
                out.variants.append(Variant(s.id, "break", category, fact, edit, text, tuple(codes), s.payer))
            if not produced:
                out.not_applicable[fact] = out.not_applicable.get(fact, 0) + 1
        for category, edit, text in keep_edits(s, rng, per):
            if text in seen:
                continue
            seen.add(text)
            out.variants.append(Variant(s.id, "keep", category, "", edit, text, s.codes, s.payer))
    return out
