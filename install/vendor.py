"""Copies the light part of motionbridge (what a DCC's Python needs) into a plugin folder or zip.

The light path is the light layer (daemon/protocol/: protocol, limits, payload, client) and
rigs/, both whole, with the plugin core. Two more pieces serve DCC features beyond it: the
prompt assistant (daemon/prompt_assist.py; the panel's Rewrite calls it) and the exporters
(the take lists' Export writes FBX/glTF/USD... inside the DCC; their optional packages are
imported only when a format needs them). Never the model runtime, the server, torch or
benchmark code.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

# (package, files or None for the whole folder)
VENDORED: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("motionbridge.daemon.protocol", None),
    ("motionbridge.rigs", None),
    ("motionbridge.dcc_plugin", ("__init__.py",)),
    ("motionbridge.dcc_plugin.core", None),
    ("motionbridge.daemon", ("__init__.py", "prompt_assist.py")),
    ("motionbridge.exporters", None),
)
_SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache"}


def _skipped(rel: Path) -> bool:
    """Caches and benchmark code (bench.py, bench_*.py) stay out of a DCC's copy."""
    return bool(_SKIP_DIRS.intersection(rel.parts)) or rel.suffix == ".pyc" or (rel.suffix == ".py" and rel.stem.startswith("bench"))


def package_dir(name: str) -> Path:
    module = importlib.import_module(name)
    return Path(module.__file__).resolve().parent  # type: ignore[arg-type]


def vendored_files() -> Iterator[tuple[Path, str]]:
    """(source file, path relative to the vendor root, e.g. 'motionbridge/rigs/quat.py')."""
    for name, files in VENDORED:
        root = package_dir(name)
        rel_root = Path(*name.split("."))
        if files is not None:
            for f in files:
                yield root / f, (rel_root / f).as_posix()
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not _skipped(path.relative_to(root)):
                yield path, (rel_root / path.relative_to(root)).as_posix()


def copy_into(target: Path) -> list[Path]:
    written = []
    for src, rel in vendored_files():
        dst = target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
        written.append(dst)
    return written
