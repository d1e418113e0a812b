"""The file `notedraft draft --save PATH` writes and the editor opens ("Open a saved draft").

One UTF-8 JSON object: `Draft.as_json()` plus three keys, so the file is also what `notedraft draft --format json`
prints with the dictation added:

    {
      "format": "notedraft.draft",   # required, exactly this
      "version": 1,                  # required; the editor refuses versions it does not know
      "dictation": "L SIJ inj, ...", # required (may be "" for a note typed elsewhere)
      "note": "...",                 # required
      "codes": ["27096-LT"],         # required, list of code-line strings
      "strategy": "template",        # optional (default "imported"); model, queries, attempts, notes, refused,
      ...                            # findings, suggested_codes, facts, supported: optional, as Draft.as_json()
    }

The editor never trusts the saved verdict: it validates the note again when the file is opened, and keeps the
file's JSON as the draft's `generated` record. Nothing here imports FastAPI, so the CLI can use it cheaply.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FORMAT = "notedraft.draft"
VERSION = 1


def saved_json(draft: Any) -> dict:
    """The save-file object for a `notedraft.models.Draft`."""
    return {"format": FORMAT, "version": VERSION, "dictation": draft.dictation, **draft.as_json()}


def write(draft: Any, path: str | Path) -> Path:
    """Write `draft` to `path` (what `notedraft draft --save PATH` should call)."""
    path = Path(path)
    path.write_text(json.dumps(saved_json(draft), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def parse(obj: Any) -> dict:
    """Check a save-file object; return it with defaults filled. Raises ValueError with a message for a person."""
    if not isinstance(obj, dict):
        raise ValueError("a saved draft is a JSON object")
    if obj.get("format") != FORMAT:
        raise ValueError(f'not a notedraft save file: "format" must be "{FORMAT}"')
    if obj.get("version") != VERSION:
        raise ValueError(f"unsupported save-file version {obj.get('version')!r}; this editor reads version {VERSION}")
    for key in ("dictation", "note"):
        if not isinstance(obj.get(key), str):
            raise ValueError(f'"{key}" must be a string')
    if not obj["note"].strip():
        raise ValueError("the saved draft has an empty note")
    codes = obj.get("codes")
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise ValueError('"codes" must be a list of code-line strings, e.g. ["27096-LT"]')
    # Every optional key the editor reads is checked for its type here, so a malformed file is a 400 that names
    # the field ("attempts[0].prompt_version: ..."), never a TypeError deep in the app.
    for key in ("queries", "notes", "suggested_codes"):
        value = obj.get(key, [])
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise ValueError(f'"{key}" must be a list of strings')
    for key in ("findings", "raw_findings", "attempts"):
        value = obj.get(key, [])
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            raise ValueError(f'"{key}" must be a list of objects')
    for key in ("supported", "refused"):
        if not isinstance(obj.get(key, False), bool):
            raise ValueError(f'"{key}" must be true or false')
    if not isinstance(obj.get("facts", {}), dict | None):
        raise ValueError('"facts" must be an object')
    for i, attempt in enumerate(obj.get("attempts", [])):
        _check_attempt(i, attempt)
    strategy = obj.get("strategy") or "imported"
    model = obj.get("model")
    if not isinstance(strategy, str):
        raise ValueError('"strategy" must be a string')
    if model is not None and not isinstance(model, str):
        raise ValueError('"model" must be a string')
    return {**obj, "strategy": strategy, "model": model, "codes": [c.strip() for c in codes if c.strip()]}


def _check_attempt(i: int, attempt: dict) -> None:
    """An attempt must read as `notedraft.models.Attempt` (extra keys allowed: later versions may add some)."""
    from pydantic import ValidationError

    from notedraft.models import Attempt

    try:
        Attempt.model_validate(attempt)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f'"attempts[{i}].{where}": {first["msg"]}') from None
