"""Correcting an encounter before sign-off, voiding a draft created in error, and who may edit (assignments).

Every change is a new row, never an overwrite: a correction is a new version of the encounter with its reason
(the history page shows each), a void keeps the draft and says why, an assignment is a dated line. Each is in the
access log. After sign-off the database refuses all three (schema v5): the signed record changes by addendum.
"""

from __future__ import annotations

from datetime import date

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from .store import Conflict, NotFound, StoreError

MRN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._/-]*$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorrectionIn(_Body):
    reason: str = Field(min_length=1, max_length=500, description="why the encounter is corrected (recorded)")
    mrn: str | None = Field(default=None, min_length=1, max_length=64, pattern=MRN_PATTERN)
    patient_name: str | None = Field(default=None, max_length=120)
    patient_dob: date | None = None
    date_of_service: date | None = None
    place_of_service: str | None = Field(default=None, max_length=40)
    payer: str | None = Field(default=None, max_length=40)
    physician: str | None = Field(default=None, max_length=40, description="reassign (administrators only)")


class VoidIn(_Body):
    reason: str = Field(min_length=1, max_length=500)


class AssignIn(_Body):
    username: str = Field(max_length=40)
    assigned: bool = True


def add_routes(app, h) -> None:
    store, ApiError = h.store, h.ApiError

    def encounter_of(draft: dict) -> dict:
        if draft["encounter"] is None:
            raise ApiError(400, "no_encounter", "this draft has no encounter")
        return draft["encounter"]

    @app.post("/api/drafts/{draft_id}/encounter")
    def api_correct(request: Request, draft_id: int, body: CorrectionIn):
        """Correct the encounter (wrong patient, date, place, payer) before sign-off; reassigning the physician is
        an administrator's."""
        draft = h.get(draft_id)
        user = h.actor(request)
        enc = encounter_of(draft)
        if body.physician is not None and user["role"] != "admin":
            raise ApiError(403, "forbidden", "only an administrator reassigns the encounter's physician")
        if user["role"] != "admin":
            h.require_edit(request, draft)
        if draft["finalised"]:
            raise ApiError(409, "signed", "the note is signed: the encounter is no longer corrected (add an addendum)")
        if not body.reason.strip():
            raise ApiError(400, "no_reason", "say why the encounter is corrected")
        changes: dict = {}
        for key in ("mrn", "place_of_service", "payer"):
            if getattr(body, key) is not None:
                changes[key] = getattr(body, key).strip()
        if body.patient_name is not None:
            changes["patient_name"] = " ".join(body.patient_name.split())
        if body.patient_dob is not None:
            changes["patient_dob"] = body.patient_dob.isoformat()
        if body.date_of_service is not None:
            changes["date_of_service"] = body.date_of_service.isoformat()
        h.check_dates(body.date_of_service, body.patient_dob or (date.fromisoformat(enc["patient_dob"])
                                                                 if enc.get("patient_dob") else None))
        if body.physician is not None:
            doctor = store.user_by_name(body.physician.strip().lower())
            if doctor is None or doctor["role"] != "physician" or not doctor["active"]:
                raise ApiError(400, "bad_physician", f"{body.physician!r} is not an active physician account")
            changes["physician_id"] = doctor["id"]
        changes = {k: v for k, v in changes.items() if (enc["physician"]["id"] if k == "physician_id" else enc.get(k)) != v}
        if not changes:
            raise ApiError(400, "no_change", "the correction changes nothing")
        try:
            corrected = store.correct_encounter(enc["id"], changes=changes, reason=body.reason.strip(),
                                                author=user["username"])
        except NotFound as e:
            raise ApiError(404, "not_found", str(e)) from None
        except StoreError as e:
            raise ApiError(409 if "signed" in str(e) else 400, "bad_encounter", str(e)) from None
        h.audit(request, "encounter.reassign" if "physician_id" in changes else "encounter.correct", draft_id,
                enc["id"], detail={"changed": sorted(changes)})
        return {"id": draft_id, "encounter": corrected, "changed": sorted(changes)}

    @app.post("/api/drafts/{draft_id}/void")
    def api_void(request: Request, draft_id: int, body: VoidIn):
        draft = h.get(draft_id)
        user = h.actor(request)
        encounter_of(draft)
        if user["role"] != "admin":
            h.require_edit(request, draft)
        try:
            out = store.void(draft_id, reason=body.reason.strip(), author=user["username"])
        except Conflict as e:
            raise ApiError(409, "conflict", str(e), current=e.current) from None
        h.audit(request, "void", draft_id, draft["encounter"]["id"])
        return {"id": draft_id, "status": out["status"], "voided": out["voided"]}

    @app.post("/api/drafts/{draft_id}/assignments")
    def api_assign(request: Request, draft_id: int, body: AssignIn):
        """An administrator assigns (or unassigns) a scribe to the encounter: the assigned edit, others read."""
        h.require(request, "admin")
        draft = h.get(draft_id)
        enc = encounter_of(draft)
        person = store.user_by_name(body.username.strip().lower())
        if person is None or person["role"] not in ("scribe", "physician") or not person["active"]:
            raise ApiError(400, "bad_account", f"{body.username!r} is not an active scribe or physician account")
        out = store.assign(enc["id"], person["username"], assigned=body.assigned, author=h.actor(request)["username"])
        h.audit(request, "assign" if body.assigned else "unassign", draft_id, enc["id"],
                detail={"username": person["username"]})
        return {"id": draft_id, "assigned": out["assigned"]}

    @app.get("/api/drafts/{draft_id}/encounter")
    def api_encounter_history(request: Request, draft_id: int):
        h.require(request, "view")
        draft = h.get(draft_id)
        enc = encounter_of(draft)
        h.audit(request, "view.encounter", draft_id, enc["id"])
        return {"encounter": enc, "versions": store.encounter_versions(enc["id"]),
                "assignments": store.assignments(enc["id"]), "voided": draft["voided"]}
