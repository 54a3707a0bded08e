"""The waiting room: bounded queues per priority and the batching rule.

Every request of one engine is compatible with every other (the engine batches different
prompts, durations, seeds and cfg), except a directed take, which always runs alone
(`Job.alone`); so a batch is interactive requests first, then
batch-priority ones, up to a number of rows (one row per seed). Within a priority, owners
(clients, see ownership.py) take turns: the next job is the oldest one of the owner served
least recently, so one client's burst of requests cannot starve another client's one request.
Each owner's own requests keep their order.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

from motionbridge.daemon.protocol.frames import PRIORITIES, GenerateSpec

_keys = itertools.count(1)


@dataclass(eq=False)
class Job:
    client: bytes  # ROUTER routing id its messages go to; moves when its owner reconnects
    spec: GenerateSpec
    received_at: float
    owner: bytes = b""  # who may cancel it or get its results again (ownership.py)
    key: str = field(default_factory=lambda: f"j{next(_keys)}")  # daemon-unique, used on the worker link
    started_at: float | None = None
    results: int = 0
    cancelled: bool = False
    gone: bool = False  # the client vanished; its results are dropped
    unreachable_since: float | None = None  # a send failed; cancelled if the client stays away
    sent: list = field(default_factory=list)  # RESULT messages, kept for a resend (replay.py)
    worker: int | None = None
    stage: str = ""  # the last slower-path stage its PROGRESS reported ('compiling'...), logged once per change
    arrays: dict = field(default_factory=dict)  # a directed take's control arrays, forwarded to the worker

    @property
    def alone(self) -> bool:
        """A directed take runs in a batch of its own (daemon/controls/served.py): its constraints
        apply to every row of the batch (on a GPU, the graphs its loop is captured in impose them)."""
        return self.spec.controls is not None

    @property
    def deliverable(self) -> bool:
        """Whether to send to `client` now. Not after a send there failed: that routing id may
        since belong to another peer, so nothing goes out until the owner proves itself again."""
        return not self.gone and self.unreachable_since is None

    @property
    def rows(self) -> int:
        return len(self.spec.seeds)


class QueueFull(Exception):
    pass


class Scheduler:
    def __init__(self, max_queue: int, max_batch_rows: int):
        if max_queue < 1 or max_batch_rows < 1:
            raise ValueError("max_queue and max_batch_rows must be >= 1")
        self.max_queue = max_queue
        self.max_batch_rows = max_batch_rows
        self._queues: dict[str, deque[Job]] = {p: deque() for p in PRIORITIES}
        self._served: dict[bytes, int] = {}  # owner -> the turn it was last served in
        self._turn = 0

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def jobs(self) -> list[Job]:
        return [j for p in PRIORITIES for j in self._queues[p]]

    def submit(self, job: Job) -> int:
        """Queues the job; returns its position (0 = next). Raises QueueFull, never drops."""
        if len(self) >= self.max_queue:
            raise QueueFull
        self._queues[job.spec.priority].append(job)
        return self.position(job)

    def position(self, job: Job) -> int:
        ahead = 0
        for p in PRIORITIES:
            q = self._queues[p]
            if job in q:
                return ahead + list(q).index(job)
            ahead += len(q)
        return -1

    def requeue_front(self, jobs: list[Job]) -> None:
        """Puts jobs back at the head of their queues (after an OOM split), keeping their order."""
        for job in reversed(jobs):
            self._queues[job.spec.priority].appendleft(job)

    def remove(self, job: Job) -> bool:
        q = self._queues[job.spec.priority]
        if job in q:
            q.remove(job)
            return True
        return False

    def next_batch(self, max_rows: int | None = None) -> list[Job]:
        """Interactive first, then batch priority, owners taking turns; at least one job when any waits."""
        limit = max_rows or self.max_batch_rows
        batch: list[Job] = []
        rows = 0
        for p in PRIORITIES:
            q = self._queues[p]
            while q:
                job = self._next_turn(q)
                if batch and (rows + job.rows > limit or job.alone or batch[0].alone):
                    break
                q.remove(job)
                batch.append(job)
                rows += job.rows
                self._turn += 1
                self._served[job.owner] = self._turn
            if q and batch:
                break  # never let a later priority jump a waiting one
        if len(self._served) > 4096:  # forget owners with nothing waiting
            waiting = {j.owner for j in self.jobs()}
            self._served = {o: t for o, t in self._served.items() if o in waiting}
        return batch

    def _next_turn(self, q: deque[Job]) -> Job:
        """The oldest job of the owner served least recently (never served: the oldest job)."""
        best: Job | None = None
        seen: set[bytes] = set()
        for job in q:  # oldest first
            if job.owner in seen:
                continue
            seen.add(job.owner)
            if best is None or self._served.get(job.owner, 0) < self._served.get(best.owner, 0):
                best = job
        assert best is not None  # q is not empty
        return best
