"""The editor's schema, as migrations for both backends.

`SQLITE[i]` and `POSTGRES[i]` take a database from version i to i + 1; both lists always have the same length and
describe the same tables, columns and guarantees. Append only: never edit a migration that has shipped.

The guarantees live in the database, not only in Python, so a second editor process (or a hand-typed SQL
statement) cannot break them:
- drafts, encounters, revisions, submissions, finalisations (signatures), addenda, queries, answers and the access
  log are append-only (UPDATE and DELETE abort);
- a signed draft takes no more revisions (only addenda), and an addendum needs a signature;
- (draft_id, number) is the revisions' primary key, so of two saves from the same base revision only one can land.
"""

from __future__ import annotations

_SQLITE_V1 = """
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
"""


def _sqlite_append_only(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table}\n"
        f"    BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END;\n"
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}\n"
        f"    BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END;\n"
    )


_PRACTICE_TABLES = """
CREATE TABLE users (
    id            {id},
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('physician', 'scribe', 'coder', 'admin')),
    npi           TEXT,
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL
);
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,                -- sha256 of the cookie's secret: a stolen database holds no cookie
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,       -- epoch seconds
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE encounters (
    id               {id},
    mrn              TEXT NOT NULL,
    date_of_service  TEXT NOT NULL,             -- YYYY-MM-DD
    physician_id     INTEGER NOT NULL REFERENCES users(id),
    place_of_service TEXT NOT NULL CHECK (place_of_service IN ('office', 'asc', 'hospital_outpatient')),
    payer            TEXT NOT NULL CHECK (payer IN ('none', 'medicare', 'commercial')),
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
ALTER TABLE drafts ADD COLUMN encounter_id INTEGER REFERENCES encounters(id);
ALTER TABLE finalisations ADD COLUMN attestation TEXT;
ALTER TABLE finalisations ADD COLUMN overrides TEXT NOT NULL DEFAULT '[]';
CREATE TABLE submissions (
    id         {id},
    draft_id   INTEGER NOT NULL REFERENCES drafts(id),
    revision   INTEGER NOT NULL,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    FOREIGN KEY (draft_id, revision) REFERENCES revisions(draft_id, number)
);
CREATE TABLE queries (
    id         {id},
    draft_id   INTEGER NOT NULL REFERENCES drafts(id),
    revision   INTEGER NOT NULL,
    rule       TEXT NOT NULL,
    question   TEXT NOT NULL,
    sent_by    TEXT NOT NULL,
    sent_to    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE answers (
    query_id   INTEGER PRIMARY KEY REFERENCES queries(id),   -- one answer per query, ever
    draft_id   INTEGER NOT NULL REFERENCES drafts(id),
    text       TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE addenda (
    id         {id},
    draft_id   INTEGER NOT NULL REFERENCES finalisations(draft_id),
    text       TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE access_log (                       -- who did what to which record; never any note text
    id           {id},
    at           TEXT NOT NULL,
    username     TEXT NOT NULL,
    action       TEXT NOT NULL,
    draft_id     INTEGER,
    encounter_id INTEGER,
    client       TEXT
);
CREATE INDEX encounters_dos ON encounters(date_of_service);
CREATE INDEX encounters_mrn ON encounters(mrn);
CREATE INDEX drafts_encounter ON drafts(encounter_id);
CREATE INDEX queries_to ON queries(sent_to);
CREATE INDEX queries_draft ON queries(draft_id);
CREATE INDEX access_log_at ON access_log(at);
"""

_APPEND_ONLY = ("encounters", "submissions", "queries", "answers", "addenda", "access_log")

# Not part of the record: a job's status changes (queued, running, done) and old rows are pruned.
_JOBS = """
CREATE TABLE jobs (
    id         TEXT PRIMARY KEY,
    status     TEXT NOT NULL,                   -- JSON: what GET /api/jobs/{id} answers
    cancel     INTEGER NOT NULL DEFAULT 0,      -- asked to cancel (on any process)
    updated_at DOUBLE PRECISION NOT NULL        -- epoch seconds
);
"""

_SQLITE_V3 = (
    _PRACTICE_TABLES.format(id="INTEGER PRIMARY KEY AUTOINCREMENT")
    + "".join(_sqlite_append_only(t) for t in _APPEND_ONLY)
    + """
CREATE TRIGGER revisions_locked_when_signed BEFORE INSERT ON revisions
    WHEN EXISTS (SELECT 1 FROM finalisations WHERE draft_id = NEW.draft_id)
    BEGIN SELECT RAISE(ABORT, 'the note is signed: changes are addenda'); END;
CREATE TRIGGER addenda_need_signature BEFORE INSERT ON addenda
    WHEN NOT EXISTS (SELECT 1 FROM finalisations WHERE draft_id = NEW.draft_id)
    BEGIN SELECT RAISE(ABORT, 'an addendum follows a signature'); END;
"""
)

SQLITE: list[str] = [
    _SQLITE_V1,
    # 1 -> 2: each revision also keeps its grounding findings (facts the note states that the dictation does not).
    "ALTER TABLE revisions ADD COLUMN grounding TEXT NOT NULL DEFAULT '[]';",
    # 2 -> 3: the practice: accounts, sessions, encounters, sign-off, queries and answers, addenda, access log.
    _SQLITE_V3,
    # 3 -> 4: background LLM drafts' status, so any editor process can answer for a job another one runs.
    _JOBS,
]


def _pg_append_only(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}\n"
        f"    FOR EACH ROW EXECUTE FUNCTION notedraft_refuse('{table} are append-only');\n"
    )


_PG_V1 = (
    """
CREATE FUNCTION notedraft_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END $$;
"""
    + _SQLITE_V1.split("CREATE TRIGGER")[0]
    .replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    .replace("INTEGER NOT NULL REFERENCES drafts(id)", "BIGINT NOT NULL REFERENCES drafts(id)")
    .replace("draft_id        INTEGER PRIMARY KEY", "draft_id        BIGINT PRIMARY KEY")
    + "".join(_pg_append_only(t) for t in ("drafts", "revisions", "finalisations"))
)

_PG_V3 = (
    _PRACTICE_TABLES.format(id="BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    .replace("INTEGER NOT NULL REFERENCES", "BIGINT NOT NULL REFERENCES")
    .replace("INTEGER PRIMARY KEY REFERENCES", "BIGINT PRIMARY KEY REFERENCES")
    .replace("encounter_id INTEGER", "encounter_id BIGINT")
    + "".join(_pg_append_only(t) for t in _APPEND_ONLY)
    + """
CREATE FUNCTION notedraft_revision_unlocked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM finalisations WHERE draft_id = NEW.draft_id) THEN
        RAISE EXCEPTION 'the note is signed: changes are addenda' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER revisions_locked_when_signed BEFORE INSERT ON revisions
    FOR EACH ROW EXECUTE FUNCTION notedraft_revision_unlocked();
"""
)
# addenda.draft_id REFERENCES finalisations(draft_id) already makes "an addendum follows a signature" a foreign key
# on PostgreSQL (SQLite's trigger says it in words).

POSTGRES: list[str] = [
    _PG_V1,
    "ALTER TABLE revisions ADD COLUMN grounding TEXT NOT NULL DEFAULT '[]';",
    _PG_V3,
    _JOBS,
]

assert len(SQLITE) == len(POSTGRES)
VERSION = len(SQLITE)
