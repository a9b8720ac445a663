"""Pretrained weights: a verified table of files and a resolver that finds, downloads and loads them.

Model-backed metrics get their files **only** through :func:`resolve`.

Example:
    >>> from paradigm.weights import resolve
    >>> path = resolve("niqe_pris_params")   # doctest: +SKIP

Environment:
    ``PARADIGM_WEIGHTS_DIR``: folder searched first for the table's file names.
    ``PARADIGM_CACHE_DIR``: download cache (default ``~/.cache/paradigm/weights``).
    ``PARADIGM_OFFLINE=1``: never download.
    ``PARADIGM_ALLOW_UNVERIFIED=1``: allow downloading files whose sha256 is unknown.
"""

from __future__ import annotations

from .resolver import (
    cache_dir,
    check_file,
    clear_hash_cache,
    find_local,
    identify,
    import_file,
    is_offline,
    load_state_dict,
    not_found_message,
    resolve,
    sha256_file,
    status,
    weights_dir,
)
from .table import all_entries, get_entry, names, override_table, register_entry

__all__ = [
    "all_entries",
    "cache_dir",
    "check_file",
    "clear_hash_cache",
    "find_local",
    "get_entry",
    "identify",
    "import_file",
    "is_offline",
    "load_state_dict",
    "names",
    "not_found_message",
    "override_table",
    "register_entry",
    "resolve",
    "sha256_file",
    "status",
    "weights_dir",
]
