"""Small character files for the reader tests: a BVH, a glTF document, a binary FBX rig from
our own writer, and hostile variants of them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from motionbridge.exporters import registry
from motionbridge.rigs.synthetic import MOTIONS

BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 90 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Chest
  {
    OFFSET 0 20 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Arm
    {
      OFFSET 15 0 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 25 0 0
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
0 90 0 0 0 0 0 0 0 0 0 0
5 91 0 0 0 90 90 0 0 0 0 0
"""


def gltf_doc(scale_armature: float = 1.0):
    half = np.sqrt(0.5)
    nodes = [
        # an armature node scaled like a centimetre export, holding the joints
        {"name": "Armature", "children": [1], "scale": [scale_armature] * 3},
        {"name": "Hips", "translation": [0, 100, 0], "children": [2, 3]},
        # a column-major matrix: rotate 90 degrees about Z, then translate 10 up
        {"name": "Spine", "matrix": [0, 1, 0, 0, -1, 0, 0, 0, 0, 0, 1, 0, 0, 10, 0, 1], "children": [4]},
        {"name": "Leg", "translation": [10, 0, 0], "rotation": [half, 0, 0, half]},
        {"name": "Head", "translation": [20, 0, 0]},  # along the spine's local X, which points up
        {"name": "mesh", "mesh": 0, "skin": 0},
    ]
    return {"asset": {"version": "2.0"}, "scenes": [{"nodes": [0, 5]}], "nodes": nodes, "skins": [{"joints": [4, 1, 2, 3]}]}


def write_binary_rig(path: Path) -> bytes:
    """A skeleton with a short take (raw KeyValueFloat arrays), as `generate --out x.fbx` writes."""
    clip = MOTIONS["waving"]()
    clip = clip.replace(rotations=clip.rotations[:40], root_translation=clip.root_translation[:40])
    registry.write(path, [clip], ["take"])
    return path.read_bytes()


def zlib_bomb(data: bytes, declared: int = 0x7FFFFFFF) -> bytes:
    """Every raw KeyValueFloat array rewritten in place as a zlib array declaring `declared`
    elements: same byte extents, so only the declared count lies."""
    out = bytearray(data)
    start = 0
    while (at := out.find(b"KeyValueFloat", start)) >= 0:
        start = at + 1
        pos = at + len(b"KeyValueFloat")
        if out[pos : pos + 1] != b"f":
            continue
        _, encoding, stored = struct.unpack_from("<3I", out, pos + 1)
        stream = zlib.compress(bytes(stored * 64))
        if encoding != 0 or len(stream) > stored:
            continue
        struct.pack_into("<3I", out, pos + 1, declared, 1, stored)
        out[pos + 13 : pos + 13 + stored] = stream + bytes(stored - len(stream))
    return bytes(out)


def nested_ascii(depth: int) -> str:
    head = "; FBX 7.4.0 project file\nFBXHeaderExtension:  {\n FBXHeaderVersion: 1003\n FBXVersion: 7400\n}\n"
    return head + "Objects: {\n" * depth + "}\n" * depth
