"""Benchmarks: `python -m benchmarks.engine` compares the engine with the upstream packages."""
