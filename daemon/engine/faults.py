"""Classifying device errors: out-of-memory is recoverable (split the batch), an illegal
memory access or a device-side assert poisons the CUDA context until the process restarts."""

from __future__ import annotations

import torch

STICKY_MARKERS = ("illegal memory access", "device-side assert", "unspecified launch failure", "misaligned address", "CUDA error")


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError)


def is_sticky(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and not is_oom(exc) and any(m in str(exc) for m in STICKY_MARKERS)
