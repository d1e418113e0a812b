"""The coder's worklist: signed notes not yet coded, each with the verdict of its code lines; a "coded" mark with
who and when; and a CSV of the claim lines.

Verdicts come from verdicts.py through the app's `claim()`: validate() on the signed revision with the encounter's
payer and place of service — the same call as the editor's check and the exports, so the same verdict
`notedraft audit` reports for the note. A line signed over overridden errors reads "NOT SUPPORTED ..." here too.

CSV cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) are prefixed with an
apostrophe: a patient name is data, never a formula.
"""

from __future__ import annotations

import csv
import io

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict

from .store import Conflict

CSV_COLUMNS = ("draft_id", "mrn", "patient_name", "patient_dob", "date_of_service", "physician", "physician_npi",
               "place_of_service", "payer", "code_line", "code", "modifiers", "verdict", "documentation",
               "overridden_findings", "signed_by", "signed_at", "coded_by", "coded_at")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodedIn(_Body):
    accept_unsupported: bool = False


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def add_routes(app, h) -> None:
    store, ApiError = h.store, h.ApiError

    def worklist_rows(coded: bool | None) -> list[dict]:
        rows = store.list_drafts(500, status="signed", coded=coded)
        out = []
        for row in rows:
            draft = store.get_draft(row["id"])
            out.append({**row, "claim": h.claim(draft)})
        return out

    @app.get("/api/worklist")
    def api_worklist(request: Request, coded: bool = False):
        """Signed notes not yet coded (or, with coded=true, the coded ones), oldest signature first."""
        h.require(request, "code")
        rows = sorted(worklist_rows(coded), key=lambda r: (r["finalised_at"] or "", r["id"]))
        h.audit(request, "view.worklist", detail={"coded": coded, "rows": len(rows)})
        return {"notes": rows}

    @app.post("/api/drafts/{draft_id}/coded")
    def api_mark_coded(request: Request, draft_id: int, body: CodedIn | None = None):
        user = h.require(request, "code")
        draft = h.get(draft_id)
        claim = h.claim(draft) if draft["finalised"] else None
        if claim and not claim["supported"] and not (body and body.accept_unsupported):
            raise ApiError(409, "not_supported", f"the note does not support its code lines ({claim['label']}): "
                           "confirm with accept_unsupported to code it anyway", claim=claim)
        try:
            coded = store.mark_coded(draft_id, author=user["username"])
        except Conflict as e:
            raise ApiError(409, "conflict", str(e)) from None
        h.audit(request, "code", draft_id, draft["encounter"] and draft["encounter"]["id"],
                detail={"verdict": claim and claim["label"]})
        return {"id": draft_id, "coded": coded}

    @app.get("/api/worklist/claims.csv")
    def api_claims_csv(request: Request, coded: bool | None = None):
        """One row per claim line of each signed note (coded=false: not yet coded; true: coded; absent: all)."""
        h.require(request, "code")
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        rows = worklist_rows(coded)
        for row in rows:
            draft = store.get_draft(row["id"])
            enc = draft["encounter"] or {}
            physician = enc.get("physician") or {}
            for line in row["claim"]["lines"]:
                code, *mods = line["line"].split("-")
                writer.writerow([_cell(v) for v in (
                    row["id"], enc.get("mrn"), enc.get("patient_name"), enc.get("patient_dob"),
                    enc.get("date_of_service"), physician.get("display_name"), physician.get("npi"),
                    enc.get("place_of_service"), enc.get("payer"), line["line"], code, " ".join(mods),
                    line["verdict"], line["words"], line["overridden"], draft["finalised"]["author"],
                    draft["finalised"]["created_at"], row["coded_by"], row["coded_at"])])
        h.audit(request, "export.claims_csv", detail={"notes": len(rows)})
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="notedraft-claims.csv"'})

    @app.get("/worklist", response_class=HTMLResponse)
    def worklist_page(request: Request):
        h.require(request, "code")
        rows = sorted(worklist_rows(False), key=lambda r: (r["finalised_at"] or "", r["id"]))
        coded = worklist_rows(True)[:50]
        h.audit(request, "view.worklist", detail={"coded": False, "rows": len(rows)})
        return h.page(request, "worklist.html", notes=rows, coded=coded)
