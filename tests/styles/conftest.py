"""The styles gate (marker `styles_gate`) runs only when selected: `pytest -m styles_gate tests/styles`.

The plain `pytest` of scripts/test.sh skips it (it fails until the reader handles the styles, issue 16); the lead
turns it on by adding `-m styles_gate` (or removing this hook) once the reader passes.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    if "styles_gate" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="issue 16 styles gate: run with -m styles_gate (off until the reader passes)")
    for item in items:
        if item.get_closest_marker("styles_gate"):
            item.add_marker(skip)
