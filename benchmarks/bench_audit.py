"""Benchmark: `notedraft audit` over N real-length notes, against `validate()` in a loop. Not a test; run it and
read the figures.

    .venv/bin/python benchmarks/bench_audit.py [--notes 1000 10000] [--workers 1 2] [--mix both|real|evals]
                                               [--no-baseline] [--keep DIR]

For each N it builds N notes in a temp folder (the real notes in ../shared/realnotes and the eval notes in
evals/validator.jsonl, cycled, each made unique with an encounter line; by default alternately one of each, so
notes are ~1 KB on average) and a claims CSV (each eval note's own code lines; rotating SI and trigger-point lines
for the real notes; six physicians), then prints, all measured in this run:
  1. validate() on every note in a loop in this one process (and with the physician questions, as audit does);
  2. `notedraft audit FOLDER --claims claims.csv --out DIR --no-progress` wall time with each --workers value,
     its ratio to the validate() loop, notes/s, and peak memory sampled from /proc every 20 ms: the main
     process's and the largest worker's high-water marks, and all processes' resident memory added up;
  3. linearity: wall time per note at each N;
  4. the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # run from a checkout even when the package is not installed

from notedraft.queries import queries_for  # noqa: E402
from notedraft.validate import validate  # noqa: E402

REALNOTES = Path(os.environ.get("NOTEDRAFT_REALNOTES") or REPO.parent / "shared" / "realnotes")
REAL_CLAIMS = ["27096-RT", "27096-50", "20553", "20552-LT 76942", "27096-LT 77003", "27096-LT", "20552"]
PHYSICIANS = ["Dr. Ana Lee", "Dr. Ben Ortiz", "Dr. Chen Wu", "Dr. Dana Fox", "Dr. Eli Stone", "Dr. Fay Moss"]


def sources(mix: str) -> list[tuple[str, list[str]]]:
    real = [p.read_text(encoding="utf-8") for p in sorted(REALNOTES.glob("*.txt"))] if REALNOTES.is_dir() else []
    real = [(t, REAL_CLAIMS[i % len(REAL_CLAIMS)].split()) for i, t in enumerate(t for t in real if t.strip())]
    evals = [json.loads(line) for line in (REPO / "evals" / "validator.jsonl").read_text(encoding="utf-8").splitlines()]
    evals = [(c["note"], c["codes"] or ["27096-LT"]) for c in evals if c["codes"] is not None]
    if mix == "real" and real:
        return real
    if mix == "evals" or not real:
        return evals
    return [pair for i in range(max(len(real), len(evals))) for pair in (real[i % len(real)], evals[i % len(evals)])]


def build(folder: Path, count: int, mix: str) -> tuple[Path, int]:
    pool = sources(mix)
    notes = folder / "notes"
    notes.mkdir(parents=True)
    lines = ["note,codes,physician,date_of_service"]
    chars = 0
    for i in range(count):
        text, codes = pool[i % len(pool)]
        text = f"{text.rstrip()}\nEncounter {i:06d}.\n"  # unique: no cache anywhere can serve a repeat
        name = f"{i // 1000:03d}/note-{i:06d}.txt"
        (notes / name).parent.mkdir(exist_ok=True)
        (notes / name).write_text(text, encoding="utf-8")
        lines.append(f"{name},{' '.join(codes)},{PHYSICIANS[i % len(PHYSICIANS)]},2026-11-{1 + i % 28:02d}")
        chars += len(text)
    (folder / "claims.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return notes, chars // max(count, 1)


def loop(notes: Path, claims: Path, questions: bool) -> float:
    """validate() on every note, each read from its file (the reading is not timed) with its claim's lines."""
    with open(claims, encoding="utf-8") as fh:
        pairs = [line.split(",")[:2] for line in fh.read().splitlines()[1:]]
    for name, codes in pairs[:20]:  # warm: rule packs loaded, patterns compiled
        validate((notes / name).read_text(encoding="utf-8") + " warm", codes.split())
    spent = 0.0
    for name, codes in pairs:
        text = (notes / name).read_text(encoding="utf-8")
        start = time.perf_counter()
        report = validate(text, codes.split())
        if questions:
            queries_for(report.facts, report)
        spent += time.perf_counter() - start
    return spent


def tree(pid: int) -> dict[int, tuple[int, int]]:
    """{pid: (resident bytes now, peak resident bytes)} for pid and all its descendants, from /proc."""
    found, todo = {}, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                status = dict(line.split(":", 1) for line in fh if ":" in line)
            found[p] = (int(status["VmRSS"].split()[0]) * 1024, int(status["VmHWM"].split()[0]) * 1024)
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError, KeyError):
            pass
    return found


def audit(notes: Path, claims: Path, out: Path, workers: int) -> tuple[float, int, int, int, int]:
    """Wall time, and peak memory from /proc sampled every 20 ms: the main process's and the largest worker's
    high-water marks (VmHWM), and the peak of all processes' resident memory added up. (wait4's ru_maxrss is not
    used: a child spawned by a large parent inherits the parent's high-water mark up to its exec.)"""
    exe = Path(sys.executable).with_name("notedraft")
    cmd = [str(exe) if exe.exists() else shutil.which("notedraft") or "notedraft", "audit", str(notes), "--claims",
           str(claims), "--out", str(out), "--workers", str(workers), "--no-progress"]
    peaks: dict[int, int] = {}
    total = [0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def sample():
        while proc.poll() is None:
            now = tree(proc.pid)
            for pid, (_, hwm) in now.items():
                peaks[pid] = max(peaks.get(pid, 0), hwm)
            total[0] = max(total[0], sum(rss for rss, _ in now.values()))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    if proc.returncode not in (0, 1):
        sys.exit(f"audit failed ({proc.returncode}): {err.decode()[-500:]}")
    main_peak = peaks.pop(proc.pid, 0)
    return wall, main_peak, max(peaks.values(), default=0), total[0], proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--mix", choices=["both", "real", "evals"], default="both")
    ap.add_argument("--no-baseline", action="store_true", help="skip the validate() loop (e.g. at 100,000 notes)")
    ap.add_argument("--keep", type=Path, help="build the notes here and keep them")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
          f"{platform.system()} {platform.release()}, Python {platform.python_version()}")
    per_note: dict[tuple[int, int], float] = {}
    for count in args.notes:
        base = args.keep or Path(tempfile.mkdtemp(prefix="notedraft-bench-audit-"))
        folder = base / f"n{count}"
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter()
        notes, avg_chars = build(folder, count, args.mix)
        print(f"\n{count:,} notes (mix {args.mix}, {avg_chars:,} characters on average), built in "
              f"{time.perf_counter() - t0:.1f} s")
        baseline = None
        if not args.no_baseline:
            baseline = loop(notes, folder / "claims.csv", questions=False)
            with_q = loop(notes, folder / "claims.csv", questions=True)
            print(f"  validate() loop, one process:        {baseline:7.2f} s  ({1000 * baseline / count:.2f} ms/note)")
            print(f"  validate() + questions, one process: {with_q:7.2f} s  ({1000 * with_q / count:.2f} ms/note)")
        for workers in args.workers:
            wall, main_peak, worker_peak, total, rc = audit(notes, folder / "claims.csv", folder / f"out-{workers}",
                                                            workers)
            per_note[(count, workers)] = wall / count
            ratio = f", {wall / baseline:.2f}x the validate() loop" if baseline else ""
            html = (folder / f"out-{workers}" / "report.html").stat().st_size
            workers_peak = f", largest worker {worker_peak / 2**20:,.0f} MiB" if worker_peak else ""
            print(f"  audit --workers {workers}: {wall:7.2f} s wall, {count / wall:,.0f} notes/s{ratio}; peak RSS: "
                  f"main process {main_peak / 2**20:,.0f} MiB{workers_peak}, all processes together "
                  f"{total / 2**20:,.0f} MiB; report.html {html / 2**20:,.1f} MiB; exit {rc}")
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    counts = sorted({c for c, _ in per_note})
    if len(counts) > 1:
        print("\nlinearity (wall ms per note):")
        for workers in args.workers:
            cells = ", ".join(f"{c:,}: {1000 * per_note[(c, workers)]:.2f}" for c in counts if (c, workers) in per_note)
            print(f"  --workers {workers}: {cells}")


if __name__ == "__main__":
    main()
