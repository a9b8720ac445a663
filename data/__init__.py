"""Shipped data (versioned weights table, composite files), installed as ``paradigm._data``."""
