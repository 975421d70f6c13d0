"""Benchmarks: run each with ``python -m bench.<name> --setup scaled|embedded`` (bench/README.md)."""
