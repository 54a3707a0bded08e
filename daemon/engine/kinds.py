"""The engine kinds the CLI, the daemon and batch export can build, by name."""

from __future__ import annotations

ENGINE_KINDS = ("fast", "reference")


def engine_class(kind: str) -> type:
    """"fast": batched, trimmed, GPU modes (FastEngine); "reference": the exact float32 port.
    Imported on demand, so choosing a kind costs nothing until it is built."""
    if kind == "fast":
        from .fast import FastEngine

        return FastEngine
    if kind == "reference":
        from .reference import ReferenceEngine

        return ReferenceEngine
    raise ValueError(f"unknown engine {kind!r}; pass one of {', '.join(ENGINE_KINDS)}")
