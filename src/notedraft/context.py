"""Where a mention stands. The reading itself lives in `reading.py`; this module keeps the names older callers use."""

from __future__ import annotations

from .reading import WINDOW, Mention, Reading, Status, contains, read

TextContext = Reading  # one reading per text: see reading.Reading

__all__ = ["WINDOW", "Mention", "Reading", "Status", "TextContext", "contains", "read"]
