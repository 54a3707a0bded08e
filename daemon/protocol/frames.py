"""MotionBridge wire protocol v1 (see daemon/PROTOCOL.md): commands, error codes, framing and
the GENERATE request.

A message is a list of ZeroMQ frames:

    [VERSION][COMMAND][msgpack header][raw array buffer]...

The header is a msgpack map. When arrays follow, `header["arrays"]` lists them in frame
order as `[name, dtype, shape]`; buffers are raw little-endian bytes, never pickled. Every
decode error is a ProtocolError with a stable `code` that goes back to the peer in ERROR.

Light on purpose: DCC Pythons import this (stdlib, msgpack, numpy only). Track payloads (a
take's arrays) are in payload.py.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

from motionbridge.rigs.root_motion import ROOT_MOTIONS

from . import limits

VERSION = b"MB01"
PROTOCOL_VERSION = 1
DEFAULT_ENDPOINT = "tcp://127.0.0.1:7719"  # where `motionbridge serve` binds and clients connect by default

# client -> daemon
HELLO, GENERATE, CANCEL, STATUS, PING = "HELLO", "GENERATE", "CANCEL", "STATUS", "PING"
# daemon -> client (HELLO and STATUS are answered with the same command; PING with PONG)
ACCEPTED, PROGRESS, RESULT, ERROR, BUSY, PONG = "ACCEPTED", "PROGRESS", "RESULT", "ERROR", "BUSY", "PONG"
HEARTBEAT = "HEARTBEAT"  # both ways

CLIENT_COMMANDS = frozenset({HELLO, GENERATE, CANCEL, STATUS, PING, HEARTBEAT})
DAEMON_COMMANDS = frozenset({HELLO, STATUS, PONG, ACCEPTED, PROGRESS, RESULT, ERROR, BUSY, HEARTBEAT})

# Stable error codes (ERROR header "code"); clients branch on these, never on messages.
E_BAD_VERSION = "bad_version"
E_BAD_FRAMES = "bad_frames"
E_BAD_COMMAND = "bad_command"
E_BAD_HEADER = "bad_header"
E_BAD_ARRAY = "bad_array"
E_TOO_LARGE = "too_large"
E_BAD_REQUEST = "bad_request"  # a field failed validation (prompt, duration, seeds, ...)
E_UNKNOWN_REQUEST = "unknown_request"
E_CANCELLED = "cancelled"
E_WORKER_DIED = "worker_died"
E_OOM = "out_of_memory"
E_ENGINE = "engine_error"
E_SHUTTING_DOWN = "shutting_down"
E_MODEL_UNAVAILABLE = "model_unavailable"  # no worker has the model: its loads fail or time out; retried
E_INTERNAL = "internal"  # a daemon bug; the daemon logs it and keeps serving
E_TIMEOUT = "timeout"  # client side: no answer in time
E_UNREACHABLE = "unreachable"  # client side: daemon does not answer at all
E_AUTH = "auth_rejected"  # client side: CURVE handshake refused
E_CLOSED = "closed"  # client side: the client was closed
E_BUSY = "busy"  # client side: raised from wait() after BUSY
ERROR_CODES = frozenset({
    E_BAD_VERSION, E_BAD_FRAMES, E_BAD_COMMAND, E_BAD_HEADER, E_BAD_ARRAY, E_TOO_LARGE,
    E_BAD_REQUEST, E_UNKNOWN_REQUEST, E_CANCELLED, E_WORKER_DIED, E_OOM,
    E_ENGINE, E_SHUTTING_DOWN, E_MODEL_UNAVAILABLE, E_INTERNAL, E_TIMEOUT, E_UNREACHABLE, E_AUTH, E_CLOSED, E_BUSY,
})

# Size limits. Requests are small; results carry at most 360 frames x 55 joints of float64.
MAX_FRAMES_PER_MESSAGE = 64
MAX_HEADER_BYTES = 64 * 1024
MAX_REQUEST_BYTES = 1024 * 1024  # whole client message (a directed take's source: 360 x 22 float64 matrices); ZMQ_MAXMSGSIZE
MAX_REPLY_BYTES = 64 * 1024 * 1024
MAX_ID_CHARS = 64
MAX_ARRAY_DIMS = 5
ARRAY_DTYPES = frozenset({"<f4", "<f8", "<i4", "<i8", "|u1"})

PRIORITIES = ("interactive", "batch")
CONTROLS_VERSION = 1  # of GENERATE's optional `controls` field (daemon/controls/wire.py); HELLO lists those the daemon reads
ROTATION_ORDER = "xyzw"


class ProtocolError(ValueError):
    """A malformed or invalid message; `code` is stable, the message says what to send instead."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Message:
    command: str
    header: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    # ([name, dtype, shape], frame) of each array as received, passed on undecoded and uncopied
    # (the daemon relaying a worker's take to its client; decode's `relay`)
    raw: list = field(default_factory=list)


def new_id() -> str:
    return uuid.uuid4().hex


# --------------------------------------------------------------------------- framing


def encode(msg: Message, *, zero_copy: bool = False) -> list:
    """Message -> frames. Arrays are sent little-endian, contiguous, in insertion order.

    `zero_copy`: array frames are views of the arrays' memory (no copy; send them with
    copy=False), so the arrays must not change until the frames are sent and dropped: for the
    daemon's own messages, whose arrays nobody writes afterwards. A take's arrays were copied
    three times on their way out of the worker and the server (a 5 s take is 270 kB a seed)."""
    if msg.raw:  # relayed as received
        header = {**msg.header, "arrays": [spec for spec, _ in msg.raw]}
        return [VERSION, msg.command.encode("ascii"), msgpack.packb(header, use_bin_type=True), *(f for _, f in msg.raw)]
    header = dict(msg.header)
    buffers: list = []
    specs = []
    for name, array in msg.arrays.items():
        a = np.asarray(array)
        dtype = a.dtype.newbyteorder("<") if a.dtype.byteorder not in ("|", "<") else a.dtype
        if dtype.str not in ARRAY_DTYPES:
            raise ProtocolError(E_BAD_ARRAY, f"array {name!r} has dtype {a.dtype}; use one of {sorted(ARRAY_DTYPES)}")
        a = np.ascontiguousarray(a, dtype=dtype)
        specs.append([name, dtype.str, list(a.shape)])
        buffers.append(a.reshape(-1).data.cast("B") if zero_copy else a.tobytes())
    if specs:
        header["arrays"] = specs
    return [VERSION, msg.command.encode("ascii"), msgpack.packb(header, use_bin_type=True), *buffers]


def decode(frames: list, *, allowed: frozenset[str] = CLIENT_COMMANDS, max_bytes: int = MAX_REQUEST_BYTES,
           relay: frozenset[str] = frozenset()) -> Message:
    """Frames (bytes, or zmq.Frame from recv_multipart(copy=False)) -> Message, validating
    everything; raises ProtocolError with a stable code. Commands in `relay` keep their array
    frames undecoded in `raw` (checked against their specs, not copied), for passing them on."""
    if not isinstance(frames, (list, tuple)) or len(frames) < 3:
        raise ProtocolError(E_BAD_FRAMES, "a message needs at least 3 frames: version, command, msgpack header")
    if len(frames) > MAX_FRAMES_PER_MESSAGE:
        raise ProtocolError(E_TOO_LARGE, f"{len(frames)} frames is over the limit of {MAX_FRAMES_PER_MESSAGE}")
    received = frames
    frames = [bytes(f) for f in frames[:3]] + [f if isinstance(f, bytes) else memoryview(f).cast("B") for f in frames[3:]]
    total = sum(len(f) for f in frames)
    if total > max_bytes:
        raise ProtocolError(E_TOO_LARGE, f"message is {total} bytes, over the {max_bytes}-byte limit")
    if frames[0] != VERSION:
        raise ProtocolError(E_BAD_VERSION, f"unsupported protocol frame {frames[0][:8]!r}; this daemon speaks {VERSION!r}")
    try:
        command = frames[1].decode("ascii")
    except UnicodeDecodeError:
        command = ""
    if command not in allowed:
        raise ProtocolError(E_BAD_COMMAND, f"unknown command {frames[1][:16]!r}; send one of {', '.join(sorted(allowed))}")
    if len(frames[2]) > MAX_HEADER_BYTES:
        raise ProtocolError(E_TOO_LARGE, f"header is {len(frames[2])} bytes, over the {MAX_HEADER_BYTES}-byte limit")
    header = _unpack_header(frames[2])
    if command in relay and len(frames) > 3:
        specs = header.pop("arrays", None)
        _check_arrays(specs, frames[3:])
        return Message(command, header, raw=list(zip(specs, received[3:])))
    arrays = _unpack_arrays(header.pop("arrays", None), frames[3:])
    return Message(command, header, arrays)


def _unpack_header(raw: bytes) -> dict[str, Any]:
    try:
        header = msgpack.unpackb(
            raw, raw=False, strict_map_key=True, use_list=True,
            max_str_len=MAX_HEADER_BYTES, max_bin_len=MAX_HEADER_BYTES,
            # every element takes at least one byte, so the header's byte limit bounds the counts;
            # a tighter count limit would turn "10,000 seeds" into an opaque msgpack error
            max_array_len=MAX_HEADER_BYTES, max_map_len=MAX_HEADER_BYTES, max_ext_len=0,
        )
    except Exception as exc:  # noqa: BLE001 - msgpack raises many types for bad input
        raise ProtocolError(E_BAD_HEADER, f"header is not a valid msgpack map ({type(exc).__name__}: "
                            f"{str(exc)[:120]})") from None
    if not isinstance(header, dict):
        raise ProtocolError(E_BAD_HEADER, f"header must be a msgpack map, got {type(header).__name__}")
    return header


def _unpack_arrays(specs: object, buffers: list) -> dict[str, np.ndarray]:
    return {name: np.frombuffer(buf, dtype=dt).reshape(shape).copy() for name, dt, shape, buf in _check_arrays(specs, buffers)}


def _check_arrays(specs: object, buffers: list) -> list[tuple[str, np.dtype, list[int], Any]]:
    """(name, dtype, shape, buffer) of each array frame, each checked against its spec."""
    if specs is None:
        if buffers:
            raise ProtocolError(E_BAD_ARRAY, f"{len(buffers)} buffer frames but no 'arrays' list in the header")
        return []
    if not isinstance(specs, list) or len(specs) != len(buffers):
        raise ProtocolError(E_BAD_ARRAY, "header 'arrays' must list [name, dtype, shape] for each buffer frame, in order")
    out: list[tuple[str, np.dtype, list[int], Any]] = []
    names: set[str] = set()
    for spec, buf in zip(specs, buffers):
        if not (isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str) and isinstance(spec[1], str)
                and isinstance(spec[2], list)):
            raise ProtocolError(E_BAD_ARRAY, "each 'arrays' entry must be [name, dtype, shape]")
        name, dtype, shape = spec
        if dtype not in ARRAY_DTYPES:
            raise ProtocolError(E_BAD_ARRAY, f"array {name!r}: dtype {dtype!r} not allowed; use one of {sorted(ARRAY_DTYPES)}")
        if len(shape) > MAX_ARRAY_DIMS or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31 for n in shape):
            raise ProtocolError(E_BAD_ARRAY, f"array {name!r}: shape must be at most {MAX_ARRAY_DIMS} non-negative ints")
        dt = np.dtype(dtype)
        # an empty array may still declare huge dimensions ([2^31-1, 2^31-1, 0]); numpy refuses
        # to build those, so the non-zero dimensions must fit in the message as well
        if math.prod(n for n in shape if n) * dt.itemsize > MAX_REPLY_BYTES:
            raise ProtocolError(E_BAD_ARRAY, f"array {name!r}: shape {shape} is too large for a message")
        if math.prod(shape) * dt.itemsize != len(buf):
            raise ProtocolError(E_BAD_ARRAY, f"array {name!r}: {len(buf)} bytes do not match dtype {dtype} shape {shape}")
        if name in names:
            raise ProtocolError(E_BAD_ARRAY, f"array {name!r} appears twice")
        names.add(name)
        out.append((name, dt, shape, buf))
    return out


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class GenerateSpec:
    """A validated GENERATE request."""

    id: str
    prompt: str
    duration_s: float
    seeds: tuple[int, ...]
    cfg: float
    model: str | None
    preview_every: int
    priority: str
    root_motion: str
    game_feat: bool
    warnings: tuple[str, ...] = ()
    controls: dict[str, Any] | None = None  # a directed take's field, version-checked only (wire.py reads the rest)

    def to_header(self) -> dict[str, Any]:
        header = {
            "id": self.id, "prompt": self.prompt, "duration_s": self.duration_s, "seeds": list(self.seeds),
            "cfg": self.cfg, "model": self.model, "fps": limits.FPS, "preview_every": self.preview_every,
            "priority": self.priority, "root_motion": self.root_motion, "game_feat": self.game_feat,
        }
        if self.controls is not None:  # absent, the request is exactly as before controls existed
            header["controls"] = self.controls
        return header


GENERATE_FIELDS = frozenset({"id", "prompt", "duration_s", "seeds", "cfg", "model", "fps", "preview_every",
                             "priority", "root_motion", "game_feat", "secret", "controls"})
MIN_SECRET_CHARS, MAX_SECRET_CHARS = 16, 128


def parse_secret(header: Mapping[str, Any]) -> str | None:
    """The optional 'secret' a client sends with every request: the requests it sends with one
    secret are its own (see PROTOCOL.md, "Ownership"). None when the client sends none."""
    secret = header.get("secret")
    if secret is None:
        return None
    if (not isinstance(secret, str) or not MIN_SECRET_CHARS <= len(secret) <= MAX_SECRET_CHARS
            or not (secret.isascii() and secret.isprintable())):
        raise ProtocolError(E_BAD_HEADER, f"'secret' must be {MIN_SECRET_CHARS}-{MAX_SECRET_CHARS} printable ASCII "
                            "characters, random and kept for the client's lifetime")
    return secret


def check_id(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS or not value.isprintable():
        raise ProtocolError(E_BAD_HEADER, f"'id' must be a printable string of 1-{MAX_ID_CHARS} characters")
    return value


def _validated(check, value: object):
    try:
        return check(value)
    except ValueError as exc:
        raise ProtocolError(E_BAD_REQUEST, str(exc)) from None


def parse_generate(header: Mapping[str, Any]) -> GenerateSpec:
    unknown = set(header) - GENERATE_FIELDS
    if unknown:
        raise ProtocolError(E_BAD_REQUEST, f"unknown GENERATE fields {sorted(map(str, unknown))}; allowed: {sorted(GENERATE_FIELDS)}")
    rid = check_id(header.get("id"))
    if "prompt" not in header:
        raise ProtocolError(E_BAD_REQUEST, "GENERATE needs a 'prompt'")
    prompt = _validated(limits.check_prompt, header["prompt"])
    duration = _validated(limits.check_duration, header.get("duration_s", 5.0))
    seeds = _validated(limits.check_seeds, header.get("seeds", [0]))
    cfg = _validated(limits.check_cfg, header.get("cfg", 5.0))
    model = header.get("model")
    if model is not None:
        model = _validated(limits.check_model, model).value
    fps = header.get("fps", limits.FPS)
    if fps != limits.FPS or isinstance(fps, bool):
        raise ProtocolError(E_BAD_REQUEST, f"fps {fps!r} is not supported; the model makes {limits.FPS} fps, resample in the DCC")
    preview_every = header.get("preview_every", 0)
    if isinstance(preview_every, bool) or not isinstance(preview_every, int) or not 0 <= preview_every <= 1000:
        raise ProtocolError(E_BAD_REQUEST, "'preview_every' must be an int >= 0 (0 = no previews, N = every Nth step)")
    priority = header.get("priority", "interactive")
    if priority not in PRIORITIES:
        raise ProtocolError(E_BAD_REQUEST, f"'priority' must be one of {PRIORITIES}, got {priority!r}")
    root_motion = header.get("root_motion", "world")
    if root_motion not in ROOT_MOTIONS:
        raise ProtocolError(E_BAD_REQUEST, f"'root_motion' must be one of {ROOT_MOTIONS}, got {root_motion!r}")
    game_feat = header.get("game_feat", False)
    if not isinstance(game_feat, bool):
        raise ProtocolError(E_BAD_REQUEST, "'game_feat' must be true or false")
    controls = header.get("controls")
    if controls is not None:
        if not isinstance(controls, dict) or controls.get("v") != CONTROLS_VERSION:
            version = controls.get("v") if isinstance(controls, dict) else None
            raise ProtocolError(E_BAD_REQUEST, f"'controls' must be a map with \"v\": {CONTROLS_VERSION} (got version {version!r}); "
                                "ask HELLO's 'controls' for the versions this daemon reads")
    warnings = prompt.warnings + duration.warnings
    return GenerateSpec(rid, prompt.value, duration.value, seeds.value, cfg.value, model, preview_every,
                        priority, root_motion, game_feat, warnings, controls)


def parse_id(header: Mapping[str, Any]) -> str:
    """The 'id' of a CANCEL (the request to cancel) or of HELLO/STATUS/PING (echoed back)."""
    return check_id(header.get("id"))


def error(rid: str | None, code: str, message: str, **extra: Any) -> Message:
    return Message(ERROR, {"id": rid, "code": code, "message": message, **extra})
