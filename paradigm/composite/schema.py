"""The composite file format ``paradigm.composite/1`` (contracts §4): loading, validation, hashing.

A composite file names, per pillar, the metrics that enter it with their relative weights, the
pillar weights, the aggregation rule, and a calibration per metric that maps raw values to a
quality in [0, 1] (higher is better for every metric). Every number carries its provenance
(``fitted`` on named human data with the command that produced it, or a documented ``prior``).

Validation errors are :class:`paradigm.errors.CompositeSchemaError` whose message starts with the
JSON path of the problem, e.g. ``pillars.fidelity.metrics.psnr: weight must be >= 0, got -1``.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import logging
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CompositeSchemaError

log = logging.getLogger(__name__)

SCHEMA_ID = "paradigm.composite/1"
PILLARS: tuple[str, ...] = ("perceptual", "stability", "fidelity")
AGGREGATIONS: tuple[str, ...] = ("weighted_geometric", "weighted_arithmetic", "min_penalty")
CALIBRATION_TYPES: tuple[str, ...] = ("logistic4", "linear", "anchored")
PROVENANCE_KINDS: tuple[str, ...] = ("fitted", "prior")
#: Tolerance on "pillar weights sum to 1".
SUM_TOL = 1e-6
#: Largest accepted pillar or metric weight (weights are relative: a larger one is a typo or an
#: attack, and 1e308 overflows the weighted mean).
MAX_WEIGHT = 1e6
#: Smallest accepted non-zero weight (0 switches a metric off; subnormal weights lose precision).
MIN_WEIGHT = 1e-12
#: Deepest JSON nesting accepted in a composite file (a real one is 5 levels deep).
MAX_DEPTH = 64
#: Largest composite file read (bytes).
MAX_FILE_BYTES = 10 * 1024 * 1024
#: Default parameters of the ``min_penalty`` aggregation.
MIN_PENALTY_DEFAULTS: dict[str, float] = {"threshold": 0.25, "penalty": 0.5}

#: Folder holding the shipped composite files (``<name>-v<k>.json``): ``paradigm/_data/composite`` in an
#: installed wheel, the repository's ``data/composite`` in a checkout / editable install.
_WHEEL_DATA = Path(__file__).resolve().parents[1] / "_data" / "composite"
DATA_DIR = _WHEEL_DATA if _WHEEL_DATA.is_dir() else Path(__file__).resolve().parents[2] / "data" / "composite"

_TOP_KEYS = {
    "schema",
    "name",
    "version",
    "description",
    "aggregation",
    "aggregation_params",
    "pillars",
    "weights_provenance",
    "calibrations",
    "missing_metrics",
    "notes",
    "profile",
}

def metric_direction(name: str) -> bool | None:
    """``higher_is_better`` of a metric column, from the metric manifest (no torch import).

    Returns None for a name no registered metric declares (or a signed/informational column).
    """
    from ..metrics.spec import load_manifest

    return load_manifest().direction(name)


@dataclass(frozen=True)
class Pillar:
    """One pillar: its weight in the composite and its metrics' relative weights."""

    weight: float
    metrics: dict[str, float]


@dataclass
class CompositeSpec:
    """A validated composite (optionally with a task profile applied).

    Attributes:
        name: composite name (``"default"``).
        version: integer version; ``tag`` is ``"<name>-v<version>"``.
        aggregation: one of :data:`AGGREGATIONS`.
        aggregation_params: parameters of the aggregation (``min_penalty``: threshold, penalty).
        pillars: pillar name -> :class:`Pillar` (only the pillars this composite uses).
        calibrations: metric column -> calibration dict (contracts §4).
        raw: the validated JSON object (what :attr:`sha256` hashes).
        profile: the task profile applied, or None.
        missing_metrics: metrics the task needs but paradigm cannot compute (from the profile).
        source: where the file came from (path), for messages.
    """

    name: str
    version: int
    aggregation: str
    aggregation_params: dict[str, float]
    pillars: dict[str, Pillar]
    calibrations: dict[str, dict[str, Any]]
    raw: dict[str, Any]
    profile: str | None = None
    missing_metrics: list[dict[str, str]] = field(default_factory=list)
    source: str = ""

    @property
    def tag(self) -> str:
        """``"<name>-v<version>"`` as used in the reproducibility signature."""
        return f"{self.name}-v{self.version}"

    @property
    def sha256(self) -> str:
        """sha256 of the canonical JSON of the effective composite (profile applied)."""
        return sha256_of(self.raw)

    def metrics(self) -> list[str]:
        """All metric columns used, in pillar order."""
        return [m for p in self.pillars.values() for m in p.metrics]

    def pillar_of(self, metric: str) -> str | None:
        """The pillar a metric column belongs to in this composite."""
        for name, p in self.pillars.items():
            if metric in p.metrics:
                return name
        return None


def canonical_json(obj: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, UTF-8 characters kept."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_of(obj: Any) -> str:
    """sha256 (hex) of :func:`canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def dump_json(obj: Any) -> str:
    """The on-disk rendering of composite/profile files: sorted keys, 2-space indent, final newline."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# --------------------------------------------------------------------------------------------- #
# validation helpers


def _err(path: str, msg: str) -> CompositeSchemaError:
    return CompositeSchemaError(f"{path}: {msg}" if path else msg)


def _short(obj: Any, limit: int = 60) -> str:
    """JSON rendering of a value for a message, shortened."""
    try:
        text = json.dumps(obj)
    except (TypeError, ValueError, RecursionError):
        text = type(obj).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _number(obj: Any, path: str) -> float:
    if isinstance(obj, bool) or not isinstance(obj, (int, float)):
        raise _err(path, f"must be a number, got {_short(obj)}")
    try:
        v = float(obj)
    except OverflowError:
        raise _err(path, f"must be a finite number, got an integer of {len(str(obj))} digits") from None
    if not math.isfinite(v):
        raise _err(path, f"must be finite, got {v}")
    return v


def _fmt(v: float) -> str:
    return f"{v:g}"


def _mapping(obj: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise _err(path, f"must be a JSON object, got {type(obj).__name__}")
    return obj


def _weight(obj: Any, path: str) -> float:
    """A weight: finite, 0 (switched off) or in [MIN_WEIGHT, MAX_WEIGHT]."""
    v = _number(obj, path)
    if v < 0:
        raise _err(path, f"weight must be >= 0, got {_fmt(v)}")
    if v > MAX_WEIGHT or 0 < v < MIN_WEIGHT:
        raise _err(path, f"weight {_fmt(v)} is outside [{MIN_WEIGHT:g}, {MAX_WEIGHT:g}] (or 0); weights are relative")
    return v


def _string(obj: Any, path: str) -> str:
    if not isinstance(obj, str) or not obj.strip():
        raise _err(path, f"must be a non-empty string, got {_short(obj)}")
    return obj


def validate_provenance(obj: Any, path: str) -> None:
    """Check a provenance record: ``kind`` in {fitted, prior}; fitted ones name ``data`` and ``command``."""
    prov = _mapping(obj, path)
    kind = prov.get("kind")
    if kind not in PROVENANCE_KINDS:
        raise _err(f"{path}.kind", f"must be one of {list(PROVENANCE_KINDS)}, got {_short(kind)}")
    if kind == "fitted":
        for key in ("data", "command"):
            if key not in prov:
                raise _err(
                    f"{path}.{key}",
                    f"a fitted {path.rsplit('.', 1)[0]} must say which {key} it was fitted with "
                    f"(or use kind 'prior' and a 'description')",
                )
            _string(prov[key], f"{path}.{key}")
    else:
        if "description" not in prov and "based_on" not in prov:
            raise _err(f"{path}.description", "a prior must say what it is based on ('description')")


def validate_calibration(obj: Any, path: str, metric: str) -> dict[str, Any]:
    """Validate one calibration dict; returns it (a copy).

    ``logistic4``: ``lo``, ``hi`` (``0 <= lo < hi <= 1``), ``center`` (finite), ``scale`` (finite,
    non-zero, negative for lower-is-better metrics). ``linear``: ``a`` (the raw value mapped to
    ``lo``) and ``b`` (mapped to ``hi``), ``a != b``, ``b < a`` for lower-is-better metrics.
    """
    cal = dict(_mapping(obj, path))
    kind = cal.get("type")
    if kind not in CALIBRATION_TYPES:
        raise _err(f"{path}.type", f"unknown calibration type {_short(kind)}; use one of {list(CALIBRATION_TYPES)}")
    if kind == "anchored":
        return validate_anchored(cal, path, metric)
    lo = _number(cal.get("lo", 0.0), f"{path}.lo")
    hi = _number(cal.get("hi", 1.0), f"{path}.hi")
    if not (0.0 <= lo < hi <= 1.0):
        raise _err(f"{path}", f"need 0 <= lo < hi <= 1, got lo={_fmt(lo)}, hi={_fmt(hi)}")
    direction = metric_direction(metric)
    if kind == "logistic4":
        for key in ("center", "scale"):
            if key not in cal:
                raise _err(f"{path}.{key}", "missing (logistic4 needs lo, hi, center, scale)")
        _number(cal["center"], f"{path}.center")
        scale = _number(cal["scale"], f"{path}.scale")
        if scale == 0:
            raise _err(f"{path}.scale", "must be non-zero")
        if direction is not None and (scale > 0) != direction:
            want = "> 0 (higher is better)" if direction else "< 0 (lower is better)"
            raise _err(
                f"{path}.scale",
                f"must be {want} for {metric!r} so the calibrated value increases with quality, got {_fmt(scale)}",
            )
    else:
        for key in ("a", "b"):
            if key not in cal:
                raise _err(f"{path}.{key}", "missing (linear needs a = value of the worst quality, b = best)")
        a = _number(cal["a"], f"{path}.a")
        b = _number(cal["b"], f"{path}.b")
        if a == b:
            raise _err(f"{path}", f"a and b must differ, both are {_fmt(a)}")
        if direction is not None and (b > a) != direction:
            want = "b > a" if direction else "b < a"
            raise _err(f"{path}", f"need {want} for {metric!r} (b is the value of best quality), got a={_fmt(a)}, b={_fmt(b)}")
    if "provenance" not in cal:
        raise _err(f"{path}.provenance", "missing: say whether the calibration is fitted (data, command) or a prior")
    validate_provenance(cal["provenance"], f"{path}.provenance")
    return cal


def validate_anchored(cal: dict[str, Any], path: str, metric: str) -> dict[str, Any]:
    """Validate an ``anchored`` calibration (composite v2): ``center``, ``scale``, ``worst``, ``ideal``.

    ``scale`` is non-zero with the metric's direction; ``worst`` is finite; ``ideal`` is a finite number
    or null (the asymptote in the quality direction) and must lie on the better side of ``worst``;
    ``relative_to_reference`` (optional bool) needs a finite ``ideal``. Returns the dict.
    """
    for key in ("center", "scale", "worst"):
        if key not in cal:
            raise _err(f"{path}.{key}", "missing (anchored needs center, scale, worst and ideal)")
    _number(cal["center"], f"{path}.center")
    scale = _number(cal["scale"], f"{path}.scale")
    worst = _number(cal["worst"], f"{path}.worst")
    if scale == 0:
        raise _err(f"{path}.scale", "must be non-zero")
    direction = metric_direction(metric)
    if direction is not None and (scale > 0) != direction:
        want = "> 0 (higher is better)" if direction else "< 0 (lower is better)"
        raise _err(f"{path}.scale", f"must be {want} for {metric!r}, got {_fmt(scale)}")
    if "ideal" not in cal:
        raise _err(f"{path}.ideal", "missing: the raw value of an exact copy of the reference, or null for the asymptote")
    ideal = cal["ideal"]
    if ideal is not None:
        iv = _number(ideal, f"{path}.ideal")
        if (iv - worst) * scale <= 0:
            raise _err(path, f"ideal ({_fmt(iv)}) must be on the better side of worst ({_fmt(worst)}) for scale {_fmt(scale)}")
    rel = cal.get("relative_to_reference", False)
    if not isinstance(rel, bool):
        raise _err(f"{path}.relative_to_reference", f"must be true or false, got {json.dumps(rel)}")
    if rel and ideal is None:
        raise _err(f"{path}.ideal", "relative_to_reference needs a finite ideal (the value a reference-quality image gets)")
    if "provenance" not in cal:
        raise _err(f"{path}.provenance", "missing: say whether the calibration is fitted (data, command) or a prior")
    validate_provenance(cal["provenance"], f"{path}.provenance")
    return cal


def check_scored_metrics(
    pillars: Mapping[str, Pillar], path: str = "pillars", *, allow_unregistered: Collection[str] = ()
) -> None:
    """Refuse metrics declared ``diagnostic`` in a weighted pillar (they explain, they do not score).

    A registered metric whose declaration says ``pillar="diagnostic"`` (geometry, colour_cast,
    hallucination, the fusion statistics EN/SD/SF/AG/MI/Qabf/VIF) must not carry weight: list it as
    reported instead (profiles: ``"reported"``). Names the registry does not know are left to the
    caller; ``allow_unregistered`` lists those the build script accepts (metrics other branches add).

    Raises:
        CompositeSchemaError: naming the JSON path of the first diagnostic metric.
    """
    from ..errors import UnknownMetricError

    for pname, p in pillars.items():
        for m in p.metrics:
            if m in allow_unregistered:
                continue
            try:
                from .. import metric_info

                declared = metric_info(m)["pillar"]
            except (UnknownMetricError, ImportError):
                continue
            if declared == "diagnostic":
                raise _err(
                    f"{path}.{pname}.metrics.{m}",
                    f"{m!r} is a diagnostic metric (it explains a score, it does not rate quality) and cannot be "
                    "weighted; list it under 'reported' in a profile, or drop it",
                )


def validate_pillars(obj: Any, path: str = "pillars") -> dict[str, Pillar]:
    """Validate the ``pillars`` object: known names, weights >= 0 summing to 1, metrics with weights >= 0."""
    pillars = _mapping(obj, path)
    if not pillars:
        raise _err(path, f"needs at least one of {list(PILLARS)}")
    out: dict[str, Pillar] = {}
    total = 0.0
    for pname, pobj in pillars.items():
        ppath = f"{path}.{pname}"
        if pname not in PILLARS:
            close = difflib.get_close_matches(str(pname), PILLARS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _err(ppath, f"unknown pillar {pname!r}; pillars are {list(PILLARS)}{hint}")
        pmap = _mapping(pobj, ppath)
        extra = sorted(set(pmap) - {"weight", "metrics"})
        if extra:
            raise _err(ppath, f"unknown key(s) {extra}; a pillar has 'weight' and 'metrics'")
        if "weight" not in pmap:
            raise _err(f"{ppath}.weight", "missing")
        w = _weight(pmap["weight"], f"{ppath}.weight")
        metrics = _mapping(pmap.get("metrics"), f"{ppath}.metrics")
        if not metrics:
            raise _err(f"{ppath}.metrics", "needs at least one metric (drop the pillar instead)")
        mw: dict[str, float] = {}
        for mname, mval in metrics.items():
            mpath = f"{ppath}.metrics.{mname}"
            mw[str(mname)] = _weight(mval, mpath)
        if sum(mw.values()) <= 0:
            raise _err(f"{ppath}.metrics", "metric weights must not all be 0")
        out[str(pname)] = Pillar(weight=w, metrics=mw)
        total += w
    if abs(total - 1.0) > SUM_TOL:
        parts = " + ".join(f"{_fmt(p.weight)} ({n})" for n, p in out.items())
        raise _err(
            path,
            f"pillar weights must sum to 1 (tolerance {SUM_TOL:g}), got {parts} = {total:.6g}; "
            "paradigm does not renormalise a file silently: fix the weights",
        )
    out = {k: out[k] for k in PILLARS if k in out}  # canonical pillar order
    seen: dict[str, str] = {}
    for pname, p in out.items():
        for m in p.metrics:
            if m in seen:
                raise _err(f"{path}.{pname}.metrics.{m}", f"metric already used in pillar {seen[m]!r}")
            seen[m] = pname
    return out


def validate_missing_metrics(obj: Any, path: str) -> list[dict[str, str]]:
    """``[{"name": ..., "why": ...}, ...]``: metrics a task needs that paradigm cannot compute."""
    if not isinstance(obj, list):
        raise _err(path, f"must be a list of {{'name', 'why'}} objects, got {type(obj).__name__}")
    out = []
    for i, item in enumerate(obj):
        ipath = f"{path}[{i}]"
        m = _mapping(item, ipath)
        out.append({"name": _string(m.get("name"), f"{ipath}.name"), "why": _string(m.get("why"), f"{ipath}.why")})
    return out


def validate_aggregation(agg: Any, params: Any, path: str = "aggregation") -> tuple[str, dict[str, float]]:
    """Check the aggregation name and its parameters; returns (name, params with defaults)."""
    if agg not in AGGREGATIONS:
        raise _err(path, f"unknown aggregation {_short(agg)}; use one of {list(AGGREGATIONS)}")
    ppath = f"{path}_params"
    pmap = dict(_mapping(params, ppath)) if params is not None else {}
    if agg == "min_penalty":
        extra = sorted(set(pmap) - set(MIN_PENALTY_DEFAULTS))
        if extra:
            raise _err(ppath, f"unknown parameter(s) {extra}; min_penalty takes {sorted(MIN_PENALTY_DEFAULTS)}")
        out = dict(MIN_PENALTY_DEFAULTS)
        for k in MIN_PENALTY_DEFAULTS:
            if k in pmap:
                v = _number(pmap[k], f"{ppath}.{k}")
                if not 0 <= v <= 1:
                    raise _err(f"{ppath}.{k}", f"must be in [0, 1], got {_fmt(v)}")
                out[k] = v
        return str(agg), out
    if pmap:
        raise _err(ppath, f"{agg} takes no parameters, got {sorted(pmap)}")
    return str(agg), {}


def validate(obj: Any, source: str = "<composite>", *, allow_unregistered: Collection[str] = ()) -> CompositeSpec:
    """Validate a parsed composite JSON object.

    Args:
        obj: the parsed JSON.
        source: where it came from (for messages).
        allow_unregistered: metric names accepted although the registry does not know them (only
            the build script passes these: metrics other branches add, see ``build_default``).

    Returns:
        The :class:`CompositeSpec`.

    Raises:
        CompositeSchemaError: naming the JSON path of the first problem.
    """
    top = _mapping(obj, "")
    if top.get("schema") != SCHEMA_ID:
        raise _err("schema", f"must be {SCHEMA_ID!r}, got {_short(top.get('schema'))} (is {source} a composite file?)")
    extra = sorted(set(top) - _TOP_KEYS)
    if extra:
        raise _err("", f"unknown top-level key(s) {extra}; allowed: {sorted(_TOP_KEYS)}")
    name = _string(top.get("name"), "name")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.+-]*", name):
        raise _err("name", f"use lower-case letters, digits, '_', '-', '.', '+', got {name!r}")
    version = top.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _err("version", f"must be an integer >= 1, got {_short(version)}")
    if "description" in top:
        _string(top["description"], "description")
    agg, params = validate_aggregation(top.get("aggregation"), top.get("aggregation_params"))
    pillars = validate_pillars(top.get("pillars"))
    check_scored_metrics(pillars, allow_unregistered=allow_unregistered)
    if "weights_provenance" not in top:
        raise _err("weights_provenance", "missing: say whether the weights are fitted (data, command) or a prior")
    validate_provenance(top["weights_provenance"], "weights_provenance")
    cals_obj = _mapping(top.get("calibrations"), "calibrations")
    cals = {str(m): validate_calibration(c, f"calibrations.{m}", str(m)) for m, c in cals_obj.items()}
    for pname, p in pillars.items():
        for m in p.metrics:
            if m not in cals:
                raise _err(f"pillars.{pname}.metrics.{m}", f"no calibration for {m!r}: add calibrations.{m}")
    missing = validate_missing_metrics(top.get("missing_metrics", []), "missing_metrics")
    profile = top.get("profile")
    if profile is not None:
        _string(profile, "profile")
    return CompositeSpec(
        name=name,
        version=int(version),
        aggregation=agg,
        aggregation_params=params,
        pillars=pillars,
        calibrations=cals,
        raw=copy.deepcopy(dict(top)),
        profile=profile,
        missing_metrics=missing,
        source=source,
    )


def shipped_composites() -> dict[str, Path]:
    """Shipped composite files: ``"<name>-v<k>"`` -> path."""
    if not DATA_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(DATA_DIR.glob("*-v*.json"))}


def resolve_composite_path(name_or_path: str | Path) -> Path:
    """Find a composite file: an existing path, ``"name-vK"``, or ``"name"`` (its highest version).

    Raises:
        CompositeSchemaError: when nothing matches (with the shipped names).
    """
    p = Path(name_or_path)
    try:
        if p.suffix == ".json" or p.exists() or len(p.parts) > 1:
            if not p.is_file():
                raise CompositeSchemaError(f"composite file {str(p)!r} not found (or not a file)")
            return p
    except (OSError, ValueError) as exc:  # embedded NUL, name too long, ...
        raise CompositeSchemaError(f"composite {str(name_or_path)[:200]!r}: not a usable path ({exc})") from None
    key = str(name_or_path).strip().lower()
    shipped = shipped_composites()
    if key in shipped:
        return shipped[key]
    versions = []
    for tag, path in shipped.items():
        m = re.fullmatch(r"(.+)-v(\d+)", tag)
        if m and m.group(1) == key:
            versions.append((int(m.group(2)), path))
    if versions:
        return max(versions)[1]
    close = difflib.get_close_matches(key, list(shipped), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise CompositeSchemaError(
        f"unknown composite {str(name_or_path)!r}.{hint} Shipped: {sorted(shipped) or 'none'}; "
        "or pass the path of a composite JSON file"
    )


def load_composite(name_or_path: str | Path | None = None) -> CompositeSpec:
    """Load and validate a composite by name (``"default"``, ``"default-v1"``) or file path.

    Args:
        name_or_path: None means ``"default"``.

    Returns:
        The validated :class:`CompositeSpec`.

    Raises:
        CompositeSchemaError: unreadable file, invalid JSON, or a schema violation (the message names
            the file and the JSON path).
    """
    path = resolve_composite_path(name_or_path or "default")
    obj = parse_composite_text(_read_text(path), str(path))
    try:
        return validate(obj, str(path))
    except CompositeSchemaError as exc:
        raise CompositeSchemaError(f"{path}: {exc}") from exc


def _read_text(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CompositeSchemaError(f"cannot read composite file {str(path)!r}: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise CompositeSchemaError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not a composite file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CompositeSchemaError(f"{path}: not UTF-8 text (byte {exc.start}); not a composite file") from exc


def _depth(obj: Any) -> int:
    """Nesting depth of parsed JSON (iterative, so any depth is safe to measure)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, dict):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in o)
    return deepest


def parse_composite_text(text: str, source: str = "<composite>") -> Any:
    """Parse composite JSON text; every failure is a :class:`CompositeSchemaError` naming ``source``.

    Refuses invalid JSON, nesting deeper than :data:`MAX_DEPTH` (a 200 000-level file would
    otherwise exhaust Python's recursion), and ``NaN``/``Infinity`` literals.
    """
    def no_constants(name: str) -> Any:
        raise CompositeSchemaError(f"{source}: {name} is not allowed in a composite file (numbers must be finite)")

    try:
        obj = json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise CompositeSchemaError(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from exc
    except RecursionError:
        raise CompositeSchemaError(
            f"{source}: JSON nested too deeply to read (a composite file is about 5 levels deep)"
        ) from None
    except ValueError as exc:  # e.g. integers with more digits than Python converts
        raise CompositeSchemaError(f"{source}: not valid JSON ({exc})") from None
    if _depth(obj) > MAX_DEPTH:
        raise CompositeSchemaError(f"{source}: JSON nested deeper than {MAX_DEPTH} levels; not a composite file")
    return obj


def unknown_metrics(spec: CompositeSpec) -> dict[str, list[str]]:
    """Metric names of ``spec`` that paradigm does not know, each with the closest known names.

    Known: the names and output columns of every metric in the metric manifest (no torch import).
    """
    from ..metrics.spec import load_manifest

    known: set[str] = {"run_spread"}  # the composite's own run-to-run spread term (profiles' run_spread option)
    for spec_ in load_manifest().metrics.values():
        known.add(spec_.name)
        known.update(spec_.column_names)
    ordered = sorted(known)
    return {
        m: difflib.get_close_matches(m, ordered, n=3, cutoff=0.6) for m in spec.metrics() if m not in known
    }


def unknown_metrics_message(spec: CompositeSpec, unknown: Mapping[str, list[str]]) -> str:
    """The error for :func:`unknown_metrics` (names, suggestions, and the way out)."""
    parts = []
    for m, close in unknown.items():
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        parts.append(f"{m!r}{hint}")
    where = spec.source or spec.tag
    return (
        f"composite {where} names metric(s) paradigm does not know: {'; '.join(parts)}. They would "
        "silently drop out of the composite: fix the names (paradigm metrics lists them), or pass "
        "--allow-missing to score without them"
    )
