"""Access control for an editor served beyond loopback: token strength, expiring revocable sessions, login limits.

- `token_problem`: a token guards patients' notes, so it must be long and random-looking. Length alone let
  "                " (16 spaces) through; we also refuse whitespace, a repeated unit ("abcabcabc…"), few
  distinct characters and a low entropy estimate (length × Shannon entropy of its characters, in bits).
- `Sessions`: the login cookie is `expiry.session-id.signature`, an HMAC under a secret made fresh for each
  server process, so it expires on its own (12 h), restarting the server signs everyone out, and `revoke`
  (logout) puts the session id on a deny list until its expiry passes.
- `LoginLimiter`: failed logins per account and per address, in the shared database, with backoff; past the
  limit, 429 with Retry-After.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable

MIN_TOKEN = 16
MIN_TOKEN_BITS = 40
MIN_DISTINCT = 8
SUGGEST = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
SESSION_SECONDS = 12 * 3600


def entropy_bits(token: str) -> float:
    """Length × Shannon entropy per character: a generous upper estimate for a human-made string."""
    counts = Counter(token)
    per_char = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    return len(token) * per_char


def token_problem(token: str) -> str | None:
    """Why `token` is too weak to guard the editor, or None. The message suggests how to make a good one."""
    why = None
    if len(token) < MIN_TOKEN:
        why = f"the token is too short ({len(token)} characters; use at least {MIN_TOKEN})"
    elif any(ch.isspace() for ch in token) or not token.isprintable():
        why = "the token contains whitespace or control characters"
    elif any(len(token) % n == 0 and token == token[:n] * (len(token) // n) for n in range(1, len(token) // 2 + 1)):
        why = "the token is one string repeated"
    elif len({token[i : i + 4] for i in range(len(token) - 3)}) < 0.75 * (len(token) - 3):
        why = "the token repeats itself"  # "passwordpassword1": a quarter of its 4-letter pieces are repeats
    elif _stepwise(token):
        why = "the token follows a simple sequence (like 0123… or abcd…)"
    elif len(set(token)) < MIN_DISTINCT:
        why = f"the token uses only {len(set(token))} distinct characters"
    elif entropy_bits(token) < MIN_TOKEN_BITS:
        why = f"the token is too predictable (about {entropy_bits(token):.0f} bits; need {MIN_TOKEN_BITS})"
    return None if why is None else f"{why}: make one with {SUGGEST}"


def _stepwise(token: str) -> bool:
    # "0123456789abcdef", "Password123456789": half or more of the steps between neighbours are the same step.
    steps = Counter(ord(b) - ord(a) for a, b in zip(token, token[1:]))
    return steps.most_common(1)[0][1] * 2 >= len(token) - 1


class Sessions:
    def __init__(self, *, lifetime: float = SESSION_SECONDS, clock: Callable[[], float] = time.time):
        self.lifetime, self.clock = lifetime, clock
        self._secret = secrets.token_bytes(32)  # per process: a restart invalidates every cookie
        self._revoked: dict[str, float] = {}  # session id -> its expiry (forgotten once it has passed anyway)
        self._lock = threading.Lock()

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self) -> str:
        payload = f"{int(self.clock() + self.lifetime)}.{secrets.token_hex(16)}"
        return f"{payload}.{self._sign(payload)}"

    def _parse(self, cookie: str) -> tuple[int, str] | None:
        parts = cookie.split(".")
        if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 12:
            return None
        payload = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(parts[2].encode(), self._sign(payload).encode()):
            return None
        return int(parts[0]), parts[1]

    def valid(self, cookie: str) -> bool:
        parsed = self._parse(cookie)
        if parsed is None:
            return False
        expiry, sid = parsed
        with self._lock:
            return self.clock() < expiry and sid not in self._revoked

    def revoke(self, cookie: str) -> bool:
        parsed = self._parse(cookie)
        if parsed is None:
            return False
        expiry, sid = parsed
        now = self.clock()
        with self._lock:
            self._revoked = {s: e for s, e in self._revoked.items() if e > now}
            self._revoked[sid] = expiry
        return True


class LoginLimiter:
    """Failed logins counted per account and per address in the shared database, with backoff.

    Every editor process reads and writes the same `login_failures` rows, so the second process refuses what the
    first one locked. An account locks after `account_free` failures in `window` seconds, from any mix of
    addresses; an address after `address_free` (higher: an office behind one address has many people, and one
    person's typos must not lock the others out). Past the limit each further failure doubles the wait, from
    `base` seconds up to `cap`, counted from the latest failure. Attempts refused while locked are not checked
    and not counted. A good login clears its own account's failures only: not the address's (else one valid
    account would reset the address for guesses at others), not another account's.
    """

    def __init__(self, store=None, *, account_free: int = 5, address_free: int = 30, window: float = 3600,
                 base: float = 30, cap: float = 900, clock: Callable[[], float] = time.time, attempts: int | None = None):
        self.store = store
        self.account_free = attempts or account_free
        self.address_free, self.window, self.base, self.cap, self.clock = address_free, window, base, cap, clock

    def bind(self, store) -> "LoginLimiter":
        self.store = self.store or store
        return self

    def _wait(self, count: int, last: float | None, free: int, now: float) -> int:
        if count < free or last is None:
            return 0
        lock = min(self.cap, self.base * 2 ** (count - free))
        return max(0, math.ceil(last + lock - now))

    def retry_after(self, username: str | None, client: str) -> tuple[int, str]:
        """(seconds until this account may be tried from this address, 'account' or 'address'); (0, '') now."""
        now = self.clock()
        seen = self.store.login_failures(username=username, client=client, since=now - self.window)
        account = self._wait(*seen["account"], self.account_free, now) if username is not None else 0
        address = self._wait(*seen["address"], self.address_free, now)
        if not account and not address:
            return 0, ""
        return (account, "account") if account >= address else (address, "address")

    def failed(self, username: str | None, client: str) -> None:
        self.store.record_login_failure(username, client, self.clock())

    def succeeded(self, username: str | None) -> None:
        if username is not None:
            self.store.clear_login_failures(username)
