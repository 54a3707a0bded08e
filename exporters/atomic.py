"""Atomic file writes: write a temp file beside the target, fsync, then rename.

A crash, a full disk or a read-only folder leaves either the old file or no file, never a
partial one. Errors are re-raised as ExportError with a message that names the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp makes 0600 files, but takes land on shared (farm) storage: honour the umask like
# open() would. Read once at import, because os.umask is process-wide and not thread-safe.
_UMASK = _read_umask()


class ExportError(OSError):
    """A take could not be written; nothing partial was left behind."""


def refuse_symlink(path: str | os.PathLike[str], what: str) -> None:
    """Outputs go where the user pointed, not where a link planted there points: an output
    file or folder that is a symbolic link is refused (links higher up the path are the
    machine's own layout and are followed)."""
    path = Path(path)
    if path.is_symlink():
        raise ExportError(f"{what} {path} is a symbolic link (to {os.readlink(path)}); give the real path instead")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yields a temp path in the target's folder; renames it onto the target on success.

    `suffix` is appended after ".part" for writers whose library picks the format from the
    file name (usd-core does). The file gets the usual umask permissions, not mkstemp's 0600.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(errno.ENOENT, f"output folder does not exist: {folder}")
    try:
        # mkstemp creates with O_CREAT | O_EXCL | O_NOFOLLOW: a planted file or link is never opened
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + suffix, dir=folder)
    except OSError as exc:
        raise ExportError(exc.errno, f"cannot write to {folder}: {exc.strerror}") from exc
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # on the descriptor: a path could be swapped for a link
    finally:
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW)  # the writer's file, not a link put in its place
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)  # replaces a link at `target` itself, never writes through it
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise ExportError(exc.errno, f"disk full while writing {target}; free space and retry (nothing was written)") from exc
        if isinstance(exc, ExportError):
            raise
        raise ExportError(exc.errno, f"cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
