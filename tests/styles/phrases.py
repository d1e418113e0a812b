"""The phrase library the style renderers share: drug names, amounts, guidance, confirmation, sides.

Every function here renders a fact, never invents one: a name form is offered only when it names the same drug
(and, for a steroid brand, the same salt) as the seed; an amount form only renders the seed's own number; a
product strength ("Kenalog-40", "40 mg/mL") appears only beside the dose it belongs to.
"""

from __future__ import annotations

import random

from .facts import Facts, Med

SIDE_CAP = {"left": "Left", "right": "Right", "bilateral": "Bilateral"}
OTHER_SIDE = {"left": "right", "right": "left"}
PURPOSE_WORDS = {"diagnostic": "diagnostic", "therapeutic": "therapeutic",
                 "diagnostic_and_therapeutic": "diagnostic and therapeutic"}


def cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


NUM_WORDS = {0.5: "one-half", 1: "one", 1.5: "one and a half", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six",
             8: "eight", 10: "ten", 12: "twelve", 20: "twenty", 30: "thirty", 40: "forty", 60: "sixty",
             80: "eighty"}


def words(x: float) -> str | None:
    return NUM_WORDS.get(float(x))


# --- names ----------------------------------------------------------------------------------------------------------
SALTED = {("triamcinolone", "acetonide"): "triamcinolone acetonide",
          ("triamcinolone", "hexacetonide"): "triamcinolone hexacetonide",
          ("methylprednisolone", "acetate"): "methylprednisolone acetate",
          ("dexamethasone", "sodium phosphate"): "dexamethasone sodium phosphate",
          ("betamethasone", "sodium phosphate and acetate"): "betamethasone sodium phosphate and acetate"}
# a steroid brand names a salt: offered only when the seed's salt (or brand) is that one
STEROID_BRANDS = {("triamcinolone", "acetonide"): ["Kenalog"], ("triamcinolone", "hexacetonide"): ["Aristospan"],
                  ("methylprednisolone", "acetate"): ["Depo-Medrol"],
                  ("betamethasone", "sodium phosphate and acetate"): ["Celestone Soluspan"],
                  ("dexamethasone", "sodium phosphate"): ["Decadron"]}
OTHER_BRANDS = {"bupivacaine": ["Marcaine", "Sensorcaine"], "lidocaine": ["Xylocaine"], "ropivacaine": ["Naropin"],
                "iohexol": ["Omnipaque"], "iopamidol": ["Isovue"], "midazolam": ["Versed"]}
# older and British names of the same product
BRITISH = {("methylprednisolone", "acetate"): ["Depo-Medrone"], ("triamcinolone", "acetonide"): ["Adcortyl"],
           "lidocaine": ["lignocaine"], "bupivacaine": ["Marcain"]}
MISSPELLED = {"triamcinolone": ["triamcinalone", "triamcinolon", "triamcinolane"],
              "methylprednisolone": ["methylprednisilone", "methylprednisolon"],
              "dexamethasone": ["dexamethazone", "dexamethasome"], "betamethasone": ["betamethazone"],
              "bupivacaine": ["bupivicaine", "bupivacain", "bupivacine"], "lidocaine": ["lidocane", "lidocain"],
              "ropivacaine": ["ropivicaine", "ropivacane"], "Kenalog": ["Kenelog", "kenolog"],
              "Depo-Medrol": ["Depo-Medral", "depomedrol"], "Marcaine": ["Marcane"]}
# every correct name of a generic, for the dictation scorer (a misspelling is never a correct name)
ALIASES: dict[str, set[str]] = {}


def _alias(generic: str, *names: str) -> None:
    ALIASES.setdefault(generic, {generic}).update(n.lower() for n in names)


for (g, _s), bs in STEROID_BRANDS.items():
    _alias(g, *bs)
for g, bs in OTHER_BRANDS.items():
    _alias(g, *bs)
for k, bs in BRITISH.items():
    _alias(k[0] if isinstance(k, tuple) else k, *bs)


def salt_of(m: Med) -> str | None:
    return m.salt


def generic(m: Med, salted: bool = False) -> str:
    if salted and (m.name, m.salt) in SALTED:
        return SALTED[(m.name, m.salt)]
    return m.name


def brands(m: Med) -> list[str]:
    if m.role == "steroid":
        return list(STEROID_BRANDS.get((m.name, m.salt), []))
    return list(OTHER_BRANDS.get(m.name, []))


def british(m: Med) -> list[str]:
    key = (m.name, m.salt) if m.role == "steroid" else m.name
    return list(BRITISH.get(key, []))


def misspelled(m: Med) -> list[str]:
    out = list(MISSPELLED.get(m.name, []))
    for b in brands(m):
        out += MISSPELLED.get(b, [])
    return out


def seed_name(m: Med) -> str:
    """The name as the seed gave it, normalised: a brand if the seed named one, else the generic."""
    return m.brand.split(" 240")[0] if m.brand and m.role != "contrast" else (m.brand or m.name)


def name_form(m: Med, form: str, rng: random.Random) -> str | None:
    """One way of naming `m`; None when that form does not exist for this drug and salt."""
    if form == "seed":
        return seed_name(m)
    if form == "generic":
        return generic(m)
    if form == "generic_salt":
        return generic(m, salted=True) if (m.name, m.salt) in SALTED else None
    if form == "brand":
        b = brands(m)
        return rng.choice(b) if b else None
    if form == "brand_generic":
        b = brands(m)
        if not b:
            return None
        g = generic(m, salted=True)
        return rng.choice([f"{b[0]} ({g})", f"{g} ({b[0]})"])
    if form == "british":
        b = british(m)
        return rng.choice(b) if b else None
    if form == "misspelled":
        b = misspelled(m)
        return rng.choice(b) if b else None
    raise ValueError(form)


# --- amounts --------------------------------------------------------------------------------------------------------
MG_FORMS = ["{n} mg", "{n}mg", "{n} milligrams", "{n} mgs", "{w} milligrams", "{w} mg"]
ML_FORMS = ["{n} mL", "{n} ml", "{n} cc", "{n}cc", "{n} cc's", "{n} ccs", "{n} mls", "{n} milliliters",
            "{n} millilitres", "{w} cc's", "{w} milliliters"]
_SINGULAR = {"{n} cc's": "{n} cc", "{n} ccs": "{n} cc", "{n} mls": "{n} mL", "{n} milliliters": "{n} milliliter",
             "{n} millilitres": "{n} millilitre", "{w} cc's": "{w} cc", "{w} milliliters": "{w} milliliter"}
PCT_WORDS = {0.25: ["quarter percent", "one-quarter percent", "quarter percent"],
             0.5: ["half percent", "one-half percent", "half percent"], 0.75: ["three-quarter percent"],
             1.0: ["one percent"], 2.0: ["two percent"], 0.2: ["point two percent"]}


def mg(x: float, form: str = "{n} mg") -> str:
    w = words(x)
    if "{w}" in form and w is None:
        form = form.replace("{w}", "{n}")
    return form.format(n=fmt(x), w=w)


def ml(x: float, form: str = "{n} mL") -> str:
    if float(x) == 1.0:
        form = _SINGULAR.get(form, form)
    w = words(x)
    if "{w}" in form:
        if float(x) == 0.5:
            return "half a cc" if "cc" in form else "half a milliliter"
        if w is None:
            form = form.replace("{w}", "{n}")
    return form.format(n=fmt(x), w=w)


def pct(x: float, form: str = "{n}%") -> str:
    if form == "words":
        opts = PCT_WORDS.get(float(x))
        return opts[0] if opts else f"{fmt(x)} percent"
    if form.startswith("words:"):
        opts = PCT_WORDS.get(float(x))
        return opts[int(form[6:]) % len(opts)] if opts else f"{fmt(x)} percent"
    if form == "{dot}%":
        return (fmt(x)[1:] if fmt(x).startswith("0.") else fmt(x)) + "%"
    return form.format(n=fmt(x))


def has_pct_words(x: float | None) -> bool:
    return x is not None and float(x) in PCT_WORDS


def basis_tail(m: Med, rng: random.Random | None = None, forms: list[str] | None = None) -> str:
    if m.basis == "per_side":
        opts = forms or [" per side", " into each joint", " each side", " to each joint", " per joint"]
        return rng.choice(opts) if rng else opts[0]
    if m.basis == "total":
        return " total, divided between the two joints"
    return ""


def med_phrase(m: Med, name: str | None = None, mgf: str = "{n} mg", mlf: str = "{n} mL", pctf: str = "{n}%",
               order: int = 0, tail: str = "") -> str:
    """One medication with its own amounts. order picks the word order practices use."""
    name = name or seed_name(m)
    if m.role == "steroid" or m.role == "sedative":
        dose = mg(m.dose, mgf) if m.dose is not None else None
        vol = ml(m.volume, mlf) if m.volume is not None else None
        if m.strength is not None:  # the seed gave the product strength: it stays beside the dose it belongs to
            S = f"{fmt(m.strength)} mg/mL"
            if vol:
                return [f"{name} {S}, {vol} ({dose})", f"{vol} of {name} {S} ({dose})",
                        f"{dose} of {name} {S} ({vol})"][order % 3] + tail
            return [f"{name} {S}, {dose}", f"{dose} of {name} {S}"][order % 2] + tail
        if dose and vol:
            return [f"{name} {dose} in {vol}", f"{dose} of {name} ({vol})", f"{vol} of {name} ({dose})"][order % 3] \
                + tail
        return [f"{name} {dose}", f"{dose} of {name}", f"{dose} {name}"][order % 3] + tail
    if m.role == "anesthetic":
        if m.volume is None:
            return f"{pct(m.conc, pctf)} {name}{tail}"
        v, c = ml(m.volume, mlf), pct(m.conc, pctf)
        return [f"{v} of {c} {name}", f"{name} {c}, {v}", f"{v} {c} {name}", f"{c} {name}, {v}"][order % 4] + tail
    if m.role == "contrast":
        return f"{ml(m.volume, mlf)} of {name}" if m.volume is not None else name
    raise ValueError(m.role)


def join_and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def strength_phrase(m: Med, rng: random.Random) -> str | None:
    """A dose written with its product strength and volume, only where the seed states both the dose and the volume
    and the dose equals strength × volume."""
    if m.role != "steroid" or m.dose is None or m.volume is None:
        return None
    s = m.strength if m.strength is not None else m.dose / m.volume
    if abs(s * m.volume - m.dose) > 1e-9 or not float(s).is_integer():
        return None
    name = seed_name(m)
    d, v, S = fmt(m.dose), fmt(m.volume), fmt(s)
    forms = [f"{name} {S} mg/mL, {v} mL", f"{v} mL of {name} {S} mg/mL ({d} mg)"]
    if m.strength is None:  # a seed that states the strength keeps it: "40 mg (1 mL)" alone would drop a fact
        forms.append(f"{name} {d} mg ({v} mL)")
    if m.volume == 1:
        forms.append(f"{name} {d} mg/1 mL")
    if m.strength is not None and brands(m) and brands(m)[0] == "Kenalog" and fmt(s) in ("10", "40"):
        forms.append(f"Kenalog-{S}, {v} mL ({d} mg)")
    return rng.choice(forms)


# --- the procedure --------------------------------------------------------------------------------------------------
def title(f: Facts, side: bool = True) -> str:
    base = "sacroiliac joint injections" if f.bilateral else "sacroiliac joint injection"
    return f"{SIDE_CAP[f.side]} {base}" if side else cap(base)


def joint(f: Facts, side: bool = True) -> str:
    if f.bilateral:
        return "each sacroiliac joint"
    return f"{f.side} sacroiliac joint" if side else "sacroiliac joint"


def into(f: Facts, side: bool = True) -> str:
    return "into each sacroiliac joint" if f.bilateral else f"into the {joint(f, side)}"


GUIDANCE_UNDER = {"fluoroscopy": "under fluoroscopic guidance", "ct": "under CT guidance",
                  "ultrasound": "under real-time ultrasound guidance",
                  "none": "by palpation of anatomic landmarks, without imaging guidance"}
MODALITY_NOUN = {"fluoroscopy": "fluoroscopy", "ct": "CT", "ultrasound": "ultrasound", "none": "no imaging"}


def confirmation(f: Facts, contrast_name: str | None = None, volume_form: str = "{n} mL") -> str:
    each = f.bilateral
    c = f.contrast
    if f.confirmation == "contrast":
        if c is not None:
            name = contrast_name or seed_name(c)
            agent = f"{ml(c.volume, volume_form)} of {name}" if c.volume is not None else name
            return (f"{cap(agent)} was injected and outlined {'each' if each else 'the'} joint, confirming "
                    f"intra-articular needle placement.")
        return f"Contrast outlined {'each' if each else 'the'} joint, confirming intra-articular needle placement."
    if f.confirmation == "ia":
        return f"Intra-articular needle placement was confirmed{' on each side' if each else ''}."
    if f.confirmation == "ct_tip":
        s = f"CT images showed the needle tip within {'each' if each else 'the'} joint"
        if f.contrast_too:
            agent = (f"{ml(c.volume, volume_form)} of {contrast_name or seed_name(c)}" if c is not None and c.volume
                     else "contrast")
            s += f", and {agent} confirmed intra-articular spread"
        return s + "."
    if f.confirmation == "us_tip":
        return f"The needle tip was seen entering {'each' if each else 'the'} joint."
    return ""


def images_sentence(f: Facts) -> str:
    if f.images is True:
        return "Permanent images were recorded and saved to PACS."
    if f.images is False:
        return "Images were not saved."
    return ""


def dx_phrase(f: Facts, sided: bool | None = None) -> str:
    sided = f.dx_sided if sided is None else sided
    text = f.dx_text
    if text and sided:
        text = f"{SIDE_CAP[f.side]} {text}"
    codes = ", ".join(f.dx_codes)
    if text and codes:
        return f"{cap(text)} ({codes})"
    return cap(text) if text else codes


def purpose_word(f: Facts) -> str:
    return PURPOSE_WORDS[f.purpose]


def skin_sentence(f: Facts, mlf: str = "{n} mL", pctf: str = "{n}%") -> str:
    out = []
    for m in f.skin:
        amt = f"{ml(m.volume, mlf)} of {pct(m.conc, pctf)} {seed_name(m)}" if m.volume else \
            f"{pct(m.conc, pctf)} {seed_name(m)}"
        out.append(f"The skin was anesthetized with {amt}.")
    return " ".join(out)


def sedation_sentence(f: Facts, mgf: str = "{n} mg") -> str:
    return " ".join(f"{seed_name(m).capitalize()} {mg(m.dose, mgf)} IV was given for sedation." for m in f.sedation)


def meds_sentence(f: Facts, phrases: list[str] | None = None, rng: random.Random | None = None) -> str:
    """The injectates in one sentence. With every amount per side: "Each joint received ..."."""
    meds = f.injectates
    if phrases is None:
        phrases = [med_phrase(m) for m in meds]
    if f.bilateral and meds and all(m.basis == "per_side" for m in meds):
        return f"Each joint received {join_and(phrases)}."
    if f.bilateral:
        phrases = [p + basis_tail(m) for p, m in zip(phrases, meds)]
    verb = "was" if len(phrases) == 1 else "were"
    return f"{cap(join_and(phrases))} {verb} injected."


def needle_sentence(f: Facts, under: str | None = None, side: bool = True) -> str:
    under = under or GUIDANCE_UNDER[f.guidance]
    return f"{cap(under)}, a 22-gauge spinal needle was advanced {into(f, side)}."


def technique(f: Facts, *, under: str | None = None, confirm: str | None = None, images: str | None = None,
              meds: str | None = None, side: bool = True, prep: bool = True) -> str:
    parts = ["The patient was placed prone and the skin was prepped and draped in sterile fashion." if prep else "",
             skin_sentence(f), needle_sentence(f, under, side),
             confirmation(f) if confirm is None else confirm,
             images_sentence(f) if images is None else images,
             meds_sentence(f) if meds is None else meds, sedation_sentence(f)]
    return " ".join(p for p in parts if p)


def plain_note(f: Facts, *, proc: str | None = None, dx: str | None = None, purpose: str | None = None,
               tech: str | None = None, extra: str = "", block: str = "") -> str:
    """The control layout: the seed's facts in four labelled sections."""
    proc = proc if proc is not None else f"{title(f)} {GUIDANCE_UNDER[f.guidance]}."
    lines = [f"PROCEDURE: {proc}", f"DIAGNOSIS: {dx if dx is not None else dx_phrase(f)}."]
    if purpose != "":
        lines.append(f"PURPOSE: {cap(purpose if purpose is not None else purpose_word(f))}.")
    tech = tech if tech is not None else technique(f)
    if block:  # a table or list the technique introduces ("The following were injected:"), then the closing line
        lines += [f"TECHNIQUE: {tech}", block, "The patient tolerated the procedure well."]
    else:
        lines.append(f"TECHNIQUE: {tech} The patient tolerated the procedure well.")
    if extra:
        lines.append(extra)
    return "\n".join(lines)
