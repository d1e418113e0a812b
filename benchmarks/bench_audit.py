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
     its ratio to the validate() loop, notes/s, and peak memory: the largest single process (wait4's ru_maxrss)
     and the whole process tree (main + workers, sampled from /proc every 50 ms);
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


def build(folder: Path, count: int, mix: str) -> tuple[Path, list[tuple[str, list[str]]], int]:
    pool = sources(mix)
    notes = folder / "notes"
    notes.mkdir(parents=True)
    lines = ["note,codes,physician,date_of_service"]
    built, chars = [], 0
    for i in range(count):
        text, codes = pool[i % len(pool)]
        text = f"{text.rstrip()}\nEncounter {i:06d}.\n"  # unique: no cache anywhere can serve a repeat
        name = f"{i // 1000:03d}/note-{i:06d}.txt"
        (notes / name).parent.mkdir(exist_ok=True)
        (notes / name).write_text(text, encoding="utf-8")
        lines.append(f"{name},{' '.join(codes)},{PHYSICIANS[i % len(PHYSICIANS)]},2026-11-{1 + i % 28:02d}")
        built.append((text, codes))
        chars += len(text)
    (folder / "claims.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return notes, built, chars // max(count, 1)


def loop(notes: list[tuple[str, list[str]]], questions: bool) -> float:
    for text, codes in notes[:20]:  # warm: rule packs loaded, patterns compiled
        validate(text + " warm", codes)
    start = time.perf_counter()
    for text, codes in notes:
        report = validate(text, codes)
        if questions:
            queries_for(report.facts, report)
    return time.perf_counter() - start


def tree_rss(pid: int) -> int:
    """Resident bytes of pid and all its descendants, from /proc (0 where it cannot be read)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            pass
    return total


def audit(notes: Path, claims: Path, out: Path, workers: int) -> tuple[float, int, int, int]:
    exe = Path(sys.executable).with_name("notedraft")
    cmd = [str(exe) if exe.exists() else shutil.which("notedraft") or "notedraft", "audit", str(notes), "--claims",
           str(claims), "--out", str(out), "--workers", str(workers), "--no-progress"]
    peak = [0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def sample():
        while proc.returncode is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.join()
    if proc.returncode not in (0, 1):
        sys.exit(f"audit failed ({proc.returncode}): {proc.stderr.read().decode()[-500:]}")
    return wall, usage.ru_maxrss * 1024, peak[0], proc.returncode


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
        notes, built, avg_chars = build(folder, count, args.mix)
        print(f"\n{count:,} notes (mix {args.mix}, {avg_chars:,} characters on average), built in "
              f"{time.perf_counter() - t0:.1f} s")
        baseline = None
        if not args.no_baseline:
            baseline = loop(built, questions=False)
            with_q = loop(built, questions=True)
            print(f"  validate() loop, one process:        {baseline:7.2f} s  ({1000 * baseline / count:.2f} ms/note)")
            print(f"  validate() + questions, one process: {with_q:7.2f} s  ({1000 * with_q / count:.2f} ms/note)")
        del built
        for workers in args.workers:
            wall, largest, tree, rc = audit(notes, folder / "claims.csv", folder / f"out-{workers}", workers)
            per_note[(count, workers)] = wall / count
            ratio = f", {wall / baseline:.2f}x the validate() loop" if baseline else ""
            html = (folder / f"out-{workers}" / "report.html").stat().st_size
            print(f"  audit --workers {workers}: {wall:7.2f} s wall, {count / wall:,.0f} notes/s{ratio}; peak RSS "
                  f"{largest / 2**20:,.0f} MiB largest process, {tree / 2**20:,.0f} MiB all processes; "
                  f"report.html {html / 2**20:,.1f} MiB; exit {rc}")
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
