"""Running the audit: note records → result rows through a process pool, appended to results.jsonl in input order.

Streaming: records are read lazily and sent in small batches with a bounded number in flight, so memory stays flat
however many notes there are (the pool's own map() would read the whole input ahead). Batches come back in the
order they were sent, whatever order the workers finish in, so the output is the same on every run.

Resumable: with `resume`, the rows already in results.jsonl are kept (a last line cut short by a killed run is
dropped), their notes are skipped, and the rest is appended: the file ends up byte for byte what a run from the
start writes. The input a folder of results came from is kept in .audit-run.json, so a resume over other input is
refused instead of mixing two audits.
"""

from __future__ import annotations

import json
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from .inputs import Claims, InputUnusable, NoteRecord, Sources
from .note import audit_record, row_json, status_of
from .progress import Progress

RESULTS = "results.jsonl"
RUN_FILE = ".audit-run.json"
BATCH = 16  # notes per task: ~30-100 ms of validation, so pickling and queueing stay small next to it
IN_FLIGHT_PER_WORKER = 4  # enough queued work that no worker waits, few enough that memory stays flat


@dataclass
class AuditOptions:
    paths: list[str]
    claims: str | None = None
    payer: str | None = None
    out: str | None = None
    resume: bool = False
    workers: int = field(default_factory=lambda: available_cores())
    progress: str = "auto"  # a bar on a terminal, periodic lines elsewhere; or "bar", "lines", "off"


@dataclass
class RunCounts:
    written: int = 0  # rows this run added
    kept: int = 0  # rows an earlier run had written (--resume)


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run_audit(options: AuditOptions, out_dir: Path, stream=None) -> RunCounts:
    """Audit every note of the input into out_dir/results.jsonl. InputUnusable for an input that cannot be used."""
    sources = Sources(options.paths)
    claims = Claims(options.claims) if options.claims else None
    try:
        return _run(options, out_dir, sources, claims, stream)
    finally:
        if claims is not None:
            claims.close()


def _run(options: AuditOptions, out_dir: Path, sources: Sources, claims: Claims | None, stream) -> RunCounts:
    if sources.total == 0:
        raise InputUnusable(f"no notes in {' '.join(options.paths)}: expected .txt or .md files, JSONL lines or "
                            "CSV rows")
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    results = out_dir / RESULTS
    run_file = out_dir / RUN_FILE
    identity = {"paths": options.paths, "claims": options.claims, "payer": options.payer}
    done: set[str] = set()
    if options.resume and results.exists():
        if run_file.exists() and _read_identity(run_file) != identity:
            raise InputUnusable(f"{out_dir}: holds an audit of other input ({_read_identity(run_file)}); use another "
                                "--out, or leave out --resume to start over")
        done = _completed_notes(results)
    _write_identity(run_file, identity)
    counts = RunCounts(kept=len(done))
    progress = Progress(sources.total, stream=stream, mode=options.progress, skipped=len(done))
    todo = (r for r in sources.records(claims) if r.note not in done)
    mode = "a" if done else "w"
    with open(results, mode, encoding="utf-8", newline="\n", opener=private) as fh:
        try:
            for batch in ordered_results(todo, options.workers, options.payer):
                for line, status in batch:
                    fh.write(line + "\n")
                    counts.written += 1
                    progress.tick(status)
                fh.flush()  # a killed run loses at most the batch being written; --resume picks up from here
        finally:
            progress.close()
    return counts


def audit_batch(records: list[NoteRecord], default_payer: str | None) -> list[tuple[str, str]]:
    """In a worker: each record's JSON line and status (the JSON is made here, spreading that cost too)."""
    rows = [audit_record(r, default_payer) for r in records]
    return [(row_json(row), status_of(row)) for row in rows]


def _quiet_worker() -> None:
    # Ctrl-C reaches the whole process group: the main process handles it (and says how to resume); a worker
    # that also raised would print a traceback per process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ordered_results(records: Iterable[NoteRecord], workers: int,
                    default_payer: str | None) -> Iterator[list[tuple[str, str]]]:
    """The batches' results in input order. One worker: in this process (no pickling at all)."""
    batches = _batched(records, BATCH)
    if workers <= 1:
        for batch in batches:
            yield audit_batch(batch, default_payer)
        return
    pool = _Pool(workers, default_payer)
    pending: deque[tuple[list[NoteRecord], Future]] = deque()
    try:
        for batch in batches:
            pending.append((batch, pool.submit(batch)))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                yield pool.result(*pending.popleft())
        while pending:
            yield pool.result(*pending.popleft())
    finally:
        pool.shutdown()


class _Pool:
    """A process pool that outlives a dead worker: a batch whose worker died (killed, out of memory) is audited
    in this process instead, and the next batches go to a fresh pool."""

    def __init__(self, workers: int, default_payer: str | None):
        self.workers, self.default_payer = workers, default_payer
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, initializer=_quiet_worker)

    def submit(self, batch: list[NoteRecord]) -> Future:
        try:
            return self.executor.submit(audit_batch, batch, self.default_payer)
        except RuntimeError:  # BrokenProcessPool (a RuntimeError) or shut down: start again
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = self._start()
            return self.executor.submit(audit_batch, batch, self.default_payer)

    def result(self, batch: list[NoteRecord], future: Future) -> list[tuple[str, str]]:
        try:
            return future.result()
        except Exception:  # the worker died or the batch could not be sent: the notes themselves never raise
            return audit_batch(batch, self.default_payer)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def _batched(records: Iterable[NoteRecord], size: int) -> Iterator[list[NoteRecord]]:
    it = iter(records)
    while batch := list(islice(it, size)):
        yield batch


def _completed_notes(results: Path) -> set[str]:
    """The notes results.jsonl already has. A last line without its newline (the run was killed while writing it)
    is cut off so the appended rows start on a line of their own; any other unreadable line means the file is not
    ours to append to."""
    done: set[str] = set()
    good_end = 0
    with open(results, "rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.endswith(b"\n"):
                break  # cut short: dropped below
            try:
                note = json.loads(line)["note"]
            except (ValueError, KeyError, TypeError):
                raise InputUnusable(f"{results}: line {number} is not a result row; cannot resume (leave out "
                                    "--resume to start over)") from None
            done.add(note)
            good_end += len(line)
    if good_end != results.stat().st_size:
        with open(results, "r+b") as fh:
            fh.truncate(good_end)
    return done


def _read_identity(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_identity(path: Path, identity: dict) -> None:
    with open(path, "w", encoding="utf-8", opener=private) as fh:
        fh.write(json.dumps(identity, ensure_ascii=False) + "\n")


def private(path: str, flags: int) -> int:
    """open()'s opener for every file audit writes: the results hold patient notes, so a new file is 0600
    (as `notedraft draft --out` creates its note)."""
    return os.open(path, flags, 0o600)
