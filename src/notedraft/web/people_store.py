"""The store's tables about people: accounts, sessions (with an idle limit), login failures, TOTP and API tokens.

A mixin of `Store` (store.py): every method runs in `self._tx()`, so inside a request it is part of the request's
one transaction. Secrets are kept only as SHA-256 hashes (sessions, API tokens); a TOTP secret has to be usable to
check a code, so it is stored as given (the database is the record and is protected as such), and the last time
step used is stored with it so a code is accepted once, on any process.
"""

from __future__ import annotations

from datetime import UTC, datetime


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class NotFoundError(Exception):
    pass


def _user(row) -> dict:
    keys = row.keys() if hasattr(row, "keys") else row
    return {"id": row["id"], "username": row["username"], "display_name": row["display_name"], "role": row["role"],
            "npi": row["npi"], "active": bool(row["active"]), "created_at": row["created_at"],
            "totp": bool(row["totp_secret"]) if "totp_secret" in keys else False}


class PeopleStore:
    # -- accounts -------------------------------------------------------------------------------------------
    def add_user(self, *, username: str, display_name: str, role: str, password_hash: str, npi: str | None = None) -> dict:
        from .store import ROLES, StoreError

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
        from .store import NotFound

        with self._tx() as db:
            row = db.one("SELECT * FROM users WHERE id=?", (user_id,))
        if row is None:
            raise NotFound(f"no account {user_id}")
        return _user(row)

    def user_by_name(self, username: str) -> dict | None:
        """The account with its password hash and TOTP state (for logging in), or None."""
        with self._tx() as db:
            row = db.one("SELECT * FROM users WHERE username=?", (username,))
        if row is None:
            return None
        return {**_user(row), "password_hash": row["password_hash"], "totp_secret": row["totp_secret"],
                "totp_pending": row["totp_pending"], "totp_last_step": row["totp_last_step"]}

    def users(self) -> list[dict]:
        with self._tx() as db:
            return [_user(r) for r in db.all("SELECT * FROM users ORDER BY role, username")]

    def count_users(self) -> int:
        with self._tx() as db:
            return db.one("SELECT COUNT(*) AS n FROM users")["n"]

    def set_password(self, username: str, password_hash: str, *, keep_session: str | None = None,
                     revoke_tokens: bool = False, end_sessions: bool = True) -> None:
        """A new password ends the account's sessions (all but `keep_session`, the hash of the one changing it)."""
        from .store import NotFound

        with self._tx(write=True) as db:
            if db.execute("UPDATE users SET password_hash=? WHERE username=?", (password_hash, username)).rowcount != 1:
                raise NotFound(f"no account named {username!r}")
            if end_sessions:  # (a re-hash of the same password at login ends nothing)
                db.execute("UPDATE sessions SET revoked=1 WHERE user_id=(SELECT id FROM users WHERE username=?)"
                           " AND id <> ?", (username, keep_session or ""))
            if revoke_tokens:
                db.execute("UPDATE api_tokens SET revoked_at=? WHERE revoked_at IS NULL AND"
                           " user_id=(SELECT id FROM users WHERE username=?)", (_now(), username))

    def set_active(self, username: str, active: bool) -> None:
        from .store import NotFound

        with self._tx(write=True) as db:
            if db.execute("UPDATE users SET active=? WHERE username=?", (int(active), username)).rowcount != 1:
                raise NotFound(f"no account named {username!r}")
            if not active:
                db.execute("UPDATE sessions SET revoked=1 WHERE user_id=(SELECT id FROM users WHERE username=?)",
                           (username,))

    # -- TOTP -----------------------------------------------------------------------------------------------
    def set_totp_pending(self, username: str, secret: str | None) -> None:
        with self._tx(write=True) as db:
            db.execute("UPDATE users SET totp_pending=? WHERE username=?", (secret, username))

    def enable_totp(self, username: str, secret: str, step: int) -> None:
        with self._tx(write=True) as db:
            db.execute("UPDATE users SET totp_secret=?, totp_pending=NULL, totp_last_step=? WHERE username=?",
                       (secret, step, username))

    def disable_totp(self, username: str) -> None:
        with self._tx(write=True) as db:
            db.execute("UPDATE users SET totp_secret=NULL, totp_pending=NULL WHERE username=?", (username,))

    def use_totp_step(self, username: str, step: int) -> bool:
        """Record that the code of time step `step` was used; False if it (or a later one) already was — the
        same code sent twice, to one process or two, is accepted once."""
        with self._tx(write=True) as db:
            return db.execute("UPDATE users SET totp_last_step=? WHERE username=? AND totp_last_step < ?",
                              (step, username, step)).rowcount == 1

    # -- sessions -------------------------------------------------------------------------------------------
    def add_session(self, session_hash: str, user_id: int, expires_at: float, now: float | None = None) -> None:
        import time

        with self._tx(write=True) as db:
            db.execute("INSERT INTO sessions (id, user_id, created_at, expires_at, revoked, last_seen)"
                       " VALUES (?,?,?,?,0,?)", (session_hash, user_id, _now(), expires_at, now or time.time()))

    def session_user(self, session_hash: str, now: float, idle: float | None = None) -> dict | None:
        """The active account behind an unexpired, unrevoked session that has been used within `idle` seconds; a
        use is recorded (at most once a minute, so a busy page does not write on every request)."""
        with self._tx() as db:
            row = db.one(
                "SELECT u.*, s.last_seen FROM sessions s JOIN users u ON u.id = s.user_id"
                " WHERE s.id=? AND s.revoked=0 AND s.expires_at > ? AND u.active=1",
                (session_hash, now),
            )
        if row is None:
            return None
        last = row["last_seen"]
        if idle is not None and last is not None and now - last > idle:
            return None
        if last is None or now - last > 60:
            with self._tx(write=True) as db:
                db.execute("UPDATE sessions SET last_seen=? WHERE id=?", (now, session_hash))
        return _user(row)

    def revoke_session(self, session_hash: str, now: float) -> None:
        with self._tx(write=True) as db:
            db.execute("UPDATE sessions SET revoked=1 WHERE id=?", (session_hash,))
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now - 86400,))  # expired a day ago: forget

    # -- login failures (per account and per address, shared by every process) -----------------------------
    def record_login_failure(self, username: str | None, client: str, at: float) -> None:
        with self._tx(write=True) as db:
            db.execute("INSERT INTO login_failures (at, username, client) VALUES (?,?,?)", (at, username, client))
            db.execute("DELETE FROM login_failures WHERE at < ?", (at - 86400,))

    def login_failures(self, *, username: str | None, client: str, since: float) -> dict:
        """Failures since `since`: {'account': (count, last), 'address': (count, last)}."""
        with self._tx() as db:
            acc = db.one("SELECT COUNT(*) AS n, MAX(at) AS last FROM login_failures WHERE username=? AND at > ?"
                         " AND cleared=0",
                         (username, since)) if username is not None else None
            adr = db.one("SELECT COUNT(*) AS n, MAX(at) AS last FROM login_failures WHERE client=? AND at > ?",
                         (client, since))
        return {"account": (acc["n"], acc["last"]) if acc else (0, None), "address": (adr["n"], adr["last"])}

    def clear_login_failures(self, username: str) -> None:
        """A good login clears its own account's failures, and nothing else (not its address's, not others')."""
        with self._tx(write=True) as db:
            db.execute("UPDATE login_failures SET cleared=1 WHERE username=? AND cleared=0", (username,))

    # -- API tokens -----------------------------------------------------------------------------------------
    def add_token(self, *, user_id: int, name: str, token_hash: str, scope: str) -> dict:
        with self._tx(write=True) as db:
            row = db.one("INSERT INTO api_tokens (user_id, name, token_hash, scope, created_at) VALUES (?,?,?,?,?)"
                         " RETURNING *", (user_id, name, token_hash, scope, _now()))
        return _token(row)

    def tokens(self, user_id: int | None = None) -> list[dict]:
        where, args = ("WHERE t.user_id=?", (user_id,)) if user_id is not None else ("", ())
        with self._tx() as db:
            rows = db.all(f"SELECT t.*, u.username FROM api_tokens t JOIN users u ON u.id = t.user_id {where}"
                          " ORDER BY t.id", args)
        return [{**_token(r), "username": r["username"]} for r in rows]

    def token_user(self, token_hash: str) -> tuple[dict, dict] | None:
        """(the account, the token) for an unrevoked token of an active account, or None. The lookup is by the
        hash of a random 256-bit token, so its timing says nothing useful about other tokens."""
        with self._tx() as db:
            row = db.one("SELECT u.*, t.id AS token_id, t.name AS token_name, t.scope, t.last_used_at"
                         " FROM api_tokens t JOIN users u ON u.id = t.user_id"
                         " WHERE t.token_hash=? AND t.revoked_at IS NULL AND u.active=1", (token_hash,))
        if row is None:
            return None
        now = _now()
        if (row["last_used_at"] or "")[:16] != now[:16]:  # at most once a minute
            with self._tx(write=True) as db:
                db.execute("UPDATE api_tokens SET last_used_at=? WHERE id=?", (now, row["token_id"]))
        return _user(row), {"id": row["token_id"], "name": row["token_name"], "scope": row["scope"]}

    def revoke_token(self, token_id: int, *, user_id: int | None = None) -> bool:
        """Revoke a token (only the owner's own when `user_id` is given); False if there is no such live token."""
        sql = "UPDATE api_tokens SET revoked_at=? WHERE id=? AND revoked_at IS NULL"
        args: tuple = (_now(), token_id)
        if user_id is not None:
            sql += " AND user_id=?"
            args += (user_id,)
        with self._tx(write=True) as db:
            return db.execute(sql, args).rowcount == 1


def _token(row) -> dict:
    return {"id": row["id"], "user_id": row["user_id"], "name": row["name"], "scope": row["scope"],
            "created_at": row["created_at"], "revoked_at": row["revoked_at"], "last_used_at": row["last_used_at"]}
