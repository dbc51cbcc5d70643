"""Benchmarks, run as modules from the repository root: `.venv/bin/python -m bench.recommend`."""
