"""Seeded mutation fuzzing of one file reader, run as a subprocess so a crash in native code
(assimp, zlib, numpy) shows as the process dying instead of taking pytest with it.

    python fuzz_readers.py READER SEED_FILE CASES RANDOM_SEED

READER is fbx, gltf, bvh, mapping or npz. Each case mutates the valid SEED_FILE (byte flips,
cuts, splices, lying 32-bit integers, hostile numbers and nesting in text, and for JSON and
NPZ structure-aware swaps of one value), writes it beside the original and reads it. A case
passes when the reader returns or raises the project's one-line error (RigError, or
ExportError for NPZ). Anything else is printed as UNEXPECTED and the exit status is 1.
The last line is `done CASES parsed=N refused=M`.
"""

from __future__ import annotations

import io
import json
import random
import re
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from motionbridge.exporters import npz
from motionbridge.exporters.atomic import ExportError
from motionbridge.rigs import RigError, read_mapping_file, read_skeleton
from motionbridge.rigs.io_bvh import read_bvh

LYING_INTS = (0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 0x10000, 0xFFFF)
HOSTILE_NUMBERS = (b"-1", b"0", b"99999999999999999999", b"1e308", b"nan", b"-inf", b"2147483647", b"1.5")
HOSTILE_VALUES: tuple[Any, ...] = (None, -1, 10**12, 1.5, "x", "", [], {}, [0] * 3, {"a": 1}, True, float("nan"), [[[[[]]]]])


def _bytes_mutation(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    kind = rng.randrange(7)
    if kind == 0:  # a few random bytes
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
    elif kind == 1:  # cut short
        del out[rng.randrange(len(out)) :]
    elif kind == 2:  # a chunk copied elsewhere
        a = rng.randrange(len(out))
        chunk = out[a : a + rng.randint(1, 64)]
        b = rng.randrange(len(out))
        out[b:b] = chunk
    elif kind == 3:  # a chunk deleted
        a = rng.randrange(len(out))
        del out[a : a + rng.randint(1, 64)]
    elif kind == 4 and len(out) > 4:  # a lying size or count
        struct.pack_into("<I", out, rng.randrange(len(out) - 4), rng.choice(LYING_INTS))
    elif kind == 5:  # a hostile number in place of one in the text
        numbers = list(re.finditer(rb"-?\d+(\.\d+)?", bytes(out)))
        if numbers:
            m = rng.choice(numbers)
            out[m.start() : m.end()] = rng.choice(HOSTILE_NUMBERS)
    else:  # deep nesting at a random point
        opener = rng.choice((b"{", b"[", b"Objects: {\n"))
        at = rng.randrange(len(out))
        out[at:at] = opener * rng.choice((2, 100, 20000))
    return bytes(out)


def _json_mutation(doc: Any, rng: random.Random) -> Any:
    """One value somewhere in the document swapped for a hostile one."""
    doc = json.loads(json.dumps(doc))
    node = doc
    for _ in range(rng.randint(1, 6)):
        keys = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        if not keys:
            break
        key = rng.choice(keys)
        child = node[key]
        if not isinstance(child, (dict, list)) or rng.random() < 0.3:
            node[key] = rng.choice(HOSTILE_VALUES)
            return doc
        node = child
    return doc


def _npz_mutation(data: bytes, rng: random.Random) -> bytes:
    """One array of a valid tracks file replaced by a wrong shape, dtype or value."""
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    key = rng.choice(sorted(arrays))
    old = arrays[key]
    arrays[key] = rng.choice([
        old[:0] if old.ndim else np.array([]),
        np.full(old.shape, np.nan) if old.dtype.kind == "f" else np.array(10**9),
        old.reshape(-1)[: max(old.size - 1, 0)],
        np.array("x"),
        np.zeros((2, 2, 2, 2)),
        old.astype(np.int8) if old.dtype.kind in "fi" else np.array(["a", "b"]),
    ])
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _reader(kind: str) -> Callable[[Path], object]:
    return {
        "fbx": read_skeleton, "gltf": read_skeleton, "mapping": read_mapping_file, "npz": npz.read,
        "bvh": lambda p: read_bvh(p),
    }[kind]


def main(kind: str, seed_file: Path, cases: int, seed: int) -> int:
    rng = random.Random(seed)
    original = seed_file.read_bytes()
    read = _reader(kind)
    target = seed_file.with_name(f"fuzz_case{seed_file.suffix}")
    parsed = refused = 0
    failed = False
    for case in range(cases):
        mode = rng.random()
        if kind in ("gltf", "mapping") and mode < 0.5 and not original.startswith(b"glTF"):
            data = json.dumps(_json_mutation(json.loads(original), rng)).encode()
        elif kind == "npz" and mode < 0.5:
            data = _npz_mutation(original, rng)
        else:
            data = _bytes_mutation(original, rng)
        target.write_bytes(data)
        print(f"case {case}", flush=True)  # the last such line names the case a crash happened in
        try:
            read(target)
            parsed += 1
        except (RigError, ExportError) as exc:
            refused += 1
            if "\n" in str(exc) or len(str(exc)) > 1000:
                print(f"UNEXPECTED case {case}: error is not one short line: {str(exc)[:200]!r}")
                (seed_file.parent / f"failing_case{case}{seed_file.suffix}").write_bytes(data)
                failed = True
        except Exception as exc:  # anything else is a reader bug
            print(f"UNEXPECTED case {case}: {type(exc).__name__}: {str(exc)[:300]}")
            (seed_file.parent / f"failing_case{case}{seed_file.suffix}").write_bytes(data)
            failed = True
    print(f"done {cases} parsed={parsed} refused={refused}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
