"""Dictation renderers: the same style categories as notes.py, written as the short dictations physicians give
the drafter, from a drafting case's gold facts.

A "keep" dictation states every gold fact; the offline drafter must support the case's expected code lines AND carry
every fact into the draft (scored by score.py against the gold, not by re-reading the draft with notedraft).
A "break" dictation asks for the seed's code lines while stating something that defeats them.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from .facts import Facts, StyleSeed
from .notes import LOOKALIKE_NEG, NAMES, PURPOSE_TOKENS, SIDE_TOKENS, US_CONFIRM, US_RECORD, WHY, Style, _voice
from .phrases import (
    OTHER_SIDE, basis_tail, brands, cap, fmt, has_pct_words, med_phrase, ml, name_form, pct,
    purpose_word, seed_name, strength_phrase, words,
)

DICTATION_STYLES: list[Style] = []


def style(category: str, name: str, kind: str = "keep"):
    def deco(fn):
        DICTATION_STYLES.append(Style(category, name, kind, fn))
        return fn
    return deco


SHORT = {"left": "L", "right": "R", "bilateral": "bilat"}
GUIDE = {"fluoroscopy": "under fluoro", "ct": "CT guided", "ultrasound": "US guided",
         "none": "by landmarks, no imaging"}


def d_proc(f: Facts, side: bool = True) -> str:
    return f"{SHORT[f.side]} SIJ inj" if side else "SIJ inj"


def d_confirm(f: Facts, agent_form: str = "{n} mL") -> str:
    each = f.bilateral
    c = f.contrast
    if f.confirmation == "contrast":
        agent = "contrast"
        if c is not None:
            agent = f"{ml(c.volume, agent_form)} {seed_name(c).lower()}" if c.volume is not None else \
                seed_name(c).lower()
        return f"IA confirmed w {agent}" + (" both sides" if each else "")
    if f.confirmation == "ia":
        return "IA placement confirmed" + (" both sides" if each else "")
    if f.confirmation == "ct_tip":
        s = "needle tip confirmed in " + ("each joint" if each else "joint") + " on CT"
        if f.contrast_too:
            s += ", contrast IA" if c is None or c.volume is None else \
                f", {ml(c.volume, agent_form)} {seed_name(c).lower()} IA"
        return s
    if f.confirmation == "us_tip":
        return "needle seen entering " + ("each joint" if each else "joint")
    return ""


def d_images(f: Facts) -> str:
    return {True: "images saved to PACS", False: "no images saved", None: ""}[f.images]


def d_skin(f: Facts, mlf: str = "{n} mL") -> list[str]:
    out = []
    for m in f.skin:
        out.append(f"skin anesthetized w {ml(m.volume, mlf)} {pct(m.conc)} {seed_name(m).lower()}" if m.volume
                   else f"skin wheal {pct(m.conc)} {seed_name(m).lower()}")
    return out


def d_sedation(f: Facts) -> list[str]:
    return [f"{fmt(m.dose)} mg {seed_name(m).lower()} for sedation" for m in f.sedation]


def d_med_items(f: Facts, rng: random.Random, form: str = "seed", mgf="{n} mg", mlf="{n} mL", pctf="{n}%",
                tails: list[str] | None = None, order: int | None = 0) -> tuple[list[str], bool]:
    """The injectates as dictated; order None lets the style vary the word order ("2 cc 0.25% bupi" /
    "bupi 0.25% 2 cc"), otherwise every med takes that order (0: the plain one)."""
    items, changed = [], False
    orders = (0, 1, 3) if pctf.startswith("words") else tuple(range(12))
    for m in f.injectates:
        name = name_form(m, form, rng)
        changed |= name is not None
        items.append(med_phrase(m, name or seed_name(m), mgf, mlf, pctf,
                                order=rng.choice(orders) if order is None else order) +
                     (basis_tail(m, rng, tails or [" per side"]) if f.bilateral else ""))
    return items, changed


def d_dx(f: Facts, sided: bool | None = None) -> str:
    sided = f.dx_sided if sided is None else sided
    parts = []
    if f.dx_text:
        parts.append((f"{f.side} " if sided else "") + f.dx_text)
    parts += list(f.dx_codes)
    return "dx " + " ".join(parts)


def d_purpose(f: Facts) -> str:
    return purpose_word(f)


def dictation(f: Facts, rng: random.Random, *, proc: str | None = None, guide: str | None = None,
              confirm: str | None = None, images: str | None = None, meds: list[str] | None = None,
              dx: str | None = None, purpose: str | None = None, extra: list[str] | None = None,
              sep: str = ", ") -> str:
    items = [proc if proc is not None else d_proc(f), guide if guide is not None else GUIDE[f.guidance]]
    items += d_skin(f)
    items.append(d_confirm(f) if confirm is None else confirm)
    items.append(d_images(f) if images is None else images)
    items.append(" + ".join(meds if meds is not None else d_med_items(f, rng)[0]))
    items += d_sedation(f)
    items += [d_dx(f) if dx is None else dx, d_purpose(f) if purpose is None else purpose]
    items += extra or []
    return sep.join(i for i in items if i)


def _needs_modality(s: StyleSeed) -> bool:
    return ("27096" in s.bases and s.facts.guidance in ("fluoroscopy", "ct")) or (
        "76942" in s.bases and s.facts.guidance == "ultrasound")


# --- 0 ------------------------------------------------------------------------------------------------------------
@style("0.control", "plain")
def control(s, rng):
    return dictation(s.facts, rng)


# --- 1 ------------------------------------------------------------------------------------------------------------
def _amounts(s, rng, need=False, **kw):
    items, changed = d_med_items(s.facts, rng, order=None, **kw)
    if need and not changed:
        return None
    return dictation(s.facts, rng, meds=items)


style("1.amounts", "units_spelled")(lambda s, rng: _amounts(
    s, rng, mgf="{n} milligrams", mlf=rng.choice(["{n} milliliters", "{n} millilitres"]), pctf="{n} percent"))
style("1.amounts", "units_plural")(lambda s, rng: _amounts(
    s, rng, mgf="{n} mgs", mlf=rng.choice(["{n} cc's", "{n} ccs", "{n} mls"]), pctf=rng.choice(["{n}%", "{dot}%"])))


@style("1.amounts", "fraction_words")
def fraction_words(s, rng):
    if not any(has_pct_words(m.conc) for m in s.facts.injectates):
        return None
    return _amounts(s, rng, mlf=rng.choice(["{n} cc's", "{n} cc"]), pctf=f"words:{rng.randrange(3)}")


@style("1.amounts", "number_words")
def number_words(s, rng):
    if not any(words(x) for m in s.facts.injectates for x in (m.dose, m.volume) if x is not None):
        return None
    return _amounts(s, rng, mgf=rng.choice(["{w} milligrams", "{w} mg"]), mlf=rng.choice(["{w} cc's", "{w} cc"]),
                    pctf="words")


@style("1.amounts", "strength_with_volume")
def strength_with_volume(s, rng):
    f = s.facts
    items, changed = [], False
    for m in f.injectates:
        p = strength_phrase(m, rng)
        changed |= p is not None
        items.append((p or med_phrase(m)) + (basis_tail(m, rng, [" each side", " per side"]) if f.bilateral else ""))
    return dictation(f, rng, meds=items) if changed else None


@style("1.amounts", "numbered_list")
def numbered_list(s, rng):
    items, _ = d_med_items(s.facts, rng)
    words_ = ["one", "two", "three", "four"]
    return dictation(s.facts, rng, meds=["meds " + " ".join(f"{words_[i]} {x}" for i, x in enumerate(items))])


@style("1.amounts", "per_side")
def per_side(s, rng):
    if not s.facts.bilateral:
        return None
    return _amounts(s, rng, tails=[" to each joint", " apiece", " per joint", " each side", " per side"])


style("1.amounts", "brand_names")(lambda s, rng: _amounts(s, rng, need=True, form="brand"))


@style("1.amounts", "generic_salt")
def generic_salt(s, rng):
    form = "brand_generic" if any(brands(m) for m in s.facts.injectates if m.role == "steroid") and \
        rng.random() < 0.5 else "generic_salt"
    return _amounts(s, rng, need=True, form=form)


style("1.amounts", "british_names")(lambda s, rng: _amounts(s, rng, form="british",
                                                            mlf=rng.choice(["{n} mls", "{n} millilitres"])))
style("1.amounts", "misspelled")(lambda s, rng: _amounts(s, rng, need=True, form="misspelled"))


# --- 2 ------------------------------------------------------------------------------------------------------------
def _second_clause(kind: str, side2: str) -> str:
    S = SHORT[side2]
    return {
        "piriformis": f"also {S} piriformis inj under US w 3 cc 0.5% ropivacaine, dx {side2} piriformis syndrome",
        "trigger_points": f"also TPIs to {side2} gluteus medius and quadratus lumborum by palpation, 1 cc 1% "
                          f"lidocaine each, dx myalgia M79.18",
        "facet": f"also {S} L4-5 and L5-S1 facet injections under fluoro w 0.5 cc 0.5% bupivacaine each level, dx "
                 f"lumbar spondylosis M47.816",
        "lateral_branch": f"also {S} L5 dorsal ramus and S1-S3 lateral branch blocks under fluoro, 0.5 cc 0.5% "
                          f"bupivacaine each site",
        "bursa": f"also {S} greater trochanteric bursa inj by palpation w 40 mg triamcinolone + 4 cc 1% lidocaine, "
                 f"dx {side2} trochanteric bursitis",
    }[kind]


def _second(s, rng, kind):
    f = s.facts
    if kind == "lateral_branch" and f.bilateral:
        return None
    side2 = OTHER_SIDE[f.side] if kind == "lateral_branch" else (
        rng.choice(["left", "right"]) if f.bilateral else rng.choice([f.side, OTHER_SIDE[f.side]]))
    clause = _second_clause(kind, side2)
    base = dictation(f, rng)
    return f"{base}. {cap(clause)}." if rng.random() < 0.6 else f"{cap(clause)}. Then {base}."


for _k in ("piriformis", "trigger_points", "facet", "lateral_branch", "bursa"):
    style("2.second_procedure", _k if _k != "lateral_branch" else "lateral_branch_other_side")(
        lambda s, rng, _kk=_k: _second(s, rng, _kk))


def _facet_only(s, rng, n):
    f = s.facts
    sij = "bilat SIJ inj" if f.bilateral else f"{SHORT[f.side]} SIJ inj"
    sj = "both SI joints" if f.bilateral else f"{f.side} SI joint"
    base = ("bilat L4-5 and L5-S1 facet injections under fluoro, contrast confirmed IA, 0.5 cc 0.5% bupi + 10 mg "
            f"kenalog each level, dx M47.816, {purpose_word(f)}")
    tail = [f"{sj} tender on exam, plan {sij} next visit",
            f"impression also {d_dx(f)[3:]}, schedule {sij}",
            f"hx {sij} 2023 good relief, will repeat {sij} when authorized",
            f"{sij} discussed and deferred today",
            f"consider {sij} if no relief"][n]
    return f"{base}, {tail}"


for _n, _name in enumerate(("facet_only_exam_plan", "facet_only_impression_plan", "facet_only_history_plan",
                            "facet_only_assessment_deferred", "facet_only_recommendation")):
    style("2.second_procedure", _name, "break")(lambda s, rng, _v=_n: _facet_only(s, rng, _v))


# --- 3 ------------------------------------------------------------------------------------------------------------
@style("3.explanations", "why_modality")
def why(s, rng):
    f = s.facts
    return dictation(f, rng, extra=[WHY[f.guidance][rng.randrange(2)].rstrip(".").lower()
                                    .replace("ct ", "CT ")])


_WRONG = {"fluoroscopy": "US guided", "ct": "US guided", "ultrasound": "under fluoro", "none": "under fluoro"}
_SCRATCH = ["scratch that", "correction", "sorry, correction", "no wait"]


@style("3.explanations", "spoken_correction_guidance")
def corr_guidance(s, rng):
    f = s.facts
    return dictation(f, rng, guide=f"{_WRONG[f.guidance]}, {rng.choice(_SCRATCH)}, {GUIDE[f.guidance]}")


@style("3.explanations", "spoken_correction_side")
def corr_side(s, rng):
    f = s.facts
    if f.bilateral:
        return None
    return dictation(f, rng, proc=f"{SHORT[OTHER_SIDE[f.side]]} SIJ inj, {rng.choice(_SCRATCH)}, {f.side} SIJ inj")


@style("3.explanations", "spoken_correction_dose")
def corr_dose(s, rng):
    f = s.facts
    st = next((m for m in f.injectates if m.role == "steroid" and m.dose is not None and m.volume is None), None)
    if st is None:
        return None
    items = []
    for m in f.injectates:
        p = med_phrase(m) + (basis_tail(m, rng, [" each side"]) if f.bilateral else "")
        if m is st:
            p = f"{seed_name(m).lower()} {fmt(m.dose * 2)} mg, {rng.choice(_SCRATCH)}, {p}"
        items.append(p)
    return dictation(f, rng, meds=items)


@style("3.explanations", "equipment_mention")
def equipment(s, rng):
    f = s.facts
    e = {"fluoroscopy": "C-arm in room 2", "ct": "CT suite 1", "ultrasound": "SonoSite w curvilinear probe",
         "none": "no imaging equipment"}[f.guidance]
    return dictation(f, rng, extra=[e])


def _no_use(s, rng, n):
    f = s.facts
    if not _needs_modality(s):
        return None
    guide = {
        "fluoroscopy": ["C-arm in room, not used, done by palpation", "fluoro time 0, by landmarks",
                        "fluoro suite closed so done by palpation", "C-arm positioned but no images acquired, landmarks",
                        "C-arm cover opened but not used, palpation"],
        "ct": ["CT scanner booked, not used, done by palpation", "CT acquisitions 0, by landmarks",
               "CT suite closed so done by palpation", "on the CT table but no scan done, landmarks",
               "CT grid placed but not used, palpation"],
        "ultrasound": ["US machine in room, not used, done by palpation", "US not used, no images, by landmarks",
                       "US unit down so done by palpation", "probe never applied, landmarks",
                       "probe cover opened but not used, palpation"],
    }[f.guidance][n]
    return dictation(f, rng, guide=guide, confirm="", images="")


for _n in range(5):
    style("3.explanations", f"equipment_not_used_{_n}", "break")(lambda s, rng, _v=_n: _no_use(s, rng, _v))


# --- 4 ------------------------------------------------------------------------------------------------------------
D_NAMES = {
    "fluoroscopy": {"c_arm": "C-arm guided", "c_arm_fluoroscopy": "C-arm fluoro", "image_intensifier": "under image intensifier",
                    "intermittent_screening": "intermittent fluoro screening", "live_fluoroscopy": "live fluoro",
                    "pulsed_fluoroscopy": "pulsed fluoro", "ap_oblique_views": "AP and oblique fluoro views",
                    "fluoroscopically_guided": "fluoroscopically guided"},
    "ct": {"ct_fluoroscopy": "CT fluoro", "quick_check_ct": "quick-check CT", "ct_guided": "under CT",
           "computed_tomography": "computed tomography guided", "intermittent_axial_ct": "intermittent axial CT",
           "low_dose_ct": "low-dose CT guidance"},
    "ultrasound": {"sonographic": "sono guided", "ultrasonography": "ultrasonography guided",
                   "us_guided": "ultrasound-guided", "real_time_sonography": "real-time sonography",
                   "curvilinear_transducer": "curvilinear transducer US", "in_plane": "US in-plane"},
    "none": {"palpation": "by palpation", "landmark_guided": "landmark-guided no imaging",
             "blind_technique": "blind technique no imaging", "surface_anatomy": "surface anatomy, no image guidance",
             "no_fluoro_no_us": "no fluoro or US, landmarks"},
}
assert {m: set(d) for m, d in D_NAMES.items()} == {m: set(d) for m, d in NAMES.items()}
for _mod, _names in D_NAMES.items():
    for _key, _phrase in _names.items():
        style("4.imaging_names", f"{_mod}:{_key}")(
            lambda s, rng, _m=_mod, _p=_phrase: dictation(s.facts, rng, guide=_p) if s.facts.guidance == _m else None)


# --- 5 ------------------------------------------------------------------------------------------------------------
def _sij(f: Facts) -> str:
    return "bilateral SI joint injections" if f.bilateral else f"{f.side} SI joint injection"


@style("5.outside_procedure", "purpose_first")
def purpose_first(s, rng):
    f = s.facts
    art = "" if f.bilateral else "a "
    return f"pt presents today for {art}{purpose_word(f)} {_sij(f)}, " + dictation(f, rng, purpose="")


@style("5.outside_procedure", "purpose_in_history_runon")
def history_runon(s, rng):
    f = s.facts
    where = "bilateral" if f.bilateral else f.side
    art = "" if f.bilateral else "a "
    return (f"pt with {where} buttock pain worse with sitting, presents today for {art}{purpose_word(f)} "
            f"{_sij(f)}, done " + dictation(f, rng, proc="", purpose=""))


@style("5.outside_procedure", "impression_last")
def impression_last(s, rng):
    f = s.facts
    return dictation(f, rng, proc="SIJ inj", dx="", purpose="",
                     extra=[f"impression {d_dx(f, sided=False)[3:]}, {purpose_word(f)} {_sij(f)} done today"])


@style("5.outside_procedure", "side_in_indication_only")
def side_in_indication(s, rng):
    f = s.facts
    if f.bilateral:
        return None
    return f"here today for {f.side} SIJ inj; " + dictation(f, rng, proc="SIJ inj", dx=d_dx(f, sided=False))


@style("5.outside_procedure", "bilateral_one_side_at_a_time")
def one_side(s, rng):
    f = s.facts
    if not f.bilateral or not all(m.basis == "per_side" for m in f.injectates) or (
            f.contrast is not None and f.contrast.volume is not None):
        return None
    x, y = rng.choice([("right", "left"), ("left", "right")])
    one = replace(f, side=x)
    meds = " + ".join(med_phrase(m, order=rng.randrange(4)) for m in f.injectates)
    first = ", ".join(p for p in [f"{x} SIJ first {GUIDE[f.guidance]}", *d_skin(f), d_confirm(one), d_images(one),
                                  meds] if p)
    return f"bilat SIJ inj, {first}, then same on the {y}, {d_dx(f)}, {purpose_word(f)}"


# --- 6 ------------------------------------------------------------------------------------------------------------
def _us(s, rng, conf, rec):
    f = s.facts
    if f.guidance != "ultrasound" or (rec is not None and f.images is not True):
        return None
    c = US_CONFIRM[conf if conf is not None else rng.randrange(len(US_CONFIRM))]
    if f.bilateral:
        c = c.replace("the joint", "each joint").replace("the capsule", "each capsule")
        c = c if "each joint" in c else "each side " + c
    images = d_images(f)
    if rec is not None:
        images = US_RECORD[rec]
        if f.bilateral:
            images = images.replace("the joint", "each joint") if "the joint" in images else images + " both sides"
    return dictation(f, rng, confirm=c, images=images)


for _n in range(len(US_CONFIRM)):
    style("6.ultrasound_records", f"confirm_{_n}")(lambda s, rng, _c=_n: _us(s, rng, _c, None))
for _n in range(len(US_RECORD)):
    style("6.ultrasound_records", f"record_{_n}")(lambda s, rng, _r=_n: _us(s, rng, None, _r))


# --- 7 ------------------------------------------------------------------------------------------------------------
_ORD = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


@style("7.layouts", "numbered_dictation")
def numbered(s, rng):
    parts = [p for p in dictation(s.facts, rng, sep="\x00").split("\x00")]
    return "; ".join(f"{_ORD[i]}, {p}" for i, p in enumerate(parts)) + "."


@style("7.layouts", "voice_runon")
def voice(s, rng):
    f = s.facts
    text = _voice(dictation(f, rng).replace(" w ", " with ").replace("IA", "intra-articular"))
    return text.replace(" us guided", " ultrasound guided").replace(" ct guided", " CT guided").replace(
        "on ct", "on CT").replace("pacs", "PACS")


@style("7.layouts", "all_caps")
def caps(s, rng):
    return dictation(s.facts, rng).upper()


@style("7.layouts", "british")
def british(s, rng):
    f = s.facts
    guide = {"fluoroscopy": "under image intensifier", "ct": "under CT", "ultrasound": "ultrasound-guided",
             "none": "by palpation, no imaging utilised"}[f.guidance]
    items, _ = d_med_items(f, rng, form="british", mlf="{n} mls")
    text = dictation(f, rng, proc=f"{f.side} sacro-iliac joint injection" if not f.bilateral else
                     "bilateral sacro-iliac joint injections", guide=guide, meds=items)
    return text.replace("seen entering", "visualised entering").replace("anesthetized", "anaesthetised")


@style("7.layouts", "field_lines")
def field_lines(s, rng):
    f = s.facts
    lines = [f"Procedure: {_sij(f)}", f"Guidance: {GUIDE[f.guidance]}"]
    for x in d_skin(f):
        lines.append(f"Local: {x}")
    if d_confirm(f):
        lines.append(f"Confirmation: {d_confirm(f)}")
    if d_images(f):
        lines.append(f"Images: {d_images(f)}")
    lines.append("Meds: " + "; ".join(d_med_items(f, rng)[0]))
    for x in d_sedation(f):
        lines.append(f"Sedation: {x}")
    lines += [f"Dx: {d_dx(f)[3:]}", f"Purpose: {purpose_word(f)}"]
    return "\n".join(lines)


@style("7.layouts", "smartphrase")
def smartphrase(s, rng):
    return ".SIJINJ\n" + dictation(s.facts, rng, sep="\n")


# --- 9 ------------------------------------------------------------------------------------------------------------
for _n, _tok in enumerate(PURPOSE_TOKENS):
    style("9.unfilled_fields", f"purpose_token_{_n}", "break")(
        lambda s, rng, _t=_tok: dictation(s.facts, rng, purpose=f"purpose {_t}".rstrip()))


def _side_tok(s, rng, tok):
    f = s.facts
    if f.bilateral or not ({"LT", "RT"} & s.modifiers):
        return None
    return dictation(f, rng, proc=f"{tok} SIJ inj", dx=d_dx(f, sided=False))


for _n, _tok in enumerate(SIDE_TOKENS):
    style("9.unfilled_fields", f"side_token_{_n}", "break")(lambda s, rng, _t=_tok: _side_tok(s, rng, _t))


# --- 10 -----------------------------------------------------------------------------------------------------------
def _lookalike(s, rng, key):
    f = s.facts
    if not _needs_modality(s):
        return None
    m = {"fluoroscopy": "fluoro", "ct": "CT", "ultrasound": "US"}[f.guidance]
    neg = LOOKALIKE_NEG[key].format(M=m if m.isupper() else cap(m), m=m).rstrip(".")
    return dictation(f, rng, guide=neg, confirm="", images="")


for _key in LOOKALIKE_NEG:
    style("10.normalisation", f"lookalike_{_key}", "break")(lambda s, rng, _k=_key: _lookalike(s, rng, _k))

D_PUNCT = {
    "nbsp": lambda t: re.sub(r"(\d) (mg|mL|%|cc)", "\\1\u00a0\\2", t),
    "smart_quotes": lambda t: t + ", pt\u2019s \u201cusual\u201d pain",
    "en_em_dashes": lambda t: t.replace(", ", " \u2014 ", 1) + ", pain 7\u20138/10 before",
    "ellipsis": lambda t: t.replace(", ", "\u2026 ", 1),
    "degree_plus_minus": lambda t: t + ", table tilt 10\u00b0, depth 7 cm \u00b1 0.5",
}
D_PUNCT["all_of_them"] = lambda t: D_PUNCT["degree_plus_minus"](D_PUNCT["ellipsis"](D_PUNCT["smart_quotes"](
    D_PUNCT["nbsp"](t))))
for _key, _fn in D_PUNCT.items():
    style("10.normalisation", f"punctuation_{_key}")(lambda s, rng, _g=_fn: _g(dictation(s.facts, rng)))
