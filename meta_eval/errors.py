"""Exceptions raised by meta_eval. Every message says what went wrong and what the user can do.

meta_eval never imports paradigm. ``paradigm.errors.InputError`` subclasses :class:`InputError`, so
``except meta_eval.errors.InputError`` catches bad input reported by either package, and paradigm
code that calls meta_eval catches :class:`MetaEvalError`.
"""

from __future__ import annotations


class MetaEvalError(Exception):
    """Base class of all meta_eval errors."""


class InputError(MetaEvalError, ValueError):
    """Bad user input: unreadable or malformed human scores or metric tables, bad option, bad spec."""
