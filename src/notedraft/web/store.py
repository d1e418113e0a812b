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

from . import schema
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
_QUERIES = ("SELECT q.*, a.text AS answer, a.author AS answered_by, a.created_at AS answered_at"
            " FROM queries q LEFT JOIN answers a ON a.query_id = q.id")
PLACES = ("office", "asc", "hospital_outpatient")
PAYERS = ("none", "medicare", "commercial")
ATTESTATION = "I performed this procedure and this note is accurate."


class Store:
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

    # -- accounts and sessions ------------------------------------------------------------------------------
    def add_user(self, *, username: str, display_name: str, role: str, password_hash: str, npi: str | None = None) -> dict:
        if role not in ROLES:
            raise StoreError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        with self._tx(write=True) as db:
            if db.one("SELECT 1 FROM users WHERE username=?", (username,)):
                raise StoreError(f"there is already an account named {username!r}")
            row = db.one(
                "INSERT INTO users (username, display_name, role, npi, password_hash, active, created_at)"
                " VALUES (?,?,?,?,?,1,?) RETURNING *",
                (username, display_name, role, npi, password_hash, _now()),
            )
        return _user(row)

    def user(self, user_id: int) -> dict:
        with self._tx() as db:
            row = db.one("SELECT * FROM users WHERE id=?", (user_id,))
        if row is None:
            raise NotFound(f"no account {user_id}")
        return _user(row)

    def user_by_name(self, username: str) -> dict | None:
        """The account with its password hash (for logging in), or None."""
        with self._tx() as db:
            row = db.one("SELECT * FROM users WHERE username=?", (username,))
        return None if row is None else {**_user(row), "password_hash": row["password_hash"]}

    def users(self) -> list[dict]:
        with self._tx() as db:
            return [_user(r) for r in db.all("SELECT * FROM users ORDER BY role, username")]

    def count_users(self) -> int:
        with self._tx() as db:
            return db.one("SELECT COUNT(*) AS n FROM users")["n"]

    def set_password(self, username: str, password_hash: str) -> None:
        with self._tx(write=True) as db:
            if db.execute("UPDATE users SET password_hash=? WHERE username=?", (password_hash, username)).rowcount != 1:
                raise NotFound(f"no account named {username!r}")
            db.execute("UPDATE sessions SET revoked=1 WHERE user_id=(SELECT id FROM users WHERE username=?)", (username,))

    def set_active(self, username: str, active: bool) -> None:
        with self._tx(write=True) as db:
            if db.execute("UPDATE users SET active=? WHERE username=?", (int(active), username)).rowcount != 1:
                raise NotFound(f"no account named {username!r}")
            if not active:
                db.execute("UPDATE sessions SET revoked=1 WHERE user_id=(SELECT id FROM users WHERE username=?)",
                           (username,))

    def add_session(self, session_hash: str, user_id: int, expires_at: float) -> None:
        with self._tx(write=True) as db:
            db.execute("INSERT INTO sessions (id, user_id, created_at, expires_at, revoked) VALUES (?,?,?,?,0)",
                       (session_hash, user_id, _now(), expires_at))

    def session_user(self, session_hash: str, now: float) -> dict | None:
        """The active account behind an unexpired, unrevoked session, or None."""
        with self._tx() as db:
            row = db.one(
                "SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id"
                " WHERE s.id=? AND s.revoked=0 AND s.expires_at > ? AND u.active=1",
                (session_hash, now),
            )
        return None if row is None else _user(row)

    def revoke_session(self, session_hash: str, now: float) -> None:
        with self._tx(write=True) as db:
            db.execute("UPDATE sessions SET revoked=1 WHERE id=?", (session_hash,))
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now - 86400,))  # expired a day ago: forget

    # -- access log -----------------------------------------------------------------------------------------
    def log_access(self, username: str, action: str, *, draft_id: int | None = None,
                   encounter_id: int | None = None, client: str | None = None) -> None:
        with self._tx(write=True) as db:
            db.execute(
                "INSERT INTO access_log (at, username, action, draft_id, encounter_id, client) VALUES (?,?,?,?,?,?)",
                (_now(), username, action, draft_id, encounter_id, client),
            )

    def access_log(self, limit: int = 500, draft_id: int | None = None) -> list[dict]:
        where, args = ("WHERE draft_id=?", [draft_id]) if draft_id is not None else ("", [])
        with self._tx() as db:
            rows = db.all(f"SELECT * FROM access_log {where} ORDER BY id DESC LIMIT ?", (*args, limit))
        return [dict(r) for r in rows]

    # -- encounters -----------------------------------------------------------------------------------------
    def create_encounter(self, *, mrn: str, date_of_service: str, physician_id: int, place_of_service: str,
                         payer: str, author: str) -> dict:
        if place_of_service not in PLACES:
            raise StoreError(f"unknown place of service {place_of_service!r}; use one of {', '.join(PLACES)}")
        if payer not in PAYERS:
            raise StoreError(f"unknown payer {payer!r}; use one of {', '.join(PAYERS)}")
        with self._tx(write=True) as db:
            doc = db.one("SELECT * FROM users WHERE id=?", (physician_id,))
            if doc is None or doc["role"] != "physician" or not doc["active"]:
                raise StoreError("the rendering physician must be an active physician account")
            row = db.one(
                "INSERT INTO encounters (mrn, date_of_service, physician_id, place_of_service, payer, created_by,"
                " created_at) VALUES (?,?,?,?,?,?,?) RETURNING id",
                (mrn, date_of_service, physician_id, place_of_service, payer, author, _now()),
            )
        return self.encounter(row["id"])

    def encounter(self, encounter_id: int) -> dict:
        with self._tx() as db:
            row = db.one(
                "SELECT e.*, u.username, u.display_name, u.npi FROM encounters e JOIN users u ON u.id = e.physician_id"
                " WHERE e.id=?",
                (encounter_id,),
            )
        if row is None:
            raise NotFound(f"no encounter {encounter_id}")
        return _encounter(row)

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
        encounter = self.encounter(row["encounter_id"]) if row["encounter_id"] is not None else None
        generated = json.loads(row["generated"])
        revision = _revision(latest)
        query_list = [_query(q) for q in queries]
        answers = [q["answer"] for q in query_list if q["answer"]]
        finalised = _finalisation(fin)
        return {
            "id": row["id"],
            "created_at": row["created_at"],
            "created_by": row["created_by"],
            "source": row["source"],
            "dictation": row["dictation"],
            # The dictation as the drafter and grounding see it: the physician's answers are dictated text too.
            "dictation_full": "\n\n".join([row["dictation"], *answers]),
            "answers": answers,
            "codes_requested": json.loads(row["codes"]),
            "strategy": row["strategy"],
            "model": row["model"],
            "prompt_version": row["prompt_version"],
            "attempts": json.loads(row["attempts"]),
            "generated": generated,
            "queries": generated.get("queries", []),
            "sent_queries": query_list,
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
                "revision": submitted["revision"], "author": submitted["author"], "created_at": submitted["created_at"]},
            "status": _status(finalised, submitted, revision["revision"]),
            "addenda": [dict(a) for a in addenda],
            "encounter": encounter,
        }

    def list_drafts(
        self,
        limit: int = 200,
        *,
        mrn: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        physician: str | None = None,
        status: str | None = None,
        verdict: str | None = None,
    ) -> list[dict]:
        """Newest first, filtered: encounter, latest revision and verdict, sign-off status, open queries."""
        where, args = [], []
        if mrn:
            where.append("LOWER(e.mrn) LIKE ? ESCAPE '!'")  # what the scribe typed, literally: no wildcards
            args.append("%" + "".join("!" + c if c in "!%_" else c for c in mrn.lower()) + "%")
        if date_from:
            where.append("e.date_of_service >= ?")
            args.append(date_from)
        if date_to:
            where.append("e.date_of_service <= ?")
            args.append(date_to)
        if physician:
            where.append("u.username = ?")
            args.append(physician)
        if verdict in ("supported", "unsupported"):
            where.append("r.supported = ?")
            args.append(1 if verdict == "supported" else 0)
        sql = f"""
            SELECT d.id, d.created_at, d.created_by, d.source, d.strategy, d.encounter_id,
                   r.number, r.codes, r.supported, r.author, r.created_at AS saved_at,
                   f.created_at AS finalised_at, f.author AS signed_by, f.override_reason, f.overrides,
                   (SELECT MAX(s.revision) FROM submissions s WHERE s.draft_id = d.id) AS submitted_revision,
                   (SELECT COUNT(*) FROM queries q WHERE q.draft_id = d.id
                        AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.query_id = q.id)) AS open_queries,
                   e.mrn, e.date_of_service, e.place_of_service, e.payer,
                   u.username AS physician, u.display_name AS physician_name
            FROM drafts d
            JOIN revisions r ON r.draft_id = d.id
                 AND r.number = (SELECT MAX(number) FROM revisions WHERE draft_id = d.id)
            LEFT JOIN finalisations f ON f.draft_id = d.id
            LEFT JOIN encounters e ON e.id = d.encounter_id
            LEFT JOIN users u ON u.id = e.physician_id
            {"WHERE " + " AND ".join(where) if where else ""}
            ORDER BY d.id DESC LIMIT ?
        """
        with self._tx() as db:
            rows = db.all(sql, (*args, limit))
        out = []
        for r in rows:
            state = _status(r["finalised_at"], {"revision": r["submitted_revision"]} if r["submitted_revision"] else None,
                            r["number"])
            if status and state != status:
                continue
            out.append({
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
                "status": state,
                "open_queries": r["open_queries"],
                "encounter_id": r["encounter_id"],
                "mrn": r["mrn"],
                "date_of_service": r["date_of_service"],
                "place_of_service": r["place_of_service"],
                "payer": r["payer"],
                "physician": r["physician"],
                "physician_name": r["physician_name"],
            })
        return out

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
    def submit(self, draft_id: int, *, revision: int, author: str) -> dict:
        """A scribe sends the latest revision to the encounter's physician for signature."""
        with self._tx(write=True) as db:
            latest = self._locked_latest(db, draft_id)
            if db.one("SELECT 1 FROM finalisations WHERE draft_id=?", (draft_id,)):
                raise Conflict(f"draft {draft_id} is already finalised (signed)", latest)
            if revision != latest["revision"]:
                raise Conflict(f"draft {draft_id} is at revision {latest['revision']}, not {revision}", latest)
            db.execute("INSERT INTO submissions (draft_id, revision, author, created_at) VALUES (?,?,?,?)",
                       (draft_id, revision, author, _now()))
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
                if revision != latest["revision"]:
                    raise Conflict(
                        f"draft {draft_id} is at revision {latest['revision']}, not {revision}; "
                        "review the latest revision before signing",
                        latest,
                    )
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
        """Send questions ({rule, question}) to a physician; a question already open on this draft is not sent
        twice."""
        with self._tx(write=True) as db:
            self._locked_latest(db, draft_id)
            open_now = {r["question"] for r in db.all(
                "SELECT question FROM queries q WHERE draft_id=? AND NOT EXISTS"
                " (SELECT 1 FROM answers a WHERE a.query_id = q.id)", (draft_id,))}
            sent = []
            for q in queries:
                if q["question"] in open_now:
                    continue
                open_now.add(q["question"])
                sent.append(db.one(
                    "INSERT INTO queries (draft_id, revision, rule, question, sent_by, sent_to, created_at)"
                    " VALUES (?,?,?,?,?,?,?) RETURNING *",
                    (draft_id, revision, q.get("rule") or "", q["question"], sent_by, sent_to, _now()),
                ))
        return [_query({**dict(r), "answer": None, "answered_by": None, "answered_at": None}) for r in sent]

    def inbox(self, username: str, include_answered: bool = False) -> list[dict]:
        """Queries sent to `username`, open ones first (oldest first within each)."""
        with self._tx() as db:
            rows = db.all(
                _QUERIES.replace(" FROM", ", e.mrn, e.date_of_service FROM")
                + " JOIN drafts d ON d.id = q.draft_id LEFT JOIN encounters e ON e.id = d.encounter_id"
                " WHERE q.sent_to=? ORDER BY (a.query_id IS NOT NULL), q.id",
                (username,),
            )
        out = [{**_query(r), "mrn": r["mrn"], "date_of_service": r["date_of_service"]} for r in rows]
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
        """The physician's answer, kept as dictated text; a query is answered once."""
        q = self.query(query_id)
        if q["sent_to"] != author:
            raise Forbidden(f"query {query_id} was sent to {q['sent_to']}, not to {author}")
        try:
            with self._tx(write=True) as db:
                self.db.lock_draft(db, q["draft_id"])
                if db.one("SELECT 1 FROM answers WHERE query_id=?", (query_id,)):
                    raise Conflict(f"query {query_id} is already answered", {})
                db.execute("INSERT INTO answers (query_id, draft_id, text, author, created_at) VALUES (?,?,?,?,?)",
                           (query_id, q["draft_id"], text, author, _now()))
        except DatabaseError:
            raise Conflict(f"query {query_id} is already answered", {}) from None
        return self.query(query_id)

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


def _status(finalised, submitted, latest_revision: int) -> str:
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


def _user(row) -> dict:
    return {"id": row["id"], "username": row["username"], "display_name": row["display_name"], "role": row["role"],
            "npi": row["npi"], "active": bool(row["active"]), "created_at": row["created_at"]}


def _encounter(row) -> dict:
    return {
        "id": row["id"],
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
    return {
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


