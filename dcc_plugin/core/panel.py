"""The panel's state machine, shared by every DCC.

    disconnected -> connecting -> connected -> generating <-> preview -> take_written
                                    ^                                         |
                                    +-------------- generate again -----------+
    any state -> error (the message says what to do); connect / generate leave it.

Every public method runs on the DCC's main thread and returns at once: network calls go to
the JobManager's worker, and their results come back through `host.run_on_main_thread`.
Takes are written only when every seed of a request has arrived, all or nothing, so a
cancelled or failed generation never leaves a partial take behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from motionbridge.daemon.protocol import limits

from . import takes, targeting
from .client_factory import default_client_factory
from .directing import directed_take
from .errors import cause_of, explain_code, message_of
from .generation import Generation
from .host import Host, HostError, TakeInfo
from .jobs import JobManager
from .panel_errors import ErrorLine, NoTarget
from .scene_jobs import SceneJobs, SceneOutcome, TakeWriter
from .settings import Settings
from .states import State, stage_line

log = logging.getLogger(__name__)
POLL_S = 0.05  # the worker's wait per poll; also the worst extra latency of a cancel


class Panel(ErrorLine):
    def __init__(
        self,
        host: Host,
        settings: Settings | None = None,
        client_factory: Callable[[Settings], Any] = default_client_factory,
        on_change: Callable[[Panel], None] | None = None,
    ) -> None:
        self.host = host
        self.settings = (settings or Settings()).validated()
        self._factory = client_factory
        self._on_change = on_change
        self.jobs = JobManager(host.run_on_main_thread)
        self.scene_jobs = SceneJobs(host)  # detect and export, on a worker of their own
        self.client: Any = None
        self.server: dict[str, Any] = {}
        self.state = State.DISCONNECTED
        self.status = "Not connected."
        self.error = ""
        self.progress = 0.0
        self.stage = ""  # why the running request waits or runs slower (states.stage_line); '' otherwise
        self.warnings: tuple[str, ...] = ()
        self.target: targeting.Target | None = None
        self.written: list[TakeInfo] = []  # takes of the last finished generation
        self.write_ms: list[float] = []  # last result's arrival -> every take's keys written, per generation
        self.timings: dict[str, list[float]] = {}  # retarget_ms (worker), keys_ms (main thread), per take
        self._generation: Generation | None = None
        self._count = 0

    # -- state plumbing -------------------------------------------------------------------
    def _set(self, state: State, status: str | None = None) -> None:
        self.state = state
        if status is not None:
            self.status = status
        if state not in (State.GENERATING, State.PREVIEW):
            self.stage = ""
        if state is not State.ERROR:
            self.error, self.error_cause, self.error_rig = "", "", ""
        if self._on_change is not None:
            self._on_change(self)

    @property
    def connected(self) -> bool:
        return self.client is not None

    @property
    def busy(self) -> bool:
        gen = self._generation
        return gen is not None and not gen.cancelled and (not gen.finished or self.state in (State.GENERATING, State.PREVIEW))

    # -- connection -----------------------------------------------------------------------
    def connect(self, settings: Settings | None = None) -> None:
        if settings is not None:
            self.settings = settings.validated()
        if self.busy:
            raise ValueError("a generation is running; cancel it before reconnecting")
        old, self.client, self.server = self.client, None, {}
        self._set(State.CONNECTING, f"Connecting to {self.settings.endpoint}...")
        chosen = self.settings

        def work() -> tuple[Any, dict[str, Any]]:
            if old is not None:
                old.close()
            client = self._factory(chosen)
            try:
                return client, dict(client.hello())
            except BaseException:
                client.close()
                raise

        def done(result: tuple[Any, dict[str, Any]]) -> None:
            self.client, self.server = result
            version = self.server.get("daemon", self.server.get("version", "?"))
            model = self.server.get("model", "")
            self._set(State.CONNECTED, f"Connected to {chosen.endpoint} (daemon {version}{', ' + model if model else ''}).")

        self.jobs.submit(work, done, self._connect_failed)

    def _connect_failed(self, exc: BaseException) -> None:
        self.client = None
        self._fail(exc)

    def disconnect(self) -> None:
        if self.busy:
            self.cancel()
        client, self.client, self.server = self.client, None, {}
        if client is not None:
            self.jobs.submit(client.close)
        self._set(State.DISCONNECTED, "Not connected.")

    def _lost(self, exc: BaseException) -> None:
        self.client = None
        if self._generation is not None:
            self._generation.finished = True
        self.host.clear_preview(self.target.rig) if self.target else None
        self._fail(exc)

    # -- target ---------------------------------------------------------------------------
    def detect(self, rig: str | None = None, preset: str = "", mapping: Any = None,
               on_done: Callable[[SceneOutcome], None] | None = None) -> bool:
        """Resolve the rig to drive without blocking: it is read now and detected on a worker
        (SceneJobs); the answer becomes `target` on the main thread, then `on_done(outcome)`.
        False, with the reason shown, when no rig can be read."""
        try:
            rig_name, skeleton = self._read_target(rig)
        except ValueError as exc:
            self.refuse(str(exc), cause_of(exc))
            return False
        self.scene_jobs.detect(rig_name, skeleton, preset or self.settings.rig_preset, mapping, lambda o: self._scene_done(o, on_done))
        return True

    def export_takes(self, names: list[str], path: str, write: TakeWriter,
                     on_done: Callable[[SceneOutcome], None] | None = None) -> bool:
        """Write takes to `path` on a worker (`write` picks the format and writes atomically).
        False, with the reason shown, when a take cannot be read."""
        try:
            self.scene_jobs.export(names, path, write, lambda o: self._scene_done(o, on_done))
        except (KeyError, ValueError, HostError) as exc:
            self.refuse(message_of(exc))
            return False
        self.status = f"Exporting {len(names)} take(s)..."
        return True

    def _scene_done(self, outcome: SceneOutcome, on_done: Callable[[SceneOutcome], None] | None) -> None:
        if outcome.error:
            self.refuse(outcome.message, outcome.cause, outcome.rig)
        else:
            self.target = outcome.target or self.target
            self.error, self.error_cause, self.error_rig, self.status = "", "", "", outcome.message
            if self._on_change is not None:
                self._on_change(self)
        if on_done is not None:
            on_done(outcome)

    def _read_target(self, rig: str | None) -> tuple[str, Any]:
        """Main thread: which rig, and its skeleton (scene reads only; detection runs on a worker)."""
        rig = rig or self.host.selected_rig()
        if not rig:
            rigs = self.host.list_rigs()
            hint = f" (this scene has: {', '.join(rigs[:5])})" if rigs else " (this scene has none: add or import a character)"
            raise NoTarget(f"no armature selected: select the character's armature or pick it under Target{hint}")
        if rig not in self.host.list_rigs():
            raise NoTarget(f"{rig!r} is not an armature in this scene; select an armature or pick one under Target")
        return rig, self.host.read_rig(rig)

    # -- generation -----------------------------------------------------------------------
    def generate(
        self,
        prompt: str,
        *,
        rig: str | None = None,
        preset: str = "",
        mapping: Any = None,
        direction: Callable[[Any], Any] | None = None,
        **overrides: Any,
    ) -> bool:
        """Start a generation. Returns False (and shows the reason) when the input is bad;
        nothing in the scene changes in that case. `direction`: a directed take's builder
        (core/directing.py), called on the worker with the target's bone mapping."""
        try:
            if self.client is None:
                raise ValueError("not connected to a daemon; press Connect first (Settings holds the endpoint)")
            if self.busy:
                raise ValueError("a generation is already running; wait for it or press Cancel")
            settings = self.settings.updated(**overrides) if overrides else self.settings
            text = limits.check_prompt(prompt)
            duration = limits.check_duration(settings.duration_s)
            seeds = limits.check_seeds(list(settings.seeds))
            cfg = limits.check_cfg(settings.cfg)
            model = limits.check_model(settings.model).value if settings.model else ""
            rig_name, skeleton = self._read_target(rig)
        except ValueError as exc:
            self.refuse(str(exc), cause_of(exc))
            return False
        self.warnings = text.warnings + duration.warnings
        self._count += 1
        gen = Generation(
            self._count, str(text.value), float(duration.value), tuple(seeds.value), float(cfg.value), str(model),
            {"root_motion": settings.root_motion, "foot_lock": settings.foot_lock},
        )
        chosen_preset = preset or settings.rig_preset
        self._generation = gen
        self.progress, self.stage = 0.0, ""
        self.written = []
        self._set(State.GENERATING, f"Sending '{gen.prompt[:40]}' ({len(gen.seeds)} seed(s))...")
        client = self.client
        kwargs = dict(duration_s=gen.duration_s, seeds=gen.seeds, cfg=gen.cfg, preview_every=settings.preview_every, priority="interactive")
        if gen.model:
            kwargs["model"] = gen.model

        def work() -> Any:
            # detection and preset binding are numpy work: here, not on the UI thread; a rig
            # that cannot be mapped fails before anything is sent
            target = targeting.resolve_target(rig_name, skeleton, chosen_preset, mapping)
            directed = None if direction is None else direction(target.mapping)
            if directed is not None:
                kwargs["controls"] = directed.controls
                kwargs["duration_s"] = directed.duration_s or gen.duration_s
            return target, client.generate(gen.prompt, **kwargs), directed

        def sent(result: Any) -> None:
            gen.target, handle, gen.direction = result
            if gen.direction is not None and gen.direction.duration_s:
                gen.duration_s = gen.direction.duration_s
            self.target = gen.target
            gen.handle = handle
            if gen.cancelled:
                self.jobs.submit(handle.cancel)
                return
            self.jobs.repeat(lambda: self._poll(gen), self._lost)

        self.jobs.submit(work, sent, lambda exc: self._not_sent(gen, exc))
        return True

    def _not_sent(self, gen: Generation, exc: BaseException) -> None:
        gen.finished = True
        if isinstance(exc, ValueError):  # the rig or the request: the connection is fine
            self._fail(exc)
        else:
            self._lost(exc)

    def _poll(self, gen: Generation) -> bool:
        """Worker side: poll once, retarget what arrived (see Generation.poll), post the
        events to the main thread; True when the request is over."""
        if gen.cancelled or gen.finished:
            return True
        prepared, arrived, over = gen.poll(POLL_S, self.timings)
        if prepared:
            self.jobs.post(lambda: self._on_events(gen, prepared, arrived))
        return over

    def _on_events(self, gen: Generation, prepared: list[tuple[Any, Any]], arrived: float) -> None:
        if gen is not self._generation or gen.cancelled or gen.finished:
            return  # a late event of a cancelled or superseded request
        for event, target_clip in prepared:
            data = dict(getattr(event, "data", {}) or {})
            self.note_warnings(data.get("warnings"))
            if event.kind == "accepted":
                self.status = f"Accepted by the daemon (request {data.get('id', '')[:8]})."
                position = data.get("position")
                if isinstance(position, int) and position > 0:
                    self.stage = stage_line("queued", position)
                    self.status = f"Waiting: {self.stage}."
            elif event.kind in ("busy", "error"):
                gen.finished = True
                self.host.clear_preview(gen.target.rig)
                code = "busy" if event.kind == "busy" else str(data.get("code", "engine_error"))
                self._fail(explain_code(code, str(data.get("message", code)), self.settings, data))
                return
            elif event.kind == "progress":
                step, total = data.get("step"), data.get("total")
                self.stage = stage_line(str(data.get("stage") or ""), int(data.get("queued") or 0))
                if step is not None and total:
                    self.progress = min(1.0, float(step) / float(total))
                    self.status = f"Denoising step {step}/{total}" + (f" ({self.stage})" if self.stage else "")
                elif self.stage:
                    self.status = f"Waiting: {self.stage}."
                self.host.report_progress(self.progress, self.status)
            elif event.kind == "preview" and isinstance(target_clip, tuple):
                try:
                    self.host.show_preview(gen.target.rig, target_clip[0])
                    self.state = State.PREVIEW
                except Exception as exc:  # a preview must never break the generation
                    log.warning("preview skipped: %s", exc)
            elif event.kind == "result" and event.clip is not None:
                if isinstance(target_clip, BaseException):
                    gen.finished = True
                    self.host.clear_preview(gen.target.rig)
                    self._fail(target_clip)
                    return
                seed = int(data.get("seed", event.clip.metadata.get("seed", gen.seeds[len(gen.results) % len(gen.seeds)])))
                gen.results[seed] = event.clip
                gen.retargeted[seed] = target_clip
        if len(gen.results) >= len(gen.seeds):
            gen.finished = True
            self.host.clear_preview(gen.target.rig)
            self._write_next(gen, 0, [], {t.name for t in self.host.list_takes()}, arrived)
        elif self._on_change is not None:
            self._on_change(self)

    def _write_next(self, gen: Generation, index: int, written: list[TakeInfo], existing: set[str], arrived: float) -> None:
        """Write one take per main-thread tick, so the UI breathes between takes; if any
        fails (or the user cancels in between) the takes already written are removed."""
        if gen.cancelled:
            self._rollback(written)
            return
        rig = gen.target.rig
        seed = gen.seeds[index]
        try:
            source = gen.results[seed]
            clip, metrics = gen.retargeted[seed]
            name = takes.take_name(gen.prompt, seed, existing)
            meta = takes.metadata_for(
                prompt=gen.prompt, seed=seed, cfg=gen.cfg, duration_s=gen.duration_s,
                clip_metadata=source.metadata, server_info=self.server, rig_preset=gen.target.preset,
                retarget_metrics=metrics, request_id=str(getattr(gen.handle, "request_id", "")),
                num_frames=clip.num_frames, fps=clip.fps, host=self.host.name,
            )
            record = meta.to_dict()
            if gen.direction is not None:
                clip, record = directed_take(gen.direction, clip, record, source.metadata.get("constraints"))
            t0 = time.perf_counter()
            written.append(self.host.apply_take(rig, clip, name, record))
            if gen.direction is not None and gen.direction.frame_start is not None:
                written[-1] = self.host.place_take(name, gen.direction.frame_start) or written[-1]
            self.timings.setdefault("keys_ms", []).append((time.perf_counter() - t0) * 1000.0)
            existing.add(name)
        except Exception as exc:
            self._rollback(written)
            self._fail(exc if isinstance(exc, ValueError) else RuntimeError(f"writing the take failed, nothing was kept: {exc}"))
            return
        if index + 1 < len(gen.seeds):
            self.host.run_on_main_thread(lambda: self._write_next(gen, index + 1, written, existing, arrived))
            return
        first = written[0]
        self.host.set_timeline(first.frame_start, first.frame_end, first.fps)
        self.write_ms.append((time.perf_counter() - arrived) * 1000.0)
        self.written = written
        self.progress = 1.0
        self.host.report_progress(1.0, "done")
        self._set(State.TAKE_WRITTEN, f"Wrote {len(written)} take(s): {', '.join(t.name for t in written)}.")

    def _rollback(self, written: list[TakeInfo]) -> None:
        for info in written:  # all or nothing across the seeds of one request
            try:
                self.host.delete_take(info.name)
            except Exception:
                log.exception("could not roll back take %s", info.name)

    def cancel(self) -> None:
        """Stop the running generation; nothing of it is written."""
        gen = self._generation
        if gen is None or gen.cancelled or self.state not in (State.GENERATING, State.PREVIEW):
            return
        gen.cancelled = True
        gen.finished = True
        if gen.handle is not None:
            self.jobs.submit(gen.handle.cancel, None, lambda exc: log.warning("cancel failed: %s", exc))
        if gen.target is not None:
            self.host.clear_preview(gen.target.rig)
        self.progress = 0.0
        self._set(State.CONNECTED if self.client is not None else State.DISCONNECTED, "Cancelled; no take was written.")

    def close(self) -> None:
        """Cancel, close the client (its sockets must not outlive the DCC's Python), stop."""
        if self.busy:
            self.cancel()
        client, self.client = self.client, None
        if client is not None:
            self.jobs.submit(client.close)
        self.jobs.shutdown(timeout_s=3.0)
        self.scene_jobs.close()
