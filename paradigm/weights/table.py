"""The weights table: name -> where a pretrained file comes from and how to verify it.

The table is data (``data/weights/table.json``, shipped as ``paradigm._data``). Each entry is a dict
with the keys

* ``filename`` (str): the file's name in ``$PARADIGM_WEIGHTS_DIR`` and in the cache dir (unique);
* ``alt_filenames`` (list of str, optional): other names the file is known by upstream (accepted in
  ``$PARADIGM_WEIGHTS_DIR`` or an explicit folder only when the full sha256 matches);
* ``urls`` (list of str): where to download it from, tried in order;
* ``sha256`` (str or null): full hex digest (the entry is *pinned*); null when no digest could be
  established from a public source, and the file is then checked by the *declared-hash rule*
  (:func:`verification`, :mod:`paradigm.weights.download`);
* ``sha256_source`` (str or null): where the digest came from (which public sources quote it, and
  whether they agree);
* ``sha256_prefix`` (str, optional): a digest prefix (torchvision embeds 8-10 hex digits in its
  file names) checked when ``sha256`` is null;
* ``size`` (int or null): bytes; ``licence``, ``source``, ``description``, ``provenance`` (str);
* ``format``: ``"torch"``, ``"safetensors"``, ``"npz"`` or ``"text"``;
* ``bundled`` / ``package_path`` (optional): the file ships inside a pip package
  (``importlib.util.find_spec(bundled)`` folder / ``package_path``); ``"paradigm._data"`` is
  paradigm's own data package (the NIQE and BRISQUE parameters);
* ``licence_file`` (optional, bundled entries): the licence text shipped beside the file, relative to
  the same package folder;
* ``preprocess`` (optional, models): ``mean``, ``std``, ``size``, ``interpolation``, ``crop``.

Tests and plugins add entries with :func:`register_entry` or, scoped, :func:`override_table`.
``$PARADIGM_WEIGHTS_TABLE`` names a JSON file of the same schema whose entries are laid over the
packaged ones (a site mirror's URLs, or a test server's).
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import InputError, WeightsError

FORMATS = ("torch", "safetensors", "npz", "text", "mat")
_REQUIRED = ("filename", "urls", "sha256", "format")

VERIFICATIONS = ("pinned", "declared-hash")
TABLE_ENV = "PARADIGM_WEIGHTS_TABLE"

_lock = threading.RLock()
_TABLE: dict[str, dict[str, Any]] | None = None
_TABLE_OVERLAY: str | None = None  # the $PARADIGM_WEIGHTS_TABLE value _TABLE was built with


def _read_table_text() -> str:
    """The JSON text of the packaged table.

    ``importlib.resources`` finds it in an installed wheel; in some editable installs the
    ``paradigm._data`` mapping is not importable, so fall back to the repository's ``data/`` folder.
    """
    try:
        from importlib.resources import files

        return (files("paradigm._data") / "weights" / "table.json").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        repo_data = Path(__file__).resolve().parents[2] / "data" / "weights" / "table.json"
        if repo_data.is_file():
            return repo_data.read_text(encoding="utf-8")
        raise WeightsError(
            "the weights table (paradigm._data/weights/table.json) is missing from this installation; "
            "reinstall paradigm-iqa"
        ) from None


def validate_entry(name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """Check one entry's fields and return a normalised copy.

    Raises:
        InputError: a required field is missing or has the wrong type.
    """
    if not isinstance(entry, Mapping):
        raise InputError(f"weights entry {name!r} must be a dict, got {type(entry).__name__}")
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise InputError(f"weights entry {name!r} lacks field(s) {missing}; required: {list(_REQUIRED)}")
    out = copy.deepcopy(dict(entry))
    if not isinstance(out["filename"], str) or not out["filename"] or "/" in out["filename"]:
        raise InputError(f"weights entry {name!r}: filename must be a plain file name, got {out['filename']!r}")
    if isinstance(out["urls"], str):
        out["urls"] = [out["urls"]]
    out["urls"] = list(out["urls"])
    sha = out["sha256"]
    if sha is not None:
        if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha.lower()):
            raise InputError(f"weights entry {name!r}: sha256 must be 64 hex digits or null, got {sha!r}")
        out["sha256"] = sha.lower()
    prefix = out.get("sha256_prefix")
    if prefix is not None:
        out["sha256_prefix"] = str(prefix).lower()
    if out["format"] not in FORMATS:
        raise InputError(f"weights entry {name!r}: format must be one of {FORMATS}, got {out['format']!r}")
    out["alt_filenames"] = [str(a) for a in out.get("alt_filenames", [])]
    src = out.get("sha256_source")
    if src is not None and not isinstance(src, str):
        raise InputError(f"weights entry {name!r}: sha256_source must be a string or null, got {src!r}")
    out["sha256_source"] = src or None
    for key in ("licence_file", "package_path", "bundled"):
        if key in out and not isinstance(out[key], str):
            raise InputError(f"weights entry {name!r}: {key} must be a string, got {out[key]!r}")
    out.setdefault("size", None)
    out.setdefault("licence", "unknown")
    out.setdefault("source", "")
    out.setdefault("description", "")
    return out


def verification(entry: Mapping[str, Any]) -> str:
    """How a download of ``entry`` is checked: ``"pinned"`` (a full sha256 in the table) or
    ``"declared-hash"`` (the server's declared content hash, recorded on first use; see
    :mod:`paradigm.weights.download`)."""
    return "pinned" if entry.get("sha256") else "declared-hash"


def _entries_of(text: str, origin: str) -> dict[str, dict[str, Any]]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{origin} is not valid JSON: {exc}") from exc
    entries = raw.get("entries", raw) if isinstance(raw, dict) else None
    if not isinstance(entries, dict):
        raise InputError(f"{origin} must be a JSON object with an 'entries' object")
    return {str(name): validate_entry(str(name), e) for name, e in entries.items()}


def _overlay() -> dict[str, dict[str, Any]]:
    """Entries of ``$PARADIGM_WEIGHTS_TABLE`` (empty when unset)."""
    value = os.environ.get(TABLE_ENV)
    if not value:
        return {}
    path = Path(value).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WeightsError(f"${TABLE_ENV} names {path}, which cannot be read ({exc}); unset it or fix the path") from exc
    return _entries_of(text, f"${TABLE_ENV} file {path}")


def _table() -> dict[str, dict[str, Any]]:
    global _TABLE, _TABLE_OVERLAY
    with _lock:
        overlay = os.environ.get(TABLE_ENV) or None
        if _TABLE is None or overlay != _TABLE_OVERLAY:
            table = _entries_of(_read_table_text(), "the packaged weights table")
            table.update(_overlay())
            _TABLE, _TABLE_OVERLAY = table, overlay
        return _TABLE


def names() -> list[str]:
    """Sorted names of all table entries (packaged and registered)."""
    return sorted(_table())


def get_entry(name: str) -> dict[str, Any]:
    """A copy of the entry ``name``.

    Raises:
        WeightsError: unknown name (the message lists close names).
    """
    table = _table()
    if name not in table:
        import difflib

        close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise WeightsError(
            f"no weights named {name!r} in the weights table.{hint} Run `paradigm weights list` to see all."
        )
    return copy.deepcopy(table[name])


def all_entries() -> dict[str, dict[str, Any]]:
    """A deep copy of the whole table, name -> entry."""
    return copy.deepcopy(_table())


def register_entry(name: str, entry: Mapping[str, Any], *, replace: bool = True) -> None:
    """Add (or replace) a table entry for this process.

    Args:
        name: entry name.
        entry: dict with at least ``filename``, ``urls``, ``sha256`` (or null), ``format``.
        replace: when False, an existing entry of that name is kept and nothing changes.
    """
    checked = validate_entry(name, entry)
    with _lock:
        table = _table()
        if not replace and name in table:
            return
        table[name] = checked


@contextmanager
def override_table(entries: Mapping[str, Mapping[str, Any]]) -> Iterator[None]:
    """Temporarily add or replace entries; the previous table is restored on exit.

    Example:
        >>> with override_table({"vgg16": {**get_entry("vgg16"), "sha256": my_sha}}):  # doctest: +SKIP
        ...     resolve("vgg16")
    """
    global _TABLE
    with _lock:
        saved = copy.deepcopy(_table())
        for name, entry in entries.items():
            _table()[name] = validate_entry(name, entry)
    try:
        yield
    finally:
        with _lock:
            _TABLE = saved
