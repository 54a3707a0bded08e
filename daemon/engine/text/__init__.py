"""Text conditioning for the fast engine: the encoders with a cached chat prefix (encoder.py),
their static-shape graphs (graphs.py, qwen_static.py), low-VRAM layer streaming (offload.py)
and the prompt-feature cache (cache.py)."""
