"""Turning a window of takes into clips: on an in-process engine or through a daemon.

Takes that share prompt, duration, cfg, game flag and directing columns become one
GenerationRequest with several seeds, so the text encoders run once per prompt; one window is
one engine call, plus one per directed request (those run alone, on the same engine, as
`motionbridge generate` runs them: daemon/controls/served.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from motionbridge.daemon.engine.api import Engine, GenerationRequest
from motionbridge.daemon.protocol.frames import E_BUSY, E_WORKER_DIED
from motionbridge.rigs import Clip

from .takes import Take


@dataclass
class Generated:
    take: Take
    clip: Clip | None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    model_hash: str = ""
    model_name: str = ""
    retries: int = 0  # times the request was resent after its daemon worker died


class EngineBroken(RuntimeError):
    """The engine reports itself unusable (e.g. a sticky CUDA error): stop, do not fail every take."""


class Generator(Protocol):
    def generate(self, takes: Sequence[Take]) -> list[Generated]: ...


def group_requests(takes: Sequence[Take]) -> list[tuple[GenerationRequest, list[Take]]]:
    """One request per (prompt, duration, cfg, game flag, directing); seeds in take order. A
    seed that repeats under the same prompt (two rows alike) opens a second request."""
    groups: list[tuple[tuple, list[Take]]] = []
    for take in takes:
        key = (take.prompt, take.duration_s, take.cfg, take.game_feat, take.directing)
        for gkey, members in groups:
            if gkey == key and all(m.seed != take.seed for m in members):
                members.append(take)
                break
        else:
            groups.append((key, [take]))
    out = []
    for i, (key, members) in enumerate(groups):
        prompt, duration, cfg, game_feat, _ = key
        request = GenerationRequest(prompt, duration, tuple(m.seed for m in members), cfg, game_feat, request_id=f"g{i}")
        out.append((request, members))
    return out


def windows(takes: Iterable[Take], size: int) -> Iterator[list[Take]]:
    window: list[Take] = []
    for take in takes:
        window.append(take)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window


class EngineGenerator:
    """In-process: one engine call per window."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def generate(self, takes: Sequence[Take]) -> list[Generated]:
        groups = group_requests(takes)
        start = time.perf_counter()
        failed: dict[str, str] = {}  # a directed request's error fails its takes only
        try:
            plain = [request for request, members in groups if not members[0].directing]
            results = self.engine.generate(plain) if plain else []
            for request, members in groups:
                if members[0].directing:
                    try:
                        results += self._directed(request, members[0])
                    except Exception as exc:  # noqa: BLE001 - reported on its takes, like a failed call
                        failed[request.request_id] = f"generation failed: {type(exc).__name__}: {exc}"
        except Exception as exc:  # the whole call failed: its takes fail, the run goes on ...
            health = self.engine.health()
            if not health.get("ok", True):  # ... unless the engine is gone for good
                raise EngineBroken(f"engine unusable after {type(exc).__name__}: {exc} ({health.get('reason', '')}); "
                                   "restart the batch with --resume") from exc
            return [Generated(t, None, f"generation failed: {type(exc).__name__}: {exc}") for t in takes]
        per_take = (time.perf_counter() - start) / max(1, len(takes))
        by_key = {(r.request_id, r.seed): r for r in results}
        out = []
        for request, members in groups:
            for take in members:
                result = by_key.get((request.request_id, take.seed))
                if result is None:
                    out.append(Generated(take, None, failed.get(request.request_id, "the engine returned no take for this seed")))
                    continue
                timings = {"generate_s": per_take, **{f"engine_{k}": float(v) for k, v in result.timings.items()}}
                out.append(Generated(
                    take, result.clip, None, tuple(result.warnings), timings,
                    getattr(self.engine, "model_hash", ""), getattr(self.engine, "model_name", ""),
                ))
        return out

    def _directed(self, request: GenerationRequest, take: Take) -> list:
        from motionbridge.daemon.controls.served import generate_directed

        from .directing import controls

        return generate_directed(self.engine, request, controls(take.directing, take.prompt, take.duration_s))


class ServerGenerator:
    """Through a running daemon: every request goes in at batch priority, then we wait.
    A BUSY daemon (queue full, shared with artists) is retried after the delay it asks for;
    a request whose worker died (`worker_died`: the daemon restarts the worker) is resent,
    up to WORKER_DIED_RETRIES times, and its takes' manifest entries count the resends."""

    BUSY_RETRIES = 100
    WORKER_DIED_RETRIES = 3

    def __init__(self, endpoint: str, timeout_s: float = 3600.0):
        from motionbridge.daemon.protocol.client import MotionBridgeClient

        self.client = MotionBridgeClient(endpoint)
        self.client.hello()  # fail now, with the client's message, if nothing listens there
        self.timeout_s = timeout_s

    def _submit(self, request: GenerationRequest, directing: str = ""):
        wire = None
        if directing:
            from motionbridge.daemon.controls.wire import to_wire

            from .directing import controls

            wire = to_wire(controls(directing, request.prompt, request.duration_s))
        return self.client.generate(request.prompt, request.duration_s, list(request.seeds), request.cfg,
                                    priority="batch", game_feat=bool(request.game_feat), controls=wire)

    def _wait(self, request: GenerationRequest, handle, directing: str = "") -> tuple[list[Clip], int]:
        """The request's clips and how many times it was resent after a worker death."""
        busy = died = 0
        while True:
            try:
                return handle.wait(self.timeout_s), died
            except Exception as exc:
                code = getattr(exc, "code", None)
                if code == E_BUSY and busy < self.BUSY_RETRIES:
                    busy += 1
                    time.sleep(float(getattr(exc, "details", {}).get("retry_after_s") or 1.0))
                elif code == E_WORKER_DIED and died < self.WORKER_DIED_RETRIES:
                    died += 1
                elif code == E_BUSY:
                    raise RuntimeError(f"daemon stayed busy after {self.BUSY_RETRIES} retries") from exc
                else:
                    if code == E_WORKER_DIED:
                        raise RuntimeError(f"{exc} (resent {died} times, each time its worker died)") from exc
                    raise
                handle = self._submit(request, directing)

    def generate(self, takes: Sequence[Take]) -> list[Generated]:
        groups = group_requests(takes)
        start = time.perf_counter()
        handles = []
        for request, members in groups:
            try:
                handles.append((request, self._submit(request, members[0].directing), members))
            except Exception as exc:
                handles.append((request, exc, members))
        out = []
        for request, handle, members in handles:
            try:
                if isinstance(handle, Exception):
                    raise handle
                clips, retries = self._wait(request, handle, members[0].directing)
                if len(clips) != len(members):
                    raise RuntimeError(f"daemon returned {len(clips)} takes for {len(members)} seeds")
            except Exception as exc:
                out.extend(Generated(t, None, f"daemon request failed: {type(exc).__name__}: {exc}") for t in members)
                continue
            per_take = (time.perf_counter() - start) / max(1, len(takes))
            for take, clip in zip(members, clips):
                meta = clip.metadata
                timings = {"generate_s": per_take, **{f"engine_{k}": float(v) for k, v in (meta.get("timings") or {}).items()}}
                model_hash = str(meta.get("checkpoint_sha256") or meta.get("hash") or "")[:16]
                out.append(Generated(take, clip, None, tuple(meta.get("warnings", ())), timings, model_hash, str(meta.get("model", "")), retries))
        order = {t.index: i for i, t in enumerate(takes)}
        return sorted(out, key=lambda g: order[g.take.index])

    def close(self) -> None:
        self.client.close()
