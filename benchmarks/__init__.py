"""Vigil's benchmarks: `make bench` runs them all (see benchmarks/__main__.py)."""
