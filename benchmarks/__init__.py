"""Benchmarks and the seed paper's original feature algorithm (for comparison)."""
