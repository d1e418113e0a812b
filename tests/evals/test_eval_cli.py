"""`notedraft eval`: the command's contract (exit codes, json summary, rescore) and its import weight."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from notedraft.evals import cli
from notedraft.evals.dataset import Datasets
from notedraft.evals.runner import Arm, RunConfig, run

REPO = Path(__file__).resolve().parents[2]


def main(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_importing_the_eval_cli_loads_nothing_heavy():
    probe = ("import sys, notedraft.evals.cli; "
             "print(sorted(m for m in ('pydantic', 'openai', 'jinja2', 'notedraft.evals.runner') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_llm_strategy_without_an_endpoint_is_a_clear_error(monkeypatch, capsys, tmp_path):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "NOTEDRAFT_MODEL"):
        monkeypatch.delenv(var, raising=False)
    code, out, err = main(["--strategy", "llm-extract", "--only", "drafting", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "OPENAI_BASE_URL" in err and "Traceback" not in err


def test_bad_invocations_exit_2(capsys, tmp_path):
    assert main(["rescore", str(tmp_path / "missing.jsonl")], capsys)[0] == 2
    assert main(["rescore"], capsys)[0] == 2
    assert main(["--concurrency", "0"], capsys)[0] == 2
    assert main(["--datasets", str(tmp_path)], capsys)[0] == 2


@pytest.fixture
def logged_run(tmp_path, mk, drafting_cases):
    cases = {c.id: c for c in drafting_cases[:8]}
    return run(Datasets(drafting=list(cases.values())), [Arm("template")], RunConfig(out_dir=tmp_path / "run"),
               draft_fn=functools.partial(mk.perfect_draft, cases=cases))


def test_rescore_prints_the_same_metrics_as_json(logged_run, capsys, tmp_path):
    code, out, _ = main(["rescore", str(logged_run.log_path), "--format", "json", "--out", str(tmp_path / "re")],
                        capsys)
    assert code == 0
    summary = json.loads(out)
    assert summary["cases"] == 8
    assert summary["metrics"]["template"] == logged_run.summary["metrics"]["template"]
    assert (tmp_path / "re" / "report.html").is_file()


def test_check_exits_1_when_a_threshold_is_missed(logged_run, capsys, tmp_path):
    strict = tmp_path / "strict.toml"
    strict.write_text('[template]\nllm_calls = { min = 1 }\n')  # a perfect offline drafter makes no LLM call
    code, out, _ = main(["rescore", str(logged_run.log_path), "--check", "--thresholds", str(strict)], capsys)
    assert code == 1 and "gate: FAILED" in out
    lax = tmp_path / "lax.toml"
    lax.write_text('["*"]\nfalse_supported = { max = 0 }\n')
    code, out, _ = main(["rescore", str(logged_run.log_path), "--check", "--thresholds", str(lax)], capsys)
    assert code == 0 and "gate: passed" in out


def test_check_refuses_to_gate_on_latency(logged_run, capsys, tmp_path):
    noisy = tmp_path / "noisy.toml"
    noisy.write_text('[template]\nlatency_ms = { max = 1000 }\n')
    code, _, err = main(["rescore", str(logged_run.log_path), "--check", "--thresholds", str(noisy)], capsys)
    assert code == 2 and "not deterministic" in err


def test_baseline_deltas_appear_in_the_summary(logged_run, capsys, tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    summary = json.loads(json.dumps(logged_run.summary))
    summary["metrics"]["template"]["fact_recall"] = 0.5
    (base / "summary.json").write_text(json.dumps(summary))
    code, out, _ = main(["rescore", str(logged_run.log_path), "--format", "json", "--baseline", str(base)], capsys)
    deltas = json.loads(out)["baseline"]["deltas"]["template"]
    assert code == 0 and deltas["fact_recall"]["delta"] == pytest.approx(0.5)


def test_the_offline_suite_runs_from_the_command_line(capsys, tmp_path):
    pytest.importorskip("notedraft.drafting")
    code, out, err = main(["--only", "drafting", "--case", "fluoro-*", "--format", "json", "--out", str(tmp_path)],
                          capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["cases"] >= 5 and "template" in summary["metrics"]
    assert (tmp_path / "samples.jsonl").is_file() and (tmp_path / "report.html").is_file()
