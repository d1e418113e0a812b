"""Where notedraft finds its templates/ and prompts/ (the repository root, or $NOTEDRAFT_HOME)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("NOTEDRAFT_HOME", Path(__file__).resolve().parents[2]))
TEMPLATES = ROOT / "templates"
PROMPTS = ROOT / "prompts"
