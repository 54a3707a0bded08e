"""HY-Motion 1.0 runtime: config, network, text encoders, sampling, decode, loading."""
