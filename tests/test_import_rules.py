"""The import rules (README, "Layout"; docs/architecture.md), checked on the source by AST.

Imports flow one way: rigs <- exporters; rigs <- the light layer (daemon/protocol/) <- the rest
of daemon/ and dcc_plugin/.
- rigs imports no other motionbridge folder;
- exporters imports only rigs;
- the light layer imports only the stdlib, msgpack, numpy, pyzmq, itself and rigs;
- dcc_plugin/core imports only the light layer, daemon.prompt_assist and rigs from
  motionbridge, and never a DCC module, torch or transformers;
- daemon/ never imports dcc_plugin/;
- no two modules of ours import each other, directly or around a loop;
- bpy / pyfbsdk / maya are imported only inside their own adapter folder;
- nothing imports a bare `daemon` (PyPI's python-daemon owns that name).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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


def test_light_layer_is_light():
    allowed_third_party = {"msgpack", "numpy", "zmq"}
    paths = sources("daemon/protocol")
    assert {p.name for p in paths} >= {"frames.py", "limits.py", "link.py", "payload.py", "client.py", "client_io.py"}
    for path in paths:
        for mod in imports_of(path):
            top = mod.split(".")[0]
            ok = (top in sys.stdlib_module_names or top in allowed_third_party
                  or mod.startswith(("motionbridge.daemon.protocol", "motionbridge.rigs")))
            assert ok, f"{path} imports {mod}"


def test_daemon_never_imports_the_plugins():
    for path in sources("daemon"):
        bad = {m for m in imports_of(path) if mb_folder(m) == "dcc_plugin"}
        assert not bad, f"{path} imports {bad}"


def test_dcc_core_stays_light():
    for path in sources("dcc_plugin/core"):
        for mod in imports_of(path):
            top = mod.split(".")[0]
            assert top not in DCC_MODULES and top not in HEAVY, f"{path} imports {mod}"
            folder = mb_folder(mod)
            if folder is not None:
                assert mod.startswith(("motionbridge.rigs", "motionbridge.dcc_plugin.core", "motionbridge.daemon.protocol",
                                       "motionbridge.daemon.prompt_assist")), (
                    f"{path} imports {mod}"
                )


FOLDERS = ("daemon", "dcc_plugin", "exporters", "rigs", "install")
# import cycles tolerated for now, each one cycle's modules, sorted (none: keep it that way)
ALLOWED_CYCLES: set[tuple[str, ...]] = set()


def module_name(path: Path) -> str:
    parts = ["motionbridge", *path.relative_to(REPO).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph() -> dict[str, set[str]]:
    """Our module -> our modules it imports (lazy and TYPE_CHECKING imports included: a cycle
    through them is still two homes that need each other). `from pkg import mod` counts as an
    import of pkg.mod, not of pkg's __init__."""
    files = {module_name(p): p for folder in FOLDERS for p in sources(folder)}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = (".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
                        if node.level else (node.module or ""))
                found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names)
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(tuple(sorted(component)))
    return cycles


def test_no_import_cycles():
    cycles = [c for c in import_cycles(module_graph()) if c not in ALLOWED_CYCLES]
    assert not cycles, f"modules that import each other: {cycles}"


def test_cycle_finder_finds_a_loop():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [("a", "b", "c")]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


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
    """Importing the plugin core and the light layer in a fresh interpreter loads no torch or DCC module."""
    code = (
        "import sys, importlib, pkgutil\n"
        "import motionbridge.rigs, motionbridge.dcc_plugin.core as core, motionbridge.daemon.protocol as light\n"
        "for m in pkgutil.walk_packages(core.__path__, 'motionbridge.dcc_plugin.core.'): importlib.import_module(m.name)\n"
        "for m in pkgutil.walk_packages(light.__path__, 'motionbridge.daemon.protocol.'): importlib.import_module(m.name)\n"
        "bad = sorted(m for m in ('torch','transformers','bpy','pyfbsdk','maya','scipy') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout}"
