"""Issue 9 part 2: drafts restate the dictation exactly — each drug with its own amounts, salts and strengths kept,
per side or in total, roles, a second procedure named and its drugs kept with it, implausible or ownerless amounts
asked about, no placeholder in a supported draft, and grounding that compares facts, not words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from notedraft.dose_ranges import implausible, outside_label
from notedraft.drafting import draft
from notedraft.evals.dataset import GoldFacts, load_datasets, load_drafting
from notedraft.evals.scorers import (DraftingSample, FidelityScorer, compare_fidelity, gold_med_tuples,
                                     model_med_tuples)
from notedraft.extract import extract_facts
from notedraft.grounding import ground
from notedraft.models import Attempt, Medication

FLUORO = "L SIJ inj, fluoro, IA confirmed w contrast, {}, dx M46.1, therapeutic"
BILAT = "bilat SIJ inj under fluoro, IA confirmed w contrast bilat, {}, dx M46.1, therapeutic"


def meds(text: str) -> list[tuple]:
    return [m.fact() for m in extract_facts(text).medications]


# --- reading: each drug keeps its own amounts ---------------------------------------------------------------------


@pytest.mark.parametrize("dictated, expected", [
    # amounts before names: the 2 mL of 0.5% is the ropivacaine's, never the steroid's
    ("40 mg kenalog 2 mL 0.5% ropi", [("triamcinolone", "acetonide", "40 mg", None, None, None, "injectate"),
                                      ("ropivacaine", None, None, "0.5%", "2 mL", None, "injectate")]),
    # amounts after names
    ("kenalog 40 mg bupivacaine 0.25% 2 mL", [("triamcinolone", "acetonide", "40 mg", None, None, None, "injectate"),
                                              ("bupivacaine", None, None, "0.25%", "2 mL", None, "injectate")]),
    # three drugs in a row
    ("40 mg kenalog 1 mL 0.5% bupi 1 mL 1% lido", [
        ("triamcinolone", "acetonide", "40 mg", None, None, None, "injectate"),
        ("bupivacaine", None, None, "0.5%", "1 mL", None, "injectate"),
        ("lidocaine", None, None, "1%", "1 mL", None, "injectate")]),
    # product strength: Kenalog-40 is 40 mg/mL, so 1 mL is 40 mg
    ("Kenalog-40 1 mL", [("triamcinolone", "acetonide", "40 mg", "40 mg/mL", "1 mL", None, "injectate")]),
    ("Kenalog-40 1/2 cc", [("triamcinolone", "acetonide", "20 mg", "40 mg/mL", "0.5 mL", None, "injectate")]),
    ("Depo-Medrol 80 mg/mL, 1 mL", [("methylprednisolone", "acetate", "80 mg", "80 mg/mL", "1 mL", None, "injectate")]),
    ("Celestone Soluspan 6 mg/mL 1 mL", [("betamethasone", "sodium phosphate and acetate", "6 mg", "6 mg/mL", "1 mL",
                                         None, "injectate")]),
    # salts kept
    ("triamcinolone hexacetonide 20 mg", [("triamcinolone", "hexacetonide", "20 mg", None, None, None, "injectate")]),
    ("Aristospan 20 mg", [("triamcinolone", "hexacetonide", "20 mg", None, None, None, "injectate")]),
    ("40 mg triamcinolone", [("triamcinolone", None, "40 mg", None, None, None, "injectate")]),
    # fractions and words, read exactly
    ("40 mg kenalog and half a cc 0.5% bupivacaine", [
        ("triamcinolone", "acetonide", "40 mg", None, None, None, "injectate"),
        ("bupivacaine", None, None, "0.5%", "0.5 mL", None, "injectate")]),
    ("40 mg kenalog and one and a half mL of 0.25% bupivacaine", [
        ("triamcinolone", "acetonide", "40 mg", None, None, None, "injectate"),
        ("bupivacaine", None, None, "0.25%", "1.5 mL", None, "injectate")]),
    ("kenalog 40 mg + 1 1/2 cc 0.25% bupi", [
        ("triamcinolone", "acetonide", "40 mg", None, None, None, "injectate"),
        ("bupivacaine", None, None, "0.25%", "1.5 mL", None, "injectate")]),
    # roles
    ("skin wheal 1% lido, 40 mg kenalog", [("lidocaine", None, None, "1%", None, None, "skin_local"),
                                           ("triamcinolone", "acetonide", "40 mg", None, None, None, "injectate")]),
    ("2 mg versed for sedation, 40 mg kenalog", [("midazolam", None, "2 mg", None, None, None, "sedation"),
                                                 ("triamcinolone", "acetonide", "40 mg", None, None, None, "injectate")]),
])
def test_each_drug_is_read_with_its_own_amounts(dictated, expected):
    assert meds(FLUORO.format(dictated)) == expected


def test_one_half_cc_of_contrast_is_half_a_millilitre_of_contrast():
    [contrast, steroid] = extract_facts(FLUORO.format("1/2 cc omnipaque, 40 mg kenalog")).medications
    assert (contrast.name, contrast.volume, contrast.use) == ("iohexol", "0.5 mL", "contrast")
    assert steroid.dose == "40 mg"


@pytest.mark.parametrize("dictated, basis", [
    ("kenalog 20 mg per side", "per_side"), ("40 mg kenalog each side", "per_side"),
    ("40 mg kenalog apiece", "per_side"), ("Kenalog-40 2 mL total", "total"), ("80 mg kenalog in total", "total"),
])
def test_per_side_and_total_amounts_are_kept(dictated, basis):
    [m] = extract_facts(BILAT.format(dictated)).medications
    assert m.basis == basis


def test_an_amount_whose_owner_is_not_said_belongs_to_neither_drug():
    facts = extract_facts(FLUORO.format("kenalog 40 mg 2 mL 0.5% ropi"))
    assert all(m.ambiguous_amount == "40 mg 2 mL 0.5%" for m in facts.medications)
    assert not any(m.volume for m in facts.medications)


def test_a_second_procedure_keeps_its_drugs_and_its_side():
    text = ("L SIJ inj, US guided, needle seen entering joint, 40 mg kenalog, dx M46.1, therapeutic. "
            "Also right knee injection with 40 mg kenalog and 4 mL 1% lidocaine.")
    facts = extract_facts(text)
    assert facts.side == "left"  # the knee's "right" is not the SI joint's side
    uses = [(m.name, m.use, m.belongs_to) for m in facts.medications]
    assert uses == [("triamcinolone", "injectate", None),
                    ("triamcinolone", "other_procedure", "right knee injection"),
                    ("lidocaine", "other_procedure", "right knee injection")]


# --- drafting: amounts as dictated, arithmetic shown ----------------------------------------------------------------


@pytest.mark.parametrize("dictated, line", [
    # a product strength and a volume: both as dictated, never the mg they multiply to (not dictated)
    ("Kenalog-40 1 mL", "- triamcinolone acetonide 1 mL of 40 mg/mL (Kenalog-40)"),
    ("Kenalog-40 2 mL", "- triamcinolone acetonide 2 mL of 40 mg/mL (Kenalog-40)"),
    ("Depo-Medrol 80 mg/mL, 1 mL", "- methylprednisolone acetate 1 mL of 80 mg/mL (Depo-Medrol)"),
    ("Depo-Medrol 80 mg/mL, 1 mL (80 mg)", "- methylprednisolone acetate 80 mg (Depo-Medrol 80 mg/mL, 1 mL)"),
    ("triamcinolone hexacetonide 20 mg", "- triamcinolone hexacetonide 20 mg"),
    ("40 mg kenalog 2 mL 0.5% ropi", "- ropivacaine 2 mL of 0.5%"),
    ("1/2 cc omnipaque, 40 mg kenalog", "Contrast: iohexol 0.5 mL (Omnipaque)."),
])
def test_the_note_states_each_amount_as_dictated(dictated, line):
    d = draft(FLUORO.format(dictated))
    assert line in d.note.splitlines()
    assert d.supported, [f.message for f in d.report.errors]


def test_per_side_is_never_drafted_as_a_total():
    d = draft(BILAT.format("kenalog 20 mg per side"))
    assert "- triamcinolone acetonide 20 mg per side (Kenalog)" in d.note.splitlines()
    assert d.supported and d.codes == ["27096-50"]


def test_the_anesthetics_amount_is_not_given_to_the_steroid():
    d = draft(FLUORO.format("40 mg kenalog 2 mL 0.5% ropi"))
    assert "- triamcinolone acetonide 40 mg (Kenalog)" in d.note.splitlines()


def test_contrast_without_a_volume_is_contrast_not_a_placeholder():
    d = draft("L SIJ inj, fluoro, IA confirmed with omnipaque, 40 mg kenalog, dx M46.1, therapeutic")
    assert "Contrast: iohexol (Omnipaque)." in d.note and "NEEDED" not in d.note
    assert d.supported


def test_skin_local_without_volume_is_a_warning_and_a_question_not_a_refusal():
    d = draft(FLUORO.format("skin wheal 1% lido, 40 mg kenalog + 2 mL 0.25% bupi"))
    assert d.supported
    assert "Local anesthesia: lidocaine 1% for skin anesthesia." in d.note
    assert [f.rule for f in d.report.findings if f.severity == "warning"] == ["medication.skin_local_volume"]
    assert any("used for the skin" in q for q in d.queries)


@pytest.mark.parametrize("dictated", ["kenalog 4000 mg", "Depo-Medrol 400 mg", "40 mg kenalog + 2 mL 5% bupivacaine",
                                      "dexamethasone 40 mg"])
def test_an_implausible_amount_is_asked_never_drafted_as_supported(dictated):
    d = draft(FLUORO.format(dictated))
    assert d.refused and not d.supported and d.report.suggested_codes == []
    assert "medication.dose_implausible" in [f.rule for f in d.report.errors]
    assert any("outside its label range" in q for q in d.queries)


def test_plausibility_is_per_side_and_a_total_scales_with_the_sides():
    per_side = Medication(name="triamcinolone", as_written="kenalog", dose="80 mg", role="steroid", basis="per_side")
    total = per_side.model_copy(update={"dose": "160 mg", "basis": "total"})
    assert outside_label(per_side, sides=2) is None
    assert outside_label(total, sides=2) is None
    assert "outside" in outside_label(total, sides=1)
    assert outside_label(per_side.model_copy(update={"dose": "81 mg"}), sides=2) is not None
    # two tiers: 81 mg per side is off-label (a warning), not implausible (an error)
    assert implausible(per_side.model_copy(update={"dose": "81 mg"}), sides=2) is None


def test_an_ownerless_amount_is_a_question():
    d = draft(FLUORO.format("kenalog 40 mg 2 mL 0.5% ropi"))
    assert d.refused
    assert "Which drug is '40 mg 2 mL 0.5%' for: triamcinolone or ropivacaine?" in d.queries


def test_a_second_procedure_is_named_and_its_drug_is_not_si_injectate():
    d = draft("Bilateral SIJ inj under fluoro, IA confirmed w contrast, 40 mg kenalog each side. "
              "Also left L4-5 TFESI with 80 mg Depo-Medrol. dx M46.1, therapeutic")
    expected = ("also dictated: left L4-5 transforaminal epidural steroid injection with methylprednisolone 80 mg, "
                "not drafted")
    assert expected in d.notes
    assert expected in [f.message for f in d.report.findings if f.rule == "draft.other_procedure_not_drafted"]
    assert "methylprednisolone" not in d.note and "Depo" not in d.note
    assert d.supported and d.codes == ["27096-50"]


def test_aborted_and_periarticular_sides_are_stated_as_not_done():
    d = draft("bilat SIJ inj under fluoro, left IA confirmed w contrast, right periarticular spread only, "
              "40 mg kenalog each side, dx M46.1, therapeutic")
    assert "Right side: periarticular placement; intra-articular placement was not confirmed." in d.note
    assert d.codes == ["27096-LT"]


@pytest.mark.parametrize("text", ["hello world", "remember to buy milk and eggs tomorrow"])
def test_text_that_is_not_a_dictation_gets_one_refusal_and_no_note(text):
    d = draft(text)
    assert d.refused and d.note == "" and d.queries == []
    assert [f.rule for f in d.report.findings] == ["draft.not_a_dictation"]


def test_the_cli_refuses_a_non_dictation_in_one_line():
    notedraft = str(Path(sys.executable).with_name("notedraft"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "NOTEDRAFT_MODEL", "NOTEDRAFT_LLM"))}
    r = subprocess.run([notedraft, "draft", "hello world"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1
    assert r.stdout.strip().count("\n") == 0 and r.stdout.startswith("REFUSED: ")
    assert "Traceback" not in r.stderr


def test_a_placeholder_makes_the_draft_refused_with_the_question_that_fills_it():
    d = draft(FLUORO.format("kenalog + 2cc 0.25% bupi"))
    assert "[DOSE NEEDED]" in d.note and d.refused
    assert "note.placeholder" in [f.rule for f in d.report.errors]
    assert "Dose of triamcinolone (kenalog)?" in d.queries


def test_no_question_about_a_code_the_dictated_guidance_rules_out():
    d = draft("R SIJ inj, US guided, 40 kenalog, dx M46.1, therapeutic", ["27096-RT"])
    assert not any("contrast under fluoroscopy" in q for q in d.queries)
    assert any("ultrasound" in q for q in d.queries)


def test_a_labelled_diagnosis_phrase_is_not_drafted_twice():
    d = draft("L SIJ inj, fluoro, IA confirmed w contrast, 40 mg kenalog. Diagnosis is sacroiliitis M46.1. therapeutic")
    assert "Diagnosis: Sacroiliitis, not elsewhere classified (M46.1)\n" in d.note


# --- grounding compares facts --------------------------------------------------------------------------------------

DICTATION = FLUORO.format("40 mg kenalog 2 mL 0.5% ropi")
NOTE = ("Left sacroiliac joint injection under fluoroscopic guidance; intra-articular placement confirmed with "
        "contrast. Diagnosis: M46.1. Therapeutic. Medications injected: {}.")


def messages(note_meds: str, dictation: str = DICTATION) -> list[str]:
    return [f.message for f in ground(NOTE.format(note_meds), dictation)]


def test_an_amount_borrowed_from_another_drug_is_named_with_its_owner():
    found = messages("triamcinolone 40 mg in 2 mL of 0.5% (Kenalog); ropivacaine 2 mL of 0.5%")
    assert found == ["unsupported: 40 mg in 2 mL of 0.5% triamcinolone (0.5% was dictated for ropivacaine; "
                     "2 mL was dictated for ropivacaine)"]


def test_the_same_words_as_the_dictation_are_grounded():
    assert messages("triamcinolone acetonide 40 mg (Kenalog); ropivacaine 2 mL of 0.5%") == []
    assert messages("triamcinolone 40 mg (Kenalog); ropivacaine 2 mL of 0.5%") == []  # a salt left out is no new fact


def test_a_changed_salt_is_unsupported():
    assert messages("triamcinolone hexacetonide 40 mg; ropivacaine 2 mL of 0.5%") == [
        "unsupported: 40 mg triamcinolone (salt: hexacetonide, dictated: acetonide)"]


def test_per_side_left_out_is_unsupported():
    dictation = BILAT.format("kenalog 20 mg per side")
    note = ("Bilateral sacroiliac joint injection under fluoroscopic guidance, intra-articular placement confirmed "
            "with contrast. M46.1. Therapeutic. Medications injected: triamcinolone 20 mg (Kenalog).")
    assert [f.message for f in ground(note, dictation)] == [
        "unsupported: 20 mg triamcinolone (per side/total: left out, dictated: per_side)"]


def test_a_dose_computed_from_dictated_strength_and_volume_is_grounded():
    d = draft(FLUORO.format("Kenalog-40 2 mL"))
    assert [f for f in d.report.findings if f.rule.startswith("grounding")] == []
    assert "80 mg" not in d.note  # the product of strength and volume is not written as a dictated dose
    assert ground(d.note.replace("2 mL of", "3 mL of"), d.dictation)  # any other number is not


def test_a_side_drafted_as_injected_when_it_was_aborted_is_unsupported():
    dictation = ("bilat SIJ inj, fluoro, left IA confirmed w contrast and injected with 40 mg kenalog, right side "
                 "aborted, could not enter the joint, dx M46.1, therapeutic")
    d = draft(dictation)
    assert d.supported
    bad = d.note.replace("Right side: not injected (aborted).\n", "")
    assert bad != d.note
    bad = bad.replace("Left sacroiliac joint injection", "Bilateral sacroiliac joint injection")
    assert any("side" in f.message for f in ground(bad, dictation))


# --- the eval: gold tuples and the fidelity scorer -----------------------------------------------------------------


def test_the_fidelity_set_loads_with_the_old_rows_and_has_every_style():
    cases = load_drafting("evals/drafting_fidelity.jsonl")
    assert len(cases) >= 60
    tags = {t for c in cases for t in c.tags}
    assert {"mixture", "per_side", "strength", "salt", "aborted", "periarticular", "two_procedures", "implausible",
            "not_a_dictation", "role", "fraction"} <= tags
    all_cases = load_datasets(include=("drafting",)).drafting
    assert len(all_cases) == len(cases) + len(load_drafting("evals/drafting.jsonl")) + len(
        load_drafting("evals/drafting_families.jsonl"))


GOLD = GoldFacts.model_validate({
    "side": "left", "guidance": "fluoroscopy", "purpose": "therapeutic",
    "medications": [{"name": "triamcinolone", "as_written": "kenalog", "role": "steroid", "dose": "40 mg"},
                    {"name": "ropivacaine", "as_written": "ropi", "role": "anesthetic", "volume": "2 mL",
                     "concentration": "0.5%"}]})


def test_gold_tuples_take_the_brand_salt_and_normalise_amounts():
    assert gold_med_tuples(GOLD) == [("triamcinolone", "acetonide", "40 mg", None, None, None, "injectate"),
                                     ("ropivacaine", None, None, "0.5%", "2 mL", None, "injectate")]


def test_a_borrowed_amount_is_counted_as_misattributed_and_a_new_one_as_invented():
    pred = [("triamcinolone", "acetonide", "40 mg", "0.5%", "2 mL", None, "injectate"),
            ("ropivacaine", None, None, "0.5%", "3 mL", None, "injectate")]
    r = compare_fidelity(GOLD, pred, {("left", "performed")}, "fluoroscopy", "therapeutic", [])
    assert len(r["misattributed"]) == 2 and r["invented"] == ["ropivacaine volume 3 mL (dictated: 2 mL)"]
    assert r["counts"]["volume"] == {"tp": 0, "fp": 2, "fn": 1}
    assert r["counts"]["dose"] == {"tp": 1, "fp": 0, "fn": 0}


def test_the_fidelity_scorer_reports_final_and_raw_figures():
    dictation = FLUORO.format("40 mg kenalog 2 mL 0.5% ropi")
    d = draft(dictation)
    case = load_drafting("evals/drafting_fidelity.jsonl")[0]
    assert case.dictation == dictation
    score = FidelityScorer().score(DraftingSample(case=case, draft=d))
    assert score.values["misattributed_tuples_final"] == 0 and score.values["invented_tuples_final"] == 0
    assert score.values["misattributed_tuples_raw"] is None  # no LLM reply to score
    raw = ("Left SI joint injection under fluoroscopy, contrast confirmed intra-articular. Medications injected: "
           "triamcinolone 40 mg in 2 mL of 0.5% (Kenalog).")
    attempt = Attempt(purpose="compose", model="m", prompt_version="v", latency_ms=1.0, outcome="ok", raw=raw)
    with_raw = d.model_copy(update={"attempts": [attempt]})
    score = FidelityScorer().score(DraftingSample(case=case, draft=with_raw))
    assert score.values["misattributed_tuples_raw"] == 2 and score.values["misattributed_tuples_final"] == 0
    extract_reply = json.dumps({"medications": [{"name": "kenalog", "dose": "40 mg"}]})
    attempt = attempt.model_copy(update={"purpose": "extract", "raw": extract_reply})
    score = FidelityScorer().score(DraftingSample(case=case, draft=d.model_copy(update={"attempts": [attempt]})))
    assert score.values["invented_tuples_raw"] == 0


def test_model_tuples_read_back_a_drafted_note():
    d = draft(FLUORO.format("Kenalog-40 1 mL"))
    assert model_med_tuples(d.report.facts) == [("triamcinolone", "acetonide", "40 mg", "40 mg/mL", "1 mL", None,
                                                  "injectate")]
