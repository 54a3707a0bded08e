"""Requests and takes as msgpack frames, for engine worker processes (no pickle anywhere).

A frame is a 4-byte big-endian length followed by a msgpack map. NumPy arrays travel as
{"__nd__": dtype, "shape": [...], "data": bytes}. Clips are rebuilt on the SMPL-X skeleton,
the only skeleton the engine produces.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import BinaryIO

import msgpack
import numpy as np

from motionbridge.rigs import Clip
from motionbridge.rigs.smplx import smplx_skeleton

from .api import GeneratedTake, GenerationRequest


def _default(obj):
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        return {"__nd__": arr.dtype.str, "shape": list(arr.shape), "data": arr.tobytes()}
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"cannot send {type(obj).__name__} to an engine worker")


def _hook(obj):
    if "__nd__" in obj:
        return np.frombuffer(obj["data"], dtype=np.dtype(obj["__nd__"])).reshape(obj["shape"]).copy()
    return obj


def pack(message: dict) -> bytes:
    return msgpack.packb(message, default=_default, use_bin_type=True)


def unpack(data: bytes) -> dict:
    return msgpack.unpackb(data, object_hook=_hook, raw=False, strict_map_key=False)


def write_frame(stream: BinaryIO, message: dict) -> None:
    body = pack(message)
    stream.write(struct.pack(">I", len(body)) + body)
    stream.flush()


def read_frame(stream: BinaryIO) -> dict | None:
    head = stream.read(4)
    if len(head) < 4:
        return None  # the other side closed
    (size,) = struct.unpack(">I", head)
    body = stream.read(size)
    if len(body) < size:
        return None
    return unpack(body)


def request_to_dict(req: GenerationRequest) -> dict:
    d = dataclasses.asdict(req)
    d["seeds"] = [int(s) for s in req.seeds]
    return d


def request_from_dict(d: dict) -> GenerationRequest:
    return GenerationRequest(d["prompt"], d["duration_s"], tuple(d["seeds"]), d["cfg"], d["game_feat"], d["request_id"])


def take_to_dict(take: GeneratedTake) -> dict:
    c = take.clip
    return {
        "request_id": take.request_id, "seed": int(take.seed), "latent": take.latent, "warnings": list(take.warnings), "timings": dict(take.timings),
        "clip": {"rotations": c.rotations, "root_translation": c.root_translation, "fps": float(c.fps), "metadata": c.metadata},
    }


def take_from_dict(d: dict) -> GeneratedTake:
    c = d["clip"]
    clip = Clip(smplx_skeleton(), c["rotations"], c["root_translation"], c["fps"], c["metadata"])
    return GeneratedTake(d["request_id"], d["seed"], clip, d["latent"], tuple(d["warnings"]), d["timings"])
