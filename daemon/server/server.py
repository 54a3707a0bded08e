"""The daemon's event loop: one ROUTER socket for clients, one PAIR link per worker.

Everything runs on this one thread (ZeroMQ sockets are not thread-safe); nothing in it
blocks: sends to clients never wait (outbox.py queues what a slow client cannot take yet),
workers are separate processes, and the loop wakes at least four times per heartbeat interval.

The client socket has no ZMTP heartbeats: libzmq 4.3 aborts the whole process
(`Assertion failed: !_io_error (stream_engine_base.cpp:310)`) when a heartbeat fires on a
connection whose input is stalled by a full pipe and whose peer has gone, which a few clients
that flood and never read cause within seconds. Dead peers are found by TCP keepalive and by
failed sends instead; the daemon's own HEARTBEAT messages still tell clients it is alive.
"""

from __future__ import annotations

import logging
import signal
import time

import zmq

from motionbridge.daemon import __version__
from motionbridge.daemon.controls.wire import from_wire
from motionbridge.daemon.protocol import frames as P
from motionbridge.daemon.protocol import limits
from motionbridge.daemon.protocol import link as L
from motionbridge.daemon.protocol.link import link_send

from .config import ServerConfig
from .metrics import Metrics
from .outbox import DROPPED, QUEUED, SENT, UNREACHABLE, Outbox
from .ownership import owner_of
from .replay import ReplayCache
from .scheduler import Job, QueueFull, Scheduler
from .supervisor import Supervisor
from .worker_events import WorkerEvents

log = logging.getLogger("motionbridge.server")
WATCH_S = 0.02  # how often the loop checks its workers for exits, load and step timeouts


class Server(WorkerEvents):
    def __init__(self, config: ServerConfig, ctx: zmq.Context | None = None):
        self.cfg = config
        self.ctx = ctx or zmq.Context()
        self.metrics = Metrics()
        self.scheduler = Scheduler(config.max_queue, config.max_batch_rows)
        self.supervisor = Supervisor(self.ctx, config.engine, config.gpus)
        self.jobs: dict[tuple[bytes, str], Job] = {}  # (owner, request id) -> job
        self.replay = ReplayCache()  # a late Lazy Pirate resend of an ended request gets its outcome again
        self.draining_since: float | None = None
        self.started = time.monotonic()
        self._batch_ids = 0
        self._log_later: list[tuple[str, dict]] = []  # see _log_soon
        self._auth = None
        self.router = self._open_router()
        self.outbox = Outbox(self.router, max_messages=config.outbox_messages)

    # ------------------------------------------------------------------ setup

    def _open_router(self) -> zmq.Socket:
        sock = self.ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # unroutable -> error, not a silent drop
        # no ROUTER_HANDOVER: with it, a peer presenting a connected client's routing id took
        # over its connection and got its results. A reconnecting client comes back under a
        # fresh routing id and proves ownership with its secret or key (ownership.py).
        sock.setsockopt(zmq.SNDHWM, self.cfg.send_hwm)
        sock.setsockopt(zmq.MAXMSGSIZE, P.MAX_REQUEST_BYTES)
        sock.setsockopt(zmq.LINGER, 0)
        # no ZMTP heartbeats here (see the module docstring); the kernel finds dead peers
        sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
        sock.setsockopt(zmq.TCP_KEEPALIVE_IDLE, max(1, int(3 * self.cfg.heartbeat_s)))
        sock.setsockopt(zmq.TCP_KEEPALIVE_INTVL, 1)
        sock.setsockopt(zmq.TCP_KEEPALIVE_CNT, 3)
        if self.cfg.curve_dir:
            from .keys import start_authenticator

            self._auth, public, secret = start_authenticator(self.ctx, self.cfg.curve_dir)
            sock.curve_server = True
            sock.curve_publickey, sock.curve_secretkey = public, secret
        sock.bind(self.cfg.bind)
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        return sock

    # ------------------------------------------------------------------ main loop

    def serve_forever(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.drain())
        signal.signal(signal.SIGINT, lambda *_: self.drain())
        for w in self.supervisor.workers:
            self.supervisor.start(w)
        log.info("serving", extra={"endpoint": self.endpoint, "workers": len(self.supervisor.workers),
                                   "curve": bool(self.cfg.curve_dir)})
        last_heartbeat = last_watch = 0.0
        poller, polled = zmq.Poller(), ()
        try:
            while True:
                socks = (self.router, *(w.sock for w in self.supervisor.workers if w.sock is not None))
                if socks != polled:  # a worker (re)started or stopped
                    poller, polled = zmq.Poller(), socks
                    for sock in socks:
                        poller.register(sock, zmq.POLLIN)
                poller.poll(max(1, int(self.cfg.heartbeat_s * 250)))
                for _ in range(256):  # bounded, so a flood cannot starve the workers
                    if not self.router.poll(0):  # cheaper than a NOBLOCK recv's zmq.Again (~20 us to raise)
                        break
                    parts = self.router.recv_multipart(copy=False)
                    if self.outbox.muted(parts[0].bytes):
                        continue  # dropped for not reading what it asked for: read, never answered
                    # ZAP's User-Id (the client's CURVE public key) travels with each message
                    user_id = parts[-1].get("User-Id") if self.cfg.curve_dir else None
                    frames = [p.bytes for p in parts]
                    try:
                        self._on_client(frames, user_id)
                    except Exception:  # noqa: BLE001 - one bad message must not stop the daemon
                        log.exception("internal error")  # never the routing id (see _on_client)
                        self.metrics.count("errors_total", P.E_INTERNAL)
                        self._send(frames[0], P.error(None, P.E_INTERNAL, "the daemon hit an internal error; see its log"))
                # a new request reaches an idle worker before anything else (a burst read above still batches)
                last_watch = self._watch_and_dispatch(last_watch)
                for client in self.outbox.flush():
                    self._client_gone(client)
                for w in self.supervisor.workers:
                    self._read_worker(w)
                last_watch = self._watch_and_dispatch(last_watch)
                self._tell_loading()
                now = time.monotonic()
                if now - last_heartbeat >= self.cfg.heartbeat_s:
                    last_heartbeat = now
                    self._heartbeat()
                    self._expire_unreachable()
                self.metrics.set_load(sum(len(w.batch) for w in self.supervisor.workers), len(self.scheduler))
                if self.draining_since is not None and self._drained(now):
                    return 0
        finally:
            self._flush_log()
            self.close()

    def _watch_and_dispatch(self, last_watch: float) -> float:
        """Runs what waits on idle workers, checking the workers first (exits, load and step
        timeouts, _watch_workers); with nothing waiting, the check runs every WATCH_S rather than
        on each of the dozen messages a take sends. Returns when the workers were last checked."""
        now = time.monotonic()
        if len(self.scheduler) or now - last_watch >= WATCH_S:
            self._watch_workers()
            last_watch = now
        self._dispatch()
        self._flush_log()
        return last_watch

    def drain(self) -> None:
        if self.draining_since is None:
            self.draining_since = time.monotonic()
            log.info("draining", extra={"running": sum(len(w.batch) for w in self.supervisor.workers),
                                        "waiting": len(self.scheduler)})

    def _drained(self, now: float) -> bool:
        if not self.jobs:
            return True
        if self.draining_since is not None and now - self.draining_since < self.cfg.drain_timeout_s:
            return False
        for job in list(self.jobs.values()):
            self._finish(job, P.E_SHUTTING_DOWN, "the daemon is shutting down and its drain time ran out; resend later")
        return True

    def close(self) -> None:
        self.supervisor.close()
        self.router.close(0)
        if self._auth is not None:
            self._auth.stop()

    # ------------------------------------------------------------------ clients

    def _send(self, client: bytes, msg: P.Message, coalesce: object = None) -> bool:
        """Sends or queues (outbox.py, `coalesce` there); never waits. False when the client is gone or dropped."""
        result = self.outbox.send(client, P.encode(msg), coalesce)
        if result in (SENT, QUEUED):
            return True
        if result == UNREACHABLE:
            log.warning("client unreachable", extra={"requests": self._request_ids(client)})
        elif result == DROPPED:
            self.metrics.count("clients_dropped_total")
            log.warning("client dropped: it does not read its replies", extra={
                "queued": self.cfg.send_hwm + self.cfg.outbox_messages, "requests": self._request_ids(client)})
        self._client_gone(client)
        return False

    def _request_ids(self, client: bytes) -> list[str]:
        """What a log line says about a client: its requests' ids; its routing id never appears
        in logs (a reader of the log could take over the connection with it)."""
        return [j.spec.id for j in self.jobs.values() if j.client == client]

    def _client_gone(self, client: bytes) -> None:
        """A send failed. A Lazy Pirate client that is reconnecting is briefly unroutable too,
        so its jobs keep running for a grace period (`_expire_unreachable`); a resend within it
        finds them again. Only a client that stays away loses its jobs."""
        now = time.monotonic()
        for job in [j for j in self.jobs.values() if j.client == client and not j.gone]:
            if job.unreachable_since is None:
                job.unreachable_since = now

    def _expire_unreachable(self) -> None:
        grace = max(2.0, 3 * self.cfg.heartbeat_s)
        now = time.monotonic()
        for job in [j for j in self.jobs.values() if j.unreachable_since is not None and not j.gone]:
            if now - job.unreachable_since > grace:
                self._cancel(job, notify=False)

    def _on_client(self, frames: list[bytes], user_id: str | None = None) -> None:
        client, frames = frames[0], frames[1:]
        try:
            msg = P.decode(frames)
        except P.ProtocolError as exc:
            self.metrics.count("errors_total", exc.code)
            self._send(client, P.error(None, exc.code, exc.message))
            return
        rid = msg.header.get("id")
        try:
            owner = owner_of(client, msg.header, user_id)
            for job in [j for j in self.jobs.values() if j.owner == owner]:
                # it is back, maybe on a new connection (a Lazy Pirate reconnect): deliver there
                job.client, job.unreachable_since = client, None
            if msg.command == P.HEARTBEAT:
                return
            rid = P.parse_id(msg.header)
            if msg.command == P.GENERATE:
                self._on_generate(client, owner, P.parse_generate(msg.header), msg.arrays)
            elif msg.command == P.CANCEL:
                job = self.jobs.get((owner, rid))
                if job is None:
                    raise P.ProtocolError(P.E_UNKNOWN_REQUEST, f"no running or waiting request {rid!r} from this client")
                self._cancel(job, notify=True)
            elif msg.command == P.PING:
                self._send(client, P.Message(P.PONG, {"id": rid, "time": time.time()}))
            elif msg.command == P.HELLO:
                self._send(client, P.Message(P.HELLO, {"id": rid, **self.hello()}))
            elif msg.command == P.STATUS:
                self._send(client, P.Message(P.STATUS, {"id": rid, **self.status()}))
        except P.ProtocolError as exc:
            self.metrics.count("errors_total", exc.code)
            self._send(client, P.error(rid if isinstance(rid, str) else None, exc.code, exc.message))

    def _on_generate(self, client: bytes, owner: bytes, spec: P.GenerateSpec, arrays: dict | None = None) -> None:
        known = self.jobs.get((owner, spec.id))
        if known is not None:  # a Lazy Pirate resend: answer again, never run twice
            pos = self.scheduler.position(known)
            log.info("resent", extra={"request": spec.id, "key": known.key})
            if self._send(client, P.Message(P.ACCEPTED, {"id": spec.id, "position": max(pos, 0), "running": pos < 0})):
                for result in known.sent:  # results that went to the old connection may be lost
                    self._send(client, result)
            return
        outcome = self.replay.get((owner, spec.id))  # only its owner's resend gets it
        if outcome is not None:
            log.info("replayed", extra={"request": spec.id, "messages": len(outcome)})
            if self._send(client, P.Message(P.ACCEPTED, {"id": spec.id, "position": 0, "replay": True})):
                for msg in outcome:
                    self._send(client, msg)
            return
        if self.draining_since is not None:
            raise P.ProtocolError(P.E_SHUTTING_DOWN, "the daemon is shutting down; send the request to another daemon or later")
        why_not = self._model_unavailable()
        if why_not is not None:  # refused, not queued: it could wait for minutes of retries
            raise P.ProtocolError(P.E_MODEL_UNAVAILABLE, why_not)
        served = self._served_model()
        if spec.model is not None and served is not None and spec.model != served:
            raise P.ProtocolError(P.E_BAD_REQUEST, f"this daemon serves model {served!r}; pass model={served!r} or None")
        control_arrays = {}
        if spec.controls is not None:  # checked here, so a bad one is refused at once and never reaches a worker
            try:
                from_wire(spec.controls, arrays or {}, spec.duration_s)
            except ValueError as exc:
                raise P.ProtocolError(P.E_BAD_REQUEST, f"controls: {exc}") from None
            control_arrays = dict(arrays or {})
        job = Job(client, spec, time.monotonic(), owner=owner, arrays=control_arrays)
        try:
            position = self.scheduler.submit(job)
        except QueueFull:
            self.metrics.count("errors_total", "busy")
            self._send(client, P.Message(P.BUSY, {"id": spec.id, "retry_after_s": self._retry_after(),
                                                  "waiting": len(self.scheduler), "max_queue": self.cfg.max_queue}))
            return
        self.jobs[(owner, spec.id)] = job
        self._send(client, P.Message(P.ACCEPTED, {"id": spec.id, "position": position, "warnings": list(spec.warnings)}))
        self._log_soon("accepted", {"request": spec.id, "key": job.key, "seeds": len(spec.seeds),
                                    "priority": spec.priority, "position": position})

    def _served_model(self) -> str | None:
        for w in self.supervisor.workers:
            if w.model_name:
                try:
                    return str(limits.check_model(w.model_name).value)
                except ValueError:
                    return None  # a test or custom engine: any model name is accepted
        return None

    def _retry_after(self) -> float:
        h = self.metrics.request_seconds
        avg = h.sum / max(1, sum(h.counts)) if sum(h.counts) else 2.0
        return round(max(1.0, avg * len(self.scheduler) / max(1, len(self.supervisor.workers))), 1)

    def hello(self) -> dict:
        w = next((w for w in self.supervisor.workers if w.model_name), None)
        return {
            "protocol": P.PROTOCOL_VERSION, "daemon": __version__, "heartbeat_s": self.cfg.heartbeat_s,
            "model": w.model_name if w else None, "model_hash": w.model_hash if w else None,
            "models": list(limits.MODELS), "priorities": list(P.PRIORITIES), "root_motions": list(P.ROOT_MOTIONS),
            "rotation_order": P.ROTATION_ORDER, "fps": limits.FPS, "previews": True, "controls": [P.CONTROLS_VERSION],
            "limits": {"max_prompt_chars": limits.MAX_PROMPT_CHARS, "max_seeds": limits.MAX_SEEDS,
                       "max_duration_s": limits.MAX_DURATION_S, "max_frames": limits.MAX_FRAMES,
                       "max_request_bytes": P.MAX_REQUEST_BYTES, "max_queue": self.cfg.max_queue},
        }

    def status(self) -> dict:
        now = time.monotonic()
        return {
            "running": sum(len(w.batch) for w in self.supervisor.workers), "waiting": len(self.scheduler),
            "draining": self.draining_since is not None, "uptime_s": now - self.started,
            "unavailable": self._model_unavailable(),
            "workers": [{"index": w.index, "ready": w.ready, "pid": w.proc.pid if w.proc else None,
                         "restarts": w.restarts, "busy": bool(w.batch), "load_error": w.load_error or None,
                         "retry_in_s": round(max(0.0, w.retry_at - now), 1) if w.retry_at is not None else None,
                         "compiles": w.compiles}
                        for w in self.supervisor.workers],
        }

    def _heartbeat(self) -> None:
        for client in {j.client for j in self.jobs.values() if j.deliverable}:
            self._send(client, P.Message(P.HEARTBEAT, {}))

    # ------------------------------------------------------------------ jobs

    def _finish(self, job: Job, code: str | None = None, message: str = "") -> None:
        """Forgets the job; with a code, tells its client why it ended. A job ends once: a second
        call (say a dying worker's last DONE, then its restart) only makes sure it is gone."""
        known = self.jobs.pop((job.owner, job.spec.id), None) is job
        self.scheduler.remove(job)
        for w in self.supervisor.workers:
            if job in w.batch:
                w.batch.remove(job)
        if not known:
            return
        if code is None:
            self.metrics.observe("request_seconds", time.monotonic() - job.received_at)
            self.replay.put((job.owner, job.spec.id), job.sent)
            return
        self.metrics.count("cancelled_total" if code == P.E_CANCELLED else "errors_total", code)
        log.info("request ended", extra={"request": job.spec.id, "code": code})
        if not job.gone:
            self.replay.put((job.owner, job.spec.id), [*job.sent, P.error(job.spec.id, code, message)])
            if job.deliverable:
                self._send(job.client, P.error(job.spec.id, code, message))

    def _cancel(self, job: Job, notify: bool) -> None:
        if job.worker is None:  # still waiting: it never reached a worker
            if notify:
                self._finish(job, P.E_CANCELLED, "cancelled by the client")
            else:
                self.jobs.pop((job.owner, job.spec.id), None)
                self.scheduler.remove(job)
                self.metrics.count("cancelled_total")
            return
        job.cancelled = True
        if not notify:
            job.gone = True  # nobody to tell; results are dropped
        w = self.supervisor.workers[job.worker]
        if w.sock is not None:
            try:
                link_send(w.sock, L.CANCEL, {"id": job.key})
            except zmq.ZMQError as exc:  # a dead or stuck worker: _watch_workers restarts it, the job ends cancelled
                log.warning("cancel not delivered", extra={"worker": w.index, "request": job.spec.id,
                                                           "error": str(exc)})

    def _dispatch(self) -> None:
        for w in self.supervisor.workers:
            if not w.idle or not len(self.scheduler):
                continue
            batch = self.scheduler.next_batch(w.row_cap)
            now = time.monotonic()
            self._batch_ids += 1
            w.batch, w.batch_id, w.last_seen = batch, self._batch_ids, now
            for job in batch:
                job.worker, job.started_at = w.index, now
                self.metrics.observe("queue_seconds", now - job.received_at)
            self.metrics.observe("batch_size", sum(j.rows for j in batch))
            requests = [{**j.spec.to_header(), "id": j.key} for j in batch]
            preview_every = max((j.spec.preview_every for j in batch), default=0)
            assert w.sock is not None  # idle implies ready implies a live link
            arrays = {k: v for j in batch for k, v in j.arrays.items()}  # a directed job's, which runs alone
            link_send(w.sock, L.RUN, {"batch": w.batch_id, "requests": requests, "preview_every": preview_every,
                                      "preview_ids": [j.key for j in batch if j.spec.preview_every]}, arrays)
            self._log_soon("batch", {"worker": w.index, "batch": w.batch_id, "requests": len(batch),
                                     "rows": sum(j.rows for j in batch), "ids": [j.spec.id for j in batch]})

    def _log_soon(self, event: str, extra: dict) -> None:
        """An info line of the request path, written once this pass of the loop has sent its
        messages (a JSON line costs ~40 us, on the way from a GENERATE to its RUN twice)."""
        self._log_later.append((event, extra))

    def _flush_log(self) -> None:
        later, self._log_later = self._log_later, []
        for event, extra in later:
            log.info(event, extra=extra)

