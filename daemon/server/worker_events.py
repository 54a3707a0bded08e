"""The server's side of its worker links: what each worker message means for the requests in
that worker's batch, and what happens to a worker that dies, hangs or speaks garbage (it is
killed and restarted, and only its in-flight requests get an ERROR; a request the client had
cancelled ends as cancelled). A worker that fails or hangs while loading its model is killed
and started again after a pause that doubles with each failed load in a row; while no worker
has the model, requests get ERROR model_unavailable at once instead of waiting.

`WorkerEvents` is a mixin of `Server` (server.py), which owns the state these methods use:
the job table and `_finish`, the client socket and `_send`, the supervisor, the scheduler,
the metrics and the config.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import zmq

from motionbridge.daemon.protocol import frames as P
from motionbridge.daemon.protocol import link as L
from motionbridge.daemon.protocol.link import link_recv
from motionbridge.daemon.protocol.payload import progress_message

from .config import ServerConfig
from .scheduler import Job
from .supervisor import WorkerHandle

if TYPE_CHECKING:
    from collections.abc import Callable

    from .metrics import Metrics
    from .scheduler import Scheduler
    from .supervisor import Supervisor

log = logging.getLogger("motionbridge.server")

LOADING = "loading"  # the PROGRESS stage of a request that waits for a worker to load the model
LOAD_RETRY_MAX_S = 600.0  # the pause between failed loads stops doubling here (unless --load-retry is longer)


class WorkerEvents:
    if TYPE_CHECKING:  # provided by Server
        cfg: ServerConfig
        supervisor: Supervisor
        scheduler: Scheduler
        metrics: Metrics
        draining_since: float | None
        _send: Callable[..., bool]
        _finish: Callable[..., None]

    def _read_worker(self, w: WorkerHandle) -> None:
        """Handles everything the worker has sent; a message it cannot handle restarts the worker."""
        while w.sock is not None and w.sock.poll(0):
            try:
                msg = link_recv(w.sock)
            except P.ProtocolError as exc:  # a worker speaking garbage is as good as dead
                self._restart(w, f"bad link message: {exc}")
                return
            try:
                self._on_worker(w, msg)
            except (KeyError, TypeError, ValueError, zmq.ZMQError) as exc:
                log.exception("internal error")
                self._restart(w, f"could not handle its {msg.command}: {exc}")
                return

    def _on_worker(self, w: WorkerHandle, msg: P.Message) -> None:
        w.last_seen = time.monotonic()  # any message counts as a sign of life (see _watch_workers)
        h = msg.header
        jobs = w.jobs_by_key()
        if msg.command == L.READY:
            w.ready, w.ever_ready = True, True
            w.load_failures, w.load_error = 0, ""
            w.model_name, w.model_hash = str(h.get("model_name", "")), str(h.get("model_hash", ""))
            extra = {"worker": w.index, "model": w.model_name, "load_s": round(h.get("load_s", 0.0), 3)}
            if w.died_at is not None:
                extra["recovery_s"] = round(w.last_seen - w.died_at, 3)
                w.died_at = None
            log.info("worker ready", extra=extra)
        elif msg.command == L.COMPILES:
            w.compiles = {k: h.get(k) for k in ("ready", "failed", "queued", "compiling")}
        elif msg.command == L.STEP and h.get("batch") == w.batch_id:
            for key in h.get("ids", []):
                job = jobs.get(key)
                if job is not None and not job.cancelled and job.deliverable:
                    self._progress(job, h["step"], h["total"], str(h.get("stage", "")), int(h.get("queued", 0)))
        elif msg.command == P.PROGRESS:  # a preview, built by the worker for this job's client
            job = jobs.get(str(h.get("id")))
            if job is not None and not job.cancelled and job.deliverable:
                self._send(job.client, L.for_client(msg, job.spec.id))
        elif msg.command == P.RESULT and h.get("batch") == w.batch_id:  # a take, likewise
            job = jobs.get(str(h.get("id")))
            if job is not None and not job.cancelled:
                job.results += 1
                job.sent.append(L.for_client(msg, job.spec.id))
                if job.deliverable:  # otherwise kept in job.sent for its owner's resend
                    self._send(job.client, job.sent[-1])
        elif msg.command == L.DONE and h.get("batch") == w.batch_id:
            for job in list(w.batch):
                if job.results >= job.rows and not job.cancelled:
                    self._finish(job)
                else:
                    self._end(job, P.E_ENGINE, f"the engine returned {job.results} of {job.rows} takes")
        elif msg.command == L.OOM and h.get("batch") == w.batch_id:
            self.metrics.count("oom_total")
            rows = sum(j.rows for j in w.batch)
            log.warning("out of memory", extra={"worker": w.index, "rows": rows, "requests": len(w.batch)})
            if len(w.batch) == 1:
                self._end(w.batch[0], P.E_OOM, f"out of device memory even alone ({rows} seeds); ask for fewer "
                          "seeds or a shorter duration")
            else:  # split: put the jobs back and run at most half the rows per batch on this worker
                w.row_cap = max(1, rows // 2)
                for job in [j for j in w.batch if j.cancelled]:  # not run again: their clients asked to stop
                    self._finish(job, P.E_CANCELLED, "cancelled by the client")
                batch, w.batch = w.batch, []
                for job in batch:
                    job.worker, job.started_at = None, None
                self.scheduler.requeue_front(batch)
        elif msg.command == L.FAIL:
            log.error("worker failure", extra={"worker": w.index, "detail": h.get("message"), "healthy": h.get("healthy")})
            for job in list(w.batch):
                self._end(job, P.E_ENGINE, f"generation failed: {h.get('message')}")
            if not w.ever_ready and not w.restarts:  # the first load: a wrong path or a broken install
                raise SystemExit(f"motionbridge serve: {h.get('message')}")
            if not w.ready:  # a later load failed (e.g. the model's filesystem came back broken)
                self._restart(w, str(h.get("message")))
            elif not h.get("healthy", True):
                self._restart(w, "unhealthy: " + str(h.get("reason")))

    def _progress(self, job: Job, step: int, total: int, stage: str, queued: int) -> None:
        """PROGRESS to the job's client; the JSON log says when a request waits or runs on a
        slower path, and why, once per change of stage."""
        if stage != job.stage:
            job.stage = stage
            log.info("request stage", extra={"id": job.spec.id, "stage": stage or "compiled", "queued": queued})
        # a client that is behind gets the newest step of a stage, not each one (outbox.py)
        self._send(job.client, progress_message(job.spec.id, step, total, stage=stage, queued=queued), coalesce=(job.key, stage))

    def _tell_loading(self) -> None:
        """While no worker has the model (the start, a worker restart), each waiting request hears
        once that it waits for the load: PROGRESS step 0 of 0, stage 'loading'. Not once a load
        has failed: those requests get model_unavailable instead (_restart)."""
        if any(w.ready for w in self.supervisor.workers) or self._model_unavailable() is not None:
            return
        for job in self.scheduler.jobs():
            if job.stage != LOADING and job.deliverable:
                self._progress(job, 0, 0, LOADING, 0)

    def _watch_workers(self) -> None:
        """Restarts a worker that exited, that has not loaded its model after load_timeout_s, or
        that has sent nothing for step_timeout_s mid-batch; starts one whose retry pause is over.

        A running batch sends STEP every Euler step but nothing while it encodes the prompts
        or decodes the takes, so the step timeout has to cover those phases too."""
        now = time.monotonic()
        for w in self.supervisor.workers:
            if w.proc is None and self.draining_since is not None:
                continue  # stopped for good while draining (see _restart)
            if w.retry_at is not None:  # pausing after a failed load (see _restart)
                if now >= w.retry_at:
                    self.supervisor.start(w)
                continue
            if self.supervisor.dead(w):
                proc = w.proc
                while w.sock is not None and w.sock.poll(0):  # its last words (FAIL, RESULT) come first
                    try:
                        self._on_worker(w, link_recv(w.sock))
                    except P.ProtocolError:
                        break
                if w.proc is not proc:  # _on_worker already restarted it, or paused it after a failed load
                    continue
                code = w.proc.exitcode if w.proc is not None else None
                if not w.ever_ready and code not in (None, 0) and w.restarts == 0:
                    raise SystemExit(f"motionbridge serve: the worker exited with status {code} while loading the model")
                self._restart(w, f"exited with status {code}")
            elif not w.ready and now - w.started_at > self.cfg.load_timeout_s:
                # a load stuck on a hung mount never fails by itself; SIGKILL is the one way out
                self._restart(w, f"model not loaded after {self.cfg.load_timeout_s:g} s (--load-timeout), so it "
                              "was killed; check that the checkpoint and text encoder folders are readable "
                              "(a hung network mount?) or raise --load-timeout")
            elif w.batch and now - w.last_seen > self.cfg.step_timeout_s:
                # a hung kernel sends nothing and ignores the link: only SIGKILL frees the device
                self._restart(w, f"hung: no progress for {self.cfg.step_timeout_s:g} s, so it was killed")

    def _restart(self, w: WorkerHandle, why: str) -> None:
        loading = not w.ready  # a load that failed once would likely fail again at once: pause first
        w.died_at = time.monotonic()
        log.error("worker restart", extra={"worker": w.index, "reason": why, "in_flight": len(w.batch)})
        for job in list(w.batch):
            self._end(job, P.E_WORKER_DIED, f"the model worker failed mid-request ({why}); the daemon restarted it, "
                      "resend the request")
        self.supervisor.kill(w)
        if self.draining_since is not None:  # shutting down (systemd signals the whole group): no new worker
            log.info("worker not restarted: draining", extra={"worker": w.index})
            return
        w.restarts += 1
        self.metrics.count("worker_restarts_total")
        if not loading:
            self.supervisor.start(w)
            return
        w.load_failures += 1
        w.load_error = why
        base = self.cfg.load_retry_s
        pause = min(base * 2 ** min(w.load_failures - 1, 20), max(base, LOAD_RETRY_MAX_S))
        w.retry_at = w.died_at + pause
        self.metrics.count("worker_load_failures_total")
        log.warning("worker load failed", extra={"worker": w.index, "reason": why, "failures": w.load_failures,
                                                 "retry_in_s": round(pause, 3)})
        why_not = self._model_unavailable()
        if why_not is not None:  # nothing can run the waiting requests soon: tell their clients now
            for job in self.scheduler.jobs():
                self._finish(job, P.E_MODEL_UNAVAILABLE, why_not)

    def _end(self, job: Job, code: str, message: str) -> None:
        """Ends a job its worker did not complete; one the client cancelled ends as cancelled, as it asked."""
        if job.cancelled:
            self._finish(job, P.E_CANCELLED, "cancelled by the client")
        else:
            self._finish(job, code, message)

    def _model_unavailable(self) -> str | None:
        """Why no request can run soon: no worker has the model, and each one's last load failed.
        None while any worker is ready or still on a first try (a start, or a restart after a crash)."""
        workers = self.supervisor.workers
        if any(w.ready or not w.load_failures for w in workers):
            return None
        now = time.monotonic()
        w = min(workers, key=lambda w: w.retry_at or now)  # the one that may have the model soonest
        when = f"tries again in {w.retry_at - now:.0f} s" if w.retry_at is not None else "is loading it again"
        return f"the model is not loaded, the worker's last try failed: {w.load_error}. The daemon {when}; resend then"
