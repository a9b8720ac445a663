"""``validate``: evaluate metrics against human judgments; tables, ``report.md``, ``report.html``, ``results.json``."""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import stats
from .directions import Manifest
from .errors import InputError
from .judgments import Judgments, oriented_score, require_spread
from .scaling import split_half_ceiling, vote_agreement, votes_to_opinion
from .scores import join_all, metric_direction
from .stats import finite_clip

log = logging.getLogger(__name__)


def _progress(it: Iterable[Any], desc: str, total: int | None = None, show: bool = True) -> Iterable[Any]:
    if not show:
        return it
    import sys

    from tqdm import tqdm  # drawn only when stderr is a terminal

    return tqdm(it, desc=desc, total=total, leave=False, file=sys.stderr, disable=not sys.stderr.isatty())


def _f(v: Any) -> Any:
    """JSON-safe float (NaN/inf -> None)."""
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _f(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_f(x) for x in v]
    if isinstance(v, np.integer):
        return int(v)
    return v


def _drop_empty(joined: pd.DataFrame, names: list[str], res: dict[str, Any]) -> list[str]:
    """Metrics with fewer than 3 finite values on the matched items cannot be evaluated: skip them, say so."""
    skipped = {}
    for m in names:
        if m not in joined.columns:  # 2AFC tables hold per-side columns
            continue
        finite = int(np.isfinite(pd.to_numeric(joined[m], errors="coerce").to_numpy(np.float64)).sum())
        if finite < 3:
            skipped[m] = f"only {finite} finite value(s) on the matched items"
    if skipped:
        log.warning("skipping metric(s) without enough values: %s", "; ".join(f"{k}: {v}" for k, v in skipped.items()))
        res["skipped_metrics"] = skipped
    kept = [m for m in names if m not in skipped]
    if not kept:
        raise InputError("no metric column has at least 3 finite values on the matched items: " + ", ".join(skipped))
    return kept


def _match_summary(reports: list[dict[str, Any]]) -> dict[str, Any]:
    if len(reports) == 1:
        return reports[0]
    return {
        "n_items": reports[0]["n_items"],
        "n_matched": min(r["n_matched"] for r in reports),
        "matched_by": "; ".join(str(r["matched_by"]) for r in reports),
        "tables": reports,
    }


def _human_direction_warning(human: Judgments) -> str | None:
    if human.kind != "opinion" or human.direction_stated:
        return None
    return (
        f"the direction of the human scores of {human.name or human.source!r} was not stated and its name does not "
        "imply it; assuming higher is better (add ?higher_is_better=0 to the --human spec for DMOS-like scores)"
    )


def _sign_warnings(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        s, p = r.get("srcc"), r.get("plcc")
        if s is None or p is None or not (math.isfinite(s) and math.isfinite(p)):
            continue
        if s * p < 0:
            out.append(
                f"{r['metric']}: rank correlation {s:+.4f} and linear correlation (PLCC after the logistic fit) "
                f"{p:+.4f} disagree in sign: the metric's direction (--lower-is-better/--higher-is-better) or the "
                "human direction (?higher_is_better=) is probably wrong"
            )
    return out


def validate(
    human: Judgments,
    tables: pd.DataFrame | Sequence[pd.DataFrame],
    *,
    metrics: Sequence[str] | None = None,
    level: str = "item",
    n_boot: int = 1000,
    seed: int = 0,
    unit: str = "auto",
    lower_is_better: Iterable[str] = (),
    higher_is_better: Iterable[str] = (),
    alpha: float = 0.05,
    n_perm: int = 1000,
    ceiling_reps: int = 20,
    progress: bool = False,
    manifest: Manifest | None = None,
) -> dict[str, Any]:
    """Evaluate every metric column against the human judgments.

    Args:
        human: from :func:`meta_eval.loaders.load_human` (opinion, 2afc or pairwise votes).
        tables: one or several metric tables from :func:`meta_eval.scores.load_scores` (joined to the
            human items one after the other).
        metrics: metric columns (default: all in the tables).
        level: ``item``, ``group`` (per reference, averaged) or ``system`` (means per system).
        n_boot: bootstrap resamples for the SRCC (2AFC: agreement) CI; 0 disables.
        seed: seed of bootstrap, permutation tests and the split-half ceiling.
        unit: bootstrap unit ``item``, ``group`` (references), ``both`` (two-level) or ``auto``
            (groups when items share references, else items).
        lower_is_better, higher_is_better: direction overrides.
        alpha: significance level of the clusters.
        n_perm: permutations of the paired tests behind the clusters.
        ceiling_reps: split-half repetitions for vote data.
        progress: tqdm bars on stderr.
        manifest: paradigm's metric manifest (metric directions), or None.

    Returns:
        A JSON-ready dict (see ``docs/meta-eval.md``): ``human``, ``scores``, ``match``, ``settings``,
        ``metrics`` (list of per-metric rows), ``warnings``, ``ceiling`` (votes/2AFC).

    Raises:
        InputError: when the human scores of the matched items are all equal (or fewer than 3).
    """
    tables = [tables] if isinstance(tables, pd.DataFrame) else list(tables)
    res: dict[str, Any] = {
        "human": human.describe(),
        "scores": [{"spec": t.attrs.get("spec"), "source": t.attrs.get("source")} for t in tables],
        "settings": {"level": level, "bootstrap": n_boot, "seed": seed, "alpha": alpha, "n_perm": n_perm},
        "warnings": [w for w in [_human_direction_warning(human)] if w],
    }
    votes = None
    if human.kind == "pairwise":
        votes = human
        human = votes_to_opinion(votes)
        res["human"]["scaling"] = human.scaling
        res["human"]["n_items"] = int(len(human))
    joined, reports, declared = join_all(human, tables, metrics)
    res["match"] = _match_summary(reports)
    names = list(joined.metrics)
    table = pd.DataFrame()
    table.attrs["higher_is_better"] = declared
    dirs = {m: metric_direction(m, table, lower_is_better, higher_is_better, manifest) for m in names}
    names = _drop_empty(joined.frame, names, res)
    if human.kind == "2afc":
        res.update(_validate_2afc(joined.frame, names, dirs, n_boot, seed))
        return _f(res)
    y = oriented_score(joined)
    xm = np.stack([stats.orient(joined[m].to_numpy(np.float64), dirs[m][0]) for m in names])
    require_spread(y[~np.isnan(xm).all(axis=0)], f"human scores of {human.name or human.source}")
    rows = _metric_rows(joined, names, dirs, y, level, votes, progress)
    res["warnings"] += _sign_warnings(rows) if level == "item" else []
    for w in res["warnings"]:
        log.warning("%s", w)
    _significance(res, rows, joined, names, xm, y, level, n_boot, seed, unit, alpha, n_perm)
    res["metrics"] = rows
    if votes is not None:
        res["ceiling"] = split_half_ceiling(votes, n_rep=ceiling_reps, seed=seed)
    res["_plot"] = {  # kept out of results.json; used by the HTML scatter plots
        "x": {m: joined[m].to_numpy(np.float64) for m in names},
        "y": y,
    }
    return res


def _metric_rows(
    joined: Judgments, names: list[str], dirs: Mapping[str, tuple[bool, str]], y: np.ndarray, level: str,
    votes: Judgments | None, progress: bool,
) -> list[dict[str, Any]]:
    groups = joined["reference"].to_numpy() if "reference" in joined else None
    systems = _systems(joined, level)
    rows = []
    for m in _progress(names, "metrics", show=progress):
        hib, src = dirs[m]
        r = stats.evaluate_metric(
            joined[m].to_numpy(np.float64), y, hib, groups=groups, systems=systems, level=level  # type: ignore[arg-type]
        )
        r.update(metric=m, higher_is_better=hib, direction_source=src)
        if votes is not None:
            score_of = dict(zip(joined["item"], joined[m], strict=True))
            r["vote_agreement"] = vote_agreement(votes, score_of, hib)
        rows.append(r)
    return rows


def _systems(joined: Judgments, level: str) -> np.ndarray | None:
    if "system" in joined:
        return joined["system"].to_numpy()
    return joined["distortion"].to_numpy() if level == "system" else None


def _significance(
    res: dict[str, Any], rows: list[dict[str, Any]], joined: Judgments, names: list[str], xm: np.ndarray,
    y: np.ndarray, level: str, n_boot: int, seed: int, unit: str, alpha: float, n_perm: int,
) -> None:
    """Bootstrap CIs of the SRCC, significance clusters, and tests against the top metric."""
    groups = joined["reference"].to_numpy() if "reference" in joined else None
    systems = _systems(joined, level)
    if unit == "auto":
        unit = "group" if groups is not None and pd.Series(groups).nunique() < len(groups) else "item"
    res["settings"]["unit"] = unit
    ok = ~np.isnan(xm).any(axis=0) & ~np.isnan(y)
    if (~ok).any():
        log.info("bootstrap and tests use the %d items that every metric scores (of %d)", int(ok.sum()), ok.size)
    xm, yy = xm[:, ok], y[ok]
    gg = groups[ok] if groups is not None else None
    ss = systems[ok] if systems is not None else None
    if n_boot > 0 and yy.size >= 3:
        boots = _bootstrap(xm, yy, gg, ss, level, n_boot, seed, unit)
        for k, r in enumerate(rows):
            r["srcc_ci"] = list(stats.percentile_ci(boots[:, k]))
    cache: dict[tuple[str, str], float] = {}
    idx = {m: k for k, m in enumerate(names)}
    perm_units = gg if unit in ("group", "both") else None

    def pval(a: str, b: str) -> float:
        if (a, b) not in cache:
            if level == "item":
                _, p = stats.permutation_test(xm[idx[a]], xm[idx[b]], yy, units=perm_units, n_perm=n_perm, seed=seed)
            else:
                p = _paired_boot_p(rows[idx[a]], rows[idx[b]])
            cache[(a, b)] = p
        return cache[(a, b)]

    grouped = gg is not None and pd.Series(gg).nunique() < gg.size
    res["settings"]["williams"] = (
        "not reported: items share references, and the Williams test assumes independent items "
        "(p_vs_top is the paired permutation test over references)" if grouped else "reported (independent items)"
    )
    vals = {r["metric"]: r["srcc"] for r in rows}
    if n_perm > 0 and len(names) > 1:
        clusters = stats.significance_clusters(names, vals, pval, alpha)
        top = min(clusters, key=lambda m: (clusters[m], -(vals[m] if math.isfinite(vals[m]) else -9)))
        for r in rows:
            r["cluster"] = clusters[r["metric"]]
            if r["metric"] != top and level == "item":
                r["p_vs_top"] = pval(top, r["metric"])
                if not grouped:
                    r23 = stats.srcc(xm[idx[top]], xm[idx[r["metric"]]])
                    r["williams_p_vs_top"] = stats.williams_test(vals[top], vals[r["metric"]], r23, int(yy.size))[1]
        res["top"] = top


def _paired_boot_p(ra: Mapping[str, Any], rb: Mapping[str, Any]) -> float:
    """Crude p for non-item levels: 1 if CIs overlap the other's estimate, else 0.01 (documented)."""
    lo = (ra.get("srcc_ci") or [math.nan])[0]
    return 0.01 if math.isfinite(lo) and lo > rb["srcc"] else 1.0


def _bootstrap(
    xm: np.ndarray, y: np.ndarray, groups: np.ndarray | None, systems: np.ndarray | None,
    level: str, n_boot: int, seed: int, unit: str,
) -> np.ndarray:
    n = y.size
    if level == "item":
        w = stats.bootstrap_weights(n, groups, n_boot, seed, unit)  # type: ignore[arg-type]
        return stats.bootstrap_srcc(xm, y, w)
    if level == "group":
        assert groups is not None
        keys = np.unique(groups)
        per = np.array([[stats.srcc(xm[k, groups == g], y[groups == g]) for k in range(xm.shape[0])] for g in keys])
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(keys), size=(n_boot, len(keys)))
        return np.asarray(np.nanmean(per[draws], axis=1))
    assert systems is not None
    w = stats.bootstrap_weights(n, groups, n_boot, seed, unit if groups is not None else "item")  # type: ignore[arg-type]
    _, sys_inv = np.unique(systems, return_inverse=True)
    onehot = np.eye(int(sys_inv.max()) + 1)[sys_inv]  # (n, S)
    counts = w @ onehot  # (B, S)
    with np.errstate(invalid="ignore", divide="ignore"):
        hy = (w * y[None, :]) @ onehot / counts
        out = np.empty((n_boot, xm.shape[0]))
        full = ~np.isnan(hy).any(axis=1)
        hr = stats._rank_rows(hy[full])
        for k in range(xm.shape[0]):
            mx = (w * finite_clip(xm[k])[None, :]) @ onehot / counts
            out[full, k] = stats._corr_rows(stats._rank_rows(mx[full]), hr)
            for b in np.flatnonzero(~full):  # a system absent from a resample: drop it there
                ok = ~np.isnan(mx[b]) & ~np.isnan(hy[b])
                out[b, k] = stats.srcc(mx[b, ok], hy[b, ok])
    return out


def _validate_2afc(
    joined: pd.DataFrame, names: Sequence[str], dirs: Mapping[str, tuple[bool, str]], n_boot: int, seed: int
) -> dict[str, Any]:
    h = joined["frac_b"].to_numpy(np.float64)
    rows = []
    rng = np.random.default_rng(seed)
    splits = joined["split"].to_numpy() if "split" in joined else None
    for m in names:
        hib, src = dirs[m]
        a = stats.orient(joined[f"{m}__a"].to_numpy(np.float64), hib)
        b = stats.orient(joined[f"{m}__b"].to_numpy(np.float64), hib)
        ok = ~np.isnan(a) & ~np.isnan(b) & ~np.isnan(h)
        pb = np.where(b > a, 1.0, np.where(b < a, 0.0, 0.5))
        per = h * pb + (1 - h) * (1 - pb)
        r: dict[str, Any] = {
            "metric": m, "higher_is_better": hib, "direction_source": src, "n": int(ok.sum()),
            "twoafc": stats.twoafc_agreement(a, b, h),
        }
        if n_boot > 0 and ok.any():
            v = per[ok]
            draws = rng.integers(0, v.size, size=(n_boot, v.size))
            r["twoafc_ci"] = list(stats.percentile_ci(v[draws].mean(axis=1)))
        if splits is not None:
            r["by_split"] = {str(s): float(per[ok & (splits == s)].mean()) for s in np.unique(splits[ok])}
        rows.append(r)
    ceiling = float(np.nanmean(h**2 + (1 - h) ** 2))
    return {"metrics": rows, "ceiling": {"twoafc_human": ceiling, "definition": "mean(h^2 + (1-h)^2)"}}


# ----------------------------------------------------------------------------- rendering
def _fmt(v: Any, d: int = 4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{d}f}"
    return str(v)


def table_rows(res: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the summary table (metric, SRCC [CI], KRCC, PLCC, RMSE, acc, cluster...)."""
    kind = res["human"].get("kind")
    if kind == "2afc":
        head = ["metric", "dir", "2AFC", "95% CI", "n"]
        rows = [
            [r["metric"], "↑" if r["higher_is_better"] else "↓", _fmt(r["twoafc"]),
             "[" + ", ".join(_fmt(c) for c in r.get("twoafc_ci", [None, None])) + "]", str(r["n"])]
            for r in sorted(res["metrics"], key=lambda r: -(r["twoafc"] or -1))
        ]
        return head, rows
    head = ["metric", "dir", "SRCC", "95% CI", "KRCC", "PLCC", "RMSE", "acc", "cluster", "n"]
    if kind == "pairwise":
        head.insert(8, "votes")
    rows = []
    for r in sorted(res["metrics"], key=lambda r: (r.get("cluster", 0), -(r["srcc"] if r["srcc"] is not None else -9))):
        ci = r.get("srcc_ci")
        row = [
            r["metric"], "↑" if r["higher_is_better"] else "↓", _fmt(r["srcc"]),
            "[" + ", ".join(_fmt(c, 3) for c in ci) + "]" if ci else "–",
            _fmt(r["krcc"]), _fmt(r["plcc"]), _fmt(r["rmse"]), _fmt(r.get("acc")),
            str(r.get("cluster", "–")), str(r["n"]),
        ]
        if kind == "pairwise":
            row.insert(8, _fmt(r.get("vote_agreement")))
        rows.append(row)
    return head, rows


def format_table(res: Mapping[str, Any]) -> str:
    """Plain-text summary table for the terminal."""
    head, rows = table_rows(res)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines += _footer(res)
    return "\n".join(lines)


def _footer(res: Mapping[str, Any]) -> list[str]:
    out = []
    h = res["human"]
    m = res.get("match", {})
    out.append(
        f"human: {h.get('name')} ({h.get('kind')}, {h.get('n')} rows); matched {m.get('n_matched')}/{m.get('n_items')} "
        f"items by {m.get('matched_by')}"
    )
    s = res["settings"]
    out.append(
        f"level: {s['level']}; bootstrap: {s['bootstrap']} resamples of {s.get('unit', 'items')} (seed {s['seed']}); "
        f"clusters: paired permutation test, alpha {s['alpha']}"
    )
    if s.get("williams"):
        out.append(f"Williams test: {s['williams']}")
    out += [f"warning: {w}" for w in res.get("warnings", [])]
    c = res.get("ceiling")
    if c and "agreement" in c:
        out.append(
            f"human ceiling (split-half by {c['by']}, {c['n_rep']} reps): vote agreement {_fmt(c['agreement'])} "
            f"[{_fmt(c['agreement_ci'][0])}, {_fmt(c['agreement_ci'][1])}], SRCC {_fmt(c['srcc'])}"
        )
    elif c:
        out.append(f"human 2AFC agreement ceiling: {_fmt(c['twoafc_human'])}")
    return out


def to_markdown(res: Mapping[str, Any]) -> str:
    """``report.md`` content."""
    head, rows = table_rows(res)
    lines = ["# meta-eval validation report", ""]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join("---" for _ in head) + "|")
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines.append("")
    lines += [f"- {x}" for x in _footer(res)]
    lines.append("")
    lines.append(
        "SRCC/KRCC: rank correlations with the human scores (metric oriented so that positive = agreement). "
        "PLCC/RMSE: after the VQEG 5-parameter logistic fit. acc: pairwise accuracy with tie calibration "
        "(acc_eq, Deutsch et al. 2023) over pairs sharing a reference. Cluster 1 = not significantly worse "
        "than the best metric."
    )
    return "\n".join(lines) + "\n"


def _svg_scatter(x: np.ndarray, y: np.ndarray, fit: Mapping[str, Any] | None, hib: bool, title: str) -> str:
    w, hgt, pad = 320, 240, 30
    ok = ~np.isnan(x) & ~np.isnan(y)
    xo = finite_clip(stats.orient(x[ok], hib))
    yo = y[ok]
    if xo.size == 0:
        return ""
    if xo.size > 1500:
        sel = np.random.default_rng(0).choice(xo.size, 1500, replace=False)
        xo, yo = xo[sel], yo[sel]
    x0, x1 = float(xo.min()), float(xo.max())
    y0, y1 = float(np.nanmin(y)), float(np.nanmax(y))
    sx = (w - 2 * pad) / ((x1 - x0) or 1)
    sy = (hgt - 2 * pad) / ((y1 - y0) or 1)

    def px(v: float) -> float:
        return pad + (v - x0) * sx

    def py(v: float) -> float:
        return hgt - pad - (v - y0) * sy

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{hgt}" viewBox="0 0 {w} {hgt}">',
             f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{hgt - 2 * pad}" fill="none" stroke="#999"/>',
             f'<text x="{w / 2}" y="16" text-anchor="middle" font-size="12">{html.escape(title)}</text>']
    parts += [f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="1.5" fill="#1f77b4" fill-opacity="0.4"/>'
              for a, b in zip(xo, yo, strict=True)]
    if fit and fit.get("params"):
        lf = stats.LogisticFit(fit["kind"], list(fit["params"]), bool(fit.get("converged")))
        gx = np.linspace(x0, x1, 60)
        gy = np.clip(lf.predict(gx), y0, y1)
        pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(gx, gy, strict=True))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#d62728" stroke-width="2"/>')
    parts.append(f'<text x="{w / 2}" y="{hgt - 6}" text-anchor="middle" font-size="10">'
                 f'{"" if hib else "−"}metric</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(res: Mapping[str, Any]) -> str:
    """Self-contained ``report.html`` (table + inline-SVG scatter plots with the fitted logistic)."""
    head, rows = table_rows(res)
    body = ["<h1>meta-eval validation report</h1>", "<table><tr>"]
    body += [f"<th>{html.escape(h)}</th>" for h in head]
    body.append("</tr>")
    for r in rows:
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>")
    body.append("</table><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in _footer(res)) + "</ul>")
    plot = res.get("_plot")
    if plot and res["settings"]["level"] == "item":
        body.append("<h2>Scatter plots (metric oriented so that right = better; red: VQEG logistic)</h2><div>")
        for r in res["metrics"]:
            m = r["metric"]
            body.append(_svg_scatter(plot["x"][m], plot["y"], r.get("logistic"), r["higher_is_better"],
                                     f"{m}  SRCC {_fmt(r['srcc'])}"))
        body.append("</div>")
    css = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}"
           "svg{margin:4px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>meta-eval report</title>"
            f"<style>{css}</style></head><body>{''.join(body)}</body></html>\n")


def write_reports(res: Mapping[str, Any], out: str | Path) -> list[Path]:
    """Write ``report.md``, ``report.html`` and ``results.json`` into ``out`` (created)."""
    d = Path(out)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output folder {d}: {exc}") from exc
    clean = {k: v for k, v in res.items() if not k.startswith("_")}
    files = [d / "report.md", d / "report.html", d / "results.json"]
    files[0].write_text(to_markdown(res), encoding="utf-8")
    files[1].write_text(to_html(res), encoding="utf-8")
    files[2].write_text(json.dumps(_f(clean), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return files
