"""One verdict per note and per code line, the same everywhere a code travels: the editor's check, the coder's view
and worklist, the claim CSV, the text export and the FHIR Procedure.

The verdict is `validate()`'s, run on the note with the encounter's payer and place of service exactly as the
editor checks it (so it is the verdict `notedraft audit` reports for the note). A line is "supported" when no
error stands against it (an error naming its code, or one naming no code, which holds for every line). A note
signed over errors says so on every line: `overridden` counts the physician's reasons recorded at signing, and a
line with errors is "not supported" however many reasons were given — never presented as supported.
"""

from __future__ import annotations

from typing import Any


def validator_options(encounter: dict | None) -> dict[str, Any]:
    """The claim's context from the encounter: Medicare's LCD overlay, and office or facility (G0260)."""
    if encounter is None:
        return {}
    options: dict[str, Any] = {"setting": "office" if encounter["place_of_service"] == "office" else "facility"}
    if encounter["payer"] == "medicare":
        options["payer"] = "medicare"
    return options


def line_verdicts(validation: dict, codes: list[str], overrides: list[dict] | None = None) -> list[dict]:
    """Per code line: {line, verdict: supported | not_supported, errors: [rule...], overridden: n, words}."""
    findings = [f for f in validation.get("findings", []) if f.get("severity") == "error"]
    n_over = len(overrides or [])
    out = []
    for line in codes:
        base = line.split("-")[0]
        errors = [f.get("rule", "") for f in findings if f.get("code") in (None, "", base, line)]
        verdict = "not_supported" if errors else "supported"
        if verdict == "supported" and not n_over:
            words = "supported"
        elif verdict == "supported":
            words = f"supported; the note was signed over {n_over} overridden finding(s)"
        elif n_over:
            words = f"NOT SUPPORTED by the note: billed with {n_over} overridden documentation finding(s)"
        else:
            words = "NOT SUPPORTED by the note"
        out.append({"line": line, "verdict": verdict, "errors": errors, "overridden": n_over, "words": words})
    return out


def note_verdict(validation: dict, codes: list[str], finalised: dict | None) -> dict:
    """The note's verdict: validate()'s `supported`, the lines', and whether it was signed over findings."""
    overrides = (finalised or {}).get("overrides") or []
    if finalised and not overrides and finalised.get("override_reason"):
        overrides = [{"rule": "override", "reason": finalised["override_reason"]}]
    lines = line_verdicts(validation, codes, overrides)
    supported = bool(validation.get("supported"))
    if supported and not overrides:
        label = "supported"
    elif supported:
        label = "supported, signed over overridden findings"
    elif overrides:
        label = "not supported: signed with overridden documentation errors"
    else:
        label = "not supported"
    return {"supported": supported, "overridden": len(overrides), "label": label, "lines": lines}
