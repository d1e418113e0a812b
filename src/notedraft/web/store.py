"""The editor's SQLite store: drafts, their append-only revisions, and finalisations.

- WAL journal, foreign keys on, a busy timeout so two requests writing at once wait rather than fail.
- Schema versions live in `PRAGMA user_version`; `MIGRATIONS[i]` takes a database from version i to i + 1, all
  of them in one transaction.
  A database newer than this code is refused rather than guessed at.
- Revisions and finalisations are append-only (triggers abort any UPDATE or DELETE), and a draft's inputs
  (dictation, strategy, model, prompt version, attempts) never change once written.
- Saving names the revision it was edited from (`base_revision`); if another save landed first the store raises
  `Conflict` with the current revision, so the caller can show both texts and nothing is lost.

No note text is ever logged from here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from .textdiff import edit_stats

MIGRATIONS: list[str] = [
    # Append only: never edit a migration that has shipped; add the next one.
    # 0 -> 1: drafts, revisions, finalisations.
    """
    CREATE TABLE drafts (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at     TEXT NOT NULL,
        created_by     TEXT NOT NULL,
        source         TEXT NOT NULL,              -- 'editor' | 'import'
        dictation      TEXT NOT NULL,
        codes          TEXT NOT NULL,              -- JSON list: the code lines asked for
        strategy       TEXT NOT NULL,
        model          TEXT,
        prompt_version TEXT,
        attempts       TEXT NOT NULL,              -- JSON list of Attempt
        generated      TEXT NOT NULL               -- JSON: Draft.as_json() exactly as drafted
    );
    CREATE TABLE revisions (
        draft_id      INTEGER NOT NULL REFERENCES drafts(id),
        number        INTEGER NOT NULL CHECK (number >= 1),
        base_revision INTEGER,
        note          TEXT NOT NULL,
        codes         TEXT NOT NULL,               -- JSON list
        supported     INTEGER NOT NULL,
        validation    TEXT NOT NULL,               -- JSON: ValidationReport.as_json()
        author        TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        PRIMARY KEY (draft_id, number)
    );
    CREATE TABLE finalisations (
        draft_id        INTEGER PRIMARY KEY REFERENCES drafts(id),
        revision        INTEGER NOT NULL,
        supported       INTEGER NOT NULL,
        override_reason TEXT,
        validation      TEXT NOT NULL,
        author          TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        edit_distance   INTEGER NOT NULL,
        first_words     INTEGER NOT NULL,
        final_words     INTEGER NOT NULL,
        edit_ratio      REAL NOT NULL,
        FOREIGN KEY (draft_id, revision) REFERENCES revisions(draft_id, number)
    );
    CREATE INDEX drafts_created ON drafts(created_at);
    CREATE TRIGGER drafts_immutable BEFORE UPDATE ON drafts
        BEGIN SELECT RAISE(ABORT, 'drafts are immutable'); END;
    CREATE TRIGGER drafts_no_delete BEFORE DELETE ON drafts
        BEGIN SELECT RAISE(ABORT, 'drafts are never deleted'); END;
    CREATE TRIGGER revisions_append_only BEFORE UPDATE ON revisions
        BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;
    CREATE TRIGGER revisions_no_delete BEFORE DELETE ON revisions
        BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;
    CREATE TRIGGER finalisations_append_only BEFORE UPDATE ON finalisations
        BEGIN SELECT RAISE(ABORT, 'finalisations are append-only'); END;
    CREATE TRIGGER finalisations_no_delete BEFORE DELETE ON finalisations
        BEGIN SELECT RAISE(ABORT, 'finalisations are append-only'); END;
    """,
    # 1 -> 2: each revision also keeps its grounding findings (facts the note states that the dictation does not).
    """
    ALTER TABLE revisions ADD COLUMN grounding TEXT NOT NULL DEFAULT '[]';
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
MAX_ID = 2**63 - 1  # SQLite's INTEGER; a larger id names no row (and would overflow the driver)


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


def _private_file(path: Path) -> None:
    """The database holds dictations: its folder is created 0700 and the file 0600 (SQLite gives the -wal and
    -shm files the database file's mode)."""
    missing = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):  # mkdir(parents=True) would give the parents the umask's mode, not 0700
        folder.mkdir(mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _tighten(path: Path) -> None:
    """An existing database (now known to be one) that others can read is made 0600, with its -wal/-shm."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and stat.S_IMODE(file.stat().st_mode) & 0o077:
            file.chmod(0o600)


class Store:
    def __init__(self, path: str | Path):
        """Open (creating if needed) the database at `path`. Raises StoreError with one readable line when the
        path is a folder, is not an SQLite database, or cannot be created or written."""
        self.path = str(path)
        try:
            if self.path != ":memory:":
                file = Path(self.path).expanduser()
                if file.is_dir():
                    raise StoreError(f"{file} is a folder; give a database file path such as {file / 'notedraft.sqlite'}")
                _private_file(file)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                self._migrate(db)
            if self.path != ":memory:":
                _tighten(Path(self.path).expanduser())
        except sqlite3.DatabaseError as e:
            kind = "is not an SQLite database" if "not a database" in str(e) else f"cannot be used ({e})"
            raise StoreError(f"{self.path} {kind}") from None
        except PermissionError:
            raise StoreError(f"{self.path}: permission denied (cannot create or write the database)") from None
        except OSError as e:
            raise StoreError(f"{self.path}: cannot create the database ({e.strerror or e})") from None

    # -- plumbing -------------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=10000")
        return db

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this notedraft ({SCHEMA_VERSION}); "
                    "upgrade notedraft or use another --db"
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _split_sql(MIGRATIONS[number]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={number + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def schema_version(self) -> int:
        with self._tx() as db:
            return db.execute("PRAGMA user_version").fetchone()[0]

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
    ) -> dict:
        """Store a new draft and its first revision (the generated note); return the draft as `get_draft` would."""
        now = _now()
        with self._tx(write=True) as db:
            cur = db.execute(
                "INSERT INTO drafts (created_at, created_by, source, dictation, codes, strategy, model,"
                " prompt_version, attempts, generated) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    now,
                    author,
                    source,
                    dictation,
                    json.dumps(codes_requested),
                    strategy,
                    model,
                    prompt_version,
                    json.dumps(attempts),
                    json.dumps(generated),
                ),
            )
            draft_id = cur.lastrowid
            self._insert_revision(db, draft_id, 1, None, note, codes, validation, grounding, author, now)
        return self.get_draft(draft_id)

    def _insert_revision(self, db, draft_id, number, base, note, codes, validation, grounding, author, now) -> None:
        db.execute(
            "INSERT INTO revisions (draft_id, number, base_revision, note, codes, supported, validation, grounding,"
            " author, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                draft_id,
                number,
                base,
                note,
                json.dumps(codes),
                int(bool(validation.get("supported"))),
                json.dumps(validation),
                json.dumps(grounding),
                author,
                now,
            ),
        )

    def get_draft(self, draft_id: int) -> dict:
        """The draft's inputs, its latest revision (note, codes, validation) and its finalisation, if any."""
        _check_id(draft_id)
        with self._tx() as db:
            row = db.execute("SELECT * FROM drafts WHERE id=?", (draft_id,)).fetchone()
            if row is None:
                raise NotFound(f"no draft {draft_id}")
            latest = db.execute(
                "SELECT * FROM revisions WHERE draft_id=? ORDER BY number DESC LIMIT 1", (draft_id,)
            ).fetchone()
            fin = db.execute("SELECT * FROM finalisations WHERE draft_id=?", (draft_id,)).fetchone()
        generated = json.loads(row["generated"])
        revision = _revision(latest)
        return {
            "id": row["id"],
            "created_at": row["created_at"],
            "created_by": row["created_by"],
            "source": row["source"],
            "dictation": row["dictation"],
            "codes_requested": json.loads(row["codes"]),
            "strategy": row["strategy"],
            "model": row["model"],
            "prompt_version": row["prompt_version"],
            "attempts": json.loads(row["attempts"]),
            "generated": generated,
            "queries": generated.get("queries", []),
            "revision": revision["revision"],
            "note": revision["note"],
            "codes": revision["codes"],
            "supported": revision["supported"],
            "validation": revision["validation"],
            "grounding": revision["grounding"],
            "author": revision["author"],
            "saved_at": revision["created_at"],
            "finalised": _finalisation(fin),
        }

    def list_drafts(self, limit: int = 200) -> list[dict]:
        """Newest first: id, created_at, codes, latest revision number and verdict, finalised or not."""
        with self._tx() as db:
            rows = db.execute(
                """
                SELECT d.id, d.created_at, d.created_by, d.source, d.strategy,
                       r.number, r.codes, r.supported, r.author, r.created_at AS saved_at,
                       f.created_at AS finalised_at, f.override_reason
                FROM drafts d
                JOIN revisions r ON r.draft_id = d.id
                     AND r.number = (SELECT MAX(number) FROM revisions WHERE draft_id = d.id)
                LEFT JOIN finalisations f ON f.draft_id = d.id
                ORDER BY d.id DESC LIMIT ?
                """,
                (limit,),
            ).fetchall()
        return [
            {
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
                "overridden": r["override_reason"] is not None,
            }
            for r in rows
        ]

    # -- revisions ------------------------------------------------------------------------------------------
    def revisions(self, draft_id: int) -> list[dict]:
        _check_id(draft_id)
        with self._tx() as db:
            if db.execute("SELECT 1 FROM drafts WHERE id=?", (draft_id,)).fetchone() is None:
                raise NotFound(f"no draft {draft_id}")
            rows = db.execute("SELECT * FROM revisions WHERE draft_id=? ORDER BY number", (draft_id,)).fetchall()
        return [_revision(r) for r in rows]

    def revision(self, draft_id: int, number: int) -> dict:
        _check_id(draft_id, number)
        with self._tx() as db:
            row = db.execute("SELECT * FROM revisions WHERE draft_id=? AND number=?", (draft_id, number)).fetchone()
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
        """Append revision `base_revision + 1`; raise Conflict if the draft has moved on or is finalised."""
        with self._tx(write=True) as db:
            latest = _latest_revision(db, draft_id)
            if db.execute("SELECT 1 FROM finalisations WHERE draft_id=?", (draft_id,)).fetchone():
                raise Conflict(f"draft {draft_id} is finalised; it takes no more revisions", latest)
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
            row = db.execute("SELECT * FROM revisions WHERE draft_id=? AND number=?", (draft_id, number)).fetchone()
        return _revision(row)

    # -- finalisation -----------------------------------------------------------------------------------------
    def finalise(
        self, draft_id: int, *, revision: int, validation: dict, author: str, override_reason: str | None
    ) -> dict:
        """Finalise `revision`, which must be the latest; an unsupported note needs an override reason."""
        reason = (override_reason or "").strip() or None
        supported = bool(validation.get("supported"))
        if not supported and reason is None:
            raise NotSupported(
                "the note does not support its code lines; fix the findings or give an override reason"
            )
        with self._tx(write=True) as db:
            latest = _latest_revision(db, draft_id)
            if db.execute("SELECT 1 FROM finalisations WHERE draft_id=?", (draft_id,)).fetchone():
                raise Conflict(f"draft {draft_id} is already finalised", latest)
            if revision != latest["revision"]:
                raise Conflict(
                    f"draft {draft_id} is at revision {latest['revision']}, not {revision}; "
                    "review the latest revision before finalising",
                    latest,
                )
            first = db.execute("SELECT note FROM revisions WHERE draft_id=? AND number=1", (draft_id,)).fetchone()
            stats = edit_stats(first["note"], latest["note"])
            db.execute(
                "INSERT INTO finalisations (draft_id, revision, supported, override_reason, validation, author,"
                " created_at, edit_distance, first_words, final_words, edit_ratio) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    draft_id,
                    revision,
                    int(supported),
                    None if supported else reason,
                    json.dumps(validation),
                    author,
                    _now(),
                    stats["edit_distance"],
                    stats["first_words"],
                    stats["final_words"],
                    stats["edit_ratio"],
                ),
            )
            fin = db.execute("SELECT * FROM finalisations WHERE draft_id=?", (draft_id,)).fetchone()
        return _finalisation(fin)

    # -- metrics --------------------------------------------------------------------------------------------
    def edit_cases(self) -> list[dict]:
        """One row per finalised draft: its inputs, the first draft, the final note and the edit statistics."""
        with self._tx() as db:
            rows = db.execute(
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
            ).fetchall()
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


def _split_sql(script: str) -> list[str]:
    """Statements of a migration script; triggers keep their inner `;` (they end with `END;`)."""
    statements, current = [], []
    for line in script.splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text and sqlite3.complete_statement(text):
            statements.append(text)
            current = []
    rest = "\n".join(current).strip()
    if rest:
        statements.append(rest)
    return statements


def _latest_revision(db: sqlite3.Connection, draft_id: int) -> dict:
    """The draft's newest revision; NotFound when there is no such draft."""
    _check_id(draft_id)
    if db.execute("SELECT 1 FROM drafts WHERE id=?", (draft_id,)).fetchone() is None:
        raise NotFound(f"no draft {draft_id}")
    row = db.execute("SELECT * FROM revisions WHERE draft_id=? ORDER BY number DESC LIMIT 1", (draft_id,)).fetchone()
    return _revision(row)


def _revision(row: sqlite3.Row) -> dict:
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


def _finalisation(row: sqlite3.Row | None) -> dict | None:
    if row is None:
        return None
    return {
        "revision": row["revision"],
        "supported": bool(row["supported"]),
        "override_reason": row["override_reason"],
        "validation": json.loads(row["validation"]),
        "author": row["author"],
        "created_at": row["created_at"],
        "edit_distance": row["edit_distance"],
        "first_words": row["first_words"],
        "final_words": row["final_words"],
        "edit_ratio": row["edit_ratio"],
    }
