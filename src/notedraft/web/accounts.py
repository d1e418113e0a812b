"""People and roles: password hashes, login sessions kept in the store, and what each role may do.

- Passwords are hashed with Argon2id through `pwdlib` (maintained; `passlib` is not). A hash made with weaker
  parameters than today's is re-hashed on the next successful login.
- A session is a random 256-bit secret in an HttpOnly cookie; the store keeps only its SHA-256, its account and
  its expiry, so every editor process (one host or several, on one PostgreSQL) sees the same sessions, a stolen
  database holds no usable cookie, logout revokes at once, and disabling an account or changing its password
  ends its sessions. A session also ends after `idle` seconds without a request (30 min), on every process.
- TOTP (RFC 6238, `pyotp`): optional per account. Once on, a login needs the current 6-digit code as well, and a
  code is accepted once (the time step used is recorded in the store, so a replay to another process fails too).
- Roles: a **scribe** drafts, edits, queries the physician and submits for signature; a **physician** does all
  that, answers queries, and signs (only the encounter's physician) and adds addenda to their signed notes; a
  **coder** reads, checks and exports; an **admin** manages accounts and reads the access log and edit metrics.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
import secrets
import time
from collections.abc import Callable

from .store import ROLES, Store, StoreError

SESSION_COOKIE = "nd_session"
SESSION_SECONDS = 12 * 3600
IDLE_SECONDS = 30 * 60
MIN_PASSWORD = 12

PERMISSIONS: dict[str, set[str]] = {
    "view": {"physician", "scribe", "coder", "admin"},
    "draft": {"physician", "scribe"},  # create, edit, check against the dictation, send queries, submit
    "sign": {"physician"},  # and only the encounter's physician (checked against the encounter)
    "answer": {"physician"},  # and only the physician the query was sent to
    "addendum": {"physician"},
    "export": {"physician", "scribe", "coder"},
    "admin": {"admin"},
    "code": {"coder"},  # mark a signed note coded; the worklist and the claim CSV
    "account": {"physician", "scribe", "coder", "admin"},  # one's own password, TOTP and API tokens
}
ROLE_WORDS = {"physician": "Physician", "scribe": "Scribe", "coder": "Coder", "admin": "Administrator"}
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")


class AccountError(ValueError):
    """An account request that cannot be done; the message says why in one line."""


def _hasher():
    try:
        from pwdlib import PasswordHash
    except ImportError:
        raise AccountError("accounts need pwdlib: pip install 'notedraft[serve]' (or pip install 'pwdlib[argon2]')") from None
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def password_problem(password: str, username: str = "") -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"the password is too short ({len(password)} characters; use at least {MIN_PASSWORD})"
    if len(set(password)) < 6:
        return "the password uses too few distinct characters"
    if username and username.lower() in password.lower():
        return "the password contains the user name"
    return None


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise AccountError("a user name is 2-40 characters: lower-case letters, digits, '.', '_' or '-'")
    return name


def add_user(store: Store, *, username: str, display_name: str, role: str, password: str, npi: str | None = None) -> dict:
    name = check_username(username)
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if not display_name.strip():
        raise AccountError("give the person's name as it should appear on notes (--name)")
    if problem := password_problem(password, name):
        raise AccountError(problem)
    if npi is not None and not re.fullmatch(r"\d{10}", npi):
        raise AccountError("an NPI is 10 digits")
    try:
        return store.add_user(username=name, display_name=display_name.strip(), role=role,
                              password_hash=hash_password(password), npi=npi)
    except StoreError as e:
        raise AccountError(str(e)) from None


def _session_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Accounts:
    """Login, sessions and permission checks over the store."""

    def __init__(self, store: Store, *, lifetime: float = SESSION_SECONDS, idle: float = IDLE_SECONDS,
                 clock: Callable[[], float] = time.time):
        self.store, self.lifetime, self.idle, self.clock = store, lifetime, idle, clock
        self._enabled_until = 0.0
        self._enabled = False
        # A fixed dummy hash so that an unknown user name costs as much as a wrong password (no user enumeration
        # by timing).
        self._dummy: str | None = None

    def enabled(self) -> bool:
        """Accounts are on once the first account exists (`notedraft users add`); checked every few seconds."""
        now = time.monotonic()
        if not self._enabled and now >= self._enabled_until:
            self._enabled = self.store.count_users() > 0
            self._enabled_until = now + 2.0
        return self._enabled

    def login(self, username: str, password: str, totp: str | None = None) -> tuple[tuple[str, dict] | None, str | None]:
        """((new session cookie, account), None), or (None, why): "wrong password" (also for an unknown name or a
        disabled account: the same answer and the same time), "totp_needed" or "wrong code"."""
        hasher = _hasher()
        user = self.store.user_by_name(username.strip().lower())
        if user is None:
            self._dummy = self._dummy or hasher.hash(secrets.token_hex(16))
            hasher.verify(password, self._dummy)
            return None, "wrong password"
        ok, new_hash = hasher.verify_and_update(password, user["password_hash"])
        if not ok or not user["active"]:
            return None, "wrong password"
        if user["totp_secret"]:
            if not totp:
                return None, "totp_needed"
            if not self.check_totp(user["username"], user["totp_secret"], totp):
                return None, "wrong code"
        if new_hash:
            self.store.set_password(user["username"], new_hash, end_sessions=False)
        return (self.new_session(user), None)

    def new_session(self, user: dict) -> tuple[str, dict]:
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        self.store.add_session(_session_hash(secret), user["id"], now + self.lifetime, now)
        return secret, {k: v for k, v in user.items() if k not in ("password_hash", "totp_secret", "totp_pending",
                                                                   "totp_last_step")}

    def check_totp(self, username: str, secret: str, code: str) -> bool:
        """The code of the current 30-second step (or one step either side, for clock drift), used once."""
        step = totp_step(secret, code, self.clock())
        return step is not None and self.store.use_totp_step(username, step)

    def user_for(self, cookie: str) -> dict | None:
        if not cookie or len(cookie) > 200:
            return None
        return self.store.session_user(_session_hash(cookie), self.clock(), self.idle)

    def token_user(self, token: str) -> tuple[dict, dict] | None:
        """(account, token) for a valid per-user API token (tokens.py), or None."""
        if not token.startswith("ndt_") or len(token) > 200:
            return None
        return self.store.token_user(_session_hash(token))

    def logout(self, cookie: str) -> None:
        if cookie:
            self.store.revoke_session(_session_hash(cookie), self.clock())


def may(user: dict, action: str) -> bool:
    return user.get("role") in PERMISSIONS[action]


def totp_step(secret: str, code: str, now: float) -> int | None:
    """The time step whose code `code` is (the current one or a neighbour), compared in constant time; or None."""
    try:
        import pyotp
    except ImportError:
        raise AccountError("TOTP needs pyotp: pip install 'notedraft[practice]'") from None
    import hmac

    code = (code or "").strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    otp = pyotp.TOTP(secret)
    found = None
    for offset in (-1, 0, 1):
        step = otp.timecode(datetime.fromtimestamp(now + 30 * offset, tz=UTC))
        if hmac.compare_digest(otp.generate_otp(step), code):
            found = step
    return found


def session_hash(secret: str) -> str:
    return _session_hash(secret)
