"""The meaning-preserving style suite (issue 16): checks of the generator itself, and the gate.

The generator tests run in the normal suite (rendering only, no validator, a few seconds). The two gate tests run
the validator and the offline drafter over every variant; they carry the marker `styles_gate` and are skipped
unless selected (`pytest -m styles_gate tests/styles`), because they fail until the reader handles the styles.
The full table: `python -m tests.styles`.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from notedraft.evals.dataset import ValidatorCase, ValidatorExpected

from .dictations import DICTATION_STYLES
from .facts import Facts, Med, validator_seeds
from .harness import (
    MAX_FALSE_REFUSAL_RATIO, PER_DICTATION, PER_NOTE, dictation_seeds, generate, note_seeds, run_dictations,
    run_notes, table,
)
from .notes import NOTE_STYLES, PURPOSE_TOKENS, SIDE_TOKENS
from .phrases import (
    ALIASES, BRITISH, MISSPELLED, PCT_WORDS, SALTED, brands, fmt, ml, pct, strength_phrase, words,
)
from .score import fidelity

KEEP_CATEGORIES = ["1.amounts", "2.second_procedure", "3.explanations", "4.imaging_names", "5.outside_procedure",
                   "6.ultrasound_records", "7.layouts", "10.normalisation"]
BREAK_CATEGORIES = ["2.second_procedure", "3.explanations", "9.unfilled_fields", "10.normalisation"]


@pytest.fixture(scope="module")
def nseeds():
    return note_seeds()


@pytest.fixture(scope="module")
def dseeds():
    return dictation_seeds()


@pytest.fixture(scope="module")
def every_note(nseeds):
    return generate(nseeds, NOTE_STYLES)  # per=None: every applicable style of every seed


@pytest.fixture(scope="module")
def every_dictation(dseeds):
    return generate(dseeds, DICTATION_STYLES)


# --- the seeds ------------------------------------------------------------------------------------------------------
def test_seeds_are_read_cleanly_or_skipped_with_a_reason(nseeds, dseeds):
    assert len(nseeds.seeds) >= 90 and len(dseeds.seeds) >= 80, (len(nseeds.seeds), len(dseeds.seeds))
    assert all(why for why in {**nseeds.skipped, **dseeds.skipped}.values())
    f = next(s for s in nseeds.seeds if s.id == "full-left-fluoro").facts
    assert (f.side, f.guidance, f.confirmation, f.purpose, f.dx_codes, f.dx_text) == (
        "left", "fluoroscopy", "contrast", "therapeutic", ("M46.1",), "sacroiliitis")
    assert [(m.name, m.dose, m.volume, m.conc) for m in f.injectates] == [
        ("triamcinolone", 40, None, None), ("bupivacaine", None, 2, 0.25)]


@pytest.mark.parametrize("note, why", [
    ("Left SI joint injection under fluoroscopy; contrast outlined the joint. 2 mL injected. Kenalog 40 mg. Dx M46.1. "
     "Therapeutic.", "amount 2 mL with no drug"),
    ("Bilateral SI joint injections were planned. Left side under fluoroscopy, contrast outlined the joint, Kenalog "
     "40 mg. Right side aborted. Dx M46.1. Therapeutic.", "aborted"),
    ("Bilateral SI joint injections under fluoroscopy; contrast outlined each joint. Kenalog 80 mg. Dx M46.1. "
     "Therapeutic.", "no per-side or total basis"),
    ("Left SI joint injection under fluoroscopy; contrast outlined the joint. Kenalog 40 mg. Dx M46.1.", "purpose"),
])
def test_a_seed_the_generator_cannot_read_cleanly_is_skipped(note, why):
    side = "bilateral" if note.startswith("Bilateral") else "left"
    case = ValidatorCase(id="x", note=note, codes=["27096"],
                         expected=ValidatorExpected(supported=True, guidance="fluoroscopy", side=side))
    got = validator_seeds([case])
    assert not got.seeds and why.split()[0] in got.skipped["x"], got.skipped


# --- the registry ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("styles", [NOTE_STYLES, DICTATION_STYLES], ids=["notes", "dictations"])
def test_at_least_five_styles_per_category(styles):
    count = Counter((s.category, s.kind) for s in styles)
    for cat in KEEP_CATEGORIES:
        assert count[(cat, "keep")] >= 5, (cat, count[(cat, "keep")])
    for cat in BREAK_CATEGORIES:
        assert count[(cat, "break")] >= 5, (cat, count[(cat, "break")])
    names = [(s.category, s.name) for s in styles]
    assert len(names) == len(set(names))


def test_every_style_renders_for_some_seed(every_note, every_dictation):
    for gen, styles in ((every_note, NOTE_STYLES), (every_dictation, DICTATION_STYLES)):
        used = {(v.category, v.style) for v in gen.variants}
        missing = {(s.category, s.name) for s in styles} - used
        assert not missing, missing


def test_generation_is_deterministic(nseeds, dseeds, every_note):
    again = generate(nseeds, NOTE_STYLES)
    assert [(v.id, v.text) for v in again.variants] == [(v.id, v.text) for v in every_note.variants]
    a, b = generate(dseeds, DICTATION_STYLES, PER_DICTATION), generate(dseeds, DICTATION_STYLES, PER_DICTATION)
    assert [(v.id, v.text, v.asked) for v in a.variants] == [(v.id, v.text, v.asked) for v in b.variants]
    sampled = generate(nseeds, NOTE_STYLES, PER_NOTE)
    assert 2000 <= len(sampled.variants) + len(a.variants) <= 5000, (len(sampled.variants), len(a.variants))


def test_variant_ids_are_unique_and_name_seed_category_style(every_note, every_dictation):
    for gen in (every_note, every_dictation):
        ids = [v.id for v in gen.variants]
        assert len(ids) == len(set(ids))
        assert all(v.id == f"{v.seed_id}/{v.category}/{v.style}" for v in gen.variants)


# --- keep variants keep every fact ----------------------------------------------------------------------------------
MODALITY = {"fluoroscopy": r"fluoro|c-arm|image intensifier",
            "ct": r"\bct\b|computed tomograph",
            "ultrasound": r"ultrasound|ultrasonograph|sono|\bus\b",
            "none": r"palpation|landmark|no imaging|without imag|blind|surface anatomy|no image guidance"}


def _name_forms(m: Med) -> set[str]:
    out = set(ALIASES.get(m.name, {m.name})) | {m.name}
    out |= {n.lower() for n in MISSPELLED.get(m.name, [])}
    for b in brands(m):
        out |= {n.lower() for n in MISSPELLED.get(b, [])}
    key = (m.name, m.salt) if m.role == "steroid" else m.name
    out |= {n.lower() for n in BRITISH.get(key, [])}
    if (m.name, m.salt) in SALTED:
        out.add(SALTED[(m.name, m.salt)])
    if m.written:
        out.add(m.written.lower())
    return out | {n.replace("-", " ") for n in out}  # a voice transcript drops the hyphen: "depo medrol"


def _number_forms(x: float) -> list[str]:
    out = [re.escape(fmt(x))]
    if words(x):
        out.append(re.escape(words(x)))
    if x == 0.5:
        out.append("half a")
    if fmt(x).startswith("0."):
        out.append(re.escape(fmt(x)[1:]))
    return out


def _pct_forms(x: float) -> list[str]:
    return _number_forms(x) + [re.escape(w) for w in PCT_WORDS.get(float(x), [])]


def missing_facts(text: str, f: Facts) -> list[str]:
    low = text.lower()
    miss = []
    if f.bilateral:
        if not re.search(r"bilat|\bb/l\b|both|each|left.*right|right.*left", low, re.S):
            miss.append("side")
    elif not re.search(rf"\b{f.side}\b|\b{f.side[0]}\b", low):
        miss.append("side")
    if not re.search(MODALITY[f.guidance], low):
        miss.append("guidance")
    if f.guidance != "none" and not re.search(r"contrast|needle tip|seen|visuali|injectate|spread|confirm|"
                                              r"intra-articular|intra articular|\bia\b", low):
        miss.append("confirmation")
    if f.images is True and not re.search(r"image|cine|still|pacs", low):
        miss.append("images")
    for w in re.findall(r"diagnostic|therapeutic", f.purpose):
        if w not in low:
            miss.append(f"purpose {w}")
    if not (any(c.lower() in low for c in f.dx_codes) or (f.dx_text and f.dx_text.lower() in low)):
        miss.append("diagnosis")
    for m in f.meds:
        if not any(re.search(rf"(?<![a-z]){re.escape(n)}(?![a-z])", low) for n in _name_forms(m)):
            miss.append(f"name of {m.name}")
        def said(x, forms):
            return re.search(r"(?<![\d.])(?:" + "|".join(forms(x)) + r")(?![\d])", low)
        for x, forms in ((m.dose, _number_forms), (m.volume, _number_forms), (m.conc, _pct_forms)):
            if x is None or said(x, forms):
                continue
            # "Depo-Medrol 40 mg/mL, 2 mL" states 80 mg: the dose as strength × volume
            s = m.strength if m.strength is not None else (m.dose / m.volume if m.dose and m.volume else None)
            if x == m.dose and s and re.search(rf"(?<![\d.]){re.escape(fmt(s))}\s*mg/ml", low) and said(m.volume,
                                                                                                     _number_forms):
                continue
            miss.append(f"{m.name} {fmt(x)}")
    return miss


@pytest.mark.parametrize("which", ["notes", "dictations"])
def test_every_keep_variant_states_every_fact(which, every_note, every_dictation):
    gen = every_note if which == "notes" else every_dictation
    bad = [(v.id, missing_facts(v.text, v.facts)) for v in gen.variants if v.kind == "keep"
           and missing_facts(v.text, v.facts)]
    assert not bad, bad[:10]


def test_a_product_strength_appears_only_beside_its_dose(every_note, every_dictation):
    for v in every_note.variants + every_dictation.variants:
        for strength in re.findall(r"Kenalog-(\d+)", v.text):
            assert any(m.name == "triamcinolone" and m.strength == float(strength) and m.dose is not None
                       for m in v.facts.meds), v.id
        if v.category == "2.second_procedure":
            continue
        for s in re.findall(r"(\d+(?:\.\d+)?) mg/mL", v.text):
            ok = any(m.dose is not None and (m.strength == float(s) or (m.volume and m.dose / m.volume == float(s)))
                     for m in v.facts.meds)
            assert ok, (v.id, s)


def test_amount_forms():
    assert ml(2, "{n} cc's") == "2 cc's" and ml(1, "{n} cc's") == "1 cc" and ml(0.5, "{w} cc's") == "half a cc"
    assert ml(1.5, "{n} mls") == "1.5 mls"
    assert pct(0.25, "words:0") == "quarter percent" and pct(0.5, "words:1") == "one-half percent"
    assert pct(0.25, "{dot}%") == ".25%" and pct(1, "{n} percent") == "1 percent"
    import random
    rng = random.Random(0)
    no_volume = Med("triamcinolone", "steroid", dose=40, brand="Kenalog", salt="acetonide")
    assert strength_phrase(no_volume, rng) is None  # a dose without a volume has no strength to show
    assert strength_phrase(Med("triamcinolone", "steroid", dose=40, volume=2, brand="Kenalog", salt="acetonide"),
                           rng) is not None  # 20 mg/mL × 2 mL: the product still equals the dose
    assert strength_phrase(Med("triamcinolone", "steroid", dose=30, volume=0.7), rng) is None  # not a whole strength
    for _ in range(20):  # "Kenalog-40" only where the seed gave the product strength
        assert "Kenalog-" not in strength_phrase(Med("triamcinolone", "steroid", dose=40, volume=1, brand="Kenalog",
                                                     salt="acetonide"), rng)


# --- break variants break -------------------------------------------------------------------------------------------
def test_break_variants_defeat_the_claim(every_note, every_dictation):
    sij = re.compile(r"(?i)\bSI(?:J| joint)\b(?: injections?| inj)|sacroiliac joint injection")
    for v in every_note.variants + every_dictation.variants:
        if v.kind != "break":
            continue
        t = v.text
        if v.category == "2.second_procedure":
            # the SI joint appears only as exam, impression, history, plan or recommendation
            assert not re.search(r"(?im)^PROCEDURE:.*sacroiliac", t) and t.lower().startswith(("procedure: bilat",
                                                                                                "bilat l4")), v.id
            for line in re.split(r"\n|, (?=plan|impression|hx|consider|bilat SIJ|left SI|right SI|both SI)", t):
                if sij.search(line):
                    assert re.search(r"(?i)plan|impression|history|\bhx\b|assessment|recommend|consider|deferred|"
                                     r"exam|schedule", line), (v.id, line)
        elif v.category == "3.explanations":
            assert not re.search(r"(?i)under (?:fluoro|ct|real-time ultrasound|us\b)|guided|confirm|outlined|"
                                 r"needle tip", t), v.id
        elif v.category == "9.unfilled_fields":
            if "purpose_token" in v.style:
                assert not re.search(r"(?i)therapeutic|diagnostic(?!/)", t.replace(PURPOSE_TOKENS[0], "")), v.id
            else:
                assert any(tok in t for tok in SIDE_TOKENS) and not re.search(
                    r"(?i)\b(?:left|right|bilat\w*|[LR])\b", t.replace(SIDE_TOKENS[0], "")), v.id
        elif v.category == "10.normalisation":
            assert re.search(r"[^\x00-\x7f]", t) and not re.search(r"(?i)under (?:fluoro|ct|ultrasound)|guided", t), v.id
        else:
            raise AssertionError(f"unexpected break category {v.category}")


def test_keep_and_break_texts_never_coincide_for_one_claim(every_note, every_dictation):
    for gen in (every_note, every_dictation):
        keep = {(v.text, v.codes) for v in gen.variants if v.kind == "keep"}
        brk = {(v.text, v.codes) for v in gen.variants if v.kind == "break"}
        assert not keep & brk


# --- the dictation scorer -------------------------------------------------------------------------------------------
GOLD = Facts("left", "fluoroscopy", "contrast", True, None, "therapeutic", ("M46.1",), None, False, (
    Med("triamcinolone", "steroid", dose=40, brand="Kenalog", salt="acetonide"),
    Med("bupivacaine", "anesthetic", volume=2, conc=0.25)))
GOOD = ("Procedure: Left sacroiliac joint injection\nThe needle was placed under fluoroscopic guidance.\n"
        "- triamcinolone acetonide 40 mg (Kenalog)\n- bupivacaine 2 mL of 0.25%\n")


@pytest.mark.parametrize("draft, problem", [
    (GOOD, None),
    (GOOD.replace("2 mL of 0.25%", "2 mL"), "bupivacaine lacks 0.25%"),
    (GOOD.replace("2 mL", "2 cc"), "bupivacaine lacks 2 mL"),
    (GOOD.replace("(Kenalog)", "(Kenalog-40, 1 mL)"), "inferred: triamcinolone 1 mL"),
    (GOOD.replace("2 mL of 0.25%", "2 mL of 0.25% (5 mg)"), "inferred: bupivacaine 5 mg"),
    (GOOD.replace("- bupivacaine 2 mL of 0.25%\n", ""), "drug: bupivacaine missing"),
    (GOOD.replace("Left", "Right"), "side: left not stated"),
    (GOOD.replace("fluoroscopic", "ultrasound"), "guidance: fluoroscopy not stated"),
])
def test_fidelity_scorer(draft, problem):
    got = fidelity(draft, GOLD, "L SIJ inj, fluoro, IA confirmed w contrast, kenalog 40 mg + 2 cc 0.25% bupi")
    assert (got == []) if problem is None else any(problem in p for p in got), got


def test_fidelity_scorer_per_side_and_segments():
    bilat = Facts("bilateral", "fluoroscopy", "contrast", True, None, "therapeutic", ("M46.1",), None, False, (
        Med("triamcinolone", "steroid", dose=40, basis="per_side"), Med("bupivacaine", "anesthetic", volume=1,
                                                                        conc=0.5, basis="per_side")))
    ok = "Bilateral SIJ under fluoroscopic guidance.\n- triamcinolone 40 mg per side; bupivacaine 1 mL of 0.5% each side"
    assert fidelity(ok, bilat, "") == []
    assert "amount: bupivacaine lacks per side" in fidelity(ok.replace(" each side", ""), bilat, "")


# --- the gate (off by default) --------------------------------------------------------------------------------------
@pytest.mark.styles_gate
def test_styles_gate_notes(capsys):
    t = run_notes()
    with capsys.disabled():
        print("\n" + table(t))
    assert not t.false_supported, f"{len(t.false_supported)} break variants supported"
    assert t.false_refusal_ratio <= MAX_FALSE_REFUSAL_RATIO, f"false refusals {t.false_refusal_ratio:.1%}"


@pytest.mark.styles_gate
def test_styles_gate_dictations(capsys):
    t = run_dictations()
    with capsys.disabled():
        print("\n" + table(t))
    assert not t.false_supported, f"{len(t.false_supported)} break variants supported"
    assert t.false_refusal_ratio <= MAX_FALSE_REFUSAL_RATIO, f"false refusals {t.false_refusal_ratio:.1%}"


# --- the procedure families (evals/validator_families.jsonl) ------------------------------------------------------
def test_family_styles_are_deterministic_and_cover_every_family():
    from tests.metamorphic.families import family_seeds

    from .families import STYLES, generate as generate_families
    seeds = family_seeds()
    a, b = generate_families(seeds), generate_families(seeds)
    assert [v.text for v in a] == [v.text for v in b]
    assert len({st.name for st in STYLES}) == len(STYLES)
    per = Counter(v.family for v in a if v.kind == "keep")
    assert all(per[s.family] >= 15 for s in seeds), per
    assert {v.style for v in a} == {st.name for st in STYLES}  # every style applies to some seed


@pytest.mark.styles_gate
def test_styles_gate_families(capsys):
    from .families import gate_problems, run as run_families, table as family_table
    t = run_families()
    with capsys.disabled():
        print("\n" + family_table(t))
    problems = gate_problems(t)
    assert not problems, "; ".join(problems) + "\n" + family_table(t, examples=2)
