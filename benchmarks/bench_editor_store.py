"""The editor under a practice's load: scribes editing at once through one or more server processes that share one
database (SQLite file or PostgreSQL). A benchmark: nothing asserts a time; the integrity check at the end counts.

    python benchmarks/bench_editor_store.py [--db FILE|postgresql://...] [--processes 2] [--scribes 8] [--seconds 30]

Each scribe (a thread with its own login) loops: open a draft (GET), live-check an edit (POST /check), save it
(PUT with its base revision). Every fourth scribe shares its draft with the next one, so their saves race and
conflicts (409) happen for real. Scribes are spread over the server processes round-robin. At the end the
benchmark counts, per draft, the revisions in the database and the saves that answered 200: they must be equal
(a lost or doubled save would show here), and no request may have answered 5xx.

`--db postgresql://…/postgres` with `--fresh` makes a new database on that server for the run and drops it after.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.web.helpers import free_port  # noqa: E402
from tests.web.test_server import start_server, stop  # noqa: E402

PASSWORD = "correct-horse-battery-staple"
DICTATION = ("L SIJ inj, diagnostic and therapeutic, fluoro, contrast confirmed intra-articular spread, "
             "40 mg kenalog + 2 mL 0.25% bupi, dx M46.1")
ENCOUNTER = {"mrn": "MRN-LOAD", "date_of_service": "2026-11-28", "physician": "drlee",
             "place_of_service": "office", "payer": "none"}


def _fresh(url: str) -> tuple[str, str]:
    import psycopg

    name = "nd_bench_" + secrets.token_hex(4)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(url)._replace(path="/" + name)), name


def _drop(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="SQLite file or postgresql:// URL (default: a temporary SQLite file)")
    parser.add_argument("--fresh", action="store_true", help="with a PostgreSQL URL: make a new database for the run")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--scribes", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()

    from notedraft.web.accounts import add_user
    from notedraft.web.store import Store

    tmp = tempfile.TemporaryDirectory()
    target, dropped = args.db or str(Path(tmp.name) / "load.db"), None
    if args.fresh and target.startswith("postgres"):
        server_url = target
        target, name = _fresh(server_url)
        dropped = (server_url, name)
    kind = "PostgreSQL" if target.startswith("postgres") else "SQLite"
    store = Store(target)
    add_user(store, username="drlee", display_name="Dr. Ana Lee", role="physician", password=PASSWORD)
    for i in range(args.scribes):
        add_user(store, username=f"scribe{i}", display_name=f"Scribe {i}", role="scribe", password=PASSWORD)

    ports = [free_port() for _ in range(args.processes)]
    logs = [open(Path(tmp.name) / f"server-{i}.log", "w") for i in range(len(ports))]
    procs = [start_server(target, port, log=log) for port, log in zip(ports, logs)]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    print(f"{kind}, {args.processes} server process(es), {args.scribes} scribes, {args.seconds:.0f} s; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
          flush=True)
    try:
        clients = []
        for i in range(args.scribes):
            c = httpx.Client(base_url=bases[i % len(bases)], timeout=60)
            c.headers["X-CSRF-Token"] = c.get("/api/csrf").json()["csrf"]
            assert c.post("/api/login", json={"username": f"scribe{i}", "password": PASSWORD}).status_code == 200
            clients.append(c)
        drafts = []
        for i, c in enumerate(clients):
            if i % 4 == 1:  # shares the previous scribe's draft: their saves race
                drafts.append(drafts[-1])
                continue
            r = c.post("/api/drafts", json={"dictation": DICTATION, "codes": ["27096-LT"], "encounter": ENCOUNTER})
            assert r.status_code == 201, r.text
            drafts.append(r.json()["id"])

        times: dict[str, list[float]] = defaultdict(list)
        statuses: Counter = Counter()
        saved: Counter = Counter()
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def scribe(i: int) -> None:
            c, draft_id, n = clients[i], drafts[i], 0
            while time.monotonic() < stop_at:
                n += 1
                for op in ("open", "check", "save"):
                    t0 = time.perf_counter()
                    if op == "open":
                        r = c.get(f"/api/drafts/{draft_id}")
                        if r.status_code == 200:
                            current = r.json()
                    elif op == "check":
                        r = c.post(f"/api/drafts/{draft_id}/check",
                                   json={"note": current["note"] + f"\nEdit {n}.", "codes": current["codes"]})
                    else:
                        r = c.put(f"/api/drafts/{draft_id}", json={"note": current["note"].split("\nEdit")[0]
                                                                   + f"\nEdit {n} by scribe {i}.",
                                                                   "base_revision": current["revision"]})
                    with lock:
                        times[op].append((time.perf_counter() - t0) * 1000)
                        statuses[(op, r.status_code)] += 1
                        if op == "save" and r.status_code == 200:
                            saved[draft_id] += 1

        def progress() -> None:
            while time.monotonic() < stop_at:
                time.sleep(min(20, max(0.1, stop_at - time.monotonic())))
                with lock:
                    done = sum(len(v) for v in times.values())
                print(f"  {done} requests so far", flush=True)

        threads = [threading.Thread(target=scribe, args=(i,)) for i in range(args.scribes)]
        threading.Thread(target=progress, daemon=True).start()
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started

        total = sum(len(v) for v in times.values())
        print(f"{total} requests in {elapsed:.1f} s = {total / elapsed:.0f} requests/s")
        for op, ms in times.items():
            q = statistics.quantiles(ms, n=100, method="inclusive")
            print(f"  {op:<6} n={len(ms):<6} p50={statistics.median(ms):6.1f} ms  p95={q[94]:6.1f} ms  "
                  f"p99={q[98]:6.1f} ms  max={max(ms):6.1f} ms")
        print("  answers: " + ", ".join(f"{op} {code}: {n}" for (op, code), n in sorted(statuses.items())))
        errors = sum(n for (_, code), n in statuses.items() if code >= 500)
        lost = 0
        for draft_id in sorted(set(drafts)):
            in_db = len(store.revisions(draft_id)) - 1  # revision 1 is the generated draft
            if in_db != saved[draft_id]:
                lost += 1
                print(f"  draft {draft_id}: {saved[draft_id]} saves answered 200 but {in_db} revisions stored")
        stored = "each stored exactly once" if not lost else f"{lost} draft(s) disagree with the database"
        print(f"integrity: {'OK' if not lost and not errors else 'FAILED'} — {sum(saved.values())} saves answered 200, "
              f"{stored}; {errors} answers were 5xx")
        return 1 if lost or errors else 0
    finally:
        for proc in procs:
            stop(proc)
        store.close()
        if dropped:
            _drop(*dropped)
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
