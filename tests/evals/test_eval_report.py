"""Reports and the gate: escaped HTML, baseline deltas, thresholds that gate only deterministic metrics."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import pytest

from notedraft.evals import report
from notedraft.evals.dataset import Datasets
from notedraft.evals.gate import GateError, Threshold, check, load_thresholds
from notedraft.evals.runner import Arm, RunConfig, run
from notedraft.evals.scorers import all_metrics, drafting_scorers, validator_scorers

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def hostile_run(tmp_path, mk, case_by_id):
    """One sample whose dictation, note, query, finding and raw reply all carry markup."""
    case = case_by_id["fluoro-right-terse"].model_copy(update={"dictation": "R SIJ <script>alert('d')</script>"})

    def evil(dictation, **kw):
        return mk.draft(case, note="<script>alert('note')</script>", codes=["27096-LT"], supported=True,
                        queries=["<img src=x onerror=alert(1)>?"],
                        findings=[mk.finding("grounding.unsupported", "<b>unsupported</b>", evidence_text="<i>x</i>")],
                        attempts=[mk.attempt("compose", raw="</pre><script>alert('raw')</script>")])

    out = run(Datasets(drafting=[case]), [Arm("template")], RunConfig(out_dir=tmp_path / "run"), draft_fn=evil)
    return out


def test_the_html_report_escapes_every_piece_of_note_text(hostile_run):
    page = report.render_html(hostile_run.summary, hostile_run.results)
    assert "<script>" not in page and "<img" not in page and "<b>unsupported" not in page
    assert "&lt;script&gt;alert(&#x27;note&#x27;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#x27;d&#x27;)" in page  # the dictation
    assert "&lt;/pre&gt;&lt;script&gt;" in page  # a raw LLM reply cannot close its <pre>
    assert page.startswith("<!doctype html>") and "http" not in page.split("<body>")[0]  # self-contained


def test_reports_are_written_as_json_markdown_and_html(hostile_run, tmp_path):
    paths = report.write_reports(tmp_path / "r", hostile_run.summary, hostile_run.results)
    assert {p.name for p in paths.values()} == {"summary.json", "summary.md", "report.html"}
    md = paths["markdown"].read_text()
    assert "| code_support_correct |" in md and "## Failures" in md


def test_deltas_against_a_baseline_say_what_got_worse(hostile_run):
    base = copy.deepcopy(hostile_run.summary)
    base["metrics"]["template"]["false_supported"] = 0.0
    base["metrics"]["template"]["fact_recall"] = 0.5
    d = report.deltas(hostile_run.summary, base)["template"]
    assert d["false_supported"]["worse"] is True  # lower is better: 0 → 1 got worse
    assert d["fact_recall"]["worse"] is False
    hostile_run.summary["baseline"] = {"dir": "b", "run_id": "x", "deltas": {"template": d}}
    assert "▼" in report.render_text(hostile_run.summary)
    assert "class='num worse'" in report.render_html(hostile_run.summary, hostile_run.results)


def test_the_gate_fails_on_a_metric_outside_its_bound(hostile_run):
    s = hostile_run.summary
    gate = check(s, [Threshold("*", "false_supported", max=0), Threshold("template", "fact_precision", min=0.5)])
    assert not gate["passed"]
    assert [v["metric"] for v in gate["violations"]] == ["false_supported"]
    assert check(s, [Threshold("llm-*", "false_supported", max=0)])["checked"] == []  # pattern matches no arm


def test_the_gate_refuses_noisy_or_unknown_metrics(hostile_run):
    with pytest.raises(GateError, match="not deterministic"):
        check(hostile_run.summary, [Threshold("*", "latency_ms", max=100)])
    with pytest.raises(GateError, match="unknown metric"):
        check(hostile_run.summary, [Threshold("*", "code_suport_correct", min=0.9)])


def test_the_repo_thresholds_name_only_known_deterministic_metrics():
    thresholds = load_thresholds(REPO / "evals" / "thresholds.toml")
    metrics = all_metrics(drafting_scorers() + validator_scorers())
    assert thresholds
    for t in thresholds:
        assert t.metric in metrics, t.metric
        assert metrics[t.metric].deterministic, t.metric
    names = {(t.arms, t.metric) for t in thresholds}
    # issue 4: whatever the model, zero unsupported facts in final drafts and zero false "supported"
    assert ("*", "unsupported_facts_final") in names and ("*", "false_supported") in names


def test_a_malformed_thresholds_file_is_an_error(tmp_path):
    bad = tmp_path / "t.toml"
    bad.write_text('[template]\ncode_support_correct = 0.9\n')
    with pytest.raises(GateError, match="min and/or max"):
        load_thresholds(bad)


def test_text_output_is_a_table_per_arm(tmp_path, mk, drafting_cases):
    cases = {c.id: c for c in drafting_cases[:3]}
    out = run(Datasets(drafting=list(cases.values())), [Arm("template"), Arm("llm-extract", model="m")],
              RunConfig(out_dir=tmp_path), draft_fn=functools.partial(mk.perfect_draft, cases=cases))
    text = report.render_text(out.summary)
    header = next(line for line in text.splitlines() if line.startswith("metric"))
    assert "template" in header and "llm-extract/m" in header
