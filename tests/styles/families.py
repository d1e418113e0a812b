"""The style suite on the procedure families' seeds (evals/validator_families.jsonl, tags[1] = family).

The SI joint styles (notes.py) re-render a note from its facts; the family notes are rewritten instead, one style
at a time, by rewrites that keep every fact a coder reads (the levels, the side, the imaging, each drug and its
amount, the muscles, the joint): units and abbreviations, brand names, British spelling, section names, a
medication table, a run-on dictation, EHR field layouts, the levels spelled "L4-5", "L4/5", "L45", "L4–L5", the
level named in the technique rather than the title, a skin wheal of local anaesthetic beside the injectate, ...
A style that cannot be applied to a seed (no drug to rename, no level to respell) yields nothing for it.

"break" styles make the note lose a fact the claim needs (a dosed skin local beside an undosed injectate, an
unfilled EHR field for the level or the side, the imaging only in an unchecked box): each must be refused.

Every random choice comes from random.Random(f"{seed_id}:{style}"). Per family: variants, false refusals (keep
refused), false supported (break supported). Gate: 0 false supported, <= MAX_FALSE_REFUSAL_RATIO refused per family.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.metamorphic.families import INJECTS, LEVEL, FamilySeed, family_seeds

MAX_FALSE_REFUSAL_RATIO = 0.01

DRUG_NAMES = r"triamcinolone|methylprednisolone|dexamethasone|betamethasone|bupivacaine|lidocaine|ropivacaine"
BRANDS = {"triamcinolone": ["Kenalog", "Kenalog-40"], "methylprednisolone": ["Depo-Medrol"],
          "dexamethasone": ["Decadron"], "betamethasone": ["Celestone"],
          "bupivacaine": ["Marcaine", "Sensorcaine"], "lidocaine": ["Xylocaine"], "ropivacaine": ["Naropin"]}
# one drug with its amounts, as the family notes write it: "Bupivacaine 0.25% 0.5 mL", "1% lidocaine 3 mL",
# "Triamcinolone 40 mg", "Methylprednisolone 80 mg in 4 mL preservative-free saline", "Dexamethasone 10 mg"
AMT = r"\d+(?:\.\d+)?\s*(?:mg|mL|%)"
MED = re.compile(rf"(?P<pre>(?:\d+(?:\.\d+)?%\s+)?)(?P<drug>\b(?:{DRUG_NAMES})\b)(?P<post>(?:\s+{AMT})*)", re.I)


@dataclass(frozen=True)
class Style:
    category: str
    name: str
    kind: str  # keep | break
    fn: Callable[[FamilySeed, random.Random], str | None]


STYLES: list[Style] = []


def style(category: str, name: str, kind: str = "keep"):
    def deco(fn):
        STYLES.append(Style(category, name, kind, fn))
        return fn
    return deco


def _lines(note: str) -> dict[str, str]:
    out = {}
    for ln in note.split("\n"):
        m = re.match(r"([A-Z][A-Z /-]+):\s*(.*)", ln)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def _sections(s: FamilySeed) -> tuple[str, str, str] | None:
    f = _lines(s.note)
    if set(f) != {"DIAGNOSIS", "PROCEDURE", "DESCRIPTION"}:
        return None
    return f["DIAGNOSIS"], f["PROCEDURE"], f["DESCRIPTION"]


def _meds(text: str) -> list[re.Match]:
    return [m for m in MED.finditer(text) if re.search(r"\d", m.group("pre") + m.group("post"))]


# --- 1. amounts and names -------------------------------------------------------------------------------------------
@style("1.amounts", "mL as ml")
def ml_lower(s, rng):
    return re.sub(r"(?<=\d) ?mL\b", " ml", s.note)


@style("1.amounts", "mL as cc")
def ml_cc(s, rng):
    return re.sub(r"(?<=\d) ?mL\b", " cc", s.note)


@style("1.amounts", "units spelled out")
def units_words(s, rng):
    t = re.sub(r"(?<=\d) ?mL\b", " milliliters", s.note)
    return re.sub(r"(?<=\d) ?mg\b", " milligrams", t)


@style("1.amounts", "no space before the unit")
def units_tight(s, rng):
    return re.sub(r"(?<=\d) (mg|mL)\b", r"\1", s.note)


@style("1.amounts", "percent as word")
def pct_word(s, rng):
    return re.sub(r"(?<=\d)%", " percent", s.note)


@style("1.amounts", "brand names")
def brand(s, rng):
    def rep(m):
        return rng.choice(BRANDS[m.group(0).lower()]) if m.group(0)[0].isupper() else rng.choice(
            BRANDS[m.group(0).lower()])
    return re.sub(rf"\b(?:{DRUG_NAMES})\b", rep, s.note, flags=re.I)


@style("1.amounts", "generic with its salt")
def salted(s, rng):
    t = re.sub(r"\b(Triamcinolone|triamcinolone)\b(?! acetonide)", r"\1 acetonide", s.note)
    t = re.sub(r"\b(Dexamethasone|dexamethasone)\b", r"\1 sodium phosphate", t)
    t = re.sub(r"\b(Bupivacaine|bupivacaine)\b", r"\1 HCl", t)
    return t


@style("1.amounts", "brand (generic)")
def brand_generic(s, rng):
    return re.sub(rf"\b({DRUG_NAMES})\b", lambda m: f"{BRANDS[m.group(1).lower()][0]} ({m.group(1).lower()})",
                  s.note, flags=re.I)


@style("1.amounts", "medication table")
def med_table(s, rng):
    """The drug sentence as a pipe table under a 'Medications injected' heading."""
    parts = _sections(s)
    if not parts:
        return None
    dx, proc, desc = parts
    sents = re.split(r"(?<=[.;])\s+", desc)
    drug = [x for x in sents if _meds(x)]
    if len(drug) != 1 or re.search(r"\bin\s+\d", drug[0]) or "each" not in drug[0] and len(_meds(drug[0])) > 2:
        return None
    rows = []
    for m in _meds(drug[0]):
        amounts = " ".join(x for x in (m.group("pre").strip(), m.group("post").strip()) if x)
        rows.append(f"| {m.group('drug').capitalize()} | {amounts} |")
    rest = " ".join(x for x in sents if x is not drug[0])
    each = re.search(r"\b(?:at|into)\s+each\s+[\w ]+?(?=[.;]|$)", drug[0])
    head = "MEDICATIONS INJECTED" + (f" ({each.group(0)})" if each else "") + ":"
    return "\n".join([f"DIAGNOSIS: {dx}", f"PROCEDURE: {proc}", f"DESCRIPTION: {rest}".rstrip(), head,
                      "| Medication | Amount |", "|---|---|", *rows])


@style("1.amounts", "skin wheal with undosed local")
def skin_local(s, rng):
    """A skin wheal of local anaesthetic named without its amount, beside the dosed injectate (real notes 33, 39):
    the skin local is not the injectate."""
    parts = _sections(s)
    if not parts or not _meds(s.note):
        return None
    dx, proc, desc = parts
    skin = rng.choice(["The skin was anesthetized with 1% lidocaine.", "A lidocaine skin wheal was raised.",
                       "Local anesthesia: 1% lidocaine to the skin and subcutaneous tissue.",
                       "The subcutaneous tissue was infiltrated with lidocaine for local anesthesia."])
    return f"DIAGNOSIS: {dx}\nPROCEDURE: {proc}\nDESCRIPTION: {skin} {desc}"


# --- 4. imaging names -----------------------------------------------------------------------------------------------
@style("4.imaging_names", "fluoro / C-arm / x-ray guidance")
def fluoro_names(s, rng):
    if "fluoroscopic guidance" not in s.note:
        return None
    return s.note.replace("under fluoroscopic guidance", rng.choice(
        ["under fluoro", "under C-arm guidance", "under fluoroscopy", "using fluoroscopic guidance",
         "with fluoroscopic imaging", "under live fluoroscopy"]))


@style("4.imaging_names", "ultrasound / US / sonographic")
def us_names(s, rng):
    if "under ultrasound guidance" not in s.note:
        return None
    return s.note.replace("under ultrasound guidance", rng.choice(
        ["under US guidance", "under sonographic guidance", "using ultrasound guidance", "with ultrasound guidance",
         "under real-time ultrasound guidance"]))


# --- 7. layouts and sections ----------------------------------------------------------------------------------------
@style("7.layouts", "op report headings")
def op_report(s, rng):
    parts = _sections(s)
    if not parts:
        return None
    dx, proc, desc = parts
    return (f"PREOPERATIVE DIAGNOSIS: {dx}\nPOSTOPERATIVE DIAGNOSIS: Same.\nPROCEDURE PERFORMED: {proc}\n"
            f"ANESTHESIA: Local.\nDESCRIPTION OF PROCEDURE: {desc}\nESTIMATED BLOOD LOSS: Minimal.")


@style("7.layouts", "other section names")
def section_names(s, rng):
    parts = _sections(s)
    if not parts:
        return None
    dx, proc, desc = parts
    a = rng.choice(["Diagnosis", "Indication", "Dx", "ASSESSMENT"])
    b = rng.choice(["Procedure", "Procedure performed", "PROCEDURE(S)", "Operation"])
    c = rng.choice(["Technique", "Procedure details", "Details of procedure", "Procedure note"])
    return f"{a}: {dx}\n{b}: {proc}\n{c}: {desc}"


@style("7.layouts", "sections on one line each, blank lines between")
def blank_lines(s, rng):
    return s.note.replace("\n", "\n\n")


@style("7.layouts", "heading on its own line")
def heading_alone(s, rng):
    return re.sub(r"(?m)^([A-Z][A-Z /-]+):\s*", r"\1:\n", s.note)


@style("7.layouts", "MTSamples run-together")
def mtsamples(s, rng):
    return ",".join(re.sub(r"(?m)^([A-Za-z][A-Za-z /-]+):\s*", r"\1:,  ", s.note).split("\n"))


@style("7.layouts", "dictated run-on")
def run_on(s, rng):
    t = re.sub(r"\.?\n", ", ", s.note)
    return re.sub(r"(?<=[a-z0-9)%])\.\s+(?=[A-Z])", ", ", t)


@style("7.layouts", "all caps")
def caps(s, rng):
    return s.note.upper().replace(" ML", " mL")


@style("7.layouts", "bulleted description")
def bullets(s, rng):
    parts = _sections(s)
    if not parts:
        return None
    dx, proc, desc = parts
    items = [x for x in re.split(r"(?<=\.)\s+", desc) if x]
    return f"DIAGNOSIS: {dx}\nPROCEDURE: {proc}\nDESCRIPTION:\n" + "\n".join(f"- {x}" for x in items)


@style("7.layouts", "EHR template around the note")
def ehr_wrapper(s, rng):
    head = rng.choice(["Patient: ***, DOB: ***\nDate of service: 03/14/2025\nProvider: *** MD\n",
                       "Encounter type: Procedure visit\nLocation: Pain clinic, procedure room 2\n"])
    tail = rng.choice(["Electronically signed by *** MD on 03/14/2025 10:42.",
                       "Disposition: home, stable. Follow-up: 2 weeks.\nSigned: *** MD"])
    return head + s.note + "\n" + tail


@style("7.layouts", "British spelling")
def british(s, rng):
    t = s.note
    for a, b in (("anesthesia", "anaesthesia"), ("anesthetic", "anaesthetic"), ("anesthetized", "anaesthetised"),
                 ("Anesthesia", "Anaesthesia"), ("localized", "localised"), ("center", "centre"),
                 ("ization", "isation"), ("osteoarthritis", "osteoarthritis")):
        t = t.replace(a, b)
    parts = _sections(s)
    extra = rng.choice(["Haemostasis was achieved with pressure.", "The patient was positioned and the skin was "
                        "sterilised with chlorhexidine in the usual manner.", "Oedema: none."])
    return t.rstrip() + "\n" + extra if parts else t


@style("7.layouts", "boilerplate consent and time-out")
def boilerplate(s, rng):
    return ("Informed consent was obtained after discussing the risks, benefits and alternatives.\n"
            "A time-out was performed to verify the patient, procedure, side and site.\n" + s.note +
            "\nThe patient tolerated the procedure well.")


# --- 11. levels -----------------------------------------------------------------------------------------------------
_PAIR = re.compile(r"\b([CTL])(\d)-([CTLS])(\d)\b")


def _respell(note: str, how: Callable[[re.Match], str]) -> str | None:
    if not _PAIR.search(note):
        return None
    return _PAIR.sub(how, note)


@style("11.levels", "L4-L5 as L4-5")
def lv_short(s, rng):
    return _respell(s.note, lambda m: f"{m[1]}{m[2]}-{m[4]}" if m[1] == m[3] else m[0])


@style("11.levels", "L4-L5 as L4/5")
def lv_slash(s, rng):
    return _respell(s.note, lambda m: f"{m[1]}{m[2]}/{m[4]}" if m[1] == m[3] else f"{m[1]}{m[2]}/{m[3]}{m[4]}")


@style("11.levels", "L4-L5 as L45")
def lv_run(s, rng):
    return _respell(s.note, lambda m: f"{m[1]}{m[2]}{m[4]}" if m[1] == m[3] else f"{m[1]}{m[2]}{m[3]}{m[4]}")


@style("11.levels", "L4-L5 as L4–L5 (en dash)")
def lv_dash(s, rng):
    return _respell(s.note, lambda m: f"{m[1]}{m[2]}\u2013{m[3]}{m[4]}")


@style("11.levels", "level named in the technique, not the title")
def lv_in_technique(s, rng):
    """The level moves from the PROCEDURE line into the sentence that places the needle (real note 42)."""
    parts = _sections(s)
    if not parts or s.family not in ("facet", "epidural_transforaminal", "epidural_interlaminar"):
        return None
    dx, proc, desc = parts
    lv = re.search(rf"(?:{LEVEL})(?:(?:,\s*|,?\s+and\s+)(?:{LEVEL}))*", proc)
    needle = re.search(r"A (?:20|22)-gauge [\w ]+? was advanced (?:to|into) ", desc)
    if not lv or not needle or s.family == "epidural_interlaminar" and "caudal" in proc.lower():
        return None
    new_proc = re.sub(r"\s+", " ", proc.replace(" at " + lv.group(0), " ").replace(lv.group(0) + " ", "")).strip()
    if s.family == "epidural_interlaminar":
        new_proc = new_proc.replace("Interlaminar", "Lumbar interlaminar" if lv.group(0)[0] in "LS" else
                                    "Cervical interlaminar")
        new_desc = desc.replace("the epidural space", f"the {lv.group(0)} epidural space")
    elif s.family == "facet":
        new_desc = desc.replace("into each facet joint", f"into each {lv.group(0)} facet joint")
    else:
        new_desc = re.sub(rf"\b(left|right|bilateral) {re.escape(lv.group(0))} foramen", rf"\1 {lv.group(0)} foramen",
                          desc)
        if lv.group(0) not in new_desc:
            return None
    if new_desc == desc and s.family != "epidural_transforaminal":
        return None
    return f"DIAGNOSIS: {dx}\nPROCEDURE: {new_proc}\nDESCRIPTION: {new_desc}"


# --- 10. normalisation ----------------------------------------------------------------------------------------------
@style("10.normalisation", "non-breaking spaces")
def nbsp(s, rng):
    return re.sub(r"(?<=\d) (?=mg|mL)", "\u00a0", s.note).replace(": ", ":\u00a0")


@style("10.normalisation", "tabs and trailing spaces")
def tabs(s, rng):
    return re.sub(r"(?m)^([A-Z][A-Z /-]+):\s*", "\\1:\t", s.note).replace("\n", "   \n")


# --- 12. other words for the same procedure, side and amounts ---------------------------------------------------------
SYNONYMS = [
    (r"\btransforaminal epidural steroid injection\b", ["TFESI", "transforaminal ESI", "transforaminal epidural injection",
                                                       "transforaminal epidural steroid injections"]),
    (r"\bInterlaminar epidural steroid injection\b", ["Interlaminar ESI", "ILESI", "Interlaminar epidural injection"]),
    (r"\bCaudal epidural steroid injection\b", ["Caudal ESI", "Caudal epidural injection"]),
    (r"\bfacet joint injections\b", ["facet injections", "intra-articular facet joint injections",
                                     "zygapophyseal joint injections", "facet joint blocks"]),
    (r"\bmedial branch radiofrequency ablation\b", ["medial branch RFA", "radiofrequency neurotomy of the medial branches",
                                                    "medial branch RF ablation", "medial branch radiofrequency neurotomy"]),
    (r"\bgenicular nerve block\b", ["genicular nerve blocks", "genicular block"]),
    (r"\bgenicular nerve radiofrequency ablation\b", ["genicular nerve RFA", "genicular radiofrequency neurotomy"]),
    (r"\blateral branch blocks\b", ["lateral branch nerve blocks"]),
    (r"\bTrigger point injections\b", ["TPIs", "Trigger point injection"]),
    (r"\bknee injection\b", ["knee joint injection", "intra-articular knee injection"]),
    (r"\bshoulder injection\b", ["shoulder joint injection", "glenohumeral joint injection"]),
]


@style("12.synonyms", "another name for the procedure")
def synonyms(s, rng):
    for pat, names in SYNONYMS:
        if re.search(pat, s.note):
            return re.sub(pat, rng.choice(names), s.note)
    return None


@style("12.synonyms", "side abbreviated R / L")
def side_letter(s, rng):
    if not re.search(r"(?m)^PROCEDURE: (?:Left|Right) ", s.note):
        return None
    t = re.sub(r"(?m)^PROCEDURE: (Left|Right) ", lambda m: f"PROCEDURE: {m.group(1)[0]} ", s.note)
    return re.sub(r"\b(left|right)\b", lambda m: m.group(1)[0].upper(), t)


@style("12.synonyms", "side after the procedure")
def side_after(s, rng):
    m = re.search(r"(?m)^PROCEDURE: (Left|Right|Bilateral) (.+?)\.$", s.note)
    if not m:
        return None
    tail = {"Left": ", left", "Right": ", right", "Bilateral": ", bilateral"}[m.group(1)]
    return s.note.replace(m.group(0), f"PROCEDURE: {m.group(2)[0].upper() + m.group(2)[1:]}{tail}.")


@style("12.synonyms", "dose after the drug name with 'of'")
def dose_of(s, rng):
    t = re.sub(rf"\b([A-Z]?[a-z]*(?:{DRUG_NAMES}))\s+(\d+(?:\.\d+)?)\s*mg\b", r"\2 mg of \1", s.note, flags=re.I)
    return re.sub(r"(?m)(^|\. )(\d)", r"\1\2", t)


@style("12.synonyms", "dose in parentheses")
def dose_paren(s, rng):
    return re.sub(rf"\b((?:{DRUG_NAMES}))\s+(\d+(?:\.\d+)?\s*mg)\b", r"\1 (\2)", s.note, flags=re.I)


@style("12.synonyms", "first person active voice")
def active(s, rng):
    t = re.sub(r"\bA (\d+-gauge [\w ]+?) was advanced\b", r"I advanced a \1", s.note)
    t = re.sub(r"(?<=\. )([A-Z][^.]*?) (?:was|were) injected\b", lambda m: "I injected " + m.group(1)[0].lower()
               + m.group(1)[1:], t)
    return t if t != s.note else None


@style("12.synonyms", "guidance as its own sentence")
def guidance_sentence(s, rng):
    m = re.search(r" under (fluoroscopic|ultrasound|CT) guidance", s.note)
    if not m or "\nDESCRIPTION: " not in s.note:
        return None
    name = {"fluoroscopic": "Fluoroscopic", "ultrasound": "Ultrasound", "CT": "CT"}[m.group(1)]
    t = s.note.replace(m.group(0), "", 1)
    return re.sub(r"(?m)^(DESCRIPTION: )", rf"\1{name} guidance was used for needle placement. ", t, count=1)


# --- breaks ---------------------------------------------------------------------------------------------------------
@style("1.amounts", "injectate undosed, skin local dosed", kind="break")
def skin_dosed_injectate_not(s, rng):
    if not (INJECTS & set(s.bases) and _meds(s.note)) or s.family in ("facet_rfa", "si_rfa") or \
            s.family == "genicular" and "ablation" in s.note:
        return None
    parts = _sections(s)
    if not parts:
        return None
    dx, proc, desc = parts
    undosed = MED.sub(lambda m: m.group("drug"), desc)
    undosed = re.sub(r"\s+in\s+\d+(?:\.\d+)?\s*mL\b", "", undosed)
    if re.search(AMT, undosed):
        return None
    return f"DIAGNOSIS: {dx}\nPROCEDURE: {proc}\nDESCRIPTION: The skin was anesthetized with 1% lidocaine 2 mL. {undosed}"


@style("9.unfilled_fields", "level field unfilled", kind="break")
def level_unfilled(s, rng):
    if s.family not in ("facet", "facet_rfa", "epidural_transforaminal") or not re.search(LEVEL, s.note):
        return None
    t = re.sub(rf"\s*(?:{LEVEL})(?:(?:,\s*|,?\s+and\s+)(?:{LEVEL}))*", "", s.note)
    return t.rstrip() + "\nLevel(s): ___"


@style("9.unfilled_fields", "side field unfilled", kind="break")
def side_unfilled(s, rng):
    if not any(m in s.modifiers for m in ("LT", "RT", "50")):
        return None
    t = re.sub(r"\b(?:left|right|bilateral)\s+", "", s.note, flags=re.I)
    t = re.sub(r"(?m)^(\w+: )([a-z])", lambda m: m.group(1) + m.group(2).upper(), t)
    return t.rstrip() + "\nSide: [ ] Left [ ] Right [ ] Bilateral"


@style("9.unfilled_fields", "imaging only in an unchecked box", kind="break")
def imaging_unchecked(s, rng):
    if not re.search(r"under (?:fluoroscopic|ultrasound|CT) guidance", s.note):
        return None
    if not any(b in ("62321", "62323", "64479", "64480", "64483", "64484", "64490", "64491", "64492", "64493",
                     "64494", "64495", "64633", "64634", "64635", "64636", "64625", "64451", "0228T", "0229T",
                     "0230T", "0231T", "0213T", "0214T", "0215T", "0216T", "0217T", "0218T", "20604", "20606",
                     "20611") for b in s.bases):
        return None
    m = re.search(r"under (fluoroscopic|ultrasound|CT) guidance", s.note)
    name = {"fluoroscopic": "Fluoroscopy", "ultrasound": "Ultrasound", "CT": "CT"}[m.group(1)]
    t = re.sub(r"\s*under (?:fluoroscopic|ultrasound|CT) guidance", "", s.note)
    t = re.sub(r"\s*Contrast [^.]*\.", "", t)
    t = re.sub(r"\s*The needle was seen entering the joint under real-time ultrasound; an image was saved to the "
               r"chart\.", "", t)
    return t + f"\nGuidance: [ ] {name} [ ] None"


@style("11.levels", "level only in an imaging finding, not the technique", kind="break")
def level_in_history_only(s, rng):
    """The title and technique name no level; an MRI finding does: which levels were injected is a question."""
    if s.family not in ("facet", "facet_rfa", "epidural_transforaminal") or not re.search(LEVEL, s.note):
        return None
    lv = re.search(rf"(?:{LEVEL})(?:(?:,\s*|,?\s+and\s+)(?:{LEVEL}))*", s.note)
    t = re.sub(rf"\s*(?:{LEVEL})(?:(?:,\s*|,?\s+and\s+)(?:{LEVEL}))*", "", s.note)
    finding = rng.choice([f"HISTORY: MRI shows degenerative changes at {lv.group(0)}.",
                          f"INDICATION: Pain with imaging findings at {lv.group(0)}."])
    return finding + "\n" + t


@style("12.synonyms", "dose in parentheses, drug not injected", kind="break")
def paren_not_injected(s, rng):
    if not INJECTS & set(s.bases) or s.family in ("facet_rfa", "si_rfa", "genicular"):
        return None
    t = re.sub(rf"\b((?:{DRUG_NAMES}))\s+(\d+(?:\.\d+)?\s*mg)\b", r"\1 (\2)", s.note, flags=re.I)
    t2 = re.sub(r"\b(?:was|were) injected\b", "was drawn up but not injected", t)
    if t == s.note or t2 == t or re.search(r"(?m)^DESCRIPTION: .*\bat each nerve\.", s.note):
        return None
    return t2 + "\nThe procedure was aborted; no medication was given."


@style("12.synonyms", "side letter only in the history", kind="break")
def side_letter_history(s, rng):
    mods = s.modifiers & {"LT", "RT"}
    if not mods or not re.search(r"\b(?:left|right)\b", s.note, re.I):
        return None
    letter = "L" if "LT" in mods else "R"
    t = re.sub(r"\s*\b(?:left|right)\b", "", s.note, flags=re.I)
    t = re.sub(r"(?m)^(\w+: )([a-z])", lambda m: m.group(1) + m.group(2).upper(), t)
    lv = re.search(LEVEL, s.note)
    return f"HISTORY: prior {letter} {lv.group(0) + ' ' if lv else ''}injection in 2022 with good relief.\n" + t


@style("11.levels", "level in a technique sentence that failed", kind="break")
def level_technique_failed(s, rng):
    """The title names no level; the only level is where the needle could NOT go."""
    parts = _sections(s)
    if not parts or s.family not in ("facet", "epidural_transforaminal"):
        return None
    dx, proc, desc = parts
    lv = re.search(rf"(?:{LEVEL})(?:(?:,\s*|,?\s+and\s+)(?:{LEVEL}))*", proc)
    if not lv:
        return None
    new_proc = re.sub(r"\s+", " ", proc.replace(lv.group(0) + " ", "")).strip()
    target = "facet joint" if s.family == "facet" else "foramen"
    fail = f"The needle could not be advanced to the {lv.group(0)} {target} because of hardware."
    new_desc = re.sub(rf"A \d+-gauge [\w ]+? was advanced (?:to|into) [^.]*\.", fail, desc)
    if new_desc == desc:
        return None
    return f"DIAGNOSIS: {dx}\nPROCEDURE: {new_proc}\nDESCRIPTION: {new_desc}"


# --- running --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FamilyStyleVariant:
    seed_id: str
    family: str
    category: str
    style: str
    kind: str
    text: str
    codes: tuple[str, ...]
    payer: str | None


@dataclass
class FamilyTally:
    family: str
    seeds: int = 0
    seeds_refused: list[str] = field(default_factory=list)
    outcomes: list[tuple[FamilyStyleVariant, bool, list[str]]] = field(default_factory=list)

    def of(self, kind: str) -> list:
        return [o for o in self.outcomes if o[0].kind == kind]

    @property
    def false_refused(self) -> list:
        return [o for o in self.of("keep") if not o[1]]

    @property
    def false_supported(self) -> list:
        return [o for o in self.of("break") if not o[1]]

    @property
    def false_refusal_ratio(self) -> float:
        k = self.of("keep")
        return len(self.false_refused) / len(k) if k else 0.0


def generate(seeds: list[FamilySeed]) -> list[FamilyStyleVariant]:
    out = []
    for s in seeds:
        seen = {s.note}
        for st in STYLES:
            text = st.fn(s, random.Random(f"{s.id}:{st.name}"))
            if not text or text in seen:
                continue
            seen.add(text)
            out.append(FamilyStyleVariant(s.id, s.family, st.category, st.name, st.kind, text, s.codes, s.payer))
    return out


def run(progress=None) -> dict[str, FamilyTally]:
    from notedraft.validate import validate

    seeds = family_seeds()
    out: dict[str, FamilyTally] = {}
    for s in seeds:
        t = out.setdefault(s.family, FamilyTally(s.family))
        t.seeds += 1
        if not validate(s.note, list(s.codes), s.payer).supported:
            t.seeds_refused.append(s.id)
    for v in generate(seeds):
        try:
            r = validate(v.text, list(v.codes), v.payer)
            ok = r.supported == (v.kind == "keep")
            errs = [f"{f.rule}: {f.message}" for f in r.findings if f.severity == "error"]
        except Exception as exc:  # noqa: BLE001 - a crash is a finding
            ok, errs = False, [f"raised {type(exc).__name__}: {exc}"]
        out[v.family].outcomes.append((v, ok, errs if not ok else []))
    return out


def table(tallies: dict[str, FamilyTally], examples: int = 0) -> str:
    lines = [f"styles on the family seeds: {'family':24} {'seeds':>5} {'keep':>5} {'false ref':>9} {'ratio':>6} "
             f"{'break':>5} {'FALSE SUP':>9}"]
    k_all = fr_all = b_all = fs_all = 0
    for name in sorted(tallies):
        t = tallies[name]
        k, b = len(t.of("keep")), len(t.of("break"))
        k_all, b_all = k_all + k, b_all + b
        fr_all, fs_all = fr_all + len(t.false_refused), fs_all + len(t.false_supported)
        lines.append(f"{'':27}{name:24} {t.seeds:>5} {k:>5} {len(t.false_refused):>9} {t.false_refusal_ratio:>6.1%} "
                     f"{b:>5} {len(t.false_supported):>9}")
    lines.append(f"{'':27}{'all families':24} {'':>5} {k_all:>5} {fr_all:>9} {(fr_all / k_all if k_all else 0):>6.1%} "
                 f"{b_all:>5} {fs_all:>9}")
    if examples:
        for name in sorted(tallies):
            t = tallies[name]
            shown: Counter = Counter()
            for v, ok, errs in t.false_refused + t.false_supported:
                if shown[v.style] >= examples:
                    continue
                shown[v.style] += 1
                label = "false refused" if v.kind == "keep" else "FALSE SUPPORTED"
                lines.append(f"  [{name}] {label} [{v.category} / {v.style}] {v.seed_id} {list(v.codes)}")
                lines.append("      " + v.text.replace("\n", "\\n")[:500])
                for e in errs[:3]:
                    lines.append("        " + e[:200])
    return "\n".join(lines)


def by_style(tallies: dict[str, FamilyTally]) -> str:
    rows: dict = defaultdict(Counter)
    for t in tallies.values():
        for v, ok, _ in t.outcomes:
            rows[(v.kind, v.category, v.style)]["n"] += 1
            rows[(v.kind, v.category, v.style)]["fail"] += not ok
    return "\n".join(f"  {kind:5} {cat:18} {st:48} {c['n']:>4} variants, {c['fail']:>3} failing"
                     for (kind, cat, st), c in sorted(rows.items()))


def gate_problems(tallies: dict[str, FamilyTally]) -> list[str]:
    problems = []
    for name, t in sorted(tallies.items()):
        if t.false_supported:
            problems.append(f"{name}: {len(t.false_supported)} break styles supported")
        if t.false_refusal_ratio > MAX_FALSE_REFUSAL_RATIO:
            problems.append(f"{name}: false refusals {t.false_refusal_ratio:.1%} > {MAX_FALSE_REFUSAL_RATIO:.0%}")
    return problems


def main() -> int:  # python -m tests.styles --families
    start = time.monotonic()
    t = run()
    print(table(t, examples=3))
    print(by_style(t))
    print(f"({time.monotonic() - start:.1f} s)")
    return 1 if gate_problems(t) else 0
