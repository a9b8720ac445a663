"""Task profiles: which metrics enter each pillar, with which weights, for a restoration task.

A profile replaces the composite's ``pillars`` (and optionally its ``aggregation``); the
calibrations stay those of the composite file, so every profile metric must have one there. The
profiles ship in ``data/composite/profiles-v<k>.json`` (schema ``paradigm.profiles/1``) and cover the
14 tasks of the generative-restorer study (arXiv 2512.15110) plus ``default`` (the composite as is).
``default-v1`` is paired with ``profiles-v1.json``; every other composite (``default-v2``, user files)
with the latest profiles file (v2: the stability pillar of composite v2).

Optional profile keys: ``reported`` (metrics computed and reported beside the composite, never
weighted: diagnostics such as the fusion statistics) and ``run_spread`` (``{"metric": M, "weight":
w, "limit": L}``: the run-to-run spread of ``M`` over several samples of one input enters the
stability pillar with weight ``w``, calibrated linearly from 1 at spread 0 to 0 at spread ``L``; see
:func:`paradigm.samples.run_spread`).

Tasks with ground truth use GT-referenced metrics. Tasks without it (underwater, real-world
low-light, image fusion) measure stability against the degraded input (``edge_f1_input``,
``dino_sim_input``) and use the task's no-reference metrics; they have no fidelity pillar. A task
metric that paradigm cannot compute is listed in the profile's ``missing_metrics`` with the reason
instead of being replaced by something else.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import CompositeSchemaError
from .schema import (
    DATA_DIR,
    CompositeSpec,
    check_scored_metrics,
    validate,
    validate_aggregation,
    validate_missing_metrics,
    validate_pillars,
    validate_provenance,
)

PROFILES_SCHEMA = "paradigm.profiles/1"
PROFILES_FILE = DATA_DIR / "profiles-v2.json"
#: Profiles file per version; ``default-v1`` uses version 1, everything else the latest.
PROFILES_FILES: dict[int, Path] = {1: DATA_DIR / "profiles-v1.json", 2: DATA_DIR / "profiles-v2.json"}
_PROFILE_KEYS = {
    "reported",
    "run_spread",
    "description",
    "ground_truth",
    "pillars",
    "aggregation",
    "aggregation_params",
    "missing_metrics",
    "weights_provenance",
    "datasets",
    "notes",
}


def normalise_name(name: str) -> str:
    """Profile names are lower case with dashes: ``"Super_Resolution"`` -> ``"super-resolution"``."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def validate_profiles(obj: Any, source: str = "profiles") -> dict[str, dict[str, Any]]:
    """Validate a profiles file; returns name -> profile dict.

    Raises:
        CompositeSchemaError: naming the JSON path of the problem.
    """
    if not isinstance(obj, dict) or obj.get("schema") != PROFILES_SCHEMA:
        raise CompositeSchemaError(f"{source}: schema: must be {PROFILES_SCHEMA!r}")
    profiles = obj.get("profiles")
    if not isinstance(profiles, dict) or not profiles:
        raise CompositeSchemaError(f"{source}: profiles: must be a non-empty JSON object")
    out: dict[str, dict[str, Any]] = {}
    for name, prof in profiles.items():
        path = f"profiles.{name}"
        if normalise_name(name) != name:
            raise CompositeSchemaError(f"{source}: {path}: name must be lower case with dashes")
        if not isinstance(prof, dict):
            raise CompositeSchemaError(f"{source}: {path}: must be a JSON object")
        extra = sorted(set(prof) - _PROFILE_KEYS)
        if extra:
            raise CompositeSchemaError(f"{source}: {path}: unknown key(s) {extra}; allowed: {sorted(_PROFILE_KEYS)}")
        try:
            if not isinstance(prof.get("description"), str):
                raise CompositeSchemaError(f"{path}.description: missing")
            if not isinstance(prof.get("ground_truth"), bool):
                raise CompositeSchemaError(f"{path}.ground_truth: must be true or false")
            if "pillars" in prof:
                validate_pillars(prof["pillars"], f"{path}.pillars")
            if "aggregation" in prof:
                validate_aggregation(prof["aggregation"], prof.get("aggregation_params"), f"{path}.aggregation")
            validate_missing_metrics(prof.get("missing_metrics", []), f"{path}.missing_metrics")
            if "weights_provenance" in prof:
                validate_provenance(prof["weights_provenance"], f"{path}.weights_provenance")
            _validate_extras(prof, path)
        except CompositeSchemaError as exc:
            raise CompositeSchemaError(f"{source}: {exc}") from exc
        out[name] = prof
    if "default" not in out:
        raise CompositeSchemaError(f"{source}: profiles.default: missing")
    return out


def _validate_extras(prof: dict[str, Any], path: str) -> None:
    """``reported``: a list of metric names; ``run_spread``: ``{"metric", "weight" in (0, 1), "limit" > 0}``."""
    rep = prof.get("reported", [])
    if not isinstance(rep, list) or not all(isinstance(m, str) and m for m in rep):
        raise CompositeSchemaError(f"{path}.reported: must be a list of metric names")
    if "pillars" in prof:
        pillars = validate_pillars(prof["pillars"], f"{path}.pillars")
        check_scored_metrics(pillars, f"{path}.pillars")
        both = sorted(set(rep) & {m for p in pillars.values() for m in p.metrics})
        if both:
            raise CompositeSchemaError(f"{path}.reported: {both} are also weighted; a metric is weighted or reported")
    rs = prof.get("run_spread")
    if rs is None:
        return
    if not isinstance(rs, dict) or set(rs) != {"metric", "weight", "limit"}:
        raise CompositeSchemaError(f"{path}.run_spread: must be {{'metric': NAME, 'weight': w, 'limit': L}}")
    w, lim = rs["weight"], rs["limit"]
    if not isinstance(rs["metric"], str) or not isinstance(w, (int, float)) or not isinstance(lim, (int, float)):
        raise CompositeSchemaError(f"{path}.run_spread: metric must be a name, weight and limit numbers")
    if not (0 < w < 1 and lim > 0):
        raise CompositeSchemaError(f"{path}.run_spread: need 0 < weight < 1 and limit > 0, got {w}, {lim}")


def _inject_run_spread(raw: dict[str, Any], rs: dict[str, Any], key: str) -> None:
    """Add the ``run_spread`` pseudo-metric to the stability pillar (weight ``w``, others scaled by 1 - w)."""
    pillars = raw.setdefault("pillars", {})
    stab = pillars.get("stability")
    if stab is None:
        raise CompositeSchemaError(f"profile {key!r}: run_spread needs a stability pillar")
    w = float(rs["weight"])
    tot = sum(float(v) for v in stab["metrics"].values())
    metrics = {m: float(v) / tot * (1.0 - w) for m, v in stab["metrics"].items()}
    metrics["run_spread"] = w
    pillars["stability"] = {"weight": stab["weight"], "metrics": metrics}
    raw.setdefault("calibrations", {})["run_spread"] = {
        "type": "linear", "a": float(rs["limit"]), "b": 0.0, "of": str(rs["metric"]),
        "provenance": {"kind": "prior", "description": (
            f"run-to-run spread (population std over the samples of one input, CCSR's G-STD per input) of "
            f"{rs['metric']}: 1 at no spread, 0 at {rs['limit']:g} (profile {key!r})")},
    }


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, dict[str, Any]]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CompositeSchemaError(f"cannot read the profiles file {str(path)!r}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CompositeSchemaError(f"{path}: not valid JSON (line {exc.lineno}): {exc.msg}") from exc
    return validate_profiles(obj, str(path))


def profiles_file_for(spec: CompositeSpec | None) -> Path:
    """The profiles file a composite uses: version 1 for ``default-v1``, else the latest."""
    if spec is not None and spec.name == "default" and spec.version == 1:
        return PROFILES_FILES[1]
    return PROFILES_FILE


def list_profiles() -> list[str]:
    """Names of the shipped task profiles (``default`` first, then sorted)."""
    names = sorted(_load(PROFILES_FILE))
    return ["default"] + [n for n in names if n != "default"]


def load_profile(name: str, path: Path | None = None) -> dict[str, Any]:
    """The profile dict of a shipped task profile (a copy), from ``path`` (default: the latest file).

    Raises:
        CompositeSchemaError: unknown name, with "did you mean" suggestions and the list of profiles.
    """
    profiles = _load(path or PROFILES_FILE)
    key = normalise_name(name)
    if key not in profiles:
        close = difflib.get_close_matches(key, list(profiles), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise CompositeSchemaError(f"unknown profile {name!r}.{hint} Profiles: {', '.join(list_profiles())}")
    return copy.deepcopy(profiles[key])


def apply_profile(spec: CompositeSpec, name: str) -> CompositeSpec:
    """The composite ``spec`` with the pillars (and aggregation) of a task profile.

    The result is validated again: every profile metric needs a calibration in the composite.

    Raises:
        CompositeSchemaError: unknown profile, or a profile metric without calibration.
    """
    key = normalise_name(name)
    prof = load_profile(key, profiles_file_for(spec))
    if key == "default":  # the composite as it is: same file, same sha256
        return dataclasses.replace(spec, profile="default")
    raw = copy.deepcopy(spec.raw)
    if "pillars" in prof:
        raw["pillars"] = prof["pillars"]
    if "aggregation" in prof:
        raw["aggregation"] = prof["aggregation"]
        raw.pop("aggregation_params", None)
        if "aggregation_params" in prof:
            raw["aggregation_params"] = prof["aggregation_params"]
    if "weights_provenance" in prof:
        raw["weights_provenance"] = prof["weights_provenance"]
    if prof.get("missing_metrics"):
        raw["missing_metrics"] = prof["missing_metrics"]
    if prof.get("run_spread"):
        _inject_run_spread(raw, prof["run_spread"], key)
    raw["profile"] = key
    try:
        out = validate(raw, f"{spec.source} + profile {key}")
    except CompositeSchemaError as exc:
        raise CompositeSchemaError(f"profile {key!r} on composite {spec.tag}: {exc}") from exc
    out.source = spec.source
    return out
