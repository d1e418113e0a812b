"""`notedraft serve`: run the editor under uvicorn.

The CLI calls `serve(host, port, db, token)` and exits with its return value. Loopback by default; any other
address needs accounts (`notedraft users add`) or a token (`--token` or `NOTEDRAFT_TOKEN`), because the editor
holds patients' notes. `db` (or `NOTEDRAFT_DB`) is an SQLite file or a `postgresql://` URL. Behind a reverse proxy
that terminates HTTPS, `--trusted-proxy` (or `NOTEDRAFT_TRUSTED_PROXY`) names the proxy's address so that its
X-Forwarded-For/-Proto headers are believed (client addresses in the access log, Secure cookies).
FastAPI and uvicorn are imported here, at module level, so that a missing `serve` extra shows up as an ImportError
when the CLI imports this module.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
from pathlib import Path

import uvicorn

from .access import MIN_TOKEN, token_problem  # noqa: F401  (MIN_TOKEN: part of this module's interface)
from .app import create_app, is_loopback
from .db import is_postgres_url, redact
from .store import Store, StoreError

DEFAULT_DB = "notedraft.sqlite"

# uvicorn's access log prints only "METHOD path" and the status: the API puts no note text in paths or queries.
_LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s", "use_colors": None},
        "access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
        },
    },
    "handlers": {
        "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "notedraft": {"handlers": ["default"], "level": "INFO", "propagate": False},
    },
}


def check_bind(host: str, token: str | None, accounts: bool = False) -> str | None:
    """Why this host/token pair must not be served, or None when it may."""
    if token is not None and (problem := token_problem(token)):
        return problem
    if not is_loopback(host) and not token and not accounts:
        return (
            f"refusing to serve on {host}: the editor holds patient notes, so any address but 127.0.0.1 needs "
            "accounts (notedraft users add --role admin ...) or a token (set NOTEDRAFT_TOKEN or pass --token)"
        )
    return None


def database_target(db: str | Path | None) -> str:
    """The store's target: --db, else NOTEDRAFT_DB, else notedraft.sqlite; a file path is expanded, a URL kept."""
    target = str(db or os.environ.get("NOTEDRAFT_DB") or DEFAULT_DB)
    return target if is_postgres_url(target) else str(Path(target).expanduser())


def serve(host: str = "127.0.0.1", port: int = 8000, db: str | Path | None = None, token: str | None = None,
          trusted_proxy: str | None = None) -> int:
    """Serve the editor until interrupted; return the exit code (0 stopped, 2 refused, other: could not start)."""
    token = token or os.environ.get("NOTEDRAFT_TOKEN") or None
    trusted_proxy = trusted_proxy or os.environ.get("NOTEDRAFT_TRUSTED_PROXY") or None
    target = database_target(db)
    try:
        with_accounts = Store(target).count_users() > 0
    except StoreError as e:
        print(f"notedraft serve: {e}", file=sys.stderr)
        return 2
    problem = check_bind(host, token, with_accounts)
    if problem:
        print(f"notedraft serve: {problem}", file=sys.stderr)
        return 2

    try:
        app = create_app(target, token=token)
    except (StoreError, ValueError) as e:
        print(f"notedraft serve: {e}", file=sys.stderr)
        return 2
    # Bind first, print the address second: the banner must never announce a port that someone else holds.
    try:
        sock = _listen(host, port)
    except OSError as e:
        why = "address already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
        print(f"notedraft serve: cannot listen on {host}:{port}: {why}", file=sys.stderr)
        return 2
    shown = f"[{host}]" if ":" in host else host
    port = sock.getsockname()[1]
    where = redact(target) if is_postgres_url(target) else str(Path(target).resolve())
    mode = "accounts" if with_accounts else ("token" if token else "single user, no accounts")
    print(f"notedraft editor: http://{shown}:{port}/  (database {where}; {mode}; Ctrl-C stops)", file=sys.stderr)
    if not is_postgres_url(target):
        folder = Path(target).resolve().parent
        if stat.S_IMODE(folder.stat().st_mode) & 0o077:
            print(f"notedraft serve: note: the database is 0600, but its folder {folder} is open to other users; "
                  "a private folder (chmod 700) is safer for patient notes", file=sys.stderr)
    config = uvicorn.Config(app, host=host, port=port, log_config=_LOG_CONFIG, server_header=False,
                            proxy_headers=bool(trusted_proxy), forwarded_allow_ips=trusted_proxy or "")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except SystemExit as e:  # uvicorn exits non-zero when it cannot start
        return int(e.code) if isinstance(e.code, int) and e.code else 1
    except KeyboardInterrupt:
        return 0
    finally:
        sock.close()
    return 0 if server.started else 1


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, as uvicorn would open it (SO_REUSEADDR, so a restart finds the port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock
