"""Directable takes: start from a pose, end on one, pass through keys, loop (issue 18)."""
