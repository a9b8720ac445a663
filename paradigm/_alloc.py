"""Allocator tuning for long CPU scoring runs (glibc only).

Scoring allocates and frees many image-sized float tensors (5-20 MB each) per batch. glibc serves
allocations above its mmap threshold with fresh ``mmap`` pages and returns them with ``munmap`` on
free, so every batch pays page faults and zeroing in the kernel: on the 2-core benchmark machine
that was ~25% of the run's CPU time as system time. Raising the threshold to 32 MB (glibc's maximum)
and the trim threshold to 256 MB lets freed blocks be reused from the heap instead. This changes no
value, only where memory comes from; peak memory grows by about the size of one batch's temporaries
and stays independent of the number of images.

Set ``PARADIGM_MALLOC_TUNING=0`` to leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20

_done: bool | None = None


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds once per process (see the module docstring).

    Returns:
        True when the thresholds are (now or already) set; False on other platforms or C
        libraries, when ``PARADIGM_MALLOC_TUNING=0``, or when ``mallopt`` refuses.
    """
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("PARADIGM_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        # the mmap threshold first: setting the trim threshold alone would switch off glibc's
        # dynamic mmap threshold and make every large allocation an mmap
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    except (OSError, AttributeError) as exc:  # pragma: no cover - exotic libc builds
        log.debug("mallopt unavailable: %s", exc)
        return False
    _done = bool(ok)
    return _done
