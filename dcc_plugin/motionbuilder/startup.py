"""Entry point run by the startup script `motionbridge install motionbuilder` writes."""

from __future__ import annotations

from pyfbsdk_additions import FBAddTool

from .tool import MotionBridgeTool

_tool: MotionBridgeTool | None = None


def register_tool() -> MotionBridgeTool:
    """Create the MotionBridge tool once and list it under Open Reality > Tools."""
    global _tool
    if _tool is None:
        _tool = MotionBridgeTool()
        FBAddTool(_tool.tool)
    return _tool
