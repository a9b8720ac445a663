"""Settings shared by paradigm's numba CPU kernels (imported only by the kernel modules, never by ``paradigm``).

Why numba (issue 20): a metric such as CIEDE2000 is ~200 element-wise steps per pixel. In torch each
step is a pass over memory; compiled as one loop, LLVM vectorises the whole chain (AVX2 / AVX-512 as
the CPU has) and the data stay in registers — 5x less CPU for CIEDE2000 on this project's machines.
The kernels are compiled for the running CPU on first use and cached next to the module (or, where
that folder is not writable, in numba's user cache; ``NUMBA_CACHE_DIR`` chooses another; with no
writable cache folder at all they are compiled in every process).

Floating-point flags are chosen so that a value does not depend on the vector width: no
reassociation (sums are added in a fixed order, in float64) and no approximate functions; only
"no NaN/inf/signed zero" (the inputs are checked finite) and fused multiply-add contraction
(:func:`kernel`), or not even that where a kernel reproduces numpy's or torch's values bit for bit
(:func:`exact_kernel`).
The kernels use ``error_model="numpy"`` (no Python ZeroDivisionError checks, which would stop
vectorisation) and release the GIL, so images can be computed on all cores with threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: LLVM fast-math flags of every kernel (see the module docstring): no ``reassoc``, ``arcp`` or ``afn``.
FASTMATH = frozenset({"nnan", "ninf", "nsz", "contract"})
#: Flags of the kernels that must reproduce numpy's or torch's float32 values operation by operation
#: (each product rounded before it is added: no fused multiply-add).
EXACT = frozenset({"nnan", "ninf", "nsz"})


def _njit(fn: Callable[..., Any], flags: frozenset[str], **options: Any) -> Any:
    """``numba.njit(fn)`` with ``flags``, cached on disk where numba finds a writable cache folder.

    numba refuses ``cache=True`` when neither the module's ``__pycache__`` nor its user cache folder is
    writable (a read-only installation and home): the kernel is then compiled in every process instead.
    """
    import numba

    try:
        return numba.njit(fastmath=set(flags), error_model="numpy", cache=True, **options)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(fastmath=set(flags), error_model="numpy", cache=False, **options)(fn)


def kernel(fn: Callable[..., Any]) -> Any:
    """``numba.njit`` with paradigm's kernel settings (compiled on first call, cached on disk)."""
    return _njit(fn, FASTMATH, nogil=True)


def exact_kernel(fn: Callable[..., Any]) -> Any:
    """:func:`kernel` without multiply-add contraction (:data:`EXACT`)."""
    return _njit(fn, EXACT, nogil=True)


def inline(fn: Callable[..., Any]) -> Any:
    """``numba.njit`` for a scalar helper inlined into :func:`kernel` loops (same flags)."""
    return _njit(fn, FASTMATH, inline="always")


def inline_exact(fn: Callable[..., Any]) -> Any:
    """:func:`inline` without multiply-add contraction (:data:`EXACT`)."""
    return _njit(fn, EXACT, inline="always")
