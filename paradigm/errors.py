"""Exceptions raised by paradigm. Every message says what went wrong and what the user can do."""

from __future__ import annotations

from meta_eval.errors import InputError as _MetaEvalInputError
from meta_eval.errors import MetaEvalError

__all__ = [
    "ParadigmError", "InputError", "UnknownMetricError", "MetricUnavailableError", "WeightsError",
    "WeightsNotFoundError", "WeightsHashError", "CompositeSchemaError", "MetaEvalError",
]


class ParadigmError(Exception):
    """Base class of all paradigm errors."""


class InputError(ParadigmError, _MetaEvalInputError):
    """Bad user input: wrong tensor shape/range, unreadable image, bad folder, bad option.

    A subclass of ``meta_eval.errors.InputError`` (itself a ``ValueError``): meta_eval stands on its own
    and never imports paradigm, so paradigm code that calls meta_eval catches ``MetaEvalError``
    (re-exported here) or ``meta_eval.errors.InputError``, which also catches this class.
    """


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
