"""The compile cache under $MOTIONBRIDGE_HOME (engine/compile/cache.py): where it is, and that a
process killed (SIGKILL) while compiling leaves nothing that breaks the next start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from motionbridge.daemon.engine.compile.cache import cached_code_seconds, compile_cache_dir, mark_code_cached, use_compile_cache

SCRIPT = """
import sys, torch
from motionbridge.daemon.engine.compile.cache import use_compile_cache
use_compile_cache(sys.argv[1])
def f(x):
    return (torch.sin(x) @ x.T).relu().sum(-1) + torch.cos(x).mean()
compiled = torch.compile(f, dynamic=False)
print("compiling", flush=True)
print("result", repr(compiled(torch.arange(64.0).reshape(8, 8) / 10).tolist()), flush=True)
"""


def _want() -> list:
    x = torch.arange(64.0).reshape(8, 8) / 10
    return ((torch.sin(x) @ x.T).relu().sum(-1) + torch.cos(x).mean()).tolist()


def _start(home: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(home: Path) -> tuple[list, float]:
    t = time.perf_counter()
    p = _start(home)
    out, err = p.communicate(timeout=240)
    assert p.returncode == 0, err[-2000:]
    [line] = [ln for ln in out.splitlines() if ln.startswith("result")]
    return eval(line.split(" ", 1)[1]), time.perf_counter() - t  # noqa: S307 - our own script's list of floats


def test_the_cache_lives_under_motionbridge_home(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    monkeypatch.setenv("MOTIONBRIDGE_HOME", str(tmp_path))
    root = use_compile_cache()
    assert root == tmp_path / "compile-cache" / "torchinductor" == compile_cache_dir() / "torchinductor" and root.is_dir()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(root) and os.environ["TRITON_CACHE_DIR"] == str(root / "triton")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))  # an explicit setting wins
    assert use_compile_cache() == tmp_path / "mine"


def test_a_process_killed_while_compiling_leaves_a_cache_the_next_start_uses(tmp_path):
    want = _want()
    got, cold_s = _finish(tmp_path / "timing")  # how long a cold compile takes here
    torch.testing.assert_close(torch.tensor(got), torch.tensor(want))
    home = tmp_path / "home"
    killed_after = []
    for fraction in (0.4, 0.8):  # killed at two points of the compile
        p = _start(home)
        assert p.stdout.readline().startswith("compiling")
        time.sleep(cold_s * fraction)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed_after.append(fraction)
        p.communicate(timeout=60)
    assert killed_after, "every run finished before it could be killed"
    assert any((home / "compile-cache").rglob("*")), "the killed runs wrote nothing: the kill came too early"
    got, _ = _finish(home)  # the next start compiles or loads what is there, and gives the right answer
    torch.testing.assert_close(torch.tensor(got), torch.tensor(want))


def test_a_marker_says_which_code_is_cached_and_anything_unreadable_says_not(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    identity = {"torch": "2.x", "shape": [1, 152, 16, 50], "fast": {"buckets": (32, 64)}}
    assert cached_code_seconds(identity) is None
    mark_code_cached(identity, 2.75)
    assert cached_code_seconds(identity) == cached_code_seconds(json.loads(json.dumps(identity))) == 2.75  # tuples as lists: the same
    assert cached_code_seconds({**identity, "shape": [2, 152, 16, 50]}) is None
    [marker] = (tmp_path / "inductor" / "motionbridge-compiled").iterdir()
    assert not marker.name.startswith(".")  # written aside, then renamed into place
    good = marker.read_text()
    for corrupt in ("", "{not json", "[]", good.replace('"2.x"', '"other"'), good.replace("2.75", '"soon"')):
        marker.write_text(corrupt)
        assert cached_code_seconds(identity) is None, corrupt
