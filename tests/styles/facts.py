"""The facts a style renderer re-renders, and where they come from.

A *Facts* is what one supported seed states: side, guidance, how the needle placement was confirmed, whether
ultrasound images were recorded, purpose, diagnoses and each medication's amounts. The style renderers never edit
seed text; they write a new note (or dictation) from these facts, so a variant keeps every fact by construction.

- Drafting seeds: the facts are the case's hand-written `gold` labels; only the confirmation wording, which gold
  does not carry, is read from the dictation with one small regex.
- Validator seeds: the case labels give side and guidance; the rest is read with the small regexes below — never
  with notedraft's reader (this suite measures that reader). A seed this reader cannot account for completely
  (an amount it cannot attach to a drug, a drug with no amount, an aborted side, a negated drug, conflicting
  amounts, a bilateral amount with no per-side/total basis, no purpose, no diagnosis, no confirmation where the
  claim needs one) is skipped and counted as n/a with the reason, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from notedraft.evals.dataset import DraftingCase, GoldMedication, ValidatorCase

from tests.metamorphic.generators import Seed, seeds_from_cases


@dataclass(frozen=True)
class Med:
    name: str  # generic, lower case: triamcinolone, bupivacaine, iohexol ...
    role: str  # steroid | anesthetic | contrast | sedative
    dose: float | None = None  # mg
    volume: float | None = None  # mL
    conc: float | None = None  # percent (anesthetics)
    strength: float | None = None  # mg/mL (a product strength; a dose only together with a volume)
    brand: str | None = None  # the brand the seed named (it implies a salt), e.g. "Kenalog"
    salt: str | None = None  # e.g. "acetonide", "acetate"
    basis: str | None = None  # "per_side" | "total" | None (unilateral, or not stated)
    use: str | None = None  # None: injectate (contrast: confirmation); "skin_local"; "sedation"
    written: str = ""  # the name as the seed wrote it


@dataclass(frozen=True)
class Facts:
    side: str  # left | right | bilateral
    guidance: str  # fluoroscopy | ct | ultrasound | none
    confirmation: str | None  # contrast | ct_tip | us_tip | ia | None (landmarks)
    contrast_too: bool  # CT/ultrasound seeds: contrast also used
    images: bool | None  # ultrasound images permanently recorded (None: not stated)
    purpose: str  # diagnostic | therapeutic | diagnostic_and_therapeutic
    dx_codes: tuple[str, ...]
    dx_text: str | None  # "sacroiliitis", "sacroiliac joint dysfunction", ... without a side
    dx_sided: bool  # the seed put the side on the diagnosis ("left sacroiliitis")
    meds: tuple[Med, ...]

    @property
    def injectates(self) -> list[Med]:
        return [m for m in self.meds if m.use is None and m.role != "contrast"]

    @property
    def contrast(self) -> Med | None:
        return next((m for m in self.meds if m.role == "contrast"), None)

    @property
    def skin(self) -> list[Med]:
        return [m for m in self.meds if m.use == "skin_local"]

    @property
    def sedation(self) -> list[Med]:
        return [m for m in self.meds if m.use == "sedation"]

    @property
    def bilateral(self) -> bool:
        return self.side == "bilateral"

    @property
    def imaging(self) -> bool:
        return self.guidance in ("fluoroscopy", "ct", "ultrasound")


@dataclass(frozen=True)
class StyleSeed:
    id: str
    source: str  # "validator" | "dictation"
    codes: tuple[str, ...]  # the claim (validator) / the code lines asked for, None → drafter suggests
    asked: tuple[str, ...] | None  # dictations: the codes passed to draft(); None: the drafter suggests
    facts: Facts
    payer: str | None = None
    text: str = ""  # the seed's own note or dictation (for reference only; never edited)

    @property
    def bases(self) -> set[str]:
        return {c.split("-")[0] for c in self.codes}

    @property
    def modifiers(self) -> set[str]:
        return {m for c in self.codes for m in c.split("-")[1:]}


@dataclass
class Seeds:
    seeds: list[StyleSeed] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # seed id → why it could not be read cleanly


# --- the generator's own lexicon ---------------------------------------------------------------------------------
# name as written → (generic, role, implied salt or None, brand or None)
LEXICON: dict[str, tuple[str, str, str | None, str | None]] = {
    "kenalog": ("triamcinolone", "steroid", "acetonide", "Kenalog"),
    "triamcinolone acetonide": ("triamcinolone", "steroid", "acetonide", None),
    "triamcinolone hexacetonide": ("triamcinolone", "steroid", "hexacetonide", None),
    "aristospan": ("triamcinolone", "steroid", "hexacetonide", "Aristospan"),
    "triamcinolone": ("triamcinolone", "steroid", None, None),
    "depo-medrol": ("methylprednisolone", "steroid", "acetate", "Depo-Medrol"),
    "depomedrol": ("methylprednisolone", "steroid", "acetate", "Depo-Medrol"),
    "depo medrol": ("methylprednisolone", "steroid", "acetate", "Depo-Medrol"),
    "methylprednisolone acetate": ("methylprednisolone", "steroid", "acetate", None),
    "methylprednisolone": ("methylprednisolone", "steroid", None, None),
    "dexamethasone sodium phosphate": ("dexamethasone", "steroid", "sodium phosphate", None),
    "dexamethasone": ("dexamethasone", "steroid", None, None),
    "decadron": ("dexamethasone", "steroid", "sodium phosphate", "Decadron"),
    "celestone soluspan": ("betamethasone", "steroid", "sodium phosphate and acetate", "Celestone Soluspan"),
    "celestone": ("betamethasone", "steroid", "sodium phosphate and acetate", "Celestone Soluspan"),
    "betamethasone sodium phosphate and acetate": ("betamethasone", "steroid", "sodium phosphate and acetate", None),
    "betamethasone": ("betamethasone", "steroid", None, None),
    "bupivacaine": ("bupivacaine", "anesthetic", None, None),
    "bupi": ("bupivacaine", "anesthetic", None, None),
    "marcaine": ("bupivacaine", "anesthetic", None, "Marcaine"),
    "sensorcaine": ("bupivacaine", "anesthetic", None, "Sensorcaine"),
    "lidocaine": ("lidocaine", "anesthetic", None, None),
    "lido": ("lidocaine", "anesthetic", None, None),
    "xylocaine": ("lidocaine", "anesthetic", None, "Xylocaine"),
    "ropivacaine": ("ropivacaine", "anesthetic", None, None),
    "ropi": ("ropivacaine", "anesthetic", None, None),
    "naropin": ("ropivacaine", "anesthetic", None, "Naropin"),
    "omnipaque 240": ("iohexol", "contrast", None, "Omnipaque 240"),
    "omnipaque": ("iohexol", "contrast", None, "Omnipaque"),
    "iohexol": ("iohexol", "contrast", None, None),
    "isovue": ("iopamidol", "contrast", None, "Isovue"),
    "iopamidol": ("iopamidol", "contrast", None, None),
}
_NAMES = sorted(LEXICON, key=len, reverse=True)
DRUG_RE = re.compile(r"(?i)(?<![\w-])(" + "|".join(re.escape(n).replace(r"\ ", r"\s+").replace(r"\-", "-?")
                                                       for n in _NAMES) + r")(?![\w-])")
NUM = r"(\d+(?:\.\d+)?|\.\d+)"
AMOUNT_RE = re.compile(NUM + r"\s*(mg/mL|mg/ml|mg|mL|ml|cc|%)(?![A-Za-z])")
ICD_RE = re.compile(r"\b[A-TV-Z]\d{2}\.[0-9A-Z]{1,4}\b")
_UNCLEAN = re.compile(r"(?i)abort|not injected|n[’']t injected|not given|\bplanned\b|periarticular|"
                      r"extra-articular|deferred|not performed|cancel")
_PER_SIDE = re.compile(r"(?i)\beach\b|\bper (?:side|joint)\b|apiece|\bboth sides\b|\bb/l\b.*\beach")


def _lex(name: str) -> tuple[str, str, str | None, str | None]:
    key = re.sub(r"\s+", " ", name.lower())
    if key not in LEXICON:
        key = key.replace("depomedrol", "depo-medrol")
    return LEXICON[key]


def _num(s: str) -> float:
    return float(s)


def _strip_checkboxes(text: str) -> str:
    """Drop unchecked checkbox items ("[ ] CT", "( ) Right", "☐ Ultrasound") and the marks of checked ones."""
    text = re.sub(r"(?:\[\s\]|\(\s\)|☐)\s*[^\[\(☐☒\n]*", " ", text)
    text = re.sub(r"\[[xX]\]|\([xX]\)|☒", " ", text)
    return text


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<!\d)\.(?!\d)|;|\n|(?<=\d)\.(?=\s|$)", text) if s.strip()]


_CHUNK_SPLIT = re.compile(r"(?i)\s*(?:,|\+|\bplus\b|\band\b|\bwith\b|\bfollowed by\b|\bthen\b|:)\s*")


def read_meds(note: str, bilateral: bool) -> tuple[list[Med], str | None]:
    """The medications of a validator seed, or (partial, reason) when the note cannot be read cleanly."""
    text = _strip_checkboxes(note).replace("|", " ").replace("\t", " ")
    text = re.sub(r"(?i)\b\d+\s*%\s*relief", " ", text)
    found: dict[tuple[str, str | None], Med] = {}
    units = []  # (sentence, the line's heading says "each side")
    for line in text.split("\n"):
        head = re.match(r"^[^:]{0,40}:", line)
        line_per_side = bool(head and _PER_SIDE.search(head.group(0)))
        units += [(s, line_per_side) for s in _sentences(line)]
    for sent, line_per_side in units:
        per_side = bilateral and (line_per_side or bool(_PER_SIDE.search(sent)))
        for chunk in _CHUNK_SPLIT.split(sent):
            names = DRUG_RE.findall(chunk)
            amounts = AMOUNT_RE.findall(chunk)
            if not names:
                if amounts:
                    return [], f"amount {amounts[0]} with no drug: {chunk.strip()!r}"
                continue
            # "Triamcinolone (Kenalog) 40 mg": a generic and its brand are one drug
            if len({_lex(n)[0] for n in names}) > 1:
                return [], f"two drugs in one clause: {chunk.strip()!r}"
            generic, role, salt, brand = _lex(names[0])
            for n in names[1:]:  # the brand in parentheses
                _, _, s2, b2 = _lex(n)
                salt, brand = salt or s2, brand or b2
            dose = volume = conc = strength = None
            for value, unit in amounts:
                unit = unit.lower()
                if unit == "mg/ml":
                    strength = _num(value)
                elif unit == "mg":
                    if dose is not None:
                        return [], f"two doses in one clause: {chunk.strip()!r}"
                    dose = _num(value)
                elif unit in ("ml", "cc"):
                    if volume is not None:
                        return [], f"two volumes in one clause: {chunk.strip()!r}"
                    volume = _num(value)
                else:
                    conc = _num(value)
            if role == "contrast":
                if generic == "iohexol" and re.search(r"(?i)omnipaque\s*240", chunk):
                    brand = "Omnipaque 240"
                med = Med(generic, role, volume=volume, brand=brand, written=names[0])
            else:
                if strength is not None and volume is not None and dose is None:
                    dose = strength * volume  # "1 mL of Kenalog 40 mg/mL": both stated, the dose is their product
                if role == "steroid" and dose is None:
                    return [], f"steroid with no dose: {chunk.strip()!r}"
                if role == "anesthetic" and (volume is None or conc is None):
                    return [], f"anesthetic without volume and concentration: {chunk.strip()!r}"
                if role == "anesthetic" and dose is not None:
                    return [], f"anesthetic with a mass: {chunk.strip()!r}"
                med = Med(generic, role, dose=dose, volume=volume, conc=conc, strength=strength, brand=brand,
                          salt=salt, basis="per_side" if per_side else None, written=names[0])
            key = (generic, role)
            old = found.get(key)
            if old is not None:
                same = (old.dose, old.volume, old.conc) == (med.dose, med.volume, med.conc)
                if not same:
                    return [], f"{generic} stated twice with different amounts"
                if bilateral and role != "contrast":  # the same amounts once per side ("Left SIJ: ... Right SIJ: ...")
                    med = replace(med, basis="per_side")
                med = replace(med, brand=med.brand or old.brand, salt=med.salt or old.salt,
                              volume=med.volume if med.volume is not None else old.volume)
            found[key] = med
    meds = list(found.values())
    if bilateral:
        for m in meds:
            if m.role != "contrast" and m.basis is None:
                return [], f"bilateral {m.name} with no per-side or total basis"
    if not any(m.role in ("steroid", "anesthetic") for m in meds):
        return [], "no injectate read"
    return meds, None


_PURPOSE_BOTH = re.compile(r"(?i)diagnostic\s*(?:and|\+|&|/)\s*therapeutic|\bdx\s*(?:\+|and|&)\s*(?:therapeutic|ther)\b|"
                           r"both diagnostic and therapeutic")


def read_purpose(note: str) -> str | None:
    text = _strip_checkboxes(note)
    if _PURPOSE_BOTH.search(text):
        return "diagnostic_and_therapeutic"
    d = bool(re.search(r"(?i)\bdiagnostic\b", text))
    t = bool(re.search(r"(?i)\btherapeutic\b|\bther\b", text))
    return {(True, True): "diagnostic_and_therapeutic", (True, False): "diagnostic",
            (False, True): "therapeutic"}.get((d, t))


_DX_TEXTS = [
    (r"sacroiliitis", "sacroiliitis"),
    (r"(?:sacroiliac|SI)\s+(?:joint|jt)\s+dysfunction", "sacroiliac joint dysfunction"),
    (r"(?:sacroiliac|SI)\s+(?:joint|jt)\s+pain", "sacroiliac joint pain"),
]


def read_diagnosis(note: str) -> tuple[tuple[str, ...], str | None, bool]:
    codes = tuple(dict.fromkeys(ICD_RE.findall(note)))
    text, sided = None, False
    for pat, norm in _DX_TEXTS:
        m = re.search(r"(?i)(\b(?:left|right|bilateral|L|R)\s+)?" + pat, note)
        if m:
            text, sided = norm, bool(m.group(1))
            break
    return codes, text, sided


def read_confirmation(text: str, guidance: str) -> tuple[str | None, bool]:
    """(kind, contrast also used) for a seed note or dictation; kind None when the claim would need one and none is
    stated (the caller decides)."""
    text = re.sub(r"(?i)contrast\s+allerg\w*|allerg\w*\s+to\s+contrast", " ", text)
    contrast = bool(re.search(r"(?i)contrast|arthrogra|omnipaque|iohexol|isovue|iopamidol", text))
    if guidance == "fluoroscopy":
        if contrast:
            return "contrast", True
        if re.search(r"(?i)\b(?:IA|intra-articular)\b[^,.;]*\bconfirm|confirm[^,.;]*\b(?:IA|intra-articular)\b", text):
            return "ia", False
        return None, False
    if guidance == "ct":
        if re.search(r"(?i)needle\s+(?:tip|tips|position|placement)?|\bIA\b|intra-articular|in (?:the|each) joint", text):
            return "ct_tip", contrast
        return ("contrast", True) if contrast else (None, False)
    if guidance == "ultrasound":
        if re.search(r"(?i)seen|visuali[sz]|tracked|confirm|distend|spread", text):
            return "us_tip", False
        return None, False
    return None, False


def read_images(text: str) -> bool | None:
    if re.search(r"(?i)(?:images?|stills?)\b[^.;]*\bnot\b[^.;]*(?:saved|retained|recorded|stored)|no images|"
                 r"images?:\s*(?:none|n/a)", text):
        return False
    if re.search(r"(?i)(?:images?|stills?|cine)\b[^.;]*\b(?:saved|recorded|archived|retained|stored)", text):
        return True
    return None


def facts_from_validator_case(seed: Seed) -> tuple[Facts | None, str | None]:
    note = seed.note
    if _UNCLEAN.search(note):
        return None, "aborted, negated, deferred or planned wording"
    side, guidance = seed.side, seed.guidance
    if side not in ("left", "right", "bilateral") or guidance not in ("fluoroscopy", "ct", "ultrasound", "none"):
        return None, f"labels side={side} guidance={guidance}"
    side_pat = {"left": r"\b(?:left|L)\b", "right": r"\b(?:right|R)\b",
                "bilateral": r"(?i)\bbilateral\b|\bbilat\b|\bB/L\b|\bboth\b|\beach\b"}[side]
    if not re.search(side_pat, note, 0 if side == "bilateral" else re.I):
        return None, "side not found in the text"
    meds, why = read_meds(note, side == "bilateral")
    if why:
        return None, why
    purpose = read_purpose(note)
    if purpose is None:
        return None, "no purpose read"
    codes, dx_text, dx_sided = read_diagnosis(note)
    if not codes and not dx_text:
        return None, "no diagnosis read"
    conf, contrast_too = read_confirmation(note, guidance)
    if guidance != "none" and conf is None:
        return None, "no needle confirmation read"
    images = read_images(note) if guidance == "ultrasound" else None
    if "76942" in seed.bases and images is not True:
        return None, "76942 claimed but no recorded images read"
    return Facts(side, guidance, conf, contrast_too, images, purpose, codes, dx_text, dx_sided, tuple(meds)), None


def validator_seeds(cases: list[ValidatorCase]) -> Seeds:
    out = Seeds()
    for s in seeds_from_cases(cases):
        if s.payer:  # category 8 (Medicare) is not rendered: see README
            out.skipped[s.id] = "payer claim"
            continue
        f, why = facts_from_validator_case(s)
        if f is None:
            out.skipped[s.id] = why
            continue
        out.seeds.append(StyleSeed(s.id, "validator", s.codes, tuple(s.codes), f, s.payer, s.note))
    return out


# --- dictation seeds: gold facts ---------------------------------------------------------------------------------
def _amount(s: str | None, unit: str) -> float | None:
    if not s:
        return None
    m = re.fullmatch(r"\s*" + NUM + r"\s*" + unit + r"\s*", s, re.I)
    if not m:
        raise ValueError(f"unreadable gold amount {s!r} ({unit})")
    return float(m.group(1))


def _gold_med(m: GoldMedication) -> Med:
    written = m.as_written
    brand = salt = None
    lex = LEXICON.get(written.lower())
    if lex and lex[0] == m.name:
        salt, brand = lex[2], lex[3]
    salt = m.salt or salt
    conc = strength = None
    if m.concentration:
        if m.concentration.endswith("%"):
            conc = _amount(m.concentration, "%")
        else:
            strength = _amount(m.concentration, "mg/mL")
    use = {"skin_local": "skin_local", "sedation": "sedation"}.get(m.use or "")
    if m.role == "sedative":
        use = "sedation"
    role = {"sedative": "sedative"}.get(m.role, m.role)
    return Med(m.name, role, dose=_amount(m.dose, "mg"), volume=_amount(m.volume, "mL"), conc=conc,
               strength=strength, brand=brand, salt=salt, basis=m.basis, use=use, written=written)


def facts_from_drafting_case(c: DraftingCase) -> tuple[Facts | None, str | None]:
    g = c.gold
    if g.events is not None:
        return None, "per-side events (aborted / periarticular side)"
    if g.other_procedures or any(m.use == "other_procedure" for m in g.medications):
        return None, "other procedures in the gold"
    if g.procedure != "si_joint_injection":
        return None, f"procedure {g.procedure}"
    if g.purpose not in ("diagnostic", "therapeutic", "diagnostic_and_therapeutic"):
        return None, f"purpose {g.purpose}"
    try:
        meds = tuple(_gold_med(m) for m in g.medications)
    except ValueError as exc:
        return None, str(exc)
    if any(m.role in ("steroid", "sedative") and m.dose is None for m in meds) or not any(
            m.role in ("steroid", "anesthetic") and m.use is None for m in meds):
        return None, "a steroid without a dose, or no injectate"
    if g.side == "bilateral" and any(m.basis is None and m.role in ("steroid", "anesthetic") and m.use is None
                                     for m in meds):
        return None, "bilateral amount with no per-side/total basis in the gold"
    conf, contrast_too = read_confirmation(c.dictation, g.guidance)
    if any(m.role == "contrast" for m in meds):
        contrast_too = True
        conf = conf or "contrast"
    if g.guidance != "none" and conf is None:
        return None, "no needle confirmation in the dictation"
    codes = [x.code for x in g.diagnoses if x.code]
    texts = [x.text for x in g.diagnoses if x.text]
    dx_text, dx_sided = None, False
    if texts:
        t = texts[0].strip()
        m = re.match(r"(?i)(left|right|bilateral|bilat)\s+(.*)", t)
        dx_text, dx_sided = (m.group(2), True) if m else (t, False)
    images = g.images_recorded if g.guidance == "ultrasound" else None
    if g.guidance == "ultrasound" and not g.images_recorded:
        images = False if read_images(c.dictation) is False else None
    return Facts(g.side, g.guidance, conf, contrast_too, images, g.purpose, tuple(codes), dx_text, dx_sided,
                 meds), None


def drafting_seeds(cases: list[DraftingCase]) -> Seeds:
    out = Seeds()
    for c in cases:
        if c.expected.outcome != "supported":
            continue
        f, why = facts_from_drafting_case(c)
        if f is None:
            out.skipped[c.id] = why
            continue
        out.seeds.append(StyleSeed(c.id, "dictation", tuple(c.expected.codes),
                                   tuple(c.codes) if c.codes is not None else None, f, None, c.dictation))
    return out
