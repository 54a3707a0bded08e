"""Which engine a batch runs on, as plain data.

A Ray actor or a farm task builds its own engine in its own process, so the choice travels
as an EngineSpec (strings only, picklable), and `build()` is called where the GPU is.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from motionbridge.daemon.engine import kinds
from motionbridge.daemon.engine.api import Engine
from motionbridge.daemon.engine.kinds import ENGINE_KINDS


class EngineUnavailable(RuntimeError):
    """The engine could not be built; the message says what to install or pass."""


@dataclass(frozen=True)
class EngineSpec:
    checkpoint_dir: str | None = None  # HY-Motion checkpoint folder (config.yml, latest.ckpt)
    qwen_dir: str | None = None  # Qwen3-8B folder
    clip_dir: str | None = None  # CLIP ViT-L/14 folder
    parity_dir: str | None = None  # the tiny random-weight fixture, for tests and dry runs
    factory: str | None = None  # "module:callable(device=, dtype=, kind=) -> Engine", custom engines
    device: str = "cpu"
    dtype: str = "auto"  # see engine.kinds.resolve_dtype
    kind: str = "fast"  # "fast" (batches across prompts, trims frames) or "reference" (the exact port)

    def describe(self) -> str:
        if self.factory:
            return f"factory {self.factory}"
        if self.parity_dir:
            return f"parity fixture {self.parity_dir}"
        return f"checkpoint {self.checkpoint_dir}"

    def check(self) -> None:
        chosen = [bool(self.factory), bool(self.parity_dir), bool(self.checkpoint_dir)]
        if sum(chosen) != 1:
            raise ValueError(
                "choose one engine: --checkpoint DIR (with --qwen DIR --clip DIR), --parity DIR, "
                "or --engine-factory MODULE:FUNCTION"
            )
        if self.checkpoint_dir and not (self.qwen_dir and self.clip_dir):
            raise ValueError("--checkpoint needs --qwen DIR and --clip DIR (the text encoders)")
        if self.kind not in ENGINE_KINDS:
            raise ValueError(f"--engine {self.kind!r}: pass one of {', '.join(ENGINE_KINDS)}")
        if self.factory and ":" not in self.factory:
            raise ValueError(f"--engine-factory {self.factory!r} must be MODULE:FUNCTION")

    def build(self) -> Engine:
        self.check()
        if self.factory:
            module_name, _, func = self.factory.partition(":")
            try:
                factory: Any = getattr(importlib.import_module(module_name), func)
            except (ImportError, AttributeError) as exc:
                raise EngineUnavailable(f"cannot load engine factory {self.factory}: {exc}") from exc
            return factory(device=self.device, dtype=kinds.resolve_dtype(self.kind, self.device, self.dtype), kind=self.kind)
        try:
            engine_class = kinds.engine_class(self.kind)
        except ImportError as exc:
            raise EngineUnavailable(
                f"the in-process engine is not available ({exc}); install 'motionbridge[daemon]' "
                "or run through a daemon with --server tcp://HOST:PORT"
            ) from exc
        dtype = kinds.resolve_dtype(self.kind, self.device, self.dtype)
        if self.parity_dir:
            return engine_class.from_parity(self.parity_dir, device=self.device, dtype=dtype)
        return engine_class.from_dirs(self.checkpoint_dir, self.qwen_dir, self.clip_dir, device=self.device, dtype=dtype)
