"""How `motionbridge serve` runs: the server's settings, plain data (serve's options fill it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from motionbridge.daemon.protocol.frames import DEFAULT_ENDPOINT

from .worker import EngineSpec


@dataclass
class ServerConfig:
    bind: str = DEFAULT_ENDPOINT
    engine: EngineSpec = field(default_factory=EngineSpec)
    gpus: list = field(default_factory=lambda: [None])
    max_queue: int = 64
    max_batch_rows: int = 8
    heartbeat_s: float = 1.0
    send_hwm: int = 1000  # messages ZeroMQ holds per client before the outbox queues them
    outbox_messages: int = 1000  # then this many more in the outbox before the client is dropped
    drain_timeout_s: float = 60.0
    step_timeout_s: float = 300.0  # a worker silent this long in a batch is hung: restart it
    load_timeout_s: float = 600.0  # a worker not READY this long after its start is stuck loading: kill it
    load_retry_s: float = 10.0  # pause before starting it again; doubles with each failed load in a row
    curve_dir: str | None = None
    metrics_port: int | None = None
