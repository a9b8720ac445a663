"""Pretrained weights: a verified table of files and a resolver that finds, downloads and loads them.

Model-backed metrics get their files **only** through :func:`resolve`.

Example:
    >>> from paradigm.weights import resolve
    >>> path = resolve("niqe_pris_params")   # doctest: +SKIP

Environment:
    ``PARADIGM_WEIGHTS_DIR``: folder searched first for the table's file names.
    ``PARADIGM_CACHE_DIR``: download cache (default ``~/.cache/paradigm/weights``).
    ``PARADIGM_OFFLINE=1``: never download.
    ``PARADIGM_ALLOW_UNVERIFIED=1``: accept a download that neither the table nor the server's
    declared hash can verify (its digest is still recorded and enforced later).
    ``PARADIGM_WEIGHTS_TABLE``: a JSON file of extra/replacement entries (mirrors, tests).

Verification: *pinned* entries carry a full sha256 (with its public source); the others follow the
*declared-hash rule* (:mod:`paradigm.weights.download`): recorded on first use in ``weights-lock.json``.
"""

from __future__ import annotations

from .resolver import (
    bundled_path,
    cache_dir,
    check_file,
    clear_hash_cache,
    find_local,
    identify,
    import_file,
    is_offline,
    licence_path,
    load_state_dict,
    not_found_message,
    recorded_hash,
    resolve,
    sha256_file,
    status,
    weights_dir,
)
from .table import all_entries, get_entry, names, override_table, register_entry, verification

__all__ = [
    "all_entries",
    "bundled_path",
    "cache_dir",
    "check_file",
    "clear_hash_cache",
    "find_local",
    "get_entry",
    "identify",
    "import_file",
    "is_offline",
    "licence_path",
    "load_state_dict",
    "names",
    "not_found_message",
    "override_table",
    "recorded_hash",
    "register_entry",
    "resolve",
    "sha256_file",
    "status",
    "verification",
    "weights_dir",
]
