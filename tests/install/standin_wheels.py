"""Stand-in wheels (real zip files named like the real ones) so building the Blender
extension needs no network. Blender's installer skips them (they are not real
distributions); the real wheels are checked by tests/dcc_plugin/blender/test_blender_exports.py."""

from __future__ import annotations

import zipfile
from pathlib import Path

# (file name pattern, top-level package); {cp} is the CPython tag, e.g. cp311
WHEELS = (("pyzmq-27.3.0-{cp}-{cp}-manylinux_2_28_x86_64.whl", "zmq"),
          ("msgpack-1.2.4-{cp}-{cp}-manylinux_2_28_x86_64.whl", "msgpack"),
          ("pygltflib-1.16.5-py3-none-any.whl", "pygltflib"))


def make_wheels(folder: Path, cp: str = "cp311") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for pattern, top in WHEELS:
        name = pattern.format(cp=cp)
        with zipfile.ZipFile(folder / name, "w") as zf:
            zf.writestr(f"{top}/__init__.py", "")
            zf.writestr(f"{name.split('-')[0]}-{name.split('-')[1]}.dist-info/METADATA", "Name: x\n")
    return folder
