"""A bounds check of an FBX file before assimp sees it.

Assimp trusts what a file declares: a deeply nested ASCII file overflows its recursive parser
(a segfault), and a zlib array that declares 2^31 elements is allocated in full (gigabytes
from a few hundred kilobytes). This pass walks the file without recursion and without
inflating anything, and refuses, with one RigError line:
  - nesting deeper than MAX_DEPTH (binary records or ASCII braces);
  - a binary record, property or array whose declared extent leaves its parent or the file;
  - a raw array whose byte count disagrees with its element count, or a zlib array that
    declares more than DEFLATE_MAX_RATIO times its compressed size (deflate cannot expand
    further, so the count is a lie);
  - arrays declaring more than MAX_ARRAY_BYTES in total (ASCII `*N` counts included).
Everything it passes is still parsed by assimp; this only keeps assimp inside its limits.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from .skeleton import RigError

BINARY_MAGIC = b"Kaydara FBX Binary  \x00"
MAX_DEPTH = 64  # real files nest about 6 deep (Objects > Geometry > LayerElement > data)
MAX_ARRAY_BYTES = 1 << 30  # all arrays of one file, once inflated
DEFLATE_MAX_RATIO = 1032  # the most a deflate stream can expand (RFC 1951 limits)
_SCALAR_SIZES = {b"Y": 2, b"C": 1, b"I": 4, b"F": 4, b"D": 8, b"L": 8}
_ARRAY_ITEM_SIZES = {b"f": 4, b"d": 8, b"l": 8, b"i": 4, b"b": 1}
# ASCII tokens that matter for limits: strings and comments (skipped), braces, array counts
_ASCII_TOKENS = re.compile(rb'"[^"]*"|;[^\n]*|([{}])|\*\s*(\d+)')


def check_fbx_file(path: Path) -> None:
    """Raise RigError if the file declares more than it holds or nests past MAX_DEPTH."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RigError(f"cannot read {path.name}: {exc.strerror}") from None
    if data.startswith(BINARY_MAGIC):
        _check_binary(data, path.name)
    else:
        _check_ascii(data, path.name)


def _check_ascii(data: bytes, name: str) -> None:
    depth = 0
    declared = 0
    for m in _ASCII_TOKENS.finditer(data):
        brace, count = m.group(1), m.group(2)
        if brace == b"{":
            depth += 1
            if depth > MAX_DEPTH:
                raise RigError(f"{name}: FBX nesting deeper than {MAX_DEPTH} levels; the file is damaged or hostile")
        elif brace == b"}":
            depth -= 1
        elif count is not None:
            # each element needs at least a digit and a comma: a count past the file size is a lie
            declared += int(count[:20])
            if declared > len(data) or declared * 8 > MAX_ARRAY_BYTES:
                raise RigError(f"{name}: FBX arrays declare {declared} elements, more than the file can hold")


def _check_binary(data: bytes, name: str) -> None:
    if len(data) < 27:
        raise RigError(f"{name}: FBX file too short for its header")
    version = struct.unpack_from("<I", data, 23)[0]
    header = struct.Struct("<3Q" if version >= 7500 else "<3I")
    hsize = header.size + 1
    inflated = 0
    regions = [(27, len(data))]  # (next record, end of the enclosing record), innermost last
    while regions:
        pos, end = regions[-1]
        if pos + hsize > end:
            regions.pop()
            continue
        record_end, num_props, props_len = header.unpack_from(data, pos)
        if record_end == 0:  # the null record closes a list of records
            regions.pop()
            continue
        name_end = pos + hsize + data[pos + header.size]
        props_end = name_end + props_len
        if not pos < record_end <= end or props_end > record_end:
            raise RigError(f"{name}: FBX record at byte {pos} declares an extent outside its parent or the file; the file is damaged")
        inflated += _check_properties(data, name_end, props_end, num_props, name)
        if inflated > MAX_ARRAY_BYTES:
            raise RigError(f"{name}: FBX arrays declare more than {MAX_ARRAY_BYTES >> 20} MiB in total; refusing to inflate them")
        regions[-1] = (record_end, end)
        if props_end < record_end:
            if len(regions) > MAX_DEPTH:
                raise RigError(f"{name}: FBX nesting deeper than {MAX_DEPTH} levels; the file is damaged or hostile")
            regions.append((props_end, record_end))


def _check_properties(data: bytes, pos: int, end: int, count: int, name: str) -> int:
    """Bytes the record's arrays inflate to; raises if a property overruns [pos, end)."""
    inflated = 0
    for _ in range(count):
        if pos >= end:
            break
        code = data[pos : pos + 1]
        pos += 1
        if code in _SCALAR_SIZES:
            pos += _SCALAR_SIZES[code]
        elif code in (b"S", b"R"):
            if pos + 4 > end:
                pos = end + 1  # the length itself is cut off
                break
            pos += 4 + struct.unpack_from("<I", data, pos)[0]
        elif code in _ARRAY_ITEM_SIZES:
            if pos + 12 > end:
                pos = end + 1
                break
            length, encoding, stored = struct.unpack_from("<3I", data, pos)
            size = length * _ARRAY_ITEM_SIZES[code]
            if encoding == 0 and stored != size:
                raise RigError(f"{name}: FBX array at byte {pos} holds {stored} bytes for {length} elements; the file is damaged")
            if encoding == 1 and size > stored * DEFLATE_MAX_RATIO + 64:
                raise RigError(
                    f"{name}: FBX array at byte {pos} declares {length} elements from {stored} compressed bytes, "
                    "more than zlib can expand to; the file is damaged or hostile"
                )
            if encoding not in (0, 1):
                raise RigError(f"{name}: FBX array at byte {pos} has unknown encoding {encoding}")
            inflated += size
            pos += 12 + stored
        else:
            raise RigError(f"{name}: FBX property of unknown type {code!r} at byte {pos - 1}; the file is damaged")
        if pos > end:
            break
    if pos > end:
        raise RigError(f"{name}: FBX properties overrun their record at byte {pos}; the file is damaged")
    return inflated
