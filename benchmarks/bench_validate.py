"""Benchmark: how fast notedraft validates a note. Not a test; run it and read the figures.

    .venv/bin/python benchmarks/bench_validate.py [--runs N] [--passes P] [--notes DIR]

Prints, all measured in this one run:
  1. in-process `validate()` time per note over the real notes (median and p95 over notes, each note's time being
     its median over P warm passes), against the target of <= 1 ms median;
  2. `notedraft validate` whole-process wall time as a ratio to a Python process that imports pydantic and defines
     and instantiates one BaseModel, run by the same interpreter (the two commands alternate N times; medians),
     against the target of <= 1.25x. The two warm-up runs of each command fill the command line's compiled-regex
     and TOML cache (notedraft/recache.py), as any earlier run on the machine would; NOTEDRAFT_CACHE_DIR=off
     measures without it. Run from a checkout with bytecode written (PYTHONDONTWRITEBYTECODE unset, or
     `python -m compileall src` first): an installed package has its .pyc files, and pydantic, the floor, has its own;
  3. the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # run from a checkout even when the package is not installed

from notedraft.reading import read  # noqa: E402
from notedraft.validate import validate  # noqa: E402

DEFAULT_NOTES = Path(os.environ.get("NOTEDRAFT_REALNOTES") or REPO.parent / "shared" / "realnotes")
CLAIM = ["27096-LT"]
FALLBACK_NOTE = (
    "PROCEDURE: Left sacroiliac joint injection. DIAGNOSIS: Sacroiliitis (M46.1). This was a diagnostic injection. "
    "Under fluoroscopic guidance a 22-gauge spinal needle was advanced into the left SI joint. Intra-articular "
    "placement was confirmed with contrast. Injected 40 mg Kenalog and 2 mL of 0.25% bupivacaine. No complications."
)


def load_notes(directory: Path) -> tuple[list[str], str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(directory.glob("[0-9]*.txt"))] if directory.is_dir() else []
    texts = [t for t in texts if t.strip()]
    if texts:
        return texts, f"{len(texts)} real notes from {directory}"
    return [FALLBACK_NOTE], f"no real notes at {directory}: one built-in note"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def in_process(notes: list[str], passes: int) -> tuple[float, float, float]:
    for text in notes:  # warm: rule packs loaded, patterns compiled
        validate(text, CLAIM)
    per_note: list[list[float]] = [[] for _ in notes]
    for _ in range(passes):
        for i, text in enumerate(notes):
            read.cache_clear()  # the reading is cached per text; a benchmark reads every note afresh
            start = time.perf_counter()
            validate(text, CLAIM)
            per_note[i].append((time.perf_counter() - start) * 1000)
    medians = [statistics.median(times) for times in per_note]
    return statistics.median(medians), percentile(medians, 0.95), max(medians)


def whole_process(note: str, runs: int) -> tuple[float, float, list[str], list[str]]:
    script = Path(sys.executable).with_name("notedraft")
    script = str(script) if script.exists() else shutil.which("notedraft")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as fh:
        fh.write(note)
    if script:
        validate_cmd = [script, "validate", fh.name, "--code", CLAIM[0]]
    else:  # not installed: the same entry point from this checkout
        entry = f"import sys; sys.path.insert(0, {str(REPO / 'src')!r}); from notedraft.cli import main; sys.exit(main())"
        validate_cmd = [sys.executable, "-c", entry, "validate", fh.name, "--code", CLAIM[0]]
    # the floor every pydantic CLI pays: import pydantic, define and instantiate one model (issue 8)
    floor_cmd = [sys.executable, "-c", "import pydantic\nclass M(pydantic.BaseModel):\n    x: int\nM(x=1)"]
    timings: dict[str, list[float]] = {"validate": [], "floor": []}
    try:
        for _ in range(2):  # warm the file cache for both
            subprocess.run(validate_cmd, stdout=subprocess.DEVNULL, check=False)
            subprocess.run(floor_cmd, check=True)
        for _ in range(runs):
            for name, cmd in (("validate", validate_cmd), ("floor", floor_cmd)):
                start = time.perf_counter()
                proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
                timings[name].append((time.perf_counter() - start) * 1000)
                if proc.returncode not in (0, 1):
                    raise SystemExit(f"bench_validate: {' '.join(cmd)} failed: {proc.stderr.decode()[-500:]}")
    finally:
        os.unlink(fh.name)
    return statistics.median(timings["validate"]), statistics.median(timings["floor"]), validate_cmd, floor_cmd


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="whole-process runs of each command (default 20)")
    parser.add_argument("--passes", type=int, default=7, help="in-process passes over the notes (default 7)")
    parser.add_argument("--notes", type=Path, default=DEFAULT_NOTES, help="folder of NN_*.txt notes")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()

    notes, described = load_notes(args.notes)
    median_ms, p95_ms, max_ms = in_process(notes, args.passes)
    sizes = sorted(len(t) for t in notes)
    print(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()} ({sys.executable}); load average {os.getloadavg()[0]:.2f}")
    print(f"\nin-process validate({CLAIM}) over {described} "
          f"(median size {statistics.median(sizes):.0f} chars; each note's median of {args.passes} warm passes):")
    print(f"  median {median_ms:.3f} ms   p95 {p95_ms:.3f} ms   max {max_ms:.3f} ms   "
          f"target median <= 1 ms: {verdict(median_ms <= 1.0)}")

    note = max(notes, key=len) if len(notes) > 1 else notes[0]
    validate_ms, floor_ms, validate_cmd, floor_cmd = whole_process(note, args.runs)
    ratio = validate_ms / floor_ms
    print(f"\nwhole process, {args.runs} runs each, alternating (medians):")
    shown = " ".join(["notedraft" if validate_cmd[1] == "validate" else "python -c <notedraft.cli.main>", *validate_cmd[-4:]])
    print(f"  notedraft validate  {validate_ms:7.1f} ms   ({shown})")
    print(f"  floor               {floor_ms:7.1f} ms   ({Path(floor_cmd[0]).name}: import pydantic, define and "
          "instantiate one BaseModel; same interpreter)")
    print(f"  ratio {ratio:.2f}x   target <= 1.25x: {verdict(ratio <= 1.25)}")
    from notedraft.recache import cache_file

    print(f"  regex/TOML cache: {cache_file() or 'off'}; bytecode writing "
          f"{'off (PYTHONDONTWRITEBYTECODE): sources compiled every run' if sys.dont_write_bytecode else 'on'}")
    if args.json:
        print(json.dumps({"median_ms": median_ms, "p95_ms": p95_ms, "validate_ms": validate_ms, "floor_ms": floor_ms,
                          "ratio": ratio, "notes": len(notes), "cpus": os.cpu_count()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
