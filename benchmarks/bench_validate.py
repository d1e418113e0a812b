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
  3. a 256 KB note validated (`notedraft validate FILE --code 27096-LT`) and a 256 KB dictation drafted (`notedraft
     draft --file FILE --code 27096-LT`), whole-process wall time (median of --big-runs), against the target of
     <= 0.5 s each, with the 64 KB figures beside them: linear work keeps 256 KB at about 4x 64 KB;
  4. the machine, with its load average (the machine may be shared: read the figures beside it).
Every figure is wall time on the same machine in the same run; nothing here asserts, the tests count work instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
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
KB = 1024
BIG_NOTE_UNIT = ("PROCEDURE: Left sacroiliac joint injection under fluoroscopic guidance. Intra-articular placement was "
                 "confirmed with contrast. 40 mg Kenalog and 2 mL of 0.25% bupivacaine were injected. Dx M46.1. ")
BIG_DICTATION_UNIT = "L SIJ inj, fluoro, IA confirmed w contrast, 40 kenalog + 2cc 0.25% bupi, dx M46.1, dx + therapeutic. "
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


def in_process(notes: list[str], passes: int, clock=time.perf_counter) -> tuple[float, float, float]:
    """`clock`: perf_counter for wall time, process_time for this process's CPU time (steadier on a shared machine)."""
    for text in notes:  # warm: rule packs loaded, patterns compiled
        validate(text, CLAIM)
    per_note: list[list[float]] = [[] for _ in notes]
    for _ in range(passes):
        for i, text in enumerate(notes):
            read.cache_clear()  # the reading is cached per text; a benchmark reads every note afresh
            start = clock()
            validate(text, CLAIM)
            per_note[i].append((clock() - start) * 1000)
    medians = [statistics.median(times) for times in per_note]
    return statistics.median(medians), percentile(medians, 0.95), max(medians)


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
    timings: dict[str, list[float]] = {"validate": [], "floor": [], "validate_cpu": [], "floor_cpu": []}
    try:
        for _ in range(2):  # warm the file cache for both
            subprocess.run(validate_cmd, stdout=subprocess.DEVNULL, check=False)
            subprocess.run(floor_cmd, check=True)
        for _ in range(runs):
            for name, cmd in (("validate", validate_cmd), ("floor", floor_cmd)):
                start, cpu = time.perf_counter(), child_cpu()
                proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
                timings[name].append((time.perf_counter() - start) * 1000)
                timings[f"{name}_cpu"].append((child_cpu() - cpu) * 1000)
                if proc.returncode not in (0, 1):
                    raise SystemExit(f"bench_validate: {' '.join(cmd)} failed: {proc.stderr.decode()[-500:]}")
    finally:
        os.unlink(fh.name)
    return (statistics.median(timings["validate"]), statistics.median(timings["floor"]), validate_cmd, floor_cmd,
            statistics.median(timings["validate_cpu"]), statistics.median(timings["floor_cpu"]))


def sized(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def big_inputs(runs: int) -> dict[tuple[str, int], float]:
    """Median whole-process wall (and, under "<kind>_cpu", CPU) seconds of `notedraft validate` on a note and `notedraft draft` on a dictation of
    64 KB and 256 KB (the request cap), each run `runs` times after one warm-up."""
    script = Path(sys.executable).with_name("notedraft")
    script = str(script) if script.exists() else shutil.which("notedraft")
    base = [script] if script else [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO / 'src')!r}); "
                                    "from notedraft.cli import main; sys.exit(main())"]
    out: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, unit in (("validate", BIG_NOTE_UNIT), ("draft", BIG_DICTATION_UNIT)):
            for size in (64, 256):
                path = Path(tmp) / f"{kind}-{size}.txt"
                path.write_text(sized(unit, size * KB), encoding="utf-8")
                cmd = base + ([kind, str(path)] if kind == "validate" else [kind, "--file", str(path)]) + ["--code", CLAIM[0]]
                times, cpus = [], []
                for i in range(runs + 1):
                    start, cpu = time.perf_counter(), child_cpu()
                    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
                    if i:  # the first run is a warm-up
                        times.append(time.perf_counter() - start)
                        cpus.append(child_cpu() - cpu)
                    if proc.returncode not in (0, 1):
                        raise SystemExit(f"bench_validate: {' '.join(cmd)} failed: {proc.stderr.decode()[-500:]}")
                out[(kind, size)] = statistics.median(times)
                out[(f"{kind}_cpu", size)] = statistics.median(cpus)
    return out


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="whole-process runs of each command (default 20)")
    parser.add_argument("--passes", type=int, default=7, help="in-process passes over the notes (default 7)")
    parser.add_argument("--notes", type=Path, default=DEFAULT_NOTES, help="folder of NN_*.txt notes")
    parser.add_argument("--big-runs", type=int, default=3, help="runs of each 64/256 KB command (default 3; 0 skips)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()

    notes, described = load_notes(args.notes)
    median_ms, p95_ms, max_ms = in_process(notes, args.passes)
    cpu_median_ms, cpu_p95_ms, cpu_max_ms = in_process(notes, args.passes, time.process_time)
    sizes = sorted(len(t) for t in notes)
    print(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()} ({sys.executable}); load average {os.getloadavg()[0]:.2f}")
    print(f"\nin-process validate({CLAIM}) over {described} "
          f"(median size {statistics.median(sizes):.0f} chars; each note's median of {args.passes} warm passes):")
    print(f"  median {median_ms:.3f} ms   p95 {p95_ms:.3f} ms   max {max_ms:.3f} ms   "
          f"target median <= 1 ms: {verdict(median_ms <= 1.0)}")
    print(f"  CPU time: median {cpu_median_ms:.3f} ms   p95 {cpu_p95_ms:.3f} ms   max {cpu_max_ms:.3f} ms")

    note = max(notes, key=len) if len(notes) > 1 else notes[0]
    validate_ms, floor_ms, validate_cmd, floor_cmd, validate_cpu, floor_cpu = whole_process(note, args.runs)
    ratio = validate_ms / floor_ms
    print(f"\nwhole process, {args.runs} runs each, alternating (medians):")
    shown = " ".join(["notedraft" if validate_cmd[1] == "validate" else "python -c <notedraft.cli.main>", *validate_cmd[-4:]])
    print(f"  notedraft validate  {validate_ms:7.1f} ms   ({shown})")
    print(f"  floor               {floor_ms:7.1f} ms   ({Path(floor_cmd[0]).name}: import pydantic, define and "
          "instantiate one BaseModel; same interpreter)")
    print(f"  ratio {ratio:.2f}x   target <= 1.25x: {verdict(ratio <= 1.25)}")
    print(f"  CPU time (user + system): {validate_cpu:.1f} ms vs {floor_cpu:.1f} ms, ratio {validate_cpu / floor_cpu:.2f}x")
    from notedraft.recache import cache_file

    print(f"  regex/TOML cache: {cache_file() or 'off'}; bytecode writing "
          f"{'off (PYTHONDONTWRITEBYTECODE): sources compiled every run' if sys.dont_write_bytecode else 'on'}")
    big = big_inputs(args.big_runs) if args.big_runs > 0 else {}
    if big:
        print(f"\n256 KB inputs, whole process ({args.big_runs} runs each after a warm-up, medians; 64 KB beside):")
        for kind, what in (("validate", "validate a note   "), ("draft", "draft a dictation ")):
            small, large = big[(kind, 64)], big[(kind, 256)]
            print(f"  {what} 256 KB {large:6.2f} s   64 KB {small:6.2f} s   (x{large / small:.1f} for 4x the text)   "
                  f"target <= 0.5 s: {verdict(large <= 0.5)}   CPU {big[(kind + '_cpu', 256)]:.2f} s / "
                  f"{big[(kind + '_cpu', 64)]:.2f} s")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        print(json.dumps({"median_ms": median_ms, "p95_ms": p95_ms, "cpu_median_ms": cpu_median_ms,
                          "validate_ms": validate_ms, "floor_ms": floor_ms, "ratio": ratio,
                          "cpu_ratio": validate_cpu / floor_cpu, "notes": len(notes), "cpus": os.cpu_count(),
                          **{f"{kind}_{size}kb_s": v for (kind, size), v in big.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
