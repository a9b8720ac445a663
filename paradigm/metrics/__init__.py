"""Metrics: pure functions over (N,C,H,W) tensors in [0,1] plus thin registered classes.

Submodules are imported lazily by :mod:`paradigm.metrics.registry`.
"""
