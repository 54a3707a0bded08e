"""The parent's side of the compile child (compile/child.py): a compile job's expensive part in
another process.

Measured on one H100 (1.0B, bf16, `motionbridge bench --scenario daemon-mixed`, background
compile on a thread): a request that met an uncompiled shape while another shape compiled
finished only when that compile did (20-30 s), and new prompts spent 5-7 s encoding text. Our
reading: Inductor's and Triton's code generation holds the GIL in native code for long
stretches, which the switch interval cannot pre-empt, so the request thread starves. So each
compile job first compiles its shape in a child process, which fills the on-disk caches; the
job's in-process compile then loads that code (2.7 s from warm disk caches against 27.7 s cold
for one shape, same H100), which is Python-level work the switch interval can pre-empt.
The child-process design itself is NOT yet measured on a GPU.

The child is killed at `FastConfig.compile_child_timeout_s` and when the engine closes; it is
started in its own session, so killing its process group also ends Inductor's compile
workers, and it dies with its parent (server/parent_watch.py: the kernel signals it when the
thread that started it ends, i.e. the compile thread or, without one, the thread of
`precompile`).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


class CompileChildFailed(RuntimeError):
    """The child exited non-zero, timed out or was killed; the message is one line."""


def load_function(name: str) -> Callable:
    """The function `name` ("module:function") names."""
    module, sep, attr = name.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"compile_with {name!r}: pass 'module:function'")
    return getattr(importlib.import_module(module), attr)


def child_compiles(fast, compile_with: Callable | str | None, on_event: Callable[[dict], None] | None = None,
                   ) -> tuple[CompileChild | None, Callable | None]:
    """(the engine's CompileChild or None, its compile function or None for torch.compile).
    A child serves the background compile's jobs (`compile_in_child` with `background_compile`
    and `compile_blocks`); it cannot receive a function, so an injected compile function must
    then be named as "module:function"."""
    name = compile_with if isinstance(compile_with, str) else None
    wanted = fast.compile_in_child and fast.background_compile and fast.compile_blocks
    if wanted and compile_with is not None and name is None:
        raise ValueError("compile_in_child needs compile_with as 'module:function' (a child process cannot receive a function)")
    child = CompileChild(fast.compile_child_timeout_s, name, on_event) if wanted else None
    return child, load_function(name) if name is not None else compile_with


def _child_env() -> dict[str, str]:
    """This environment, with the folder that holds the imported `motionbridge` on PYTHONPATH
    when it is not a site-packages folder (a source checkout, a test's import root); a
    site-packages folder is on the child's path already, and ahead of the standard library
    it could shadow it."""
    import site

    import motionbridge

    root = str(Path(next(iter(motionbridge.__path__))).parent)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    on_path = root in paths or root in {*site.getsitepackages(), site.getusersitepackages()}
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths if on_path else [root, *paths])}


class CompileChild:
    """Runs compile children one at a time for one engine; `close` kills the running one and
    refuses new ones. `pids`: every child started (tests, logs). `on_event(dict)`: a
    'compile_child_done' event per child that succeeded, with its seconds (the JSON log: the
    rest of the shape's compile_done seconds is the in-process part)."""

    def __init__(self, timeout_s: float, compile_with: str | None = None, on_event: Callable[[dict], None] | None = None) -> None:
        self.timeout_s = timeout_s
        self.compile_with = compile_with
        self.on_event = on_event
        self.pids: list[int] = []
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._closed = False

    def run(self, model_config, fast, device: str, batch) -> None:
        """Compiles the shape of `batch` (a sampler.Batch as the engine pads it) in a child;
        raises CompileChildFailed with one line if it fails."""
        from motionbridge.daemon.engine.compile.child_spec import spec_for

        shape = {"frames": batch.x0.shape[1], "text_tokens": batch.ctxt.shape[1], "rows": batch.x0.shape[0]}
        spec = json.dumps(spec_for(model_config, fast, device, shape, self.compile_with))
        t0 = time.perf_counter()
        with self._lock:
            if self._closed:
                raise CompileChildFailed("compile child not started: the engine closed")
            proc = subprocess.Popen([sys.executable, "-m", "motionbridge.daemon.engine.compile.child"], stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_child_env(),
                                    start_new_session=os.name == "posix")
            self._proc = proc
            self.pids.append(proc.pid)
        try:
            _, err = proc.communicate(spec, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()  # closes the pipes
            raise CompileChildFailed(f"compile child timed out after {self.timeout_s:g} s and was killed") from None
        finally:
            with self._lock:
                self._proc = None
        if proc.returncode != 0:
            if self._closed:
                raise CompileChildFailed("compile child killed: the engine closed")
            lines = [line for line in err.splitlines() if line.strip()]
            raise CompileChildFailed(f"compile child exited {proc.returncode}: {lines[-1] if lines else 'no message'}"[:600])
        if self.on_event is not None:
            seconds = round(time.perf_counter() - t0, 3)
            try:
                self.on_event({"event": "compile_child_done", "shape": shape, "seconds": seconds, "child_pid": proc.pid})
            except Exception:  # a broken log sink must not fail the compile
                logging.getLogger("motionbridge.compile").exception("compile event sink failed")

    def close(self) -> None:
        """Kills the running child (and waits for it to end); no child starts after this."""
        with self._lock:
            self._closed = True
            proc = self._proc
        if proc is not None:
            _kill(proc)


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL to the child's process group (its compile workers too), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL) if os.name == "posix" else proc.kill()
    except (ProcessLookupError, PermissionError):
        proc.kill()  # already gone, or not a group leader: the child alone
    proc.wait(10)
