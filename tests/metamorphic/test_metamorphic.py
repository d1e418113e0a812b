"""The metamorphic gate (issue 8 part 4): every meaning-changing edit of a supported note flips the verdict to not
supported, and meaning-preserving edits keep it supported. Run alone with `pytest -m metamorphic`; the full table
with `python -m tests.metamorphic`.

The generator tests below check the measuring stick itself (deterministic, varied, each edit really edits); the
gate test measures the validator and fails, listing the variants, until the reader is fail-closed.
"""

from __future__ import annotations

from collections import Counter

import pytest

from notedraft.evals.dataset import ValidatorCase, ValidatorExpected

from .generators import UNICODE_NOT, Seed, generate, neutralize_modality, seeds_from_cases
from .harness import MAX_FALSE_REFUSAL_RATIO, load_seeds, run, table

pytestmark = pytest.mark.metamorphic

BREAK_CATEGORIES = {
    "guidance.negated", "guidance.failure", "guidance.conditional", "guidance.substitution", "guidance.considered",
    "guidance.hedge", "guidance.request", "guidance.question", "guidance.unicode", "guidance.relocated",
    "guidance.quoted", "guidance.checkbox", "guidance.conflict", "side.swapped_body", "side.swapped_all",
    "side.deleted", "side.bilateral_elsewhere", "side.one_side_aborted", "confirmation.not_confirmed",
    "drug.not_injected", "drug.dose_missing", "drug.dose_conflict", "diagnosis.not_established",
    "purpose.deleted", "purpose.unstated", "procedure.aborted", "procedure.other_procedure",
    "procedure.planned_only", "images.not_recorded",
}
KEEP_CATEGORIES = {"keep.reorder", "keep.heading_case", "keep.boilerplate", "keep.abbreviate", "keep.run_together",
                   "keep.whitespace"}


@pytest.fixture(scope="module")
def seeds():
    return load_seeds()


@pytest.fixture(scope="module")
def generated(seeds):
    return generate(seeds)


def test_seeds_are_the_supported_hand_written_cases(seeds):
    assert len(seeds) >= 40, "the corpus should give the harness at least 40 supported seed notes"
    codes = Counter(c.split("-")[0] for s in seeds for c in s.codes)
    assert codes["27096"] and codes["20552"] and codes["76942"]
    case = ValidatorCase(id="x", note="n", codes=["27096"], expected=ValidatorExpected(supported=False))
    assert seeds_from_cases([case]) == []  # a not-supported case is never a seed


def test_the_generator_is_deterministic_and_varied(seeds, generated):
    again = generate(seeds)
    assert [v.text for v in again.variants] == [v.text for v in generated.variants]
    breaks = {(v.text, v.codes) for v in generated.variants if v.kind == "break"}
    keeps = {(v.text, v.codes) for v in generated.variants if v.kind == "keep"}
    assert len(breaks) >= 500 and len(keeps) >= 200, (len(breaks), len(keeps))
    assert not breaks & keeps  # the same text may be a keep for one claim and a break for another, never both
    cats = Counter(v.category for v in generated.variants)
    assert set(cats) == BREAK_CATEGORIES | KEEP_CATEGORIES, set(cats) ^ (BREAK_CATEGORIES | KEEP_CATEGORIES)
    everything = generate(seeds, per=0)  # every phrasing: the thesaurus yields hundreds per fact kind
    per_fact = Counter(v.fact for v in everything.variants if v.kind == "break")
    assert per_fact["guidance"] >= 1000 and per_fact["side"] >= 100, per_fact


def test_every_variant_is_an_edit_tagged_with_the_fact_it_breaks(seeds, generated):
    notes = {s.id: s.note for s in seeds}
    for v in generated.variants:
        assert v.text != notes[v.seed_id] or v.codes != next(s.codes for s in seeds if s.id == v.seed_id)
        assert (v.kind == "break") == bool(v.fact), v
        assert v.category.split(".")[0] == (v.fact or "keep"), v


def test_a_guidance_edit_leaves_only_the_unaffirmed_mention():
    seed = Seed("t", "PROCEDURE: Left SI joint injection under fluoroscopic guidance.\nUnder fluoroscopy a needle "
                     "was placed in the left SI joint. Contrast outlined the joint. C-arm used. Dx M46.1. "
                     "Therapeutic. Kenalog 40 mg injected.", ("27096-LT",), "fluoroscopy", "left")
    text, _ = neutralize_modality(seed.note, "fluoroscopy")
    assert "fluoro" not in text.lower() and "c-arm" not in text.lower()
    assert "Contrast outlined the joint" in text and "Kenalog 40 mg injected" in text
    variants = [v for v in generate([seed], per=0).variants if v.category == "guidance.unicode"]
    assert {trick for trick in UNICODE_NOT.values() if any(trick in v.text for v in variants)} == set(
        UNICODE_NOT.values())


def test_metamorphic_gate(capsys):
    """ZERO false supported; false refusals at most MAX_FALSE_REFUSAL_RATIO of the meaning-preserving edits."""
    t = run()
    with capsys.disabled():  # the counts are the point of this test: show them even when it passes
        print("\n" + table(t, examples=0).split("\n\nFALSE")[0].split("\n\nfalse")[0])
    assert t.variants > 0
    problems = []
    if t.false_supported:
        problems.append(f"{len(t.false_supported)} meaning-changing edits still supported")
    if t.false_refusal_ratio > MAX_FALSE_REFUSAL_RATIO:
        problems.append(f"false refusals {t.false_refusal_ratio:.1%} > {MAX_FALSE_REFUSAL_RATIO:.0%}")
    assert not problems, "; ".join(problems) + "\n" + table(t, examples=2)


# --- the procedure families (evals/validator_families.jsonl) ------------------------------------------------------
FAMILY_BREAKS = {
    "guidance.removed", "guidance.negated", "guidance.failure", "guidance.conditional", "guidance.considered",
    "guidance.hedge", "guidance.request", "guidance.question", "guidance.unicode", "guidance.checkbox",
    "guidance.quoted", "guidance.relocated", "guidance.swapped_modality", "guidance.conflict",
    "guidance.affirmed_for_no_imaging_code", "levels.removed", "levels.extra_line", "levels.other_region",
    "side.removed", "side.swapped", "side.conflict", "side.bilateral_claimed", "side.one_side_aborted",
    "drug.dose_missing", "drug.not_injected", "procedure.planned_only", "procedure.historical", "procedure.aborted",
    "muscles.fewer", "muscles.more", "site.other_class", "technique.other",
}
FAMILY_KEEPS = {"keep.level_spelling", "keep.heading_case", "keep.boilerplate", "keep.reorder", "keep.abbreviate",
                "keep.run_together", "keep.whitespace"}


@pytest.fixture(scope="module")
def family_generated():
    from .families import family_seeds, generate as generate_families
    seeds = family_seeds()
    return seeds, generate_families(seeds)


def test_family_seeds_cover_every_family(family_generated):
    seeds, gen = family_generated
    per = Counter(s.family for s in seeds)
    assert set(per) >= {"epidural_interlaminar", "epidural_transforaminal", "facet", "facet_rfa", "genicular",
                        "joint", "si_nerve", "si_rfa", "trigger_point"}, per
    assert len(seeds) >= 55
    from .families import generate as generate_families
    again = generate_families(seeds)
    assert [v.text for v in again.variants] == [v.text for v in gen.variants]  # fixed seed: deterministic
    cats = Counter(v.category for v in gen.variants)
    assert set(cats) == FAMILY_BREAKS | FAMILY_KEEPS, set(cats) ^ (FAMILY_BREAKS | FAMILY_KEEPS)
    for fam in per:
        mine = [v for v in gen.variants if v.seed_id in {s.id for s in seeds if s.family == fam}]
        assert sum(v.kind == "break" for v in mine) >= 40 and sum(v.kind == "keep" for v in mine) >= 15, fam
    notes = {s.id: (s.note, s.codes) for s in seeds}
    for v in gen.variants:
        assert (v.text, v.codes) != notes[v.seed_id]
        assert (v.kind == "break") == bool(v.fact), v


def test_metamorphic_families_gate(capsys):
    """Per family: ZERO false supported; false refusals at most MAX_FAMILY_FALSE_REFUSAL_RATIO."""
    from .harness import family_summary, family_table, families_gate_problems, run_families
    tallies = run_families()
    with capsys.disabled():
        print("\n" + family_summary(tallies))
    problems = families_gate_problems(tallies)
    assert not problems, "; ".join(problems) + "\n" + family_table(tallies, examples=2)
