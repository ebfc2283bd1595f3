"""Benchmarks (``python -m bench NAME``): not tests, not part of ``make test``."""
