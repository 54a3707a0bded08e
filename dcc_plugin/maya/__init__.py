"""MotionBridge for Maya: a dockable panel keying takes onto joint hierarchies (maya only here)."""
