"""The engine: the one API through which the CLI, the daemon and batch export generate.

api.py is the contract and kinds.py names the engines that fulfil it: reference.py (the exact
float32 port) and fast/ (batched, bf16, graphs), with its text/ encoders and compile/ steps."""

from .api import Engine, GeneratedTake, GenerationRequest, StepInfo
from .kinds import ENGINE_KINDS, engine_class, resolve_dtype

__all__ = ["ENGINE_KINDS", "Engine", "GeneratedTake", "GenerationRequest", "StepInfo", "engine_class", "resolve_dtype"]
