"""Exceptions raised by paradigm. Every message says what went wrong and what the user can do."""

from __future__ import annotations


class ParadigmError(Exception):
    """Base class of all paradigm errors."""


class InputError(ParadigmError, ValueError):
    """Bad user input: wrong tensor shape/range, unreadable image, bad folder, bad option."""


class UnknownMetricError(ParadigmError, KeyError):
    """A metric name that is not registered (the message suggests close names)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class MetricUnavailableError(ParadigmError):
    """A metric that cannot run here: missing optional dependency or missing weights."""


class WeightsError(ParadigmError):
    """Base class of weights-resolution errors."""


class WeightsNotFoundError(WeightsError, MetricUnavailableError, FileNotFoundError):
    """A pretrained file is not present and cannot be downloaded (offline)."""


class WeightsHashError(WeightsError):
    """A pretrained file exists but its sha256 does not match the weights table."""


class CompositeSchemaError(ParadigmError, ValueError):
    """A composite file does not follow the schema."""
