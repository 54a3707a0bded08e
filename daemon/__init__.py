"""MotionBridge daemon side: the HY-Motion runtime, the engine, the server and the CLI."""
__version__ = "0.1.0"
