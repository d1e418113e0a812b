"""The editor's store: encounters, drafts and their append-only revisions, sign-off, queries, addenda, accounts,
sessions and the access log — on SQLite (default) or PostgreSQL (`postgresql://…`), see db.py and schema.py.

- Saving names the revision it was edited from (`base_revision`); if another save landed first the store raises
  `Conflict` with the current revision, so the caller can show both texts and nothing is lost. On PostgreSQL the
  draft's row is locked for the write and the revisions' primary key refuses a second save from one base.
- Once signed, a draft takes no revision (the database refuses it); later text is an addendum.
- A physician's answer to a query is appended to the dictation (`dictation_full`), as dictated text.

No note text is ever logged from here, and the access log holds ids and actions only.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from . import dictation as dictated_text
from . import schema
from .people_store import PeopleStore, _user  # noqa: F401 (_user: part of this module's interface)
from .db import DatabaseError, OpenError, open_database
from .textdiff import edit_stats

MIGRATIONS = schema.SQLITE  # the SQLite scripts; schema.POSTGRES holds the same versions for PostgreSQL
SCHEMA_VERSION = schema.VERSION
MAX_ID = 2**63 - 1  # a 64-bit integer; a larger id names no row (and would overflow the driver)


class StoreError(Exception):
    """A request the store refuses; the message is safe to show and to log (it never holds note text)."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    """The draft moved on (or was finalised) since the caller's base revision; `current` is the latest revision."""

    def __init__(self, message: str, current: dict):
        super().__init__(message)
        self.current = current


class NotSupported(StoreError):
    """Finalising an unsupported note without an override reason."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_id(draft_id: int, number: int | None = None) -> None:
    """Ids outside SQLite's integer range name no draft: NotFound (404), not an OverflowError (500)."""
    if not 1 <= draft_id <= MAX_ID:
        raise NotFound(f"no draft {draft_id}")
    if number is not None and not 1 <= number <= MAX_ID:
        raise NotFound(f"draft {draft_id} has no revision {number}")


class Forbidden(StoreError):
    """The account may not do this (wrong role, not this encounter's physician)."""


ROLES = ("physician", "scribe", "coder", "admin")
# A query with its answer, if any (one answer per query, kept in its own append-only table).
_QUERIES = ("SELECT q.*, a.text AS answer, a.author AS answered_by, a.created_at AS answered_at,"
            " a.round AS answer_round, c.reason AS closed_reason, c.created_at AS closed_at"
            " FROM queries q LEFT JOIN answers a ON a.query_id = q.id LEFT JOIN query_closures c ON c.query_id = q.id")
PLACES = ("office", "asc", "hospital_outpatient")
PAYERS = ("none", "medicare", "commercial")
ATTESTATION = "I performed this procedure and this note is accurate."


class Store(PeopleStore):
    def __init__(self, target: str | Path):
        """Open (creating and migrating if needed) the database at `target`: an SQLite file path or a
        `postgresql://` URL. Raises StoreError with one readable line when it cannot be used."""
        self.path = str(target)
        try:
            self.db = open_database(target)
        except OpenError as e:
            raise StoreError(str(e)) from None
        self.label = self.db.label
        self.kind = self.db.kind

    def _tx(self, write: bool = False):
        return self.db.tx(write)

    def schema_version(self) -> int:
        return self.db.schema_version()

    def close(self) -> None:
        self.db.close()

    def unit(self):
        """One transaction for everything inside (see db.py): the editor wraps each request in one."""
        return self.db.unit()

    # -- access log -----------------------------------------------------------------------------------------
    def log_access(self, username: str, action: str, *, draft_id: int | None = None,
                   encounter_id: int | None = None, client: str | None = None, detail: dict | None = None) -> None:
        """`detail`: what was asked for (filters, counts, a failed login's reason) — never note text."""
        with self._tx(write=True) as db:
            db.execute(
                "INSERT INTO access_log (at, username, action, draft_id, encounter_id, client, detail)"
                " VALUES (?,?,?,?,?,?,?)",
                (_now(), username, action, draft_id, encounter_id, client,
                 json.dumps(detail, sort_keys=True) if detail else None),
            )

    def access_log(self, limit: int = 500, draft_id: int | None = None) -> list[dict]:
        where, args = ("WHERE draft_id=?", [draft_id]) if draft_id is not None else ("", [])
        with self._tx() as db:
            rows = db.all(f"SELECT * FROM access_log {where} ORDER BY id DESC LIMIT ?", (*args, limit))
        return [{**dict(r), "detail": json.loads(r["detail"]) if r["detail"] else None} for r in rows]

    # -- encounters -----------------------------------------------------------------------------------------
    def create_encounter(self, *, mrn: str, date_of_service: str, physician_id: int, place_of_service: str,
                         payer: str, author: str, patient_name: str = "", patient_dob: str | None = None) -> dict:
        _check_choices(place_of_service, payer)
        now = _now()
        with self._tx(write=True) as db:
            _check_physician(db, physician_id)
            row = db.one(
                "INSERT INTO encounters (mrn, date_of_service, physician_id, place_of_service, payer, created_by,"
                " created_at) VALUES (?,?,?,?,?,?,?) RETURNING id",
                (mrn, date_of_service, physician_id, place_of_service, payer, author, now),
            )
            db.execute(
                "INSERT INTO encounter_versions (encounter_id, version, mrn, patient_name, patient_dob,"
                " patient_search, date_of_service, physician_id, place_of_service, payer, reason, author, created_at)"
                " VALUES (?,1,?,?,?,?,?,?,?,?,NULL,?,?)",
                (row["id"], mrn, patient_name, patient_dob, search_key(mrn, patient_name), date_of_service,
                 physician_id, place_of_service, payer, author, now),
            )
            db.execute("INSERT INTO assignments (encounter_id, username, assigned, author, created_at)"
                       " VALUES (?,?,1,?,?)", (row["id"], author, author, now))
            return self.encounter(row["id"])

    def encounter(self, encounter_id: int) -> dict:
        with self._tx() as db:
            row = db.one(_ENCOUNTER + " WHERE e.id=?", (encounter_id,))
            if row is None:
                raise NotFound(f"no encounter {encounter_id}")
            assigned = db.all("SELECT username, assigned FROM assignments WHERE encounter_id=? ORDER BY id",
                              (encounter_id,))
        editors: dict[str, bool] = {}
        for a in assigned:
            editors[a["username"]] = bool(a["assigned"])
        return {**_encounter(row), "assigned": sorted(u for u, on in editors.items() if on)}

    def encounter_versions(self, encounter_id: int) -> list[dict]:
        with self._tx() as db:
            rows = db.all("SELECT v.*, u.username, u.display_name, u.npi FROM encounter_versions v"
                          " JOIN users u ON u.id = v.physician_id WHERE v.encounter_id=? ORDER BY v.version",
                          (encounter_id,))
        return [{**_encounter({**dict(r), "id": encounter_id, "created_by": r["author"]}), "version": r["version"],
                 "reason": r["reason"], "author": r["author"], "created_at": r["created_at"]} for r in rows]

    def assignments(self, encounter_id: int) -> list[dict]:
        with self._tx() as db:
            return [dict(r) for r in db.all("SELECT * FROM assignments WHERE encounter_id=? ORDER BY id",
                                            (encounter_id,))]

    def correct_encounter(self, encounter_id: int, *, changes: dict, reason: str, author: str) -> dict:
        """Append a version of the encounter with `changes` (mrn, patient_name, patient_dob, date_of_service,
        physician_id, place_of_service, payer). Refused once a note of the encounter is signed (also by the
        database). A new physician closes the questions still open with the old one."""
        allowed = {"mrn", "patient_name", "patient_dob", "date_of_service", "physician_id", "place_of_service", "payer"}
        if not changes or set(changes) - allowed:
            raise StoreError(f"a correction changes some of: {', '.join(sorted(allowed))}")
        try:
            with self._tx(write=True) as db:
                drafts = [r["id"] for r in db.all("SELECT id FROM drafts WHERE encounter_id=? ORDER BY id",
                                                  (encounter_id,))]
                for d in drafts:
                    self.db.lock_draft(db, d)
                old = db.one(_ENCOUNTER + " WHERE e.id=?", (encounter_id,))
                if old is None:
                    raise NotFound(f"no encounter {encounter_id}")
                if any(db.one("SELECT 1 FROM finalisations WHERE draft_id=?", (d,)) for d in drafts):
                    raise StoreError("the note is signed: the encounter is no longer corrected (add an addendum)")
                new = {k: old[k] for k in allowed} | changes
                _check_choices(new["place_of_service"], new["payer"])
                if new["physician_id"] != old["physician_id"]:
                    _check_physician(db, new["physician_id"])
                db.execute(
                    "INSERT INTO encounter_versions (encounter_id, version, mrn, patient_name, patient_dob,"
                    " patient_search, date_of_service, physician_id, place_of_service, payer, reason, author,"
                    " created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (encounter_id, old["version"] + 1, new["mrn"], new["patient_name"], new["patient_dob"],
                     search_key(new["mrn"], new["patient_name"]), new["date_of_service"], new["physician_id"],
                     new["place_of_service"], new["payer"], reason, author, _now()),
                )
                if new["physician_id"] != old["physician_id"]:
                    for d in drafts:
                        _close_open_queries(db, d, "reassigned", author)
                return self.encounter(encounter_id)
        except DatabaseError as e:
            raise StoreError(str(e)) from None

    def assign(self, encounter_id: int, username: str, *, assigned: bool, author: str) -> dict:
        with self._tx(write=True) as db:
            if db.one("SELECT 1 FROM encounters WHERE id=?", (encounter_id,)) is None:
                raise NotFound(f"no encounter {encounter_id}")
            db.execute("INSERT INTO assignments (encounter_id, username, assigned, author, created_at)"
                       " VALUES (?,?,?,?,?)", (encounter_id, username, int(assigned), author, _now()))
            return self.encounter(encounter_id)

    def duplicates(self, mrn: str, date_of_service: str) -> list[dict]:
        """Drafts (not voided) of another encounter with the same patient MRN and date of service."""
        with self._tx() as db:
            rows = db.all(
                "SELECT d.id FROM drafts d JOIN encounter_versions v ON v.encounter_id = d.encounter_id"
                " AND v.version = (SELECT MAX(version) FROM encounter_versions WHERE encounter_id = d.encounter_id)"
                " WHERE LOWER(v.mrn) = ? AND v.date_of_service = ?"
                " AND NOT EXISTS (SELECT 1 FROM voids x WHERE x.draft_id = d.id) ORDER BY d.id",
                (mrn.strip().lower(), date_of_service),
            )
        return [{"id": r["id"], "url": f"/drafts/{r['id']}"} for r in rows]

    # -- drafts ---------------------------------------------------------------------------------------------
    def create_draft(
        self,
        *,
        dictation: str,
        codes_requested: list[str],
        strategy: str,
        model: str | None,
        prompt_version: str | None,
        attempts: list[dict],
        generated: dict,
        note: str,
        codes: list[str],
        validation: dict,
        grounding: list[dict],
        author: str,
        source: str = "editor",
        encounter_id: int | None = None,
    ) -> dict:
        """Store a new draft and its first revision (the generated note); return the draft as `get_draft` would."""
        now = _now()
        with self._tx(write=True) as db:
            row = db.one(
                "INSERT INTO drafts (created_at, created_by, source, dictation, codes, strategy, model,"
                " prompt_version, attempts, generated, encounter_id) VALUES (?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (now, author, source, dictation, json.dumps(codes_requested), strategy, model, prompt_version,
                 json.dumps(attempts), json.dumps(generated), encounter_id),
            )
            draft_id = row["id"]
            self._insert_revision(db, draft_id, 1, None, note, codes, validation, grounding, author, now)
        return self.get_draft(draft_id)

    def _insert_revision(self, db, draft_id, number, base, note, codes, validation, grounding, author, now) -> None:
        db.execute(
            "INSERT INTO revisions (draft_id, number, base_revision, note, codes, supported, validation, grounding,"
            " author, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (draft_id, number, base, note, json.dumps(codes), int(bool(validation.get("supported"))),
             json.dumps(validation), json.dumps(grounding), author, now),
        )

    def get_draft(self, draft_id: int) -> dict:
        """The draft's inputs, its encounter, its latest revision, its sign-off state, queries and addenda."""
        _check_id(draft_id)
        with self._tx() as db:
            row = db.one("SELECT * FROM drafts WHERE id=?", (draft_id,))
            if row is None:
                raise NotFound(f"no draft {draft_id}")
            latest = db.one("SELECT * FROM revisions WHERE draft_id=? ORDER BY number DESC LIMIT 1", (draft_id,))
            fin = db.one("SELECT * FROM finalisations WHERE draft_id=?", (draft_id,))
            submitted = db.one("SELECT * FROM submissions WHERE draft_id=? ORDER BY id DESC LIMIT 1", (draft_id,))
            queries = db.all(_QUERIES + " WHERE q.draft_id=? ORDER BY q.id", (draft_id,))
            addenda = db.all("SELECT * FROM addenda WHERE draft_id=? ORDER BY id", (draft_id,))
            void = db.one("SELECT * FROM voids WHERE draft_id=?", (draft_id,))
            coded = db.one("SELECT * FROM codings WHERE draft_id=?", (draft_id,))
            encounter = self.encounter(row["encounter_id"]) if row["encounter_id"] is not None else None
        generated = json.loads(row["generated"])
        revision = _revision(latest)
        query_list = [_query(q) for q in queries]
        answered = sorted((q for q in query_list if q["answer"]), key=lambda q: (q["answered_at"], q["id"]))
        finalised = _finalisation(fin)
        full, parts = dictated_text.compose(row["dictation"], [
            {"text": q["answer"], "kind": q["kind"], "query_id": q["id"], "question": q["question"],
             "answered_by": q["answered_by"], "answered_at": q["answered_at"], "round": q["round"]} for q in answered])
        return {
            "id": row["id"],
            "created_at": row["created_at"],
            "created_by": row["created_by"],
            "source": row["source"],
            "dictation": row["dictation"],
            # The dictation as the drafter and grounding see it: the physician's answers are dictated text too,
            # under a heading that says whether they are history or today's procedure (dictation.py).
            "dictation_full": full,
            "dictation_parts": parts,
            "answers": [q["answer"] for q in answered],
            "answer_rounds": max((q["round"] or 0 for q in answered), default=0),
            "codes_requested": json.loads(row["codes"]),
            "strategy": row["strategy"],
            "model": row["model"],
            "prompt_version": row["prompt_version"],
            "attempts": json.loads(row["attempts"]),
            "generated": generated,
            "queries": generated.get("queries", []),
            "sent_queries": query_list,
            "open_queries": sum(1 for q in query_list if not q["answer"] and not q["closed"]),
            "revision": revision["revision"],
            "note": revision["note"],
            "codes": revision["codes"],
            "supported": revision["supported"],
            "validation": revision["validation"],
            "grounding": revision["grounding"],
            "author": revision["author"],
            "saved_at": revision["created_at"],
            "finalised": finalised,
            "signed": finalised,
            "submitted": None if submitted is None else {
                "revision": submitted["revision"], "author": submitted["author"], "created_at": submitted["created_at"],
                "cause": submitted["cause"]},
            "status": _status(finalised, submitted, revision["revision"], void),
            "voided": None if void is None else dict(void),
            "coded": None if coded is None else dict(coded),
            "addenda": [dict(a) for a in addenda],
            "encounter": encounter,
        }

    LIST_PAGE = 100

    def list_drafts(
        self,
        limit: int = 200,
        *,
        mrn: str | None = None,
        patient: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        physician: str | None = None,
        status: str | None = None,
        verdict: str | None = None,
        coded: bool | None = None,
        viewer: str | None = None,
        offset: int = 0,
        with_total: bool = False,
    ):
        """The drafts, filtered, in the order of what needs attention (for `viewer`), then newest first: one page of
        `limit` rows from `offset` (with `with_total`: (rows, how many match)). Voided drafts only when asked for
        with status="voided". The order and every filter are SQL, so a page is a page of the whole list."""
        where, args = [], []
        if mrn:
            where.append("LOWER(mrn) LIKE ? ESCAPE '!'")  # what the scribe typed, literally: no wildcards
            args.append("%" + _like(mrn.lower()) + "%")
        if patient:
            where.append("patient_search LIKE ? ESCAPE '!'")
            args.append("%" + _like(search_key(patient, "").strip()) + "%")
        if date_from:
            where.append("date_of_service >= ?")
            args.append(date_from)
        if date_to:
            where.append("date_of_service <= ?")
            args.append(date_to)
        if physician:
            where.append("physician = ?")
            args.append(physician)
        if verdict in ("supported", "unsupported"):
            where.append("supported = ?")
            args.append(1 if verdict == "supported" else 0)
        if status:
            where.append("status = ?")
            args.append(status)
        else:
            where.append("status <> 'voided'")
        if coded is not None:
            where.append("coded_by IS NOT NULL" if coded else "coded_by IS NULL")
        filters = "WHERE " + " AND ".join(where) if where else ""
        with self._tx() as db:
            rows = db.all(f"{_LIST} SELECT * FROM ranked {filters} ORDER BY attention, id DESC LIMIT ? OFFSET ?",
                          (viewer or "", *args, limit, max(0, offset)))
            total = db.one(f"{_LIST} SELECT COUNT(*) AS n FROM ranked {filters}", (viewer or "", *args))["n"] \
                if with_total else None
        out = [{
            "id": r["id"],
            "created_at": r["created_at"],
            "created_by": r["created_by"],
            "source": r["source"],
            "strategy": r["strategy"],
            "revision": r["number"],
            "codes": json.loads(r["codes"]),
            "supported": bool(r["supported"]),
            "author": r["author"],
            "saved_at": r["saved_at"],
            "finalised_at": r["finalised_at"],
            "signed_by": r["signed_by"],
            "overridden": r["override_reason"] is not None or (r["overrides"] not in (None, "[]")),
            "status": r["status"],
            "attention": r["attention"],
            "open_queries": r["open_queries"],
            "encounter_id": r["encounter_id"],
            "mrn": r["mrn"],
            "patient_name": r["patient_name"],
            "patient_dob": r["patient_dob"],
            "date_of_service": r["date_of_service"],
            "place_of_service": r["place_of_service"],
            "payer": r["payer"],
            "physician": r["physician"],
            "physician_name": r["physician_name"],
            "coded_by": r["coded_by"],
            "coded_at": r["coded_at"],
        } for r in rows]
        return (out, total) if with_total else out

    # -- revisions ------------------------------------------------------------------------------------------
    def revisions(self, draft_id: int) -> list[dict]:
        _check_id(draft_id)
        with self._tx() as db:
            if db.one("SELECT 1 FROM drafts WHERE id=?", (draft_id,)) is None:
                raise NotFound(f"no draft {draft_id}")
            rows = db.all("SELECT * FROM revisions WHERE draft_id=? ORDER BY number", (draft_id,))
        return [_revision(r) for r in rows]

    def revision(self, draft_id: int, number: int) -> dict:
        _check_id(draft_id, number)
        with self._tx() as db:
            row = db.one("SELECT * FROM revisions WHERE draft_id=? AND number=?", (draft_id, number))
        if row is None:
            raise NotFound(f"draft {draft_id} has no revision {number}")
        return _revision(row)

    def save_revision(
        self,
        draft_id: int,
        *,
        note: str,
        codes: list[str],
        validation: dict,
        base_revision: int,
        author: str,
        grounding: list[dict] | None = None,
    ) -> dict:
        """Append revision `base_revision + 1`; raise Conflict if the draft has moved on or is signed."""
        try:
            with self._tx(write=True) as db:
                latest = self._locked_latest(db, draft_id)
                if db.one("SELECT 1 FROM finalisations WHERE draft_id=?", (draft_id,)):
                    raise Conflict(f"draft {draft_id} is finalised (signed); it takes no more revisions: add an addendum", latest)
                if db.one("SELECT 1 FROM voids WHERE draft_id=?", (draft_id,)):
                    raise Conflict(f"draft {draft_id} is voided; it takes no more revisions", latest)
                if base_revision != latest["revision"]:
                    raise Conflict(
                        f"draft {draft_id} is at revision {latest['revision']}, not {base_revision}: "
                        f"it was saved by {latest['author']} at {latest['created_at']} while you were editing",
                        latest,
                    )
                number = latest["revision"] + 1
                self._insert_revision(
                    db, draft_id, number, base_revision, note, codes, validation, grounding or [], author, _now()
                )
                row = db.one("SELECT * FROM revisions WHERE draft_id=? AND number=?", (draft_id, number))
        except DatabaseError as e:  # another process landed the same revision number, or signed, in between
            raise self._conflict(draft_id, e) from None
        return _revision(row)

    def _locked_latest(self, db, draft_id: int) -> dict:
        _check_id(draft_id)
        self.db.lock_draft(db, draft_id)
        return _latest_revision(db, draft_id)

    def _conflict(self, draft_id: int, e: DatabaseError) -> StoreError:
        with self._tx() as db:
            latest = _latest_revision(db, draft_id)
        return Conflict(f"draft {draft_id} changed while you were editing ({e}); it is at revision "
                        f"{latest['revision']}", latest)

    # -- sign-off -------------------------------------------------------------------------------------------
    def submit(self, draft_id: int, *, revision: int, author: str, cause: str = "submit") -> dict:
        """Send the latest revision to the encounter's physician for signature. `cause` "answers": the note was
        submitted and the physician's answers redrafted it, so the new revision waits for the signature too."""
        with self._tx(write=True) as db:
            latest = self._locked_latest(db, draft_id)
            if db.one("SELECT 1 FROM finalisations WHERE draft_id=?", (draft_id,)):
                raise Conflict(f"draft {draft_id} is already finalised (signed)", latest)
            if db.one("SELECT 1 FROM voids WHERE draft_id=?", (draft_id,)):
                raise Conflict(f"draft {draft_id} is voided", latest)
            if revision != latest["revision"]:
                raise Conflict(f"draft {draft_id} is at revision {latest['revision']}, not {revision}", latest)
            db.execute("INSERT INTO submissions (draft_id, revision, author, created_at, cause) VALUES (?,?,?,?,?)",
                       (draft_id, revision, author, _now(), cause))
            return self.get_draft(draft_id)

    def finalise(
        self,
        draft_id: int,
        *,
        revision: int,
        validation: dict,
        author: str,
        override_reason: str | None = None,
        attestation: str | None = None,
        overrides: list[dict] | None = None,
    ) -> dict:
        """Sign (finalise) `revision`, which must be the latest. An unsupported note needs an override reason
        (one per finding when `overrides` is used — the caller checks that list against the findings)."""
        reason = (override_reason or "").strip() or None
        supported = bool(validation.get("supported"))
        if not supported and reason is None and not overrides:
            raise NotSupported(
                "the note does not support its code lines; fix the findings or give an override reason"
            )
        try:
            with self._tx(write=True) as db:
                latest = self._locked_latest(db, draft_id)
                if db.one("SELECT 1 FROM finalisations WHERE draft_id=?", (draft_id,)):
                    raise Conflict(f"draft {draft_id} is already finalised (signed)", latest)
                if db.one("SELECT 1 FROM voids WHERE draft_id=?", (draft_id,)):
                    raise Conflict(f"draft {draft_id} is voided: it is not signed", latest)
                if revision != latest["revision"]:
                    raise Conflict(
                        f"draft {draft_id} is at revision {latest['revision']}, not {revision}; "
                        "review the latest revision before signing",
                        latest,
                    )
                _close_open_queries(db, draft_id, "signed", author)  # a signed note has no open question
                first = db.one("SELECT note FROM revisions WHERE draft_id=? AND number=1", (draft_id,))
                stats = edit_stats(first["note"], latest["note"])
                db.execute(
                    "INSERT INTO finalisations (draft_id, revision, supported, override_reason, validation, author,"
                    " created_at, edit_distance, first_words, final_words, edit_ratio, attestation, overrides)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (draft_id, revision, int(supported), None if supported else reason, json.dumps(validation),
                     author, _now(), stats["edit_distance"], stats["first_words"], stats["final_words"],
                     stats["edit_ratio"], attestation, json.dumps(overrides or [])),
                )
                fin = db.one("SELECT * FROM finalisations WHERE draft_id=?", (draft_id,))
        except DatabaseError as e:
            raise self._conflict(draft_id, e) from None
        return _finalisation(fin)

    def add_addendum(self, draft_id: int, *, text: str, author: str) -> dict:
        _check_id(draft_id)
        with self._tx(write=True) as db:
            self.db.lock_draft(db, draft_id)
            if db.one("SELECT 1 FROM finalisations WHERE draft_id=?", (draft_id,)) is None:
                raise StoreError(f"draft {draft_id} is not signed: edit the note itself instead of adding an addendum")
            row = db.one("INSERT INTO addenda (draft_id, text, author, created_at) VALUES (?,?,?,?) RETURNING *",
                         (draft_id, text, author, _now()))
        return dict(row)

    # -- the query loop -------------------------------------------------------------------------------------
    def send_queries(self, draft_id: int, *, revision: int, queries: list[dict], sent_by: str, sent_to: str) -> list[dict]:
        """Send questions ({rule, question, kind}) to a physician; a question already open on this draft is not
        sent twice. `kind` is "history" or "procedure" (where the answer goes in the dictation, dictation.py)."""
        with self._tx(write=True) as db:
            latest = self._locked_latest(db, draft_id)
            if db.one("SELECT 1 FROM voids WHERE draft_id=?", (draft_id,)):
                raise Conflict(f"draft {draft_id} is voided", latest)
            open_now = {r["question"] for r in db.all(
                "SELECT question FROM queries q WHERE draft_id=? AND NOT EXISTS"
                " (SELECT 1 FROM answers a WHERE a.query_id = q.id) AND NOT EXISTS"
                " (SELECT 1 FROM query_closures c WHERE c.query_id = q.id)", (draft_id,))}
            sent = []
            for q in queries:
                if q["question"] in open_now:
                    continue
                open_now.add(q["question"])
                kind = q.get("kind") or dictated_text.question_kind(q["question"])
                if kind not in dictated_text.KINDS:
                    raise StoreError(f"unknown kind of question {kind!r}; use one of {', '.join(dictated_text.KINDS)}")
                sent.append(db.one(
                    "INSERT INTO queries (draft_id, revision, rule, question, sent_by, sent_to, created_at, kind)"
                    " VALUES (?,?,?,?,?,?,?,?) RETURNING *",
                    (draft_id, revision, q.get("rule") or "", q["question"], sent_by, sent_to, _now(), kind),
                ))
        return [_query({**dict(r), "answer": None, "answered_by": None, "answered_at": None}) for r in sent]

    def inbox(self, username: str, include_answered: bool = False) -> list[dict]:
        """Queries sent to `username`, open ones first (oldest first within each); closed ones never."""
        with self._tx() as db:
            rows = db.all(
                _QUERIES.replace(" FROM", ", v.mrn, v.patient_name, v.patient_dob, v.date_of_service FROM", 1)
                + " JOIN drafts d ON d.id = q.draft_id LEFT JOIN encounter_versions v ON v.encounter_id = d.encounter_id"
                " AND v.version = (SELECT MAX(version) FROM encounter_versions WHERE encounter_id = d.encounter_id)"
                " WHERE q.sent_to=? AND c.query_id IS NULL ORDER BY (a.query_id IS NOT NULL), q.draft_id, q.id",
                (username,),
            )
        out = [{**_query(r), "mrn": r["mrn"], "patient_name": r["patient_name"], "patient_dob": r["patient_dob"],
                "date_of_service": r["date_of_service"]} for r in rows]
        return out if include_answered else [q for q in out if q["answer"] is None]

    def query(self, query_id: int) -> dict:
        if not 1 <= query_id <= MAX_ID:
            raise NotFound(f"no query {query_id}")
        with self._tx() as db:
            row = db.one(_QUERIES + " WHERE q.id=?", (query_id,))
        if row is None:
            raise NotFound(f"no query {query_id}")
        return _query(row)

    def answer_query(self, query_id: int, *, text: str, author: str) -> dict:
        return self.answer_queries([(query_id, text)], author=author)[0]

    def answer_queries(self, answers: list[tuple[int, str]], *, author: str) -> list[dict]:
        """The physician's answers to questions of one draft, kept as dictated text, as one round (one redraft);
        a query is answered once, and a closed one not at all."""
        if not answers:
            raise StoreError("no answer given")
        found = [self.query(qid) for qid, _ in answers]
        drafts = {q["draft_id"] for q in found}
        if len(drafts) != 1:
            raise StoreError("answers given together belong to one note")
        for q in found:
            if q["sent_to"] != author:
                raise Forbidden(f"query {q['id']} was sent to {q['sent_to']}, not to {author}")
        draft_id = drafts.pop()
        try:
            with self._tx(write=True) as db:
                self.db.lock_draft(db, draft_id)
                round_no = db.one("SELECT COALESCE(MAX(round), 0) + 1 AS n FROM answers WHERE draft_id=?",
                                  (draft_id,))["n"]
                for qid, text in answers:
                    if db.one("SELECT 1 FROM answers WHERE query_id=?", (qid,)):
                        raise Conflict(f"query {qid} is already answered", {})
                    closed = db.one("SELECT reason FROM query_closures WHERE query_id=?", (qid,))
                    if closed:
                        raise Conflict(f"query {qid} is closed ({closed['reason']}); it takes no answer", {})
                    db.execute("INSERT INTO answers (query_id, draft_id, text, author, created_at, round)"
                               " VALUES (?,?,?,?,?,?)", (qid, draft_id, text, author, _now(), round_no))
                return [self.query(qid) for qid, _ in answers]
        except DatabaseError:
            raise Conflict("a question was answered meanwhile", {}) from None

    # -- void, code -----------------------------------------------------------------------------------------
    def void(self, draft_id: int, *, reason: str, author: str) -> dict:
        """A draft created in error is voided (kept, never deleted): no more revisions, questions or signature."""
        try:
            with self._tx(write=True) as db:
                latest = self._locked_latest(db, draft_id)
                if db.one("SELECT 1 FROM finalisations WHERE draft_id=?", (draft_id,)):
                    raise Conflict(f"draft {draft_id} is signed: it is not voided (add an addendum)", latest)
                if db.one("SELECT 1 FROM voids WHERE draft_id=?", (draft_id,)):
                    raise Conflict(f"draft {draft_id} is already voided", latest)
                db.execute("INSERT INTO voids (draft_id, reason, author, created_at) VALUES (?,?,?,?)",
                           (draft_id, reason, author, _now()))
                _close_open_queries(db, draft_id, "voided", author)
                return self.get_draft(draft_id)
        except DatabaseError as e:
            raise self._conflict(draft_id, e) from None

    def mark_coded(self, draft_id: int, *, author: str) -> dict:
        try:
            with self._tx(write=True) as db:
                latest = self._locked_latest(db, draft_id)
                if db.one("SELECT 1 FROM finalisations WHERE draft_id=?", (draft_id,)) is None:
                    raise Conflict(f"draft {draft_id} is not signed: only a signed note is coded", latest)
                if db.one("SELECT 1 FROM codings WHERE draft_id=?", (draft_id,)):
                    raise Conflict(f"draft {draft_id} is already coded", latest)
                row = db.one("INSERT INTO codings (draft_id, author, created_at) VALUES (?,?,?) RETURNING *",
                             (draft_id, author, _now()))
                return dict(row)
        except DatabaseError as e:
            raise self._conflict(draft_id, e) from None

    # -- background jobs (shared between editor processes) --------------------------------------------------
    JOB_KEEP_S = 3600

    def save_job(self, job_id: str, status: dict) -> None:
        """Record what a job is doing (its owner process writes every change); old finished jobs are dropped."""
        now = time.time()
        with self._tx(write=True) as db:
            db.execute(
                "INSERT INTO jobs (id, status, cancel, updated_at) VALUES (?,?,0,?)"
                " ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
                (job_id, json.dumps(status), now),
            )
            db.execute("DELETE FROM jobs WHERE updated_at < ?", (now - self.JOB_KEEP_S,))

    def job(self, job_id: str) -> dict | None:
        """The last status a job's owner recorded, with `cancel_requested`; None for an unknown job."""
        with self._tx() as db:
            row = db.one("SELECT status, cancel FROM jobs WHERE id=?", (job_id[:100],))
        return None if row is None else {**json.loads(row["status"]), "cancel_requested": bool(row["cancel"])}

    def cancel_job(self, job_id: str) -> bool:
        """Ask the process running a job to cancel it; False for an unknown job."""
        with self._tx(write=True) as db:
            return db.execute("UPDATE jobs SET cancel=1 WHERE id=?", (job_id[:100],)).rowcount == 1

    def job_cancel_requested(self, job_id: str) -> bool:
        with self._tx() as db:
            row = db.one("SELECT cancel FROM jobs WHERE id=?", (job_id,))
        return bool(row and row["cancel"])

    # -- metrics --------------------------------------------------------------------------------------------
    def edit_cases(self) -> list[dict]:
        """One row per finalised draft: its inputs, the first draft, the final note and the edit statistics."""
        with self._tx() as db:
            rows = db.all(
                """
                SELECT d.id, d.dictation, d.codes AS codes_requested, d.strategy, d.model, d.prompt_version,
                       first.note AS first_note, first.codes AS first_codes, first.supported AS first_supported,
                       final.note AS final_note, final.codes AS final_codes,
                       f.revision, f.supported, f.override_reason, f.author, f.created_at,
                       f.edit_distance, f.first_words, f.final_words, f.edit_ratio
                FROM finalisations f
                JOIN drafts d ON d.id = f.draft_id
                JOIN revisions first ON first.draft_id = f.draft_id AND first.number = 1
                JOIN revisions final ON final.draft_id = f.draft_id AND final.number = f.revision
                ORDER BY d.id
                """
            )
        return [
            {
                "id": r["id"],
                "dictation": r["dictation"],
                "codes_requested": json.loads(r["codes_requested"]),
                "strategy": r["strategy"],
                "model": r["model"],
                "prompt_version": r["prompt_version"],
                "first_draft": r["first_note"],
                "first_codes": json.loads(r["first_codes"]),
                "first_supported": bool(r["first_supported"]),
                "final_note": r["final_note"],
                "final_codes": json.loads(r["final_codes"]),
                "final_revision": r["revision"],
                "final_supported": bool(r["supported"]),
                "override_reason": r["override_reason"],
                "finalised_by": r["author"],
                "finalised_at": r["created_at"],
                "edit_distance": r["edit_distance"],
                "first_words": r["first_words"],
                "final_words": r["final_words"],
                "edit_ratio": r["edit_ratio"],
            }
            for r in rows
        ]


def _like(text: str) -> str:
    return "".join("!" + c if c in "!%_" else c for c in text)


# The list: each draft's latest revision, sign-off, encounter (latest version) and physician; its status; and its
# attention rank for the viewer (the first parameter): 0 waiting for the viewer's signature, 1 needs work, 2 waiting
# for the physician's answer, 3 ready to submit, 4 waiting for (someone else's) signature, 5 signed, 6 voided.
_LIST = """
WITH base AS (
    SELECT d.id, d.created_at, d.created_by, d.source, d.strategy, d.encounter_id,
           r.number, r.codes, r.supported, r.author, r.created_at AS saved_at,
           f.created_at AS finalised_at, f.author AS signed_by, f.override_reason, f.overrides,
           (SELECT MAX(s.revision) FROM submissions s WHERE s.draft_id = d.id) AS submitted_revision,
           (SELECT COUNT(*) FROM queries q WHERE q.draft_id = d.id
                AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.query_id = q.id)
                AND NOT EXISTS (SELECT 1 FROM query_closures c WHERE c.query_id = q.id)) AS open_queries,
           vo.created_at AS voided_at, cd.author AS coded_by, cd.created_at AS coded_at,
           v.mrn, v.patient_name, v.patient_dob, v.patient_search, v.date_of_service, v.place_of_service, v.payer,
           u.username AS physician, u.display_name AS physician_name
    FROM drafts d
    JOIN revisions r ON r.draft_id = d.id AND r.number = (SELECT MAX(number) FROM revisions WHERE draft_id = d.id)
    LEFT JOIN finalisations f ON f.draft_id = d.id
    LEFT JOIN voids vo ON vo.draft_id = d.id
    LEFT JOIN codings cd ON cd.draft_id = d.id
    LEFT JOIN encounter_versions v ON v.encounter_id = d.encounter_id
         AND v.version = (SELECT MAX(version) FROM encounter_versions WHERE encounter_id = d.encounter_id)
    LEFT JOIN users u ON u.id = v.physician_id
), stated AS (
    SELECT base.*, CASE WHEN voided_at IS NOT NULL THEN 'voided' WHEN finalised_at IS NOT NULL THEN 'signed'
                        WHEN submitted_revision = number THEN 'submitted' ELSE 'draft' END AS status
    FROM base
), ranked AS (
    SELECT stated.*, CASE WHEN status = 'submitted' THEN (CASE WHEN physician = ? THEN 0 ELSE 4 END)
                          WHEN status = 'signed' THEN 5 WHEN status = 'voided' THEN 6
                          WHEN open_queries > 0 THEN 2 WHEN supported = 0 THEN 1 ELSE 3 END AS attention
    FROM stated
)
"""


def _status(finalised, submitted, latest_revision: int, voided=None) -> str:
    if voided:
        return "voided"
    if finalised:
        return "signed"
    if submitted and submitted["revision"] == latest_revision:
        return "submitted"
    return "draft"


def _latest_revision(db, draft_id: int) -> dict:
    """The draft's newest revision; NotFound when there is no such draft."""
    _check_id(draft_id)
    if db.one("SELECT 1 FROM drafts WHERE id=?", (draft_id,)) is None:
        raise NotFound(f"no draft {draft_id}")
    row = db.one("SELECT * FROM revisions WHERE draft_id=? ORDER BY number DESC LIMIT 1", (draft_id,))
    return _revision(row)


def _revision(row) -> dict:
    return {
        "revision": row["number"],
        "base_revision": row["base_revision"],
        "note": row["note"],
        "codes": json.loads(row["codes"]),
        "supported": bool(row["supported"]),
        "validation": json.loads(row["validation"]),
        "grounding": json.loads(row["grounding"]),
        "author": row["author"],
        "created_at": row["created_at"],
    }


def _finalisation(row) -> dict | None:
    if row is None:
        return None
    return {
        "revision": row["revision"],
        "supported": bool(row["supported"]),
        "override_reason": row["override_reason"],
        "overrides": json.loads(row["overrides"] or "[]"),
        "attestation": row["attestation"],
        "validation": json.loads(row["validation"]),
        "author": row["author"],
        "created_at": row["created_at"],
        "edit_distance": row["edit_distance"],
        "first_words": row["first_words"],
        "final_words": row["final_words"],
        "edit_ratio": row["edit_ratio"],
    }


_ENCOUNTER = (
    "SELECT e.id, e.created_by, e.created_at, v.version, v.mrn, v.patient_name, v.patient_dob, v.date_of_service,"
    " v.physician_id, v.place_of_service, v.payer, u.username, u.display_name, u.npi"
    " FROM encounters e JOIN encounter_versions v ON v.encounter_id = e.id"
    " AND v.version = (SELECT MAX(version) FROM encounter_versions WHERE encounter_id = e.id)"
    " JOIN users u ON u.id = v.physician_id"
)


def search_key(mrn: str, patient_name: str) -> str:
    """What a patient search matches: MRN and name, NFKC and casefolded here, so SQLite (whose LOWER knows only
    ASCII) and PostgreSQL find the same rows."""
    import unicodedata

    return unicodedata.normalize("NFKC", f"{mrn} {patient_name}").casefold()


def _check_choices(place_of_service: str, payer: str) -> None:
    if place_of_service not in PLACES:
        raise StoreError(f"unknown place of service {place_of_service!r}; use one of {', '.join(PLACES)}")
    if payer not in PAYERS:
        raise StoreError(f"unknown payer {payer!r}; use one of {', '.join(PAYERS)}")


def _check_physician(db, physician_id: int) -> None:
    doc = db.one("SELECT * FROM users WHERE id=?", (physician_id,))
    if doc is None or doc["role"] != "physician" or not doc["active"]:
        raise StoreError("the rendering physician must be an active physician account")


def _close_open_queries(db, draft_id: int, reason: str, author: str) -> int:
    """Close every question of the draft still waiting for an answer (signed, voided, physician reassigned)."""
    rows = db.all("SELECT id FROM queries q WHERE draft_id=? AND NOT EXISTS (SELECT 1 FROM answers a WHERE"
                  " a.query_id = q.id) AND NOT EXISTS (SELECT 1 FROM query_closures c WHERE c.query_id = q.id)",
                  (draft_id,))
    for r in rows:
        db.execute("INSERT INTO query_closures (query_id, draft_id, reason, author, created_at) VALUES (?,?,?,?,?)",
                   (r["id"], draft_id, reason, author, _now()))
    return len(rows)


def _encounter(row) -> dict:
    keys = row.keys()
    return {
        "id": row["id"],
        "version": row["version"] if "version" in keys else 1,
        "patient_name": row["patient_name"] if "patient_name" in keys else "",
        "patient_dob": row["patient_dob"] if "patient_dob" in keys else None,
        "mrn": row["mrn"],
        "date_of_service": row["date_of_service"],
        "place_of_service": row["place_of_service"],
        "payer": row["payer"],
        "physician": {"id": row["physician_id"], "username": row["username"], "display_name": row["display_name"],
                      "npi": row["npi"]},
        "created_by": row["created_by"],
        "created_at": row["created_at"],
    }


def _query(row) -> dict:
    keys = row.keys()
    return {
        "kind": row["kind"] if "kind" in keys else "procedure",
        "round": row["answer_round"] if "answer_round" in keys else None,
        "closed": row["closed_reason"] if "closed_reason" in keys else None,
        "closed_at": row["closed_at"] if "closed_at" in keys else None,
        "id": row["id"],
        "draft_id": row["draft_id"],
        "revision": row["revision"],
        "rule": row["rule"],
        "question": row["question"],
        "sent_by": row["sent_by"],
        "sent_to": row["sent_to"],
        "created_at": row["created_at"],
        "answer": row["answer"],
        "answered_by": row["answered_by"],
        "answered_at": row["answered_at"],
    }


# The SQLite migration scripts' splitter, for tests that build an old database by hand.
from .db import _split_sql  # noqa: E402,F401


