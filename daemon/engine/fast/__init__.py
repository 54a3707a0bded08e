"""The fast engine (engine.py: FastEngine, config.py: FastConfig) and its sampling: batched
Euler rows (sampler.py), per-step tables (step_tables.py, device_tables.py), the text-table and
side-stream modes (text_stream.py, side_stream.py), the batched decode and take assembly
(decode.py, takes.py)."""
