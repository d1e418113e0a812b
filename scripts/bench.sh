#!/usr/bin/env bash
# The project's benchmarks (not tests): each prints figures measured in its own single run, and the machine.
# Usage: bash scripts/bench.sh [--local-llm]   (--local-llm also measures LLM calls and tokens per draft)
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python benchmarks/bench_validate.py
.venv/bin/python benchmarks/bench_draft.py "$@"
.venv/bin/python benchmarks/bench_editor_llm.py --drafts 45 --hang 10 --validates 200 2>/dev/null
.venv/bin/python evals/bench_eval.py
# A month of notes: notedraft audit over 1,000 and 10,000 notes with 1 and 2 workers, against validate() in a loop.
.venv/bin/python benchmarks/bench_audit.py --notes 1000 10000 --workers 1 2
# The editor under a practice's load: SQLite with one process; PostgreSQL with two processes on one database.
.venv/bin/python benchmarks/bench_editor_store.py --processes 1 --scribes 8 --seconds 30
if [ -n "${NOTEDRAFT_TEST_PG:-}" ]; then
  .venv/bin/python benchmarks/bench_editor_store.py --db "$NOTEDRAFT_TEST_PG" --fresh --processes 2 --scribes 8 --seconds 30
fi
