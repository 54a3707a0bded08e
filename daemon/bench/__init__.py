"""The benchmarks that ship with the package: `motionbridge bench` (cli.py, suite.py, report.py,
daemon_mixed.py) and the `python -m motionbridge.daemon.bench.<part>` runs of the batch path,
the controls, retargeting and the exporters. Random-weight engines of the real shapes
(random_models.py, random_features.py) stand in where the weights are absent. Device-side
scripts and their results live in the repository's top-level bench/ (bench/README.md)."""
