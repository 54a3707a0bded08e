"""Fixtures for the model runtime tests: the parity fixture, loaded once per session.

Everything is data-driven from `cases.json` / `expected.npz` / `config.yml` of the fixture in
MOTIONBRIDGE_PARITY_DIR, so another fixture of the same layout runs the same tests. The worst
error seen per array is collected and printed at the end, and written to
tests/.parity_report.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
REPORT_PATH = REPO / "tests" / ".parity_report.json"
WORST: dict[str, dict[str, float]] = {}


def _parity_dir() -> Path:
    return Path(os.environ.get("MOTIONBRIDGE_PARITY_DIR", REPO.parent / "shared" / "parity")).resolve()


def _case_names() -> list[str]:
    try:
        return [c["name"] for c in json.loads((_parity_dir() / "cases.json").read_text())["cases"]]
    except (OSError, ValueError, KeyError):
        return []


def pytest_generate_tests(metafunc):
    if "case_name" in metafunc.fixturenames:
        metafunc.parametrize("case_name", _case_names())


@pytest.fixture(scope="session", autouse=True)
def _private_home(tmp_path_factory):
    """Hash caches and downloads go to a temp folder, never the user's ~/.cache."""
    old = os.environ.get("MOTIONBRIDGE_HOME")
    os.environ["MOTIONBRIDGE_HOME"] = str(tmp_path_factory.mktemp("mbhome"))
    yield
    if old is None:
        os.environ.pop("MOTIONBRIDGE_HOME", None)
    else:
        os.environ["MOTIONBRIDGE_HOME"] = old


@pytest.fixture(scope="session")
def torch_threads():
    import torch

    # bit-exactness of CPU kernels depends on the thread count the fixture was made with
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def cases(parity) -> dict:
    return json.loads((parity / "cases.json").read_text())


@pytest.fixture(scope="session")
def case_by_name(cases) -> dict:
    return {c["name"]: c for c in cases["cases"]}


@pytest.fixture(scope="session")
def expected(parity) -> dict[str, np.ndarray]:
    with np.load(parity / "expected.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="session")
def pipeline(parity, torch_threads):
    from motionbridge.daemon.model.pipeline import MotionPipeline

    return MotionPipeline.from_dirs(parity / "model", None, None)


@pytest.fixture(scope="session")
def text_encoder_bf16(parity, pipeline, torch_threads):
    import torch

    from motionbridge.daemon.model.text_encoder import TextEncoder

    te = parity / "text_encoders"
    return TextEncoder(te / "qwen3", te / "clip", pipeline.config.pipeline.max_length_llm, llm_dtype=torch.bfloat16)


@pytest.fixture(scope="session")
def text_encoder_fp32(parity, pipeline, torch_threads):
    import torch

    from motionbridge.daemon.model.text_encoder import TextEncoder

    te = parity / "text_encoders"
    return TextEncoder(te / "qwen3", te / "clip", pipeline.config.pipeline.max_length_llm, llm_dtype=torch.float32)


def record(key: str, got, want, tolerance: float) -> float:
    """Worst absolute error of `got` vs `want`, recorded under the array's name (without the
    case prefix: the table shows the worst over all cases)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{key}: shape {got.shape} != expected {want.shape}"
    err = float(np.abs(got - want).max()) if got.size else 0.0
    name = key.split("/", 1)[-1] if not key.startswith("dit/") else key
    row = WORST.setdefault(name, {"worst_abs_error": 0.0, "tolerance": tolerance, "checked": 0})
    row["worst_abs_error"] = max(row["worst_abs_error"], err)
    row["checked"] += 1
    return err


def pytest_sessionfinish(session, exitstatus):
    if not WORST:
        return
    try:
        REPORT_PATH.write_text(json.dumps({"parity_dir": str(_parity_dir()), "arrays": WORST}, indent=1, sort_keys=True))
    except OSError:
        pass


def pytest_terminal_summary(terminalreporter):
    if not WORST:
        return
    terminalreporter.section("parity: worst absolute error per array")
    for name, row in sorted(WORST.items()):
        terminalreporter.write_line(f"{name:28s} {row['worst_abs_error']:.3e}  (tolerance {row['tolerance']:.0e}, {row['checked']} checks)")
    terminalreporter.write_line(f"written to {REPORT_PATH}")
