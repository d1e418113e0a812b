"""One note record → one result row: `validate()` on the billed lines (or, without a claim, on the lines the note
supports) and the physician's questions. It runs in the pool's workers.

The row is the verdict `notedraft validate` gives on the same text, code lines and payer; audit adds nothing of its
own to it. Whatever goes wrong with one note (it cannot be read, a code line is unknown, the validator raises)
becomes that row's `error`, never an exception out of here.
"""

from __future__ import annotations

import json

from .inputs import NoteRecord, NoteUnreadable, read_note_file

# The payer overlays validate() has (the same choices as `notedraft validate --payer`). Any other payer a claim
# names (commercial, none, a plan's name) is checked against the base rules, as `notedraft validate` without
# --payer does; the row keeps the payer as written.
PAYER_OVERLAYS = {"medicare": "medicare"}
# Place of service → the `setting` validate() takes. The editor's values, the words a claim may use, and the
# CMS place-of-service codes for an office (11) and for the facilities where these procedures are done.
SETTINGS = {
    "office": "office", "11": "office",
    "facility": "facility", "asc": "facility", "hospital_outpatient": "facility", "hospital": "facility",
    "19": "facility", "21": "facility", "22": "facility", "23": "facility", "24": "facility",
}


def setting_of(place_of_service: str | None) -> str | None:
    if place_of_service is None:
        return None
    key = place_of_service.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in SETTINGS:
        raise ValueError(f"unknown place of service {place_of_service!r}: expected office, asc, hospital_outpatient, "
                         "facility, or a CMS code (11 office; 19, 21, 22, 23, 24 facility)")
    return SETTINGS[key]


def payer_overlay(payer: str | None) -> str | None:
    return PAYER_OVERLAYS.get(payer.strip().lower()) if payer else None


def audit_record(record: NoteRecord, default_payer: str | None = None) -> dict:
    """The result row of one note (see results.jsonl in the README). Key order is fixed: rows are compared byte
    for byte between runs."""
    payer = record.payer or default_payer
    row = {
        "note": record.note,
        "supported": False,
        "claimed": record.codes is not None,
        "codes": list(record.codes or ()),
        "suggested_codes": [],
        "findings": [],
        "questions": [],
        "error": record.error,
        "physician": record.physician,
        "payer": payer,
        "place_of_service": record.place_of_service,
        "date_of_service": record.date_of_service,
        "text": record.text,
    }
    if record.error is not None:
        return row
    try:
        text = record.text if record.text is not None else read_note_file(record.path or "")
        row["text"] = text
        setting = setting_of(record.place_of_service)
    except (NoteUnreadable, ValueError) as exc:
        row["error"] = str(exc)
        return row
    try:
        _validate_into(row, text, record.codes, payer_overlay(payer), setting)
    except Exception as exc:  # a validator bug on one note is that note's error row, not the end of the audit
        detail = " ".join(str(exc).split())[:200]
        row.update(supported=False, findings=[], questions=[],
                   error=f"internal error: {type(exc).__name__}{': ' + detail if detail else ''}")
    return row


def _validate_into(row: dict, text: str, codes: tuple[str, ...] | None, payer: str | None,
                   setting: str | None) -> None:
    from ..codes import CodeError
    from ..queries import queries_for
    from ..validate import validate

    try:
        if codes is None:
            # No claim: the lines the note supports are the claim. The second call reuses the first one's facts,
            # which are the facts validate() reads from this same text, so the verdict is the CLI's on those lines.
            report = validate(text, [], payer, setting=setting)
            if report.suggested_codes:
                report = validate(text, report.suggested_codes, payer, facts=report.facts, setting=setting)
        else:
            report = validate(text, list(codes), payer, setting=setting)
    except CodeError as exc:  # an unknown or malformed billed line: say so, and still say what the note supports
        row["error"] = str(exc)
        row["suggested_codes"] = validate(text, [], payer, setting=setting).suggested_codes
        return
    row["supported"] = report.supported
    row["codes"] = report.codes
    row["suggested_codes"] = report.suggested_codes
    row["findings"] = [
        {"rule": f.rule, "severity": f.severity, "code": f.code, "message": f.message, "fix": f.fix,
         "spans": [{"start": s.start, "end": s.end, "text": s.text} for s in f.evidence]}
        for f in report.findings
    ]
    row["questions"] = queries_for(report.facts, report)


def row_json(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False)


def status_of(row: dict) -> str:
    """'error', 'supported' or 'not_supported': what the progress line and the summary count."""
    return "error" if row["error"] is not None else "supported" if row["supported"] else "not_supported"
