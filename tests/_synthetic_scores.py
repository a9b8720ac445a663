"""Synthetic ``paradigm score`` folders for tests, docs and trying the leaderboard without scoring.

They follow contracts §2–3: ``scores.parquet`` + ``scores.csv``, ``summary.csv`` and ``run.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paradigm.leaderboard.merge import PILLARS
from paradigm.signature import build_signature, signature_line


def default_signature(**overrides: Any) -> dict[str, Any]:
    """A signature dict as ``paradigm score`` writes it (:func:`paradigm.signature.build_signature`).

    Args:
        **overrides: fields to replace (``resize="none"``, ``paradigm="0.2.0"``…).
    """
    sig = build_signature(
        [
            {"name": "psnr", "version": "1", "options": {}, "weights": []},
            {"name": "ssim", "version": "1", "options": {}, "weights": []},
            {"name": "lpips", "version": "1", "options": {}, "weights": ["lpips_alex"]},
        ],
        composite="default-v1",
    )
    sig.update(overrides)
    return sig


def synthetic_scores(
    methods: Mapping[str, float],
    n_images: int = 20,
    noise: float = 0.05,
    seed: int = 0,
    task: str = "sr",
    dataset: str = "set5",
    samples: int = 0,
    images: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A wide scores table (contracts §2) with composite around each method's given level.

    Args:
        methods: method name -> mean composite level in [0, 1].
        n_images: images per method (ignored when ``images`` is given).
        noise: standard deviation of per-image variation.
        seed: random seed (per-image difficulty is shared by all methods, as in real data).
        task: task name.
        dataset: dataset name.
        samples: samples per input (0: single-sample, ``sample`` column empty).
        images: image names (default ``img000.png``…).

    Returns:
        The table, one row per (method, image, sample).
    """
    rng = np.random.default_rng(seed)
    names = list(images) if images is not None else [f"img{i:03d}.png" for i in range(n_images)]
    difficulty = rng.normal(0, noise, len(names))
    rows = []
    for method, level in methods.items():
        for i, image in enumerate(names):
            for s in range(max(samples, 1)):
                c = float(np.clip(level + difficulty[i] + rng.normal(0, noise / 2), 0, 1))
                p = {pl: float(np.clip(c + rng.normal(0, noise / 2), 0, 1)) for pl in PILLARS}
                rows.append({
                    "method": method, "task": task, "dataset": dataset, "image": image,
                    "sample": str(s) if samples else "",
                    "output_path": f"results/{method}/{image}", "gt_path": f"gt/{image}", "input_path": "",
                    "height": 64, "width": 64, "resized": False,
                    "psnr": 20 + 15 * p["fidelity"], "ssim": 0.5 + 0.5 * p["fidelity"],
                    "lpips": 0.6 * (1 - p["perceptual"]),
                    **p, "composite": c,
                })
    return pd.DataFrame(rows)


def write_scores_folder(
    folder: str | Path,
    scores: pd.DataFrame,
    signature: Mapping[str, Any] | None = None,
    parquet: bool = True,
    roots: Mapping[str, str] | None = None,
) -> Path:
    """Write a scores folder like ``paradigm score --out`` does.

    Args:
        folder: where to write (created).
        scores: wide table (see :func:`synthetic_scores`).
        signature: signature dict (default :func:`default_signature`).
        parquet: also write ``scores.parquet`` (``scores.csv`` is always written).
        roots: the scored folders to record in ``run.json`` (``{"results": ABS, "gt": ABS}``); thumbnails
            are only made of images under them.

    Returns:
        The folder.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    sig = dict(signature) if signature is not None else default_signature()
    if parquet:
        scores.to_parquet(out / "scores.parquet", index=False)
    else:
        (out / "scores.parquet").unlink(missing_ok=True)
    scores.to_csv(out / "scores.csv", index=False)
    value_cols = [c for c in scores.columns if pd.api.types.is_numeric_dtype(scores[c])
                  and c not in ("height", "width", "resized")]
    summary = (scores.groupby(["method", "task", "dataset"])[value_cols].agg(["mean", "std", "count"])
               .stack(level=0, future_stack=True).reset_index().rename(columns={"level_3": "metric"}))
    summary.to_csv(out / "summary.csv", index=False)
    (out / "errors.csv").write_text("method,task,dataset,image,path,stage,reason\n", encoding="utf-8")
    run = {"signature": sig, "signature_line": signature_line(sig), "counts": {"rows": len(scores)},
           "skipped_metrics": {}}
    if roots is not None:
        run["roots"] = dict(roots)
    (out / "run.json").write_text(json.dumps(run, indent=2), encoding="utf-8")
    return out
