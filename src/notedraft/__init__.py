"""notedraft: dictation → Facts → Draft → ValidationReport.

The public calls are `validate(note_text, codes, payer=None)` and `draft(dictation, ...)`. They are imported
lazily so that `notedraft validate` never pays for the drafting stack (jinja2, openai).
"""

from __future__ import annotations

__all__ = ["validate", "draft", "extract_facts"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "validate":
        from .validate import validate

        return validate
    if name == "draft":
        from .drafting import draft

        return draft
    if name == "extract_facts":
        from .extract import extract_facts

        return extract_facts
    raise AttributeError(name)
