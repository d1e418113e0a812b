"""Scorers on hand-made drafts: what counts as correct, as refused-right, as invented."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from notedraft.evals.dataset import ValidatorCase, ValidatorExpected
from notedraft.evals.scorers import (
    CodeSupportScorer,
    CostScorer,
    DraftingSample,
    FactScorer,
    GroundingScorer,
    Price,
    PriceTable,
    RefusalScorer,
    RequiredElementsScorer,
    ValidatorSample,
    ValidatorScorer,
    amounts,
    amounts_match,
    drafting_scorers,
    line_matches,
    lines_match,
    validator_scorers,
)


def sample(case, d, error=None):
    return DraftingSample(case=case, draft=d, error=error, wall_ms=5.0)


# --- code lines ----------------------------------------------------------------------------------------------------
def test_unilateral_lines_accept_a_missing_side_modifier_but_never_the_wrong_side():
    assert line_matches("27096-LT", "27096-LT")
    assert line_matches("27096-LT", "27096")
    assert not line_matches("27096-LT", "27096-RT")
    assert not line_matches("27096-LT", "20552-LT")


def test_bilateral_is_one_line_with_50_never_lt_plus_rt():
    assert lines_match(["27096-50"], ["27096-50"])
    assert not lines_match(["27096-50"], ["27096-LT", "27096-RT"])
    assert not lines_match(["27096-50"], ["27096"])


def test_line_lists_are_order_free_and_exact_in_length():
    assert lines_match(["20552-LT", "76942"], ["76942", "20552-LT"])
    assert not lines_match(["20552-LT", "76942"], ["20552-LT"])
    assert lines_match([], [])


# --- amounts -------------------------------------------------------------------------------------------------------
def test_amounts_normalise_units_as_physicians_write_them():
    assert amounts("2cc") == [(Decimal("2"), "ml")]
    assert amounts_match(amounts("2 mL", "0.25%"), amounts("2cc of 0.25 %"))
    assert amounts_match(amounts("40 mg"), amounts("40"))  # "40 kenalog": the unit was never written
    assert not amounts_match(amounts("40 mg"), amounts("80 mg"))
    assert not amounts_match(amounts("2 mL", "0.25%"), amounts("2 mL", "0.5%"))
    assert not amounts_match(amounts("40 mg"), amounts("40 mL"))


# --- code support and refusal ----------------------------------------------------------------------------------------
def test_a_supported_draft_with_the_expected_lines_is_correct(mk, case_by_id):
    case = case_by_id["fluoro-right-terse"]
    s = CodeSupportScorer().score(sample(case, mk.draft(case, codes=["27096-RT"], supported=True)))
    assert s.values["code_support_correct"] == 1.0
    assert s.values["false_supported"] == 0.0
    assert not s.failures


def test_supporting_the_wrong_side_is_a_false_supported(mk, case_by_id):
    case = case_by_id["fluoro-right-terse"]
    s = CodeSupportScorer().score(sample(case, mk.draft(case, codes=["27096-LT"], supported=True)))
    assert s.values["code_support_correct"] == 0.0
    assert s.values["false_supported"] == 1.0
    assert any("FALSE SUPPORTED" in f for f in s.failures)


def test_a_supported_draft_for_a_case_that_must_be_refused_is_a_false_supported(mk, case_by_id):
    case = case_by_id["missing-dx-fluoro"]
    s = CodeSupportScorer().score(sample(case, mk.draft(case, codes=["27096-LT"], supported=True)))
    assert s.values["false_supported"] == 1.0
    assert s.values["code_support_correct"] is None  # does not apply to refused cases


def test_a_refusal_with_the_right_suggested_code_scores_correct(mk, case_by_id):
    case = case_by_id["mismatch-us-asked-27096"]  # ultrasound dictated, 27096-LT asked
    d = mk.draft(case, codes=["27096-LT"], supported=False, suggested=["20552-LT"])
    s = RefusalScorer().score(sample(case, d))
    assert s.values["refusal_correct"] == 1.0
    assert s.values["refusal_detected"] == 1.0


def test_a_refusal_with_the_wrong_suggestion_is_detected_but_not_correct(mk, case_by_id):
    case = case_by_id["mismatch-us-asked-27096"]
    d = mk.draft(case, codes=["27096-LT"], supported=False, suggested=["27096-LT"])
    s = RefusalScorer().score(sample(case, d))
    assert s.values["refusal_detected"] == 1.0
    assert s.values["refusal_correct"] == 0.0
    assert "expected ['20552-LT']" in s.failures[0]


def test_not_refusing_is_a_failed_refusal(mk, case_by_id):
    case = case_by_id["missing-dose-kenalog"]
    s = RefusalScorer().score(sample(case, mk.draft(case, codes=["27096-LT"], supported=True)))
    assert s.values["refusal_detected"] == 0.0 and s.values["refusal_correct"] == 0.0


def test_queries_are_matched_to_the_expected_topics(mk, case_by_id):
    case = case_by_id["missing-dose-and-dx"]  # topics: dose, diagnosis
    d = mk.draft(case, codes=[], supported=False, suggested=[], queries=["Dose of triamcinolone (kenalog)?"])
    s = RefusalScorer().score(sample(case, d))
    assert (s.values["_topics_hit"], s.values["_topics"]) == (1.0, 2.0)
    assert s.details["missing_topics"] == ["diagnosis"]


def test_a_crash_scores_as_a_failure_not_as_a_pass(case_by_id):
    case = case_by_id["fluoro-right-terse"]
    s = CodeSupportScorer().score(sample(case, None, error="RuntimeError: boom"))
    assert s.values["code_support_correct"] == 0.0 and s.values["draft_errors"] == 1.0
    assert "boom" in s.failures[0]


# --- unsupported and invented facts ----------------------------------------------------------------------------------
def test_an_invented_dose_in_the_final_note_counts_as_unsupported(mk, case_by_id):
    case = case_by_id["fluoro-right-terse"]  # kenalog 40, 2cc 0.25% bupi
    note_facts = mk.facts(side="right", meds=[mk.med("triamcinolone", "80 mg"),
                                               mk.med("bupivacaine", volume="2 mL", concentration="0.25%",
                                                      role="anesthetic")])
    d = mk.draft(case, codes=["27096-RT"], note="... triamcinolone 80 mg ...", note_facts=note_facts,
                 dictated=mk.facts(side="right"),
                 findings=[mk.finding("grounding.unsupported", "unsupported: 80 mg triamcinolone", evidence_text="80")])
    s = GroundingScorer().score(sample(case, d))
    assert s.values["unsupported_facts_final"] == 1.0  # the drafter's own grounding finding
    assert s.values["invented_facts_final"] == 1.0  # and the independent check against gold
    assert any("dose of triamcinolone (80 mg)" in f for f in s.failures)


def test_a_faithful_note_invents_nothing(mk, case_by_id):
    case = case_by_id["usrec-left-terse"]
    f = mk.facts_from_gold(case)
    s = GroundingScorer().score(sample(case, mk.draft(case, codes=["20552-LT", "76942"], dictated=f, note_facts=f)))
    assert s.values["unsupported_facts_final"] == 0.0
    assert s.values["invented_facts_final"] == 0.0
    assert not s.failures


def test_guidance_taken_from_an_injected_instruction_is_invented(mk, case_by_id):
    case = case_by_id["inject-us-left-state-fluoro"]
    note_facts = mk.facts(guidance="fluoroscopy")
    d = mk.draft(case, codes=["20552-LT"], supported=False, note="...fluoroscopic guidance...", note_facts=note_facts)
    s = GroundingScorer().score(sample(case, d))
    assert "guidance fluoroscopy (dictated: ultrasound)" in s.details["invented_final"]


def test_raw_llm_replies_are_scored_for_invented_facts(mk, case_by_id):
    case = case_by_id["fluoro-right-terse"]
    raw = json.dumps({"side": "right", "guidance": "fluoroscopy", "purpose": "therapeutic",
                      "medications": [{"name": "Kenalog", "dose": "40 mg"},
                                      {"name": "Fluoropakitadine", "dose": "5 mg"}],
                      "diagnoses": [{"code": "M46.1"}]})
    d = mk.draft(case, codes=["27096-RT"], dictated=mk.facts(side="right"), note_facts=mk.facts(side="right"),
                 attempts=[mk.attempt("extract", raw=raw), mk.attempt("extract", raw="{not json")],
                 raw_findings=[mk.finding("grounding.unsupported", "unsupported: 5 mg Fluoropakitadine")])
    s = GroundingScorer().score(sample(case, d))
    assert s.values["invented_facts_raw"] == 1.0  # the invented drug; invalid JSON states nothing
    assert (s.values["_raw_bad"], s.values["_raw"]) == (1.0, 1.0)
    if "raw_findings" in type(d).model_fields:
        assert s.values["unsupported_facts_raw"] == 1.0
    assert s.values["invented_facts_final"] == 0.0  # notedraft dropped it


# --- required elements and fact precision/recall ---------------------------------------------------------------------
def test_required_elements_are_read_back_from_the_final_note(mk, case_by_id):
    case = case_by_id["usrec-left-terse"]  # 76942 asked: recorded images are required too
    f = mk.facts_from_gold(case)
    full = RequiredElementsScorer().score(sample(case, mk.draft(case, codes=["20552-LT", "76942"], note_facts=f)))
    assert full.values["_elements_hit"] == full.values["_elements"] == 7.0
    missing = f.model_copy(update={"images_recorded": None, "purpose": "unstated"})
    part = RequiredElementsScorer().score(sample(case, mk.draft(case, codes=["20552-LT"], note_facts=missing)))
    assert part.values["_elements_hit"] == 5.0
    assert part.details["elements"]["images_recorded"] is False and part.details["elements"]["purpose"] is False


def test_a_diagnosis_code_standing_verbatim_in_the_note_counts(mk, case_by_id):
    case = case_by_id["fluoro-right-terse"]
    f = mk.facts_from_gold(case).model_copy(update={"diagnoses": []})
    s = RequiredElementsScorer().score(sample(case, mk.draft(case, note="Diagnosis: Sacroiliitis (M46.1)",
                                                            codes=["27096-RT"], note_facts=f)))
    assert s.details["elements"]["diagnosis"] is True


def test_fact_precision_and_recall_against_gold(mk, case_by_id):
    case = case_by_id["fluoro-right-terse"]
    perfect = FactScorer().score(sample(case, mk.draft(case, dictated=mk.facts_from_gold(case))))
    assert perfect.values["_tp"] == perfect.values["_tp_fp"] == perfect.values["_tp_fn"]
    # the reader missed the bupivacaine dose and invented a side
    f = mk.facts_from_gold(case).model_copy(deep=True)
    f.medications[1] = mk.med("bupivacaine", role="anesthetic")
    f.side = "left"
    s = FactScorer().score(sample(case, mk.draft(case, dictated=f)))
    assert s.values["_dose_tp"] == 1.0 and s.values["_dose_tp_fn"] == 2.0  # recall 1/2
    assert s.values["_side_tp"] == 0.0 and s.values["_side_tp_fp"] == 1.0  # precision 0/1


# --- cost --------------------------------------------------------------------------------------------------------------
def test_cost_per_draft_comes_from_the_price_table(mk, case_by_id):
    case = case_by_id["fluoro-right-terse"]
    prices = PriceTable({"gpt-*": Price(1.0, 2.0)})
    d = mk.draft(case, attempts=[mk.attempt(model="gpt-x", prompt_tokens=1000, completion_tokens=500, cached=True),
                                 mk.attempt(model="gpt-x", prompt_tokens=1000, completion_tokens=500)])
    s = CostScorer(prices).score(sample(case, d))
    assert s.values["llm_calls"] == 2.0 and s.values["prompt_tokens"] == 2000.0
    assert s.values["cost_usd"] == pytest.approx(2 * (1000 * 1.0 + 500 * 2.0) / 1e6)
    assert (s.values["_cached_calls"], s.values["_calls"]) == (1.0, 2.0)
    unknown = CostScorer(PriceTable()).score(sample(case, d))
    assert unknown.values["cost_usd"] is None  # never a guessed price
    offline = CostScorer(prices).score(sample(case, mk.draft(case)))
    assert offline.values["cost_usd"] == 0.0 and offline.values["llm_calls"] == 0.0


def test_the_repo_price_table_loads():
    from pathlib import Path

    table = PriceTable.load(Path(__file__).resolve().parents[2] / "evals" / "prices.toml")
    assert table.lookup("smollm2-135m-instruct") == Price(0.0, 0.0)


# --- validator ---------------------------------------------------------------------------------------------------------
def _vcase(supported, suggested=None, guidance=None, side=None):
    return ValidatorCase(id="v", note="n", codes=["27096-LT"],
                         expected=ValidatorExpected(supported=supported, suggested_codes=suggested,
                                                    guidance=guidance, side=side))


def test_validator_false_supported_is_counted(mk):
    rep = mk.report(["27096-LT"], supported=True, note_facts=mk.facts())
    s = ValidatorScorer().score(ValidatorSample(case=_vcase(False, ["20552-LT"], "fluoroscopy", "left"), report=rep))
    assert s.values["false_supported"] == 1.0 and s.values["verdict_accuracy"] == 0.0
    assert s.values["suggested_codes_correct"] == 0.0
    assert s.values["guidance_accuracy"] == 1.0 and s.values["side_accuracy"] == 1.0


def test_validator_labels_not_given_are_not_scored(mk):
    rep = mk.report(["27096-LT"], supported=False, note_facts=mk.facts())
    s = ValidatorScorer().score(ValidatorSample(case=_vcase(False), report=rep))
    assert s.values["verdict_accuracy"] == 1.0
    assert s.values["suggested_codes_correct"] is None and s.values["guidance_accuracy"] is None


# --- every scorer declares what it produces ----------------------------------------------------------------------------
def test_every_value_a_scorer_produces_is_a_declared_metric_or_counter(mk, drafting_cases):
    for scorer in drafting_scorers():
        declared = set()
        for m in scorer.metrics:
            declared |= {m.name, m.numerator, m.denominator} - {None}
        assert scorer.metrics, scorer.name
        for case in drafting_cases[:5] + drafting_cases[-5:]:
            d = mk.draft(case, dictated=mk.facts_from_gold(case), note_facts=mk.facts_from_gold(case),
                         attempts=[mk.attempt()])
            for d_or_none in (d, None):
                produced = set(scorer.score(sample(case, d_or_none)).values)
                assert produced <= declared, (scorer.name, produced - declared)
    for scorer in validator_scorers():
        assert {m.name for m in scorer.metrics} >= {"verdict_accuracy", "false_supported"}
