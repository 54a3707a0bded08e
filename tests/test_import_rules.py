"""The import graph rules of the brief, checked on the source by AST (not by convention).

- rigs imports no other motionbridge folder;
- exporters imports only rigs;
- daemon/protocol.py imports only the stdlib, msgpack and numpy;
- dcc_plugin/core imports only daemon.protocol, daemon.limits, daemon.prompt_assist and rigs from
  motionbridge, and never a DCC module, torch or transformers;
- bpy / pyfbsdk / maya are imported only inside their own adapter folder;
- nothing imports a bare `daemon` (PyPI's python-daemon owns that name).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DCC_MODULES = {"bpy": "blender", "pyfbsdk": "motionbuilder", "pyfbsdk_additions": "motionbuilder", "maya": "maya"}
HEAVY = {"torch", "transformers", "safetensors", "scipy"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    pkg_parts = ["motionbridge", *path.relative_to(REPO).parent.parts]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # resolve relative imports against the file's package
                base = pkg_parts[: len(pkg_parts) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                found.add(mod)
                if not node.module:
                    found.update(f"{mod}.{a.name}" for a in node.names)
            else:
                found.add(node.module or "")
    return found


def sources(folder: str) -> list[Path]:
    return [p for p in (REPO / folder).rglob("*.py") if ".pkgroot" not in p.parts]


def mb_folder(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "motionbridge" and len(parts) > 1 else None


def test_rigs_imports_nothing_else_of_ours():
    for path in sources("rigs"):
        bad = {m for m in imports_of(path) if mb_folder(m) not in (None, "rigs")}
        assert not bad, f"{path} imports {bad}"


def test_exporters_import_only_rigs():
    for path in sources("exporters"):
        bad = {m for m in imports_of(path) if mb_folder(m) not in (None, "rigs", "exporters")}
        assert not bad, f"{path} imports {bad}"


def test_protocol_is_light():
    path = REPO / "daemon" / "protocol.py"
    if not path.exists():
        pytest.skip("daemon/protocol.py not written yet")
    allowed_third_party = {"msgpack", "numpy"}
    for mod in imports_of(path):
        top = mod.split(".")[0]
        ok = top in sys.stdlib_module_names or top in allowed_third_party or mod == "motionbridge.daemon.limits"
        assert ok, (
            f"protocol.py imports {mod}"
        )


def test_dcc_core_stays_light():
    for path in sources("dcc_plugin/core"):
        for mod in imports_of(path):
            top = mod.split(".")[0]
            assert top not in DCC_MODULES and top not in HEAVY, f"{path} imports {mod}"
            folder = mb_folder(mod)
            if folder is not None:
                assert mod.startswith(("motionbridge.rigs", "motionbridge.dcc_plugin.core", "motionbridge.daemon.protocol", "motionbridge.daemon.limits",
                                       "motionbridge.daemon.prompt_assist")), (
                    f"{path} imports {mod}"
                )


def test_dcc_modules_only_in_their_adapter():
    for folder in ("daemon", "dcc_plugin", "exporters", "rigs", "install"):
        for path in sources(folder):
            rel = path.relative_to(REPO).parts
            for mod in imports_of(path):
                host = DCC_MODULES.get(mod.split(".")[0])
                if host is None:
                    continue
                assert rel[:2] == ("dcc_plugin", host) or (host == "blender" and "bpy_io" in path.name), (
                    f"{path} imports {mod}, which belongs in dcc_plugin/{host}"
                )


def test_no_bare_daemon_import():
    for folder in ("daemon", "dcc_plugin", "exporters", "rigs", "install", "tests"):
        for path in sources(folder):
            for mod in imports_of(path):
                assert mod.split(".")[0] != "daemon", f"{path} imports a bare 'daemon' ({mod})"


def test_core_import_pulls_no_heavy_module_at_runtime():
    """Importing the plugin core and protocol in a fresh interpreter loads no torch or DCC module."""
    code = (
        "import sys, importlib, pkgutil\n"
        "import motionbridge.rigs, motionbridge.dcc_plugin.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'motionbridge.dcc_plugin.core.'): importlib.import_module(m.name)\n"
        "try:\n import motionbridge.daemon.protocol\nexcept ModuleNotFoundError: pass\n"
        "bad = sorted(m for m in ('torch','transformers','bpy','pyfbsdk','maya','scipy') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout}"
