"""A model worker must not outlive its daemon.

When the daemon is killed (kill -9, OOM killer, a crash), nothing else stops its workers:
they are re-parented to PID 1 and keep hundreds of MB of host memory, and a GPU, for good.
On Linux the kernel kills the worker the moment its parent goes (PR_SET_PDEATHSIG); on every
platform a thread also checks the parent's pid twice a second, as a fallback. The
multiprocessing resource tracker ends by itself once every holder of its pipe, the daemon
and its workers, is gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_S = 0.5
EXIT_ORPHANED = 70


def die_with_parent(parent_pid: int) -> None:
    """Call first thing in the child; `parent_pid` is the daemon's pid as the daemon saw it."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc symbol: the polling thread still covers it
            pass
    if os.getppid() != parent_pid:  # the daemon died before the line above took effect
        os._exit(EXIT_ORPHANED)
    threading.Thread(target=_watch, args=(parent_pid,), name="motionbridge-parent-watch", daemon=True).start()


def _watch(parent_pid: int) -> None:
    while True:
        time.sleep(POLL_S)
        if os.getppid() != parent_pid:
            os._exit(EXIT_ORPHANED)  # no cleanup: the engine may be mid-kernel, and nobody is listening
