"""The Python modules some export formats need, found inside Blender.

glTF needs pygltflib: the extension carries it (and its dependencies) as wheels, which
Blender installs into its extensions' site-packages. USD needs `pxr`: official Blender
builds bundle it in their own Python's site-packages, which the Blender application has on
sys.path but the `bpy` module (PyPI) does not; `use_bundled_modules` adds it then.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import bpy

# module -> what the animator can do when this Blender lacks it
NEEDED_BY = {
    "pxr": ("USD", ("this Blender build has no USD Python module (pxr; official blender.org builds include it): "
                    "export .fbx, .glb or .npz here, or `motionbridge convert` an .npz to .usd")),
    "pygltflib": ("glTF", ("the extension's pygltflib wheel is not installed in this Blender: "
                           "reinstall the extension with `motionbridge install blender`")),
}
FORMAT_MODULES = {".usd": "pxr", ".usda": "pxr", ".usdc": "pxr", ".glb": "pygltflib", ".gltf": "pygltflib"}


def bundled_site_packages() -> list[Path]:
    """Blender's own Python site-packages (Linux/macOS: lib/python3.N, Windows: lib)."""
    local = Path(bpy.utils.resource_path("LOCAL")) / "python" / "lib"
    return sorted(local.glob("python3*/site-packages")) + ([local / "site-packages"] if (local / "site-packages").is_dir() else [])


def use_bundled_modules() -> None:
    """Let `import pxr` find Blender's bundled USD when nothing else provides it; appended,
    so what Blender already has on sys.path wins."""
    if _importable("pxr"):
        return
    for folder in bundled_site_packages():
        if (folder / "pxr").is_dir() and str(folder) not in sys.path:
            sys.path.append(str(folder))


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder refused it, or a half-imported module
        return False


def missing_for(extension: str) -> str:
    """One line for the animator when the format of `extension` cannot be written in this
    Blender, else ''."""
    module = FORMAT_MODULES.get(extension)
    if module is None or _importable(module):
        return ""
    fmt, advice = NEEDED_BY[module]
    return f"cannot export {fmt} from this Blender: {advice}"
