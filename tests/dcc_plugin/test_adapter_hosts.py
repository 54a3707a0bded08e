"""What the MotionBuilder and Maya hosts implement of the host contract, read from their
source (neither DCC runs here; test_typecheck.py checks the calls they make)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def methods_of(path: Path, class_name: str) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
    return {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("path, class_name", [("dcc_plugin/maya/host.py", "MayaHost"),
                                              ("dcc_plugin/motionbuilder/host.py", "MotionBuilderHost")])
def test_the_host_reads_takes_back_so_its_takes_list_exports(path, class_name):
    """Host.export_refusal refuses Export for a host that keeps the contract's read_take."""
    assert "read_take" in methods_of(REPO / path, class_name)
