"""The engine kinds the CLI, the daemon and batch export can build, by name."""

from __future__ import annotations

ENGINE_KINDS = ("fast", "reference")


def engine_class(kind: str) -> type:
    """"fast": batched, trimmed, GPU modes (FastEngine); "reference": the exact float32 port.
    Imported on demand, so choosing a kind costs nothing until it is built."""
    if kind == "fast":
        from .fast.engine import FastEngine

        return FastEngine
    if kind == "reference":
        from .reference import ReferenceEngine

        return ReferenceEngine
    raise ValueError(f"unknown engine {kind!r}; pass one of {', '.join(ENGINE_KINDS)}")


DTYPE_CHOICES = ("auto", "float32", "bfloat16")


def resolve_dtype(kind: str, device: str, dtype: str | None) -> str:
    """'auto' (or None): bfloat16 for the fast engine on a GPU, where its graphs and compiled
    network run (tolerances in bench/README.md); float32, the exact path, everywhere else."""
    if dtype not in (None, "auto"):
        return dtype
    return "bfloat16" if kind == "fast" and str(device).startswith("cuda") else "float32"
