"""The two databases the editor's store runs on, behind one small interface.

- SQLite (the embedded default): a file, WAL journal, foreign keys on, a busy timeout; a write transaction is
  `BEGIN IMMEDIATE`, so writers take turns.
- PostgreSQL (`NOTEDRAFT_DB=postgresql://…`, several editor processes on several hosts): psycopg 3, a small pool
  of connections; a write transaction that touches a draft locks that draft's row (`lock_draft`), so two
  processes saving, signing or answering on one draft take turns there too, and the revisions' primary key
  refuses a second save from the same base even if they did not.

The store writes its SQL once, with `?` placeholders; the PostgreSQL side turns them into `%s`. Rows come back
as mappings on both (`row["column"]`). Migrations (schema.py) run in one transaction under a lock, so two
processes starting at once do not both migrate.

One request, one transaction (`Database.unit()`): inside a unit, the first write opens the unit's transaction
(SQLite `BEGIN IMMEDIATE`, so the lock is taken only once there is something to write) and every later `tx()` of
the same request runs in it as a SAVEPOINT, reads included, so the request sees its own writes. The unit commits
when the request ends and rolls everything back when it fails: a draft that cannot be stored leaves no encounter
behind. A statement that fails inside a savepoint (a lost race on a revision number) rolls back only that
savepoint, so PostgreSQL's "current transaction is aborted" never spreads to the rest of the request.
"""

from __future__ import annotations

import contextvars
import os
import queue
import re
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


from . import schema


class DatabaseError(Exception):
    """The database refused a statement: a guarantee held (append-only, locked when signed, one save per base)."""

    def __init__(self, message: str, *, duplicate: bool = False):
        super().__init__(message)
        self.duplicate = duplicate  # a primary-key/unique violation: someone else wrote that row first


class Keep(Exception):
    """Raised through `Database.unit()`: commit what the unit wrote, then let `error` reach the caller."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class OpenError(Exception):
    """The database cannot be opened; one readable line, no secret (a URL's password is never repeated)."""


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def open_database(target: str | Path) -> "Database":
    target = str(target)
    if is_postgres_url(target):
        return Postgres(target)
    return SQLite(target)


class _Unit:
    """The open transaction of one request (see the module docstring); `tx` is None until the first write."""

    def __init__(self):
        self.tx = None
        self.conn = None
        self.savepoints = 0


_UNIT: contextvars.ContextVar[_Unit | None] = contextvars.ContextVar("notedraft_unit", default=None)
# The transaction open in this context outside a unit: a store method that calls another inside its transaction
# (a write that returns the row it wrote) reads in the same transaction, as a savepoint.
_CURRENT: contextvars.ContextVar = contextvars.ContextVar("notedraft_tx", default=None)


class Database:
    kind: str
    label: str  # what to call it in messages (a path, or a URL without its password)

    def _transaction(self, write: bool):  # pragma: no cover - interface
        raise NotImplementedError

    def _begin_unit(self, unit: _Unit) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _end_unit(self, unit: _Unit, commit: bool) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    @contextmanager
    def tx(self, write: bool = False):
        """A transaction; inside a unit that has written (or is writing now), a savepoint of the unit's."""
        unit = _UNIT.get()
        if unit is not None and (unit.tx is not None or write):
            if unit.tx is None:
                self._begin_unit(unit)
            target, counter = unit.tx, unit
        else:
            target = _CURRENT.get()
            if target is None:
                with self._transaction(write) as t:
                    t.savepoints = 0
                    token = _CURRENT.set(t)
                    try:
                        yield t
                    finally:
                        _CURRENT.reset(token)
                return
            counter = target
        counter.savepoints += 1
        name = f"nd_sp{counter.savepoints}"
        target.execute_raw(f"SAVEPOINT {name}")
        try:
            yield target
        except BaseException:
            target.execute_raw(f"ROLLBACK TO SAVEPOINT {name}")
            target.execute_raw(f"RELEASE SAVEPOINT {name}")
            raise
        target.execute_raw(f"RELEASE SAVEPOINT {name}")

    @contextmanager
    def unit(self):
        """Everything the block writes commits together at its end, or not at all if it raises.

        `Keep` raised from the block commits what was written and re-raises the exception it carries (a failed
        login is recorded although the request answers 401)."""
        if _UNIT.get() is not None:  # already in one: the outer unit decides
            yield
            return
        unit = _Unit()
        token = _UNIT.set(unit)
        try:
            try:
                yield
            except Keep:
                if unit.tx is not None:
                    self._end_unit(unit, commit=True)
                raise
            except BaseException:
                if unit.tx is not None:
                    self._end_unit(unit, commit=False)
                raise
            if unit.tx is not None:
                self._end_unit(unit, commit=True)
        finally:
            _UNIT.reset(token)

    def lock_draft(self, db, draft_id: int) -> None:
        """Serialise writers on one draft (SQLite's IMMEDIATE transaction already does)."""

    def close(self) -> None:
        pass


class _SQLiteTx:
    """A transaction: `execute(sql, params)` returns a cursor; `one`/`all` fetch rows."""

    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql: str, params: tuple | list = ()):
        try:
            return self.conn.execute(sql, params)
        except sqlite3.IntegrityError as e:
            text = str(e)
            raise DatabaseError(text, duplicate=text.startswith("UNIQUE constraint failed")) from None

    def execute_raw(self, sql: str) -> None:
        self.conn.execute(sql)

    def one(self, sql: str, params: tuple | list = ()):
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple | list = ()):
        return self.execute(sql, params).fetchall()


class SQLite(Database):
    kind = "sqlite"

    def __init__(self, path: str):
        self.path = path
        self.label = path
        try:
            if path != ":memory:":
                file = Path(path).expanduser()
                if file.is_dir():
                    raise OpenError(f"{file} is a folder; give a database file path such as {file / 'notedraft.sqlite'}")
                _private_file(file)
            conn = self._connect()
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                self._migrate(conn)
            finally:
                conn.close()
            if path != ":memory:":
                _tighten(Path(path).expanduser())
        except sqlite3.DatabaseError as e:
            kind = "is not an SQLite database" if "not a database" in str(e) else f"cannot be used ({e})"
            raise OpenError(f"{path} {kind}") from None
        except PermissionError:
            raise OpenError(f"{path}: permission denied (cannot create or write the database)") from None
        except OSError as e:
            raise OpenError(f"{path}: cannot create the database ({e.strerror or e})") from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _begin_unit(self, unit: _Unit) -> None:
        unit.conn = self._connect()
        unit.conn.execute("BEGIN IMMEDIATE")
        unit.tx = _SQLiteTx(unit.conn)

    def _end_unit(self, unit: _Unit, commit: bool) -> None:
        try:
            unit.conn.execute("COMMIT" if commit else "ROLLBACK")
        finally:
            unit.conn.close()

    @contextmanager
    def _transaction(self, write: bool = False) -> Iterator[_SQLiteTx]:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield _SQLiteTx(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > schema.VERSION:
                raise OpenError(
                    f"{self.path} has schema version {version}, newer than this notedraft ({schema.VERSION}); "
                    "upgrade notedraft or use another --db"
                )
            for number in range(version, schema.VERSION):
                for statement in _split_sql(schema.SQLITE[number]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def schema_version(self) -> int:
        with self.tx() as db:
            return db.one("PRAGMA user_version")[0]


class _PostgresTx:
    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql: str, params: tuple | list = ()):
        import psycopg

        try:
            return self.conn.execute(_pg_sql(sql), params or None)
        except psycopg.errors.UniqueViolation as e:
            raise DatabaseError(_pg_message(e), duplicate=True) from None
        except psycopg.errors.IntegrityError as e:
            raise DatabaseError(_pg_message(e)) from None

    def execute_raw(self, sql: str) -> None:
        self.conn.execute(sql)

    def one(self, sql: str, params: tuple | list = ()):
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple | list = ()):
        return self.execute(sql, params).fetchall()


_PLACEHOLDER = re.compile(r"\?")


def _pg_sql(sql: str) -> str:
    # The store's SQL has no literal '?' or '%': every value travels as a parameter.
    return _PLACEHOLDER.sub("%s", sql)


def _pg_message(e) -> str:
    diag = getattr(e, "diag", None)
    return (getattr(diag, "message_primary", None) or str(e)).strip()


class Postgres(Database):
    kind = "postgres"
    POOL = 8
    # A pooled connection idle this long is pinged before use: the server may have restarted, or a proxy or
    # firewall dropped it, and the request that picks it up must not be the one that finds out.
    PING_AFTER = 30.0
    MIGRATION_LOCK = 0x6E6F7465  # "note": an advisory lock id only notedraft's migrations take

    def __init__(self, url: str):
        self.url = url
        self.label = redact(url)
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise OpenError(
                "PostgreSQL needs psycopg: pip install 'notedraft[practice]' (or pip install 'psycopg[binary]')"
            ) from None
        self._idle: queue.LifoQueue = queue.LifoQueue(maxsize=self.POOL)
        try:
            with self.tx(write=True) as db:
                self._migrate(db)
        except OpenError:
            raise
        except Exception as e:  # psycopg.OperationalError and friends: say which server, never the password
            raise OpenError(f"{self.label}: cannot use the PostgreSQL database ({_first_line(e)})") from None

    def _connect(self):
        import psycopg
        from psycopg.rows import dict_row

        return psycopg.connect(self.url, row_factory=dict_row, connect_timeout=10, autocommit=False)

    def _get(self):
        while True:
            try:
                conn, since = self._idle.get_nowait()
            except queue.Empty:
                return self._connect()
            if not conn.closed and not conn.broken and conn.info.transaction_status == 0 and self._alive(conn, since):
                return conn
            conn.close()

    def _alive(self, conn, since: float) -> bool:
        if time.monotonic() - since < self.PING_AFTER:
            return True
        try:
            conn.execute("SELECT 1")
            conn.rollback()
            return True
        except Exception:
            return False

    def _put(self, conn) -> None:
        try:
            self._idle.put_nowait((conn, time.monotonic()))
        except queue.Full:
            conn.close()

    def _begin_unit(self, unit: _Unit) -> None:
        unit.conn = self._get()
        unit.tx = _PostgresTx(unit.conn)

    def _end_unit(self, unit: _Unit, commit: bool) -> None:
        conn = unit.conn
        try:
            conn.commit() if commit else conn.rollback()
        except Exception:
            conn.close()
            raise
        finally:
            if not conn.closed:
                self._put(conn)

    @contextmanager
    def _transaction(self, write: bool = False) -> Iterator[_PostgresTx]:
        conn = self._get()
        ok = False
        try:
            yield _PostgresTx(conn)
            conn.commit()
            ok = True
        finally:
            if not ok:
                try:
                    conn.rollback()
                except Exception:
                    conn.close()
            if not conn.closed:
                self._put(conn)

    def lock_draft(self, db: _PostgresTx, draft_id: int) -> None:
        db.execute("SELECT id FROM drafts WHERE id=? FOR UPDATE", (draft_id,))

    def _migrate(self, db: _PostgresTx) -> None:
        db.execute("SELECT pg_advisory_xact_lock(?)", (self.MIGRATION_LOCK,))
        db.execute("CREATE TABLE IF NOT EXISTS notedraft_schema (version INTEGER NOT NULL)")
        row = db.one("SELECT version FROM notedraft_schema")
        if row is None:
            db.execute("INSERT INTO notedraft_schema (version) VALUES (0)")
            version = 0
        else:
            version = row["version"]
        if version > schema.VERSION:
            raise OpenError(
                f"{self.label} has schema version {version}, newer than this notedraft ({schema.VERSION}); "
                "upgrade notedraft or use another database"
            )
        for number in range(version, schema.VERSION):
            db.conn.execute(schema.POSTGRES[number])  # no parameters: psycopg runs the whole script
            db.execute("UPDATE notedraft_schema SET version=?", (number + 1,))

    def schema_version(self) -> int:
        with self.tx() as db:
            return db.one("SELECT version FROM notedraft_schema")["version"]

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait()[0].close()
            except queue.Empty:
                return


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return redact(text[0]) if text else type(e).__name__


def _split_sql(script: str) -> list[str]:
    """Statements of an SQLite migration script; triggers keep their inner `;` (they end with `END;`)."""
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

