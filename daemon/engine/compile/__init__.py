"""Making the fast engine's work ahead of time: CUDA graphs of the Euler loop and of the decode
(graphs.py, decode_graphs.py), torch.compile per batch shape on a background thread
(shape_compiler.py, paths.py), Inductor's disk cache (cache.py) and `motionbridge warm` (warm.py)."""
