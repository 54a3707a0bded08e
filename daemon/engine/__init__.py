"""The engine: the one API through which the CLI, the daemon and batch export generate."""

from .api import Engine, GeneratedTake, GenerationRequest, StepInfo

__all__ = ["Engine", "GeneratedTake", "GenerationRequest", "StepInfo"]
