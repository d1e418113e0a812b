"""The editor's schema, as migrations for both backends.

`SQLITE[i]` and `POSTGRES[i]` take a database from version i to i + 1; both lists always have the same length and
describe the same tables, columns and guarantees. Append only: never edit a migration that has shipped.

The guarantees live in the database, not only in Python, so a second editor process (or a hand-typed SQL
statement) cannot break them:
- drafts, encounters, revisions, submissions, finalisations (signatures), addenda, queries, answers and the access
  log are append-only (UPDATE and DELETE abort);
- a signed draft takes no more revisions (only addenda), and an addendum needs a signature;
- (draft_id, number) is the revisions' primary key, so of two saves from the same base revision only one can land;
- (v5) an encounter is corrected by appending a version (never after sign-off); a voided draft takes no revision,
  submission, query or signature, and a signed one cannot be voided; a coding follows a signature; corrections,
  assignments, voids, query closures and codings are append-only.
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


# 4 -> 5 (issue 19): patient identity and corrections (encounter versions), edit rights by assignment, voids,
# closed questions and answer rounds, resubmission after answers, the coder's "coded" mark, login failures shared
# by every process, idle sessions, TOTP, API tokens, access-log detail.
_V5_TABLES = """
CREATE TABLE encounter_versions (              -- every version of an encounter; the latest is the encounter
    encounter_id     BIGINT NOT NULL REFERENCES encounters(id),
    version          INTEGER NOT NULL CHECK (version >= 1),
    mrn              TEXT NOT NULL,
    patient_name     TEXT NOT NULL DEFAULT '',
    patient_dob      TEXT,                     -- YYYY-MM-DD
    patient_search   TEXT NOT NULL DEFAULT '', -- MRN and name casefolded in Python: one search on both backends
    date_of_service  TEXT NOT NULL,
    physician_id     BIGINT NOT NULL REFERENCES users(id),
    place_of_service TEXT NOT NULL CHECK (place_of_service IN ('office', 'asc', 'hospital_outpatient')),
    payer            TEXT NOT NULL CHECK (payer IN ('none', 'medicare', 'commercial')),
    reason           TEXT,                     -- why it was corrected (NULL for version 1)
    author           TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (encounter_id, version)
);
INSERT INTO encounter_versions (encounter_id, version, mrn, patient_search, date_of_service, physician_id,
                                place_of_service, payer, author, created_at)
    SELECT id, 1, mrn, LOWER(mrn), date_of_service, physician_id, place_of_service, payer, created_by, created_at
    FROM encounters;
CREATE TABLE assignments (                     -- who may edit an encounter's note besides its physician
    id           {id},
    encounter_id BIGINT NOT NULL REFERENCES encounters(id),
    username     TEXT NOT NULL,
    assigned     INTEGER NOT NULL,             -- 1 assigned, 0 unassigned (the latest row per person holds)
    author       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
INSERT INTO assignments (encounter_id, username, assigned, author, created_at)
    SELECT id, created_by, 1, created_by, created_at FROM encounters;
CREATE TABLE voids (
    draft_id   BIGINT PRIMARY KEY REFERENCES drafts(id),
    reason     TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE query_closures (                  -- a question closed without an answer (signed, voided, reassigned)
    query_id   BIGINT PRIMARY KEY REFERENCES queries(id),
    draft_id   BIGINT NOT NULL REFERENCES drafts(id),
    reason     TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE codings (                         -- the coder's mark: coded, by whom, when
    draft_id   BIGINT PRIMARY KEY REFERENCES finalisations(draft_id),
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE login_failures (                  -- shared by every editor process; old rows are pruned
    id       {id},
    at       DOUBLE PRECISION NOT NULL,        -- epoch seconds
    username TEXT,                             -- the account tried (lower-cased), NULL for a token login
    client   TEXT NOT NULL,
    cleared  INTEGER NOT NULL DEFAULT 0        -- 1 after a good login of that account: no longer the account's
);
CREATE TABLE api_tokens (
    id           {id},
    user_id      BIGINT NOT NULL REFERENCES users(id),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,         -- sha256 of the token: a stolen database holds no usable token
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    created_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
);
ALTER TABLE queries ADD COLUMN kind TEXT NOT NULL DEFAULT 'procedure' CHECK (kind IN ('history', 'procedure'));
ALTER TABLE answers ADD COLUMN round INTEGER;
ALTER TABLE submissions ADD COLUMN cause TEXT NOT NULL DEFAULT 'submit';
ALTER TABLE sessions ADD COLUMN last_seen DOUBLE PRECISION;
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE access_log ADD COLUMN detail TEXT;
CREATE INDEX encounter_versions_search ON encounter_versions(patient_search);
CREATE INDEX assignments_encounter ON assignments(encounter_id);
CREATE INDEX login_failures_user ON login_failures(username, at);
CREATE INDEX login_failures_client ON login_failures(client, at);
CREATE INDEX api_tokens_user ON api_tokens(user_id);
"""
_V5_APPEND_ONLY = ("encounter_versions", "assignments", "voids", "query_closures", "codings")

_SQLITE_V5 = (
    _V5_TABLES.format(id="INTEGER PRIMARY KEY AUTOINCREMENT").replace("BIGINT", "INTEGER")
    + "".join(_sqlite_append_only(t) for t in _V5_APPEND_ONLY)
    + """
CREATE TRIGGER revisions_not_when_voided BEFORE INSERT ON revisions
    WHEN EXISTS (SELECT 1 FROM voids WHERE draft_id = NEW.draft_id)
    BEGIN SELECT RAISE(ABORT, 'the draft is voided'); END;
CREATE TRIGGER submissions_not_when_voided BEFORE INSERT ON submissions
    WHEN EXISTS (SELECT 1 FROM voids WHERE draft_id = NEW.draft_id)
    BEGIN SELECT RAISE(ABORT, 'the draft is voided'); END;
CREATE TRIGGER queries_not_when_voided BEFORE INSERT ON queries
    WHEN EXISTS (SELECT 1 FROM voids WHERE draft_id = NEW.draft_id)
    BEGIN SELECT RAISE(ABORT, 'the draft is voided'); END;
CREATE TRIGGER finalisations_not_when_voided BEFORE INSERT ON finalisations
    WHEN EXISTS (SELECT 1 FROM voids WHERE draft_id = NEW.draft_id)
    BEGIN SELECT RAISE(ABORT, 'the draft is voided'); END;
CREATE TRIGGER voids_not_when_signed BEFORE INSERT ON voids
    WHEN EXISTS (SELECT 1 FROM finalisations WHERE draft_id = NEW.draft_id)
    BEGIN SELECT RAISE(ABORT, 'a signed note is not voided: add an addendum'); END;
CREATE TRIGGER encounter_versions_not_when_signed BEFORE INSERT ON encounter_versions
    WHEN NEW.version > 1 AND EXISTS (SELECT 1 FROM finalisations f JOIN drafts d ON d.id = f.draft_id
                                     WHERE d.encounter_id = NEW.encounter_id)
    BEGIN SELECT RAISE(ABORT, 'the note is signed: the encounter is no longer corrected'); END;
"""
)

_PG_V5 = (
    _V5_TABLES.format(id="BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    + "".join(_pg_append_only(t) for t in _V5_APPEND_ONLY)
    + """
CREATE FUNCTION notedraft_not_voided() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM voids WHERE draft_id = NEW.draft_id) THEN
        RAISE EXCEPTION 'the draft is voided' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER revisions_not_when_voided BEFORE INSERT ON revisions
    FOR EACH ROW EXECUTE FUNCTION notedraft_not_voided();
CREATE TRIGGER submissions_not_when_voided BEFORE INSERT ON submissions
    FOR EACH ROW EXECUTE FUNCTION notedraft_not_voided();
CREATE TRIGGER queries_not_when_voided BEFORE INSERT ON queries
    FOR EACH ROW EXECUTE FUNCTION notedraft_not_voided();
CREATE TRIGGER finalisations_not_when_voided BEFORE INSERT ON finalisations
    FOR EACH ROW EXECUTE FUNCTION notedraft_not_voided();
CREATE FUNCTION notedraft_void_unsigned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM finalisations WHERE draft_id = NEW.draft_id) THEN
        RAISE EXCEPTION 'a signed note is not voided: add an addendum' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER voids_not_when_signed BEFORE INSERT ON voids
    FOR EACH ROW EXECUTE FUNCTION notedraft_void_unsigned();
CREATE FUNCTION notedraft_encounter_unsigned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version > 1 AND EXISTS (SELECT 1 FROM finalisations f JOIN drafts d ON d.id = f.draft_id
                                   WHERE d.encounter_id = NEW.encounter_id) THEN
        RAISE EXCEPTION 'the note is signed: the encounter is no longer corrected'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER encounter_versions_not_when_signed BEFORE INSERT ON encounter_versions
    FOR EACH ROW EXECUTE FUNCTION notedraft_encounter_unsigned();
"""
)
SQLITE.append(_SQLITE_V5)
POSTGRES.append(_PG_V5)

assert len(SQLITE) == len(POSTGRES)
VERSION = len(SQLITE)
