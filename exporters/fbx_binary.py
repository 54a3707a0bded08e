"""FBX binary node encoding (7.4 and 7.5): a tree of named records with typed properties.

Each record is: end offset, property count, property bytes length (uint32 before 7.5, uint64
from 7.5), a length-prefixed name, the properties, then nested records closed by an all-zero
"null record". Arrays are stored raw (encoding 0): compressing them costs more time than the
smaller file saves for our sizes, and every reader accepts raw arrays.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HEAD_MAGIC = b"Kaydara FBX Binary  \x00\x1a\x00"
# Fixed file id / creation time: readers check that they agree, not what they are.
FILE_ID = bytes.fromhex("28b32aebb624ccc2bfc8b02aa92bfcf1")
CREATION_TIME = "1970-01-01 10:00:00:000"
FOOT_ID = bytes.fromhex("fabcab09d0c8d466b176fb831cf7267e")
FOOT_MAGIC = bytes.fromhex("f85a8c6adef5d97eece90ce3758f290b")
# Records that want a null record even without children (readers of these expect a block).
ALWAYS_BLOCK = {"AnimationStack", "AnimationLayer"}

_ARRAY_CODES = {"f": np.float32, "d": np.float64, "i": np.int32, "l": np.int64, "b": np.bool_}


@dataclass
class Node:
    name: str
    props: list[tuple[str, bytes]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    def add(self, name: str, *values: Any) -> Node:
        """Append a child with scalar/string/array properties (types inferred, see `prop`)."""
        child = Node(name, [prop(v) for v in values])
        self.children.append(child)
        return child


class Typed:
    """A scalar with an explicit FBX type code (e.g. Typed('I', 7) for an int32)."""

    def __init__(self, code: str, value: Any) -> None:
        self.code, self.value = code, value


class Encoded:
    """A property encoded once and reused (e.g. the KeyTime array shared by a take's curves)."""

    def __init__(self, value: Any) -> None:
        self.pair = prop(value)


def prop(value: Any) -> tuple[str, bytes]:
    if isinstance(value, Encoded):
        return value.pair
    if isinstance(value, Typed):
        return _scalar(value.code, value.value)
    if isinstance(value, bool):
        return "C", struct.pack("<?", value)
    if isinstance(value, (int, np.integer)):
        v = int(value)
        return ("I", struct.pack("<i", v)) if -(2**31) <= v < 2**31 else ("L", struct.pack("<q", v))
    if isinstance(value, (float, np.floating)):
        return "D", struct.pack("<d", float(value))
    if isinstance(value, str):
        data = value.encode("utf-8")
        return "S", struct.pack("<I", len(data)) + data
    if isinstance(value, bytes):
        return "R", struct.pack("<I", len(value)) + value
    if isinstance(value, np.ndarray):
        code = {np.dtype(np.float32): "f", np.dtype(np.float64): "d", np.dtype(np.int32): "i", np.dtype(np.int64): "l",
                np.dtype(np.bool_): "b"}.get(value.dtype)
        if code is None:
            raise TypeError(f"FBX arrays must be float32/float64/int32/int64/bool, got {value.dtype}")
        data = np.ascontiguousarray(value.ravel(), dtype=np.dtype(_ARRAY_CODES[code]).newbyteorder("<")).tobytes()
        return code, struct.pack("<3I", value.size, 0, len(data)) + data
    raise TypeError(f"cannot store {type(value).__name__} in FBX")


def _scalar(code: str, value: Any) -> tuple[str, bytes]:
    fmt = {"Y": "<h", "C": "<?", "I": "<i", "L": "<q", "F": "<f", "D": "<d"}[code]
    return code, struct.pack(fmt, value)


class _Encoder:
    def __init__(self, version: int) -> None:
        if version not in (7400, 7500):
            raise ValueError(f"FBX version must be 7400 or 7500, not {version}")
        self.meta = struct.Struct("<3I" if version < 7500 else "<3Q")
        self.null = b"\x00" * (self.meta.size + 1)

    def records(self, nodes: Sequence[Node], offset: int, out: list[bytes]) -> int:
        last = len(nodes) - 1
        for i, node in enumerate(nodes):
            offset = self.record(node, offset, out, i == last)
        return offset

    def record(self, node: Node, offset: int, out: list[bytes], is_last: bool) -> int:
        name = node.name.encode("ascii")
        props = b"".join(code.encode("ascii") + data for code, data in node.props)
        slot = len(out)
        out.append(b"")  # header, filled once the end offset is known
        out.append(props)
        end = offset + self.meta.size + 1 + len(name) + len(props)
        if node.children:
            end = self.records(node.children, end, out)
            out.append(self.null)
            end += len(self.null)
        elif (not node.props and not is_last) or node.name in ALWAYS_BLOCK:
            out.append(self.null)
            end += len(self.null)
        out[slot] = self.meta.pack(end, len(node.props), len(props)) + bytes((len(name),)) + name
        return end


def encode(top_level: Sequence[Node], version: int = 7400) -> bytes:
    """The whole file: header, top-level records, footer."""
    enc = _Encoder(version)
    out: list[bytes] = [HEAD_MAGIC, struct.pack("<I", version)]
    offset = enc.records(top_level, len(HEAD_MAGIC) + 4, out)
    out.append(enc.null)
    offset += len(enc.null)
    out.append(FOOT_ID + b"\x00" * 4)
    offset += 20
    pad = (-offset) % 16 or 16
    out.append(b"\x00" * pad + struct.pack("<I", version) + b"\x00" * 120 + FOOT_MAGIC)
    return b"".join(out)
