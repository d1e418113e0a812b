"""Note renderers: each writes a whole note from a seed's facts in one practice style.

A renderer returns the note, or None when its style does not apply to the seed (no brand for that salt, not
bilateral, no ultrasound ...). "keep" renderers keep every fact: the claim's expected verdict is the seed's
(supported). "break" renderers state something that defeats the claim — a careful coder would refuse it.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from .facts import Facts, Med, StyleSeed
from .phrases import (
    GUIDANCE_UNDER, MODALITY_NOUN, OTHER_SIDE, SIDE_CAP, basis_tail, brands, cap, confirmation, dx_phrase, fmt,
    has_pct_words, images_sentence, join_and, joint, med_phrase, meds_sentence, name_form, needle_sentence, pct,
    plain_note, purpose_word, seed_name, skin_sentence, sedation_sentence, strength_phrase, technique, title, words,
)

Renderer = Callable[[StyleSeed, random.Random], "str | None"]


@dataclass(frozen=True)
class Style:
    category: str
    name: str
    kind: str  # keep | break
    fn: Renderer


NOTE_STYLES: list[Style] = []


def style(category: str, name: str, kind: str = "keep"):
    def deco(fn: Renderer) -> Renderer:
        NOTE_STYLES.append(Style(category, name, kind, fn))
        return fn
    return deco


def _needs_modality(s: StyleSeed) -> bool:
    """The claim needs the seed's imaging established: 27096 (fluoro/CT) or 76942 (ultrasound)."""
    return ("27096" in s.bases and s.facts.guidance in ("fluoroscopy", "ct")) or (
        "76942" in s.bases and s.facts.guidance == "ultrasound")


# --- 0. control ---------------------------------------------------------------------------------------------------
@style("0.control", "plain")
def control(s: StyleSeed, rng: random.Random) -> str:
    return plain_note(s.facts)


# --- 1. medication amounts as practices write them ----------------------------------------------------------------
def _amount_note(f: Facts, rng: random.Random, *, form: str = "seed", mgf="{n} mg", mlf="{n} mL", pctf="{n}%",
                 need_form: bool = False) -> str | None:
    phrases, changed = [], False
    orders = (0, 1, 3) if pctf.startswith("words") else tuple(range(12))  # "2 cc quarter percent" wants an "of"
    for m in f.injectates:
        name = name_form(m, form, rng)
        changed |= name is not None
        phrases.append(med_phrase(m, name or seed_name(m), mgf, mlf, pctf, order=rng.choice(orders)))
    if need_form and not changed:
        return None
    return plain_note(f, tech=technique(f, meds=meds_sentence(f, phrases)))


@style("1.amounts", "units_spelled")
def units_spelled(s, rng):
    return _amount_note(s.facts, rng, mgf="{n} milligrams", mlf=rng.choice(["{n} milliliters", "{n} millilitres"]),
                        pctf=rng.choice(["{n} percent", "{n} per cent"]))


@style("1.amounts", "units_plural")
def units_plural(s, rng):
    return _amount_note(s.facts, rng, mgf="{n} mgs", mlf=rng.choice(["{n} cc's", "{n} ccs", "{n} mls"]),
                        pctf=rng.choice(["{n}%", "{n} %", "{dot}%"]))


@style("1.amounts", "fraction_words")
def fraction_words(s, rng):
    if not any(has_pct_words(m.conc) for m in s.facts.injectates):
        return None
    return _amount_note(s.facts, rng, mlf=rng.choice(["{n} cc's", "{n} cc", "{n} mL"]),
                        pctf=f"words:{rng.randrange(3)}")


@style("1.amounts", "number_words")
def number_words(s, rng):
    f = s.facts
    if not any(words(x) for m in f.injectates for x in (m.dose, m.volume) if x is not None):
        return None
    return _amount_note(f, rng, mgf="{w} milligrams", mlf=rng.choice(["{w} cc's", "{w} milliliters"]),
                        pctf="words")


@style("1.amounts", "strength_with_volume")
def strength_with_volume(s, rng):
    f = s.facts
    phrases, changed = [], False
    for m in f.injectates:
        p = strength_phrase(m, rng)
        changed |= p is not None
        phrases.append(p or med_phrase(m))
    if not changed:
        return None
    return plain_note(f, tech=technique(f, meds=meds_sentence(f, phrases)))


def _cells(m: Med) -> tuple[str, str, str]:
    """(drug, strength/concentration, amount) for a table row."""
    if m.role == "anesthetic":
        return seed_name(m), pct(m.conc), f"{fmt(m.volume)} mL" if m.volume is not None else ""
    amount = f"{fmt(m.dose)} mg" + (f" ({fmt(m.volume)} mL)" if m.volume is not None else "")
    return seed_name(m), (f"{fmt(m.strength)} mg/mL" if m.strength is not None else ""), amount


def _basis_cell(m: Med) -> str:
    return {"per_side": "each side", "total": "total, both joints"}.get(m.basis or "", "")


def _meds_block_intro(f: Facts) -> str:
    return "The following were injected into " + ("the sacroiliac joints:" if f.bilateral else
                                                   f"the {f.side} sacroiliac joint:")


@style("1.amounts", "table_pipe")
def table_pipe(s, rng):
    f = s.facts
    head = "| Medication | Strength | Amount |" + (" Basis |" if f.bilateral else "")
    rows = [head, "|" + " --- |" * (4 if f.bilateral else 3)]
    for m in f.injectates:
        a, b, c = _cells(m)
        rows.append(f"| {a} | {b} | {c} |" + (f" {_basis_cell(m)} |" if f.bilateral else ""))
    return plain_note(f, tech=technique(f, meds=_meds_block_intro(f)), block="\n".join(rows))


@style("1.amounts", "numbered_list")
def numbered_list(s, rng):
    f = s.facts
    items = [f"{i}. {med_phrase(m, order=rng.randrange(4))}{basis_tail(m) if f.bilateral else ''}"
             for i, m in enumerate(f.injectates, 1)]
    return plain_note(f, tech=technique(f, meds=_meds_block_intro(f)), block="\n".join(items))


@style("1.amounts", "column_apart")
def column_apart(s, rng):
    f = s.facts
    rows = [("Medication", "Amount")]
    for m in f.injectates:
        a, b, c = _cells(m)
        rows.append((f"{a} {b}".strip(), c + (f" {_basis_cell(m)}" if f.bilateral else "")))
    width = max(len(r[0]) for r in rows) + 6
    return plain_note(f, tech=technique(f, meds=_meds_block_intro(f)),
                      block="\n".join(f"{a:<{width}}{b}" for a, b in rows))


@style("1.amounts", "per_side")
def per_side(s, rng):
    f = s.facts
    meds = f.injectates
    if not f.bilateral:
        return None
    if all(m.basis == "per_side" for m in meds) and rng.random() < 0.5:
        each = join_and([med_phrase(m, order=rng.randrange(4)) for m in meds])
        first, second = rng.choice([("Left", "Right"), ("Right", "Left")])
        text = f"{first} sacroiliac joint: {each}. {second} sacroiliac joint: {each}."
    else:
        tails = [" per side", " to each joint", " apiece", " each side", " into each joint"]
        text = cap(join_and([med_phrase(m, order=rng.randrange(4)) + basis_tail(m, rng, tails) for m in meds])) + \
            (" was" if len(meds) == 1 else " were") + " injected."
    return plain_note(f, tech=technique(f, meds=text))


@style("1.amounts", "brand_names")
def brand_names(s, rng):
    return _amount_note(s.facts, rng, form="brand", need_form=True)


@style("1.amounts", "generic_salt")
def generic_salt(s, rng):
    f = s.facts
    form = "brand_generic" if any(brands(m) for m in f.injectates if m.role == "steroid") and rng.random() < 0.5 \
        else "generic_salt"
    return _amount_note(f, rng, form=form, need_form=True)


@style("1.amounts", "british_names")
def british_names(s, rng):
    return _amount_note(s.facts, rng, form="british", mlf=rng.choice(["{n} mls", "{n} millilitres"]))


@style("1.amounts", "misspelled")
def misspelled_names(s, rng):
    return _amount_note(s.facts, rng, form="misspelled", need_form=True)


# --- 2. a second procedure in the note ----------------------------------------------------------------------------
def _second(kind: str, side2: str) -> tuple[str, str, str]:
    """(procedure line, diagnosis, technique) of a separate procedure with its own guidance, drugs and side."""
    S = SIDE_CAP[side2]
    digit = "1" if side2 == "right" else "2"
    if kind == "piriformis":
        return (f"{S} piriformis muscle injection under ultrasound guidance",
                f"{S} piriformis syndrome (G57.0{digit})",
                f"With a linear probe the {side2} piriformis muscle was identified and, under direct ultrasound "
                f"visualization, 3 mL of 0.5% ropivacaine was injected into the muscle belly.")
    if kind == "trigger_points":
        return (f"Trigger point injections, {side2} gluteus medius and {side2} quadratus lumborum (2 muscles)",
                "Myalgia, other site (M79.18)",
                "The trigger points were identified by palpation and 1 mL of 1% lidocaine was injected into each, "
                "without imaging.")
    if kind == "facet":
        return (f"{S} L4-5 and L5-S1 lumbar facet joint injections under fluoroscopic guidance",
                "Lumbar spondylosis (M47.816)",
                f"Under fluoroscopic guidance, a 22-gauge needle was placed into the {side2} L4-5 and L5-S1 facet "
                f"joints and 0.5 mL of 0.5% bupivacaine was injected into each facet joint.")
    if kind == "mbb":
        return (f"{S} L3 and L4 medial branch and L5 dorsal ramus blocks under fluoroscopic guidance",
                "Lumbar spondylosis (M47.816)",
                f"Under AP and oblique fluoroscopy, needles were placed at the {side2} L3 and L4 medial branches and "
                f"the {side2} L5 dorsal ramus; 0.5 mL of 0.5% bupivacaine was injected at each level.")
    if kind == "lateral_branch":
        return (f"{S} L5 dorsal ramus and S1-S3 lateral branch blocks under fluoroscopic guidance",
                f"{S} sacroiliac joint pain (M53.3)",
                f"Under fluoroscopic guidance, needles were placed at the {side2} L5 dorsal ramus and lateral to the "
                f"{side2} S1, S2 and S3 foramina; 0.5 mL of 0.5% bupivacaine was injected at each of the 4 sites.")
    if kind == "bursa":
        return (f"{S} greater trochanteric bursa injection by palpation",
                f"Trochanteric bursitis, {side2} hip (M70.6{digit})",
                f"The {side2} greater trochanter was palpated and 40 mg of triamcinolone with 4 mL of 1% lidocaine "
                f"was injected into the {side2} trochanteric bursa.")
    raise ValueError(kind)


def _second_side(f: Facts, kind: str, rng: random.Random) -> str:
    if f.bilateral:
        return rng.choice(["left", "right"])
    if kind == "lateral_branch":
        return OTHER_SIDE[f.side]
    return rng.choice([f.side, OTHER_SIDE[f.side]])


def _with_second(s: StyleSeed, rng: random.Random, kind: str) -> str:
    f = s.facts
    proc2, dx2, tech2 = _second(kind, _second_side(f, kind, rng))
    si = (f"PROCEDURE: {title(f)} {GUIDANCE_UNDER[f.guidance]}.\nDIAGNOSIS: {dx_phrase(f)}.\n"
          f"PURPOSE: {cap(purpose_word(f))}.\nTECHNIQUE: {technique(f)}")
    other = f"PROCEDURE: {proc2}.\nDIAGNOSIS: {dx2}.\nTECHNIQUE: {tech2}"
    blocks = [si, other] if rng.random() < 0.6 else [other, si]
    return "\n\n".join(f"PROCEDURE {i}\n{b}" for i, b in enumerate(blocks, 1)) + \
        "\n\nThe patient tolerated both procedures well."


for _kind in ("piriformis", "trigger_points", "facet", "mbb", "bursa"):
    style("2.second_procedure", _kind)(lambda s, rng, _k=_kind: _with_second(s, rng, _k))


@style("2.second_procedure", "lateral_branch_other_side")
def lateral_branch_other_side(s, rng):
    return None if s.facts.bilateral else _with_second(s, rng, "lateral_branch")


@style("2.second_procedure", "interleaved")
def interleaved(s, rng):
    f = s.facts
    kind = rng.choice(["piriformis", "facet", "bursa", "trigger_points"])
    proc2, dx2, tech2 = _second(kind, _second_side(f, kind, rng))
    return "\n".join([
        "PROCEDURES:", f"1. {title(f)} {GUIDANCE_UNDER[f.guidance]}.", f"2. {proc2}.",
        "DIAGNOSES:", f"1. {dx_phrase(f)}.", f"2. {dx2}.",
        f"PURPOSE (sacroiliac joint injection): {cap(purpose_word(f))}.",
        "TECHNIQUE:", f"1. {technique(f)}", f"2. {tech2}",
        "The patient tolerated both procedures well."])


# break: the note's procedure is a facet injection; the SI joint is only examined and planned
def _facet_only(s: StyleSeed, rng: random.Random, variant: int) -> str:
    f = s.facts
    sj = "both sacroiliac joints" if f.bilateral else f"the {f.side} sacroiliac joint"
    sij = "bilateral SI joint injections" if f.bilateral else f"{f.side} SI joint injection"
    head = ("PROCEDURE: Bilateral L4-5 and L5-S1 lumbar facet joint injections under fluoroscopic guidance.\n"
            "DIAGNOSIS: Lumbar spondylosis (M47.816).\n"
            f"PURPOSE: {cap(purpose_word(f))}.\n"
            "TECHNIQUE: The patient was placed prone and prepped and draped in sterile fashion. Under fluoroscopic "
            "guidance, a 22-gauge needle was placed into each L4-5 and L5-S1 facet joint; contrast confirmed "
            "intra-articular placement. 0.5 mL of 0.5% bupivacaine with 10 mg triamcinolone was injected into "
            "each facet joint.")
    tails = [
        f"EXAM: tenderness over {sj}; FABER, Gaenslen and thigh thrust positive.\n"
        f"PLAN: {cap(sij)} under fluoroscopy at the next visit if pain persists.",
        f"IMPRESSION: 1. Lumbar facet arthropathy (M47.816). 2. {dx_phrase(f)}.\n"
        f"PLAN: schedule {sij} under fluoroscopic guidance.",
        f"HISTORY: {sij} under fluoroscopy in 2023 with good relief; pain over {sj} has returned.\n"
        f"PLAN: repeat {sij} when insurance authorization is received.",
        f"ASSESSMENT: {dx_phrase(f)} is also suspected; {sij} was discussed and deferred today.",
        f"EXAM: {sj} tender to palpation.\nRECOMMENDATION: {sij} if the facet injections give no relief; "
        f"indication for it would be {dx_phrase(f)}.",
    ]
    return head + "\n" + tails[variant]


for _n, _name in enumerate(("facet_only_exam_plan", "facet_only_impression_plan", "facet_only_history_plan",
                            "facet_only_assessment_deferred", "facet_only_recommendation")):
    style("2.second_procedure", _name, "break")(lambda s, rng, _v=_n: _facet_only(s, rng, _v))


# --- 3. explanations, corrections, equipment lists ----------------------------------------------------------------
WHY = {
    "fluoroscopy": ["Fluoroscopy was chosen over ultrasound because of body habitus.",
                    "Fluoroscopy rather than ultrasound was used so that contrast spread could be seen."],
    "ct": ["CT guidance was chosen over fluoroscopy because of body habitus.",
           "CT rather than fluoroscopy was used to show the joint line clearly."],
    "ultrasound": ["Ultrasound was used instead of fluoroscopy to avoid radiation exposure.",
                   "Ultrasound was preferred over fluoroscopy at the patient's request (radiation concern)."],
    "none": ["No imaging was used, at the patient's request.",
             "The injection was done by palpation rather than under fluoroscopy because the fluoroscopy suite was "
             "closed today."],
}


@style("3.explanations", "why_modality_before")
def why_before(s, rng):
    f = s.facts
    why = WHY[f.guidance][rng.randrange(2)]
    return plain_note(f, tech=technique(f).replace("fashion. ", f"fashion. {why} ", 1))


@style("3.explanations", "why_modality_comment")
def why_comment(s, rng):
    f = s.facts
    return plain_note(f, extra="COMMENT: " + WHY[f.guidance][rng.randrange(2)])


_WRONG = {"fluoroscopy": "ultrasound", "ct": "ultrasound", "ultrasound": "fluoroscopy", "none": "fluoroscopy"}
_ADDENDUM = ["ADDENDUM (same day, performing physician)", "Addendum", "Late entry", "AMENDED NOTE",
             "Addendum by the performing physician"]


@style("3.explanations", "correction_guidance")
def correction_guidance(s, rng):
    f = s.facts
    wrong = _WRONG[f.guidance]
    body = plain_note(f, proc=f"{title(f)} {GUIDANCE_UNDER[wrong]}.",
                      tech=technique(f, under=GUIDANCE_UNDER[wrong]))
    right = {"fluoroscopy": "fluoroscopy", "ct": "CT", "ultrasound": "ultrasound",
             "none": "no imaging (palpation of landmarks)"}[f.guidance]
    return body + f"\n{rng.choice(_ADDENDUM)}: correction — the guidance for this injection was {right}, not " \
                  f"{MODALITY_NOUN[wrong]} as originally dictated."


@style("3.explanations", "correction_side")
def correction_side(s, rng):
    f = s.facts
    if f.bilateral:
        return None
    wrong = OTHER_SIDE[f.side]
    body = plain_note(f, proc=f"{SIDE_CAP[wrong]} sacroiliac joint injection {GUIDANCE_UNDER[f.guidance]}.")
    return body + f"\n{rng.choice(_ADDENDUM)}: correction — the injection was on the {f.side.upper()} side; " \
                  f"'{SIDE_CAP[wrong]}' in the procedure line was a transcription error."


@style("3.explanations", "correction_dose")
def correction_dose(s, rng):
    f = s.facts
    st = next((m for m in f.injectates if m.role == "steroid" and m.dose is not None and m.volume is None), None)
    if st is None:
        return None
    wrong = st.dose * 2
    phrases = [med_phrase(m) if m is not st else med_phrase(replace(st, dose=wrong))
               for m in f.injectates]
    body = plain_note(f, tech=technique(f, meds=meds_sentence(f, phrases)))
    return body + f"\n{rng.choice(_ADDENDUM)}: correction — {seed_name(st)} {fmt(st.dose)} mg was injected, not " \
                  f"{fmt(wrong)} mg as originally recorded."


@style("3.explanations", "correction_purpose")
def correction_purpose(s, rng):
    f = s.facts
    wrong = {"diagnostic": "therapeutic", "therapeutic": "diagnostic",
             "diagnostic_and_therapeutic": "therapeutic"}[f.purpose]
    body = plain_note(f, purpose=wrong)
    return body + f"\n{rng.choice(_ADDENDUM)}: the purpose of this injection was {purpose_word(f)}; " \
                  f"'{wrong}' above was entered in error."


EQUIPMENT = {"fluoroscopy": "C-arm fluoroscopy unit (OEC 9900), lead aprons, 22-gauge 3.5-inch spinal needle, "
                            "sterile tray",
             "ct": "CT scanner, 22-gauge 3.5-inch spinal needle, sterile tray",
             "ultrasound": "portable ultrasound unit with a 2-5 MHz curvilinear probe, sterile probe cover, 22-gauge "
                           "spinal needle",
             "none": "22-gauge 3.5-inch spinal needle, chlorhexidine prep, sterile tray (no imaging equipment)"}


@style("3.explanations", "equipment_list")
def equipment_list(s, rng):
    f = s.facts
    return plain_note(f, extra=f"EQUIPMENT: {EQUIPMENT[f.guidance]}.")


@style("3.explanations", "supplies_checklist")
def supplies_checklist(s, rng):
    f = s.facts
    item = {"fluoroscopy": "[X] C-arm fluoroscopy", "ct": "[X] CT scanner", "ultrasound": "[X] Ultrasound unit, "
            "curvilinear probe", "none": "[X] No imaging equipment"}[f.guidance]
    return plain_note(f, extra=f"SUPPLIES: {item}  [X] 22 g spinal needle  [X] Chlorhexidine prep")


@style("3.explanations", "equipment_with_time")
def equipment_with_time(s, rng):
    f = s.facts
    if f.guidance not in ("fluoroscopy", "ct"):
        return None
    log = "Fluoroscopy time: 18 seconds." if f.guidance == "fluoroscopy" else \
        "CT: 4 intermittent acquisitions, DLP 96 mGy·cm."
    equip = "C-arm fluoroscopy unit" if f.guidance == "fluoroscopy" else "CT scanner"
    tech = technique(f, under="under imaging guidance")
    return plain_note(f, proc=f"{title(f)}.", tech=tech, extra=f"EQUIPMENT: {equip}. {log}")


# break: the imaging equipment is mentioned, never used
def _no_use(s: StyleSeed, rng: random.Random, variant: int) -> str | None:
    f = s.facts
    if not _needs_modality(s):
        return None
    if f.guidance == "fluoroscopy":
        lines = ["EQUIPMENT: C-arm in the room; no images were acquired.",
                 "Fluoroscopy time: 0.0 s. Images: none.",
                 "The fluoroscopy suite was closed today; the procedure was done by palpation in the clinic room.",
                 "The C-arm was draped and positioned but not used.",
                 "SUPPLIES: C-arm cover, lead aprons, 22-gauge spinal needle."]
    elif f.guidance == "ct":
        lines = ["CT scanner booked; no CT images were acquired.", "CT acquisitions: 0. DLP: 0 mGy·cm.",
                 "The CT suite was unavailable today; the procedure was done by palpation in the clinic room.",
                 "The patient was positioned on the CT table, but no scan was performed.",
                 "SUPPLIES: CT grid, 22-gauge spinal needle."]
    else:
        lines = ["EQUIPMENT: ultrasound machine at the bedside; no scanning was performed.",
                 "Ultrasound: not used. Images: none.",
                 "The ultrasound unit was unavailable today; the procedure was done by palpation.",
                 "A sterile probe cover was opened, but the probe was never applied.",
                 "SUPPLIES: ultrasound gel, probe cover, 22-gauge spinal needle."]
    tech = technique(f, under="by palpation of anatomic landmarks", confirm="", images="")
    return plain_note(f, proc=f"{title(f)}.", tech=tech, extra=lines[variant])


for _n in range(5):
    style("3.explanations", f"equipment_not_used_{_n}", "break")(lambda s, rng, _v=_n: _no_use(s, rng, _v))


# --- 4. other names for the same imaging --------------------------------------------------------------------------
NAMES = {
    "fluoroscopy": {"c_arm": "under C-arm guidance", "c_arm_fluoroscopy": "using C-arm fluoroscopy",
                    "image_intensifier": "under image intensifier control",
                    "intermittent_screening": "with intermittent fluoroscopic screening",
                    "live_fluoroscopy": "under live fluoroscopy", "pulsed_fluoroscopy": "using pulsed fluoroscopy",
                    "ap_oblique_views": "with AP and oblique fluoroscopic views",
                    "fluoroscopically_guided": "fluoroscopically guided"},
    "ct": {"ct_fluoroscopy": "under CT fluoroscopy", "quick_check_ct": "using a quick-check CT technique",
           "ct_guided": "CT-guided", "computed_tomography": "under computed tomography guidance",
           "intermittent_axial_ct": "with intermittent axial CT imaging",
           "low_dose_ct": "under low-dose CT guidance"},
    "ultrasound": {"sonographic": "under sonographic guidance", "ultrasonography": "with ultrasonography",
                   "us_guided": "US-guided", "real_time_sonography": "under real-time sonography",
                   "curvilinear_transducer": "with a curvilinear transducer, under ultrasound visualization",
                   "in_plane": "ultrasound-guided, in-plane"},
    "none": {"palpation": "by palpation", "landmark_guided": "landmark-guided, without imaging",
             "blind_technique": "using a blind technique without imaging",
             "surface_anatomy": "by surface anatomy, with no image guidance",
             "no_fluoro_no_us": "without fluoroscopy or ultrasound, by anatomic landmarks"},
}


def _named(s: StyleSeed, rng: random.Random, mod: str, key: str) -> str | None:
    f = s.facts
    if f.guidance != mod:
        return None
    phrase = NAMES[mod][key]
    if phrase.endswith("guided"):
        needle = f"A 22-gauge spinal needle was advanced, {phrase}, into {'' if f.bilateral else 'the '}{joint(f)}."
        tech = technique(f).replace(needle_sentence(f), needle)
    else:
        tech = technique(f, under=phrase)
    return plain_note(f, proc=f"{title(f)}.", tech=tech)


for _mod, _names in NAMES.items():
    for _key in _names:
        style("4.imaging_names", f"{_mod}:{_key}")(lambda s, rng, _m=_mod, _k=_key: _named(s, rng, _m, _k))


# --- 5. statements outside the procedure section ------------------------------------------------------------------
def _pronoun(rng: random.Random) -> str:
    return rng.choice(["She", "He", "The patient"])


def _sij(f: Facts) -> str:
    return "bilateral sacroiliac joint injections" if f.bilateral else f"{f.side} sacroiliac joint injection"


@style("5.outside_procedure", "purpose_in_indication")
def purpose_in_indication(s, rng):
    f = s.facts
    return "\n".join([f"PROCEDURE: {title(f)} {GUIDANCE_UNDER[f.guidance]}.",
                      f"INDICATION: {dx_phrase(f)}. The injection today is {purpose_word(f)}.",
                      f"TECHNIQUE: {technique(f)}"])


@style("5.outside_procedure", "purpose_in_history_paragraph")
def purpose_in_history(s, rng):
    f = s.facts
    where = "bilateral" if f.bilateral else f.side
    art = "an" if purpose_word(f).startswith("a") else "a"
    hist = (f"HISTORY: {_pronoun(rng)} has {where} low back and buttock pain, worse with sitting and rising, "
            f"and presents today for {art} {purpose_word(f)} {_sij(f)}.")
    if f.bilateral:
        hist = hist.replace(f"for {art} {purpose_word(f)} bilateral", f"for {purpose_word(f)} bilateral")
    return "\n".join([hist, f"PROCEDURE: {title(f)} {GUIDANCE_UNDER[f.guidance]}.",
                      f"DIAGNOSIS: {dx_phrase(f)}.", f"TECHNIQUE: {technique(f)}"])


@style("5.outside_procedure", "side_and_purpose_in_impression")
def side_purpose_impression(s, rng):
    f = s.facts
    head = rng.choice(["IMPRESSION", "ASSESSMENT"])
    return "\n".join([f"PROCEDURE: {title(f, side=False)} {GUIDANCE_UNDER[f.guidance]}.",
                      f"TECHNIQUE: {technique(f, side=False)}",
                      f"{head}: {dx_phrase(f, sided=False)}. {cap(purpose_word(f))} {_sij(f)} performed today."])


@style("5.outside_procedure", "no_sections")
def no_sections(s, rng):
    f = s.facts
    dx = dx_phrase(f)
    dx = dx if dx[:1].isupper() and dx[1:2].isdigit() else dx[:1].lower() + dx[1:]
    return (f"{title(f)} {GUIDANCE_UNDER[f.guidance]} was performed today for {dx}. "
            f"{technique(f)} This was a {purpose_word(f)} injection.")


@style("5.outside_procedure", "assessment_plan_today")
def assessment_plan_today(s, rng):
    f = s.facts
    return "\n".join([f"A: {dx_phrase(f)}.",
                      f"P: {cap(purpose_word(f))} {_sij(f)} {GUIDANCE_UNDER[f.guidance]}, performed today as "
                      f"follows. {technique(f)}", "Follow up in 2 weeks."])


@style("5.outside_procedure", "side_in_indication_only")
def side_in_indication(s, rng):
    f = s.facts
    if f.bilateral:
        return None
    return "\n".join([f"INDICATION: {dx_phrase(f, sided=True) if f.dx_text else dx_phrase(f)}. "
                      f"{_pronoun(rng)} presents today for a {f.side} sacroiliac joint injection.",
                      f"PROCEDURE: {title(f, side=False)} {GUIDANCE_UNDER[f.guidance]}.",
                      f"PURPOSE: {cap(purpose_word(f))}.", f"TECHNIQUE: {technique(f, side=False)}"])


REPEATED = ["The same was repeated on the {y}.", "The identical procedure was then performed on the {y} side.",
            "Attention was then turned to the {y} sacroiliac joint, where the same technique, confirmation and "
            "medications were used.", "The {y} side was then done in the same manner."]


@style("5.outside_procedure", "bilateral_one_side_at_a_time")
def one_side_at_a_time(s, rng):
    f = s.facts
    if not f.bilateral or not all(m.basis == "per_side" for m in f.injectates) or (
            f.contrast is not None and f.contrast.volume is not None):  # one contrast volume: per side or total?
        return None
    x, y = rng.choice([("right", "left"), ("left", "right")])
    one = replace(f, side=x)
    meds = join_and([med_phrase(m, order=rng.randrange(4)) for m in f.injectates])
    verb = "was" if len(f.injectates) == 1 else "were"
    images = images_sentence(one).replace("Permanent images were recorded", "Permanent images of each side were "
                                                                            "recorded")
    body = " ".join(p for p in [
        f"The {x} sacroiliac joint was injected first.", needle_sentence(one), confirmation(one),
        f"{cap(meds)} {verb} injected.", rng.choice(REPEATED).format(y=y), images] if p)
    return "\n".join([f"PROCEDURE: {title(f)} {GUIDANCE_UNDER[f.guidance]}.", f"DIAGNOSIS: {dx_phrase(f)}.",
                      f"PURPOSE: {cap(purpose_word(f))}.",
                      f"TECHNIQUE: The patient was placed prone and prepped and draped. {skin_sentence(f)} {body} "
                      f"{sedation_sentence(f)}".replace("  ", " ").strip()])


# --- 6. ultrasound records in other words -------------------------------------------------------------------------
US_CONFIRM = ["the tip of the needle was seen to enter the joint",
              "the needle tip was visualised within the joint space",
              "injectate was seen spreading within the joint",
              "the needle was tracked in-plane into the joint cleft and injectate was seen distending the capsule",
              "real-time imaging showed the needle tip passing into the posterior joint line, with intra-articular "
              "spread of injectate"]
US_RECORD = ["images were printed and scanned into the chart", "a cine clip of the needle entering the joint was saved",
             "still images were archived to PACS", "representative images were retained in the record",
             "permanent images were recorded in the EMR", "a hard-copy image was placed in the chart"]


def _us(s: StyleSeed, rng: random.Random, conf: int | None, rec: int | None) -> str | None:
    f = s.facts
    if f.guidance != "ultrasound":
        return None
    if rec is not None and f.images is not True:
        return None
    c = US_CONFIRM[conf if conf is not None else rng.randrange(len(US_CONFIRM))]
    if f.bilateral:
        c = c.replace("the joint", "each joint").replace("the capsule", "each capsule")
        c = c if "each joint" in c else "on each side " + c
    confirm = cap(c) + "."
    if rec is not None:
        r = US_RECORD[rec]
        if f.bilateral:
            r = r.replace("the joint", "each joint") if "the joint" in r else r + " for both sides"
        images = cap(r) + "."
    else:
        images = images_sentence(f)
    return plain_note(f, tech=technique(f, confirm=confirm, images=images))


for _n in range(len(US_CONFIRM)):
    style("6.ultrasound_records", f"confirm_{_n}")(lambda s, rng, _c=_n: _us(s, rng, _c, None))
for _n in range(len(US_RECORD)):
    style("6.ultrasound_records", f"record_{_n}")(lambda s, rng, _r=_n: _us(s, rng, None, _r))


# --- 7. layouts ---------------------------------------------------------------------------------------------------
def _med_items(f: Facts, rng: random.Random | None = None) -> list[str]:
    return [med_phrase(m, order=rng.randrange(4) if rng else 0) + (basis_tail(m) if f.bilateral else "")
            for m in f.injectates]


def _guidance_field(f: Facts) -> str:
    return {"fluoroscopy": "Fluoroscopy", "ct": "CT", "ultrasound": "Ultrasound",
            "none": "None (palpation of landmarks)"}[f.guidance]


def _fields(f: Facts, rng: random.Random) -> list[tuple[str, str]]:
    out = [("Side", SIDE_CAP[f.side]), ("Guidance", _guidance_field(f))]
    if f.confirmation:
        out.append(("Needle confirmation", confirmation(f)))
    if f.images is not None:
        out.append(("Images", images_sentence(f)))
    out += [("Diagnosis", dx_phrase(f)), ("Purpose", cap(purpose_word(f)))]
    for m in f.skin:
        out.append(("Skin local", skin_sentence(f)))
    out.append(("Medications injected", "; ".join(_med_items(f, rng))))
    for m in f.sedation:
        out.append(("Sedation", sedation_sentence(f)))
    return out


@style("7.layouts", "epic_fields")
def epic_fields(s, rng):
    f = s.facts
    lines = ["Procedure Note", "Procedure Name: SACROILIAC JOINT INJECTION" + ("S" if f.bilateral else ""),
             f"Laterality: {SIDE_CAP[f.side]}", f"Pre-procedure Diagnosis: {dx_phrase(f)}",
             f"Procedure Purpose: {cap(purpose_word(f))}", f"Imaging Guidance: {_guidance_field(f)}"]
    if f.confirmation:
        lines.append(f"Needle Confirmation: {confirmation(f)}")
    if f.images is not None:
        lines.append(f"Image Documentation: {images_sentence(f)}")
    lines += [f"Medications Administered: {'; '.join(_med_items(f, rng))}"]
    if f.skin:
        lines.append(f"Local Anesthetic: {skin_sentence(f)}")
    if f.sedation:
        lines.append(f"Sedation: {sedation_sentence(f)}")
    lines += ["Complications: None", "Patient Tolerance: Tolerated well"]
    return "\n".join(lines)


@style("7.layouts", "cerner_fields")
def cerner_fields(s, rng):
    f = s.facts
    lines = ["Procedure: Injection, sacroiliac joint", "Performed by: Attending physician"]
    lines += [f"{k}: {v}" for k, v in _fields(f, rng)]
    lines.append(f"Technique narrative: {technique(f)}")
    return "\n".join(lines)


@style("7.layouts", "smartphrase_sections")
def smartphrase_sections(s, rng):
    f = s.facts
    return "\n".join(["PAIN MANAGEMENT PROCEDURE NOTE", "Date of Service: 03/14/2025",
                      f"Pre-procedure diagnosis: {dx_phrase(f)}", "Post-procedure diagnosis: Same",
                      f"Procedure(s) performed: {title(f)} {GUIDANCE_UNDER[f.guidance]}",
                      f"Indication: {cap(purpose_word(f))} injection", "Anesthesia: Local",
                      "Estimated blood loss: None", f"Description of procedure: {technique(f)}",
                      "Disposition: Home, stable"])


@style("7.layouts", "checkboxes")
def checkboxes(s, rng):
    f = s.facts
    mark = lambda b: "[X]" if b else "[ ]"  # noqa: E731
    side = " ".join(f"{mark(f.side == x)} {SIDE_CAP[x]}" for x in ("left", "right", "bilateral"))
    guid = " ".join(f"{mark(f.guidance == g)} {n}" for g, n in (("fluoroscopy", "Fluoroscopy"), ("ct", "CT"),
                                                                  ("ultrasound", "Ultrasound"),
                                                                  ("none", "None (landmarks)")))
    d = f.purpose in ("diagnostic", "diagnostic_and_therapeutic")
    t = f.purpose in ("therapeutic", "diagnostic_and_therapeutic")
    lines = ["SI JOINT INJECTION", f"Side: {side}", f"Guidance: {guid}"]
    if f.confirmation:
        lines.append(f"Needle confirmation: [X] {confirmation(f)}")
    if f.images is not None:
        lines.append(f"Images: {'[X] recorded and saved to PACS' if f.images else '[X] not saved'}")
    lines += [f"Diagnosis: {dx_phrase(f)}", f"Purpose: {mark(d)} Diagnostic {mark(t)} Therapeutic",
              f"Medications: {'; '.join(_med_items(f, rng))}"]
    if f.skin:
        lines.append(f"Local: {skin_sentence(f)}")
    if f.sedation:
        lines.append(f"Sedation: {sedation_sentence(f)}")
    return "\n".join(lines)


@style("7.layouts", "pipe_table")
def pipe_table(s, rng):
    f = s.facts
    rows = ["| Field | Value |", "| --- | --- |", f"| Procedure | {title(f)} |"]
    rows += [f"| {k} | {v} |" for k, v in _fields(f, rng)]
    return "\n".join(rows)


@style("7.layouts", "json_export")
def json_export(s, rng):
    """An EHR's JSON export: one key per field, snake_case keys, the note as one object (indented or not)."""
    f = s.facts
    doc = {"document_type": "procedure_note", "procedure": title(f)}
    doc |= {k.lower().replace(" ", "_"): v for k, v in _fields(f, rng)}
    return json.dumps(doc, indent=rng.choice([None, 2]))


@style("7.layouts", "hl7_observations")
def hl7_observations(s, rng):
    """An HL7 v2 result message: MSH and PID headers, one OBX per field (OBX-3 code^label, OBX-5 the value)."""
    f = s.facts
    lines = ["MSH|^~\\&|PAINEHR|CLINIC|CODING|BILLING|202603141030||ORU^R01|MSG00042|P|2.5",
             "PID|1||778812^^^CLINIC||DOE^JANE||19600101|F"]
    fields = [("Procedure", title(f))] + _fields(f, rng)
    for i, (k, v) in enumerate(fields, 1):
        lines.append(f"OBX|{i}|TX|{k[:4].upper()}^{k}||{v}||||||F")
    return "\n".join(lines)


@style("7.layouts", "hl7_formatted_text")
def hl7_formatted_text(s, rng):
    """An HL7 v2 document: the whole note in one FT observation, its lines joined by \\.br\\."""
    lines = ["MSH|^~\\&|EPIC|PAIN|||20260314||MDM^T02|123|P|2.3", "TXA|1|PN|TX|20260314||||||||DOC123||||||AU"]
    body = plain_note(s.facts).replace("|", "/").replace("\n", "\\.br\\")
    lines.append(f"OBX|1|FT|PROCNOTE^Procedure Note^L||{body}||||||F")
    return "\n".join(lines)


@style("7.layouts", "tab_table")
def tab_table(s, rng):
    f = s.facts
    return "\n".join([f"Procedure\t{title(f)}"] + [f"{k}\t{v}" for k, v in _fields(f, rng)])


@style("7.layouts", "flowsheet")
def flowsheet(s, rng):
    f = s.facts
    how = {"fluoroscopy": "under fluoroscopy", "ct": "under CT", "ultrasound": "under ultrasound",
           "none": "by palpation, no imaging"}[f.guidance]
    rows = [f"PROCEDURE FLOWSHEET: {title(f)}", f"Diagnosis: {dx_phrase(f)}", f"Purpose: {cap(purpose_word(f))}",
            "Time   Event", f"09:02  Time-out completed: {_sij(f)}, consent verified",
            "09:04  Prone; prepped and draped"]
    if f.skin:
        rows.append(f"09:05  {skin_sentence(f)}")
    rows.append(f"09:06  Needle advanced into the {('sacroiliac joints' if f.bilateral else f.side + ' sacroiliac joint')}"
                f" {how}")
    if f.confirmation:
        rows.append(f"09:07  {confirmation(f)}")
    if f.images is not None:
        rows.append(f"09:08  {images_sentence(f)}")
    rows.append(f"09:09  Injected: {'; '.join(_med_items(f, rng))}")
    if f.sedation:
        rows.append(f"09:00  {sedation_sentence(f)}")
    rows.append("09:12  Tolerated well, to recovery")
    return "\n".join(rows)


_ORDINALS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


@style("7.layouts", "numbered_dictation")
def numbered_dictation(s, rng):
    f = s.facts
    items = [_sij(f), {"fluoroscopy": "under fluoroscopic guidance", "ct": "under CT guidance",
                       "ultrasound": "under ultrasound guidance",
                       "none": "by palpation of landmarks without imaging"}[f.guidance]]
    if f.confirmation:
        items.append(confirmation(f).rstrip(".").lower().replace("ct images", "CT images"))
    if f.images is not None:
        items.append(images_sentence(f).rstrip(".").lower().replace("pacs", "PACS"))
    items += [skin_sentence(f).rstrip(".").lower()] if f.skin else []
    items.append(join_and(_med_items(f, rng)) + " injected")
    items += [f"diagnosis {dx_phrase(f)}", purpose_word(f)]
    return "; ".join(f"{_ORDINALS[i]}, {x}" for i, x in enumerate(items)) + "."


def _voice(text: str) -> str:
    """What a voice-recognition pass leaves: lower case, no punctuation, decimals and ICD codes kept."""
    codes = {c.lower(): c for c in re.findall(r"\b[A-Z]\d{2}\.[0-9A-Z]{1,4}\b", text)}
    text = text.replace("%", " percent").replace("-", " ")
    text = re.sub(r"[()]|(?<!\d)[.,;:](?!\d)|[.,;:](?=\s|$)", " ", text)  # dictation software writes no parentheses
    text = re.sub(r"\s+", " ", text).strip().lower()
    for low, c in codes.items():
        text = text.replace(low, c)
    return re.sub(r"\bct\b", "CT", text).replace("pacs", "PACS")


@style("7.layouts", "voice_runon")
def voice_runon(s, rng):
    f = s.facts
    return _voice(f"{title(f)} {GUIDANCE_UNDER[f.guidance]} for {dx_phrase(f)} {technique(f)} "
                  f"this was a {purpose_word(f)} injection")


@style("7.layouts", "all_caps")
def all_caps(s, rng):
    return plain_note(s.facts).upper()


def _british(text: str) -> str:
    for a, b in (("anesthetized", "anaesthetised"), ("anesthetic", "anaesthetic"), ("visualized", "visualised"),
                 ("visualization", "visualisation"), (" was used", " was utilised"), ("lidocaine", "lignocaine"),
                 ("sacroiliac", "sacro-iliac"), (" mL", " mls"), ("prepped and draped in sterile fashion",
                                                                   "cleaned with chlorhexidine and draped"),
                 ("1 mls", "1 ml"), ("under fluoroscopic guidance", "under image intensifier control"),
                 ("Under fluoroscopic guidance", "Under image intensifier control"), ("tolerated", "tolerated")):
        text = text.replace(a, b)
    return text


@style("7.layouts", "british")
def british_layout(s, rng):
    f = s.facts
    tech = technique(f).replace("advanced into", "sited in")
    extra = "Haemostasis achieved; no colour change at the injection site."
    return _british(plain_note(f, tech=tech, extra=extra))


@style("7.layouts", "mtsamples_run_together")
def mtsamples(s, rng):
    f = s.facts
    parts = [f"{title(f).upper()},PROCEDURE:,  {title(f)} {GUIDANCE_UNDER[f.guidance]}.",
             f"DIAGNOSIS:,  {dx_phrase(f)}.", f"PURPOSE:,  {cap(purpose_word(f))}.",
             "DESCRIPTION OF PROCEDURE:,  " + technique(f).replace(". ", ".  "), "COMPLICATIONS:,  None."]
    return ",".join(parts)


@style("7.layouts", "op_report_numbered")
def op_report(s, rng):
    f = s.facts
    steps = ["The patient was placed prone and the skin was prepped and draped in sterile fashion.",
             skin_sentence(f), needle_sentence(f), confirmation(f), images_sentence(f), meds_sentence(f),
             sedation_sentence(f), "The patient tolerated the procedure well."]
    steps = [x for x in steps if x]
    return "\n".join(["OPERATIVE REPORT", f"PREOPERATIVE DIAGNOSIS: {dx_phrase(f)}.", "POSTOPERATIVE DIAGNOSIS: Same.",
                      f"PROCEDURE PERFORMED: {title(f)} {GUIDANCE_UNDER[f.guidance]}.", "ANESTHESIA: Local.",
                      f"INDICATION: {cap(purpose_word(f))} injection.", "DESCRIPTION OF PROCEDURE:"] +
                     [f"{i}. {x}" for i, x in enumerate(steps, 1)])


# --- 9. unfilled EHR fields (break) -------------------------------------------------------------------------------
PURPOSE_TOKENS = ["{DIAGNOSTIC/THERAPEUTIC:304512}", "***", "@PURPOSE@", "", "_____", "[select]"]
SIDE_TOKENS = ["{LEFT/RIGHT:304513}", "***", "@LATERALITY@", "@SIDE@", "_____"]


def _unfilled_purpose(s: StyleSeed, rng: random.Random, n: int) -> str:
    f = s.facts
    note = plain_note(f, purpose="x")
    return note.replace("PURPOSE: X.", f"PURPOSE: {PURPOSE_TOKENS[n]}".rstrip())


def _unfilled_side(s: StyleSeed, rng: random.Random, n: int) -> str | None:
    f = s.facts
    if f.bilateral or not ({"LT", "RT"} & s.modifiers):
        return None
    tok = SIDE_TOKENS[n]
    return plain_note(f, proc=f"{tok} sacroiliac joint injection {GUIDANCE_UNDER[f.guidance]}.",
                      dx=dx_phrase(f, sided=False), tech=technique(f, side=False))


for _n in range(len(PURPOSE_TOKENS)):
    style("9.unfilled_fields", f"purpose_token_{_n}", "break")(lambda s, rng, _v=_n: _unfilled_purpose(s, rng, _v))
for _n in range(len(SIDE_TOKENS)):
    style("9.unfilled_fields", f"side_token_{_n}", "break")(lambda s, rng, _v=_n: _unfilled_side(s, rng, _v))


# --- 10. normalisation --------------------------------------------------------------------------------------------
LOOKALIKE_NEG = {
    "o_diaeresis": "{M} was n\u00f6t used.", "cyrillic_o": "{M} was n\u043et used.",
    "greek_omicron": "{M} was n\u03bft used.", "combining_diaeresis": "{M} was no\u0308t used.",
    "o_acute": "{M} was n\u00f3t used.", "cyrillic_no": "N\u043e {m} was used.",
    "cyrillic_without": "Performed with\u043eut {m}.", "fullwidth_not": "{M} was \uff4e\uff4f\uff54 used.",
}


def _lookalike(s: StyleSeed, rng: random.Random, key: str) -> str | None:
    f = s.facts
    if not _needs_modality(s):
        return None
    m = {"fluoroscopy": "fluoroscopy", "ct": "CT", "ultrasound": "ultrasound"}[f.guidance]
    neg = LOOKALIKE_NEG[key].format(M=cap(m), m=m)
    tech = " ".join(["The patient was placed prone and the skin was prepped and draped in sterile fashion.", neg,
                     f"A 22-gauge spinal needle was advanced into {'' if f.bilateral else 'the '}{joint(f)}.",
                     meds_sentence(f)])
    return plain_note(f, proc=f"{title(f)}.", tech=tech)


for _key in LOOKALIKE_NEG:
    style("10.normalisation", f"lookalike_{_key}", "break")(lambda s, rng, _k=_key: _lookalike(s, rng, _k))


def _nbsp(t: str) -> str:
    t = re.sub(r"(\d) (mg|mL|%|cc)", "\\1\u00a0\\2", t)
    return re.sub(r"(?m)^([A-Z]+:) ", "\\1\u00a0", t)


def _smart(t: str) -> str:
    return t.replace("the skin was prepped", "the patient\u2019s skin was prepped") + \
        "\nConsent: the patient said \u201cgo ahead\u201d after the risks were reviewed."


def _dashes(t: str) -> str:
    t = t.replace(" under ", " \u2013 under ", 1).replace(" by palpation", " \u2014 by palpation", 1)
    return t + "\nPre-procedure pain 7\u20138/10; post-procedure 2/10 \u2014 improved."


def _ellipsis(t: str) -> str:
    return t.replace("The patient tolerated the procedure well.",
                     "The patient tolerated the procedure well\u2026 discharged home in stable condition.")


def _degree(t: str) -> str:
    return t + "\nVitals: T 36.8 \u00b0C, BP 128/76. Needle depth 7 cm \u00b1 0.5 cm; table tilt 10\u00b0."


def _bullets(t: str, f: Facts) -> str:
    items = "\n".join(f"\u2022 {x}" for x in _med_items(f))
    return t + f"\nMedications (as above):\n{items}"


NORMALISERS = {"nbsp": lambda t, f: _nbsp(t), "smart_quotes": lambda t, f: _smart(t),
               "en_em_dashes": lambda t, f: _dashes(t), "ellipsis": lambda t, f: _ellipsis(t),
               "degree_plus_minus": lambda t, f: _degree(t), "bullets": _bullets,
               "all_of_them": lambda t, f: _bullets(_degree(_ellipsis(_dashes(_smart(_nbsp(t))))), f)}
for _key, _fn in NORMALISERS.items():
    style("10.normalisation", f"punctuation_{_key}")(lambda s, rng, _g=_fn: _g(plain_note(s.facts), s.facts))
