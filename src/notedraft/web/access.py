"""Access control for an editor served beyond loopback: token strength, expiring revocable sessions, login limits.

- `token_problem`: a token guards patients' notes, so it must be long and random-looking. Length alone let
  "                " (16 spaces) through; we also refuse whitespace, a repeated unit ("abcabcabc…"), few
  distinct characters and a low entropy estimate (length × Shannon entropy of its characters, in bits).
- `Sessions`: the login cookie is `expiry.session-id.signature`, an HMAC under a secret made fresh for each
  server process, so it expires on its own (12 h), restarting the server signs everyone out, and `revoke`
  (logout) puts the session id on a deny list until its expiry passes.
- `LoginLimiter`: failed logins per client address in a sliding window; past the limit, 429 with Retry-After.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import Counter, deque
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
    """At most `attempts` failed logins per client in `window` seconds; a success clears the client's record."""

    def __init__(self, *, attempts: int = 5, window: float = 300, clock: Callable[[], float] = time.monotonic):
        self.attempts, self.window, self.clock = attempts, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again (0: now)."""
        now = self.clock()
        with self._lock:
            recent = self._failures.get(client)
            while recent and now - recent[0] >= self.window:
                recent.popleft()
            if not recent:
                self._failures.pop(client, None)
                return 0
            if len(recent) < self.attempts:
                return 0
            return max(1, math.ceil(recent[0] + self.window - now))

    def failed(self, client: str) -> None:
        with self._lock:
            if len(self._failures) > 10_000:  # a flood of addresses must not grow memory without bound
                self._failures.clear()
            self._failures.setdefault(client, deque()).append(self.clock())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
