"""Background jobs for LLM drafts, so a slow or hanging LLM never holds a request thread.

Why: FastAPI runs sync handlers in one shared thread pool (40 threads). An LLM draft that waits 30 s on a hung
server held one of those threads for 30 s; 40 of them starved `/api/validate`, saves and page loads. Now an LLM
draft is a job: the request returns 202 at once, the job waits in a bounded per-endpoint queue and runs on that
endpoint's own small set of worker threads, and the page polls `GET /api/jobs/{id}`.

- At most `workers` jobs run at once per LLM endpoint (base URL): one hung endpoint cannot use more threads.
- At most `max_pending` jobs (running + queued) per endpoint; beyond that `submit` raises `QueueFull` with a
  Retry-After estimate, which the API turns into 429.
- `cancel` drops a queued job at once. A running job cannot be interrupted mid-HTTP-call (the openai client
  has no cross-thread abort); it is marked cancelled, the reply is discarded when the call returns (bounded by the
  LLM timeout), and nothing is saved.
- Jobs run in the process that took them. With `publish`, every change of a job's status is also written
  where other editor processes can read it (the store's `jobs` table), so a page whose next poll lands on another
  process behind the proxy still sees its job; with `cancel_requested`, a cancel asked on another process reaches
  the job (before it starts, and before its draft is saved). The dictation of a pending job is also still in the
  scribe's form (the page keeps it until the draft exists), so a restart loses no text; it only forgets the job.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled"})
KEEP_FINISHED_S = 3600  # how long a finished job's status stays readable
KEEP_FINISHED_MAX = 1000
log = logging.getLogger("notedraft.web")


class QueueFull(Exception):
    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class JobFailed(Exception):
    """Raised by a job's work with a message safe to show (never note text): the job ends as failed."""

    def __init__(self, error: str, message: str):
        super().__init__(message)
        self.error, self.message = error, message


class Cancelled(Exception):
    """Raised by a job's work when it sees its cancel flag before saving."""


@dataclass
class Job:
    id: str
    endpoint: str
    strategy: str
    work: Callable[[threading.Event], dict]
    created: float
    state: State = "queued"
    started: float | None = None
    finished: float | None = None
    result: dict | None = None
    error: dict | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


class _SharedCancel(threading.Event):
    """A job's cancel flag that is also set by a cancel asked on another process (see `cancel_requested`)."""

    def __init__(self, job_id: str, requested: Callable[[str], bool]):
        super().__init__()
        self.job_id, self.requested = job_id, requested

    def is_set(self) -> bool:
        if not super().is_set():
            try:
                if self.requested(self.job_id):
                    self.set()
            except Exception as e:  # the database is unreachable: the local flag still holds
                log.warning("could not read a job's cancel request: %s", type(e).__name__)
        return super().is_set()


class JobQueue:
    def __init__(self, *, workers: int = 2, max_pending: int = 16, clock: Callable[[], float] = time.monotonic,
                 publish: Callable[[str, dict], None] | None = None,
                 cancel_requested: Callable[[str], bool] | None = None):
        if workers < 1 or max_pending < workers:
            raise ValueError("need workers >= 1 and max_pending >= workers")
        self.workers, self.max_pending, self.clock = workers, max_pending, clock
        self.publish, self.cancel_requested = publish, cancel_requested
        self._lock = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._queues: dict[str, deque[Job]] = {}
        self._running: dict[str, int] = {}
        self._threads: dict[str, int] = {}
        self._durations: deque[float] = deque(maxlen=20)  # recent run times, for Retry-After

    # -- API --------------------------------------------------------------------------------------------------
    def submit(self, endpoint: str, strategy: str, work: Callable[[threading.Event], dict]) -> Job:
        with self._lock:
            self._prune()
            queue = self._queues.setdefault(endpoint, deque())
            pending = len(queue) + self._running.get(endpoint, 0)
            if pending >= self.max_pending:
                raise QueueFull(
                    f"{pending} LLM drafts are already waiting for this LLM endpoint (the limit is {self.max_pending});"
                    " try again shortly or use the template strategy",
                    self._retry_after(pending),
                )
            job = Job(id=secrets.token_urlsafe(16), endpoint=endpoint, strategy=strategy, work=work, created=self.clock())
            if self.cancel_requested is not None:
                job.cancel = _SharedCancel(job.id, self.cancel_requested)
            self._jobs[job.id] = job
            queue.append(job)
        self._publish(job)  # before a worker can pick it up, so other processes know it from the start
        with self._lock:
            if self._threads.get(endpoint, 0) < self.workers:
                self._threads[endpoint] = self._threads.get(endpoint, 0) + 1
                threading.Thread(target=self._worker, args=(endpoint,), name="notedraft-llm-job", daemon=True).start()
        return job

    def _publish(self, job: Job) -> None:
        if self.publish is None:
            return
        try:
            self.publish(job.id, self.status(job))
        except Exception as e:  # the job goes on; only other processes lose sight of it
            log.warning("could not record a job's status: %s", type(e).__name__)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.state in FINISHED:
                return job
            job.cancel.set()
            if job.state == "queued":
                self._queues[job.endpoint].remove(job)
            job.state, job.finished = "cancelled", self.clock()
        self._publish(job)
        return job

    def status(self, job: Job) -> dict[str, Any]:
        """The JSON the page polls: state, place in the queue, seconds waited and run, and the outcome."""
        with self._lock:
            now = self.clock()
            out: dict[str, Any] = {"job": job.id, "state": job.state, "strategy": job.strategy,
                                   "status_url": f"/api/jobs/{job.id}"}
            if job.state == "queued":
                queue = self._queues.get(job.endpoint, deque())
                out["position"] = next((i + 1 for i, j in enumerate(queue) if j is job), None)
                out["running"] = self._running.get(job.endpoint, 0)
            out["waited_s"] = round((job.started or job.finished or now) - job.created, 1)
            if job.started is not None:
                out["running_s"] = round((job.finished or now) - job.started, 1)
            if job.result is not None:
                out.update(job.result)
            if job.error is not None:
                out.update(job.error)
            return out

    def counts(self) -> dict[str, int]:
        with self._lock:
            counts = {"queued": 0, "running": 0, "done": 0, "failed": 0, "cancelled": 0}
            for job in self._jobs.values():
                counts[job.state] += 1
            return counts

    # -- workers ----------------------------------------------------------------------------------------------
    def _worker(self, endpoint: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[endpoint]
                if not queue:
                    self._threads[endpoint] -= 1  # idle threads exit; submit starts new ones
                    return
                job = queue.popleft()
                job.state, job.started = "running", self.clock()
                self._running[endpoint] = self._running.get(endpoint, 0) + 1
            if job.cancel.is_set():  # cancelled on another process while it waited here
                with self._lock:
                    self._running[endpoint] -= 1
                    job.state, job.finished = "cancelled", self.clock()
                self._publish(job)
                continue
            self._publish(job)
            outcome: tuple[State, dict | None, dict | None]
            try:
                outcome = ("done", job.work(job.cancel), None)
            except Cancelled:
                outcome = ("cancelled", None, None)
            except JobFailed as e:
                outcome = ("failed", None, {"error": e.error, "message": e.message})
            except Exception as e:  # never the message: it could quote the dictation
                outcome = ("failed", None, {"error": "draft_failed",
                                            "message": f"drafting failed ({type(e).__name__}); nothing was saved"})
            with self._lock:
                self._running[endpoint] -= 1
                self._durations.append(self.clock() - job.started)
                if job.state == "running":  # not cancelled meanwhile
                    job.state, job.result, job.error = outcome
                    job.finished = self.clock()
            self._publish(job)

    def _retry_after(self, pending: int) -> int:
        typical = sum(self._durations) / len(self._durations) if self._durations else 10.0
        return max(1, min(300, math.ceil(typical * pending / self.workers)))

    def _prune(self) -> None:
        now = self.clock()
        done = [j for j in self._jobs.values() if j.state in FINISHED]
        stale = {j.id for j in done if now - (j.finished or now) > KEEP_FINISHED_S}
        if len(done) - len(stale) > KEEP_FINISHED_MAX:
            stale |= {j.id for j in sorted(done, key=lambda j: j.finished or 0)[: len(done) - KEEP_FINISHED_MAX]}
        for job_id in stale:
            del self._jobs[job_id]
