"""Self-contained static HTML pages: the index with sortable tables and scatter plots, one page per method.

Safety: every name that comes from a folder or file (title, method, task, dataset, image, sample,
signature) goes through :func:`esc` (HTML-escaped, quotes included) before it reaches the page, in
table cells, attributes and SVG text alike. No data is embedded as JavaScript or JSON: the sort
script reads the table cells. A Content-Security-Policy allows only this page's own inline script and
style (by sha256) and images from the leaderboard folder, so the page loads nothing from the network.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
from typing import Any

from .._version import __version__
from .merge import PILLARS
from .model import NO_ROOTS_NOTE, OUTSIDE_NOTE, Board, Case, Leaderboard, Row, Thumb

CSS = """
:root{--fg:#1b1f24;--muted:#5b6570;--line:#d7dce1;--head:#f3f5f7;--accent:#1f5fbf;--warn:#9a4b00}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0;padding:1.5rem;max-width:1400px}
h1{font-size:1.6rem;margin:0 0 .5rem}h2{font-size:1.25rem;margin:2rem 0 .5rem}h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
p.note,.muted{color:var(--muted)}
a{color:var(--accent)}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border-bottom:1px solid var(--line);padding:.35rem .6rem;text-align:right;vertical-align:top}
th{background:var(--head);white-space:nowrap}
td.t,th.t{text-align:left}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit}
th button:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
th[aria-sort=ascending] button::after{content:" \\25B2"}
th[aria-sort=descending] button::after{content:" \\25BC"}
.ci{color:var(--muted);font-size:.85em;white-space:nowrap}
td.sig{font-size:.85em;color:var(--muted)}
td.sig code{font-size:.85em;word-break:break-all;display:inline-block;min-width:16rem;max-width:28rem}
.conflict{color:var(--warn);font-weight:600}
.banner{border:1px solid var(--warn);background:#fff6ec;padding:.6rem .9rem;margin:1rem 0}
svg.scatter{max-width:100%;height:auto;border:1px solid var(--line);background:#fff}
svg.scatter text{font:12px system-ui,sans-serif;fill:var(--fg)}
svg.scatter .axis{stroke:#888}svg.scatter .grid{stroke:#eee}
svg.scatter circle{fill:var(--accent);fill-opacity:.85}
svg.scatter circle.top{fill:#c0392b}
img.thumb{display:block;max-width:160px;max-height:160px}
.missing{color:var(--muted);font-style:italic;font-size:.85em}
nav ul{padding-left:1.2rem}
footer{margin-top:3rem;border-top:1px solid var(--line);padding-top:1rem;font-size:.85em;color:var(--muted)}
footer code{word-break:break-all}
""".strip()

JS = """
(function () {
  "use strict";
  function key(cell, numeric) {
    if (numeric) {
      var v = cell.getAttribute("data-v");
      if (v === null || v === "") { return null; }
      var f = parseFloat(v);
      return isNaN(f) ? null : f;
    }
    return cell.textContent.trim().toLowerCase();
  }
  function sortTable(table, col, th, heads) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var numeric = th.getAttribute("data-type") === "num";
    var keyed = rows.map(function (r, i) { return {row: r, k: key(r.cells[col], numeric), i: i}; });
    keyed.sort(function (a, b) {
      if (a.k === null || b.k === null) {
        if (a.k === null && b.k === null) { return a.i - b.i; }
        return a.k === null ? 1 : -1;
      }
      var c = numeric ? a.k - b.k : a.k.localeCompare(b.k);
      if (c === 0) { return a.i - b.i; }
      return asc ? c : -c;
    });
    keyed.forEach(function (x) { body.appendChild(x.row); });
    heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    heads.forEach(function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () { sortTable(table, col, th, heads); });
    });
  });
})();
""".strip()


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


CSP = (
    "default-src 'none'; img-src 'self'; "
    f"style-src '{_sha256(CSS)}'; script-src '{_sha256(JS)}'; base-uri 'none'; form-action 'none'"
)


DASH = "\u2013"


def esc(value: Any) -> str:
    """HTML-escape any value for text and (double- or single-quoted) attribute contexts."""
    return html.escape(str(value), quote=True)


def f3(x: float | None) -> str:
    """Three decimals, or an en dash for missing values."""
    return "\u2013" if x is None or not math.isfinite(x) else f"{x:.3f}"


def fmetric(x: float | None) -> str:
    """A metric value with precision suited to its magnitude (fixed, deterministic)."""
    if x is None or not math.isfinite(x):
        return "\u2013"
    a = abs(x)
    if a >= 100:
        return f"{x:.1f}"
    if a >= 10:
        return f"{x:.2f}"
    return f"{x:.4f}"


def dv(x: float | int | None) -> str:
    """A ``data-v`` sort key: fixed-format number or empty for missing values."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return f"{x:.9g}" if isinstance(x, float) else str(x)


def _direction(metric: str) -> bool | None:
    """Whether higher is better for a metric column, from the metric manifest (None when unknown).

    The manifest is JSON, so building a leaderboard does not import torch or any metric module.
    """
    from ..metrics.spec import load_manifest

    return load_manifest().direction(metric)


def _page(title: str, body: str, depth: int = 0) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="paradigm">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n"
        f"<script>{JS}</script>\n</body>\n</html>\n"
    )


def _th(label: str, num: bool, cls: str = "", title: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    t = f' title="{esc(title)}"' if title else ""
    return (f'<th scope="col"{c} data-type="{"num" if num else "text"}" aria-sort="none"{t}>'
            f'<button type="button">{label}</button></th>')


def _interval_cell(mean: float, lo: float, hi: float) -> str:
    ci = f' <span class="ci">[{f3(lo)}, {f3(hi)}]</span>' if math.isfinite(lo) and math.isfinite(hi) else ""
    return f'<td data-v="{dv(mean)}">{f3(mean)}{ci}</td>'


def _conflict_marker(fields: str) -> str:
    if not fields:
        return ""
    return (f' <span class="conflict" title="signature differs from the first run on: {esc(fields)}">'
            f"\u26a0 signature conflict ({esc(fields)})</span>")


def incomplete_marker(row: Row) -> str:
    """A warning after the coverage of a method that did not score every image (empty otherwise)."""
    if row.complete:
        return ""
    return (f' <span class="conflict" title="{row.n_expected - row.n_scored} image(s) of this task x dataset '
            'have no composite for this method: ranked after the complete methods">\u26a0 incomplete</span>')


def _board_table(lb: Leaderboard, board: Board) -> str:
    heads = [_th("Rank", True), _th("Method", False, "t"), _th("Composite (95% CI)", True)]
    if board.has_samples:
        heads.append(_th("Floor (95% CI)", True, title="mean over inputs of the worst sample's composite"))
    heads += [_th(p.capitalize(), True) for p in PILLARS]
    for m in lb.metrics:
        d = _direction(m)
        arrow = "" if d is None else (" \u2191" if d else " \u2193")
        hint = "" if d is None else ("higher is better" if d else "lower is better")
        heads.append(_th(esc(m) + arrow, True, title=hint))
    heads += [_th("Images", True),
              _th("Coverage", True, title="images scored / images in this task x dataset; incomplete methods "
                                          "are ranked after complete ones"),
              _th("Errors", True, title="rows of the run's errors.csv for this method here"),
              _th("Signature", False, "t")]
    rows = []
    for r in board.rows:
        cells = [
            f'<td data-v="{dv(r.rank or None)}">{r.rank or DASH}</td>',
            f'<td class="t"><a href="methods/{esc(r.slug)}.html">{esc(r.method)}</a>'
            f"{_conflict_marker(r.signature_conflict)}</td>",
            _interval_cell(r.composite.mean, r.composite.ci_low, r.composite.ci_high),
        ]
        if board.has_samples:
            fl = r.floor
            cells.append(_interval_cell(fl.mean, fl.ci_low, fl.ci_high) if fl else '<td data-v="">\u2013</td>')
        cells += [f'<td data-v="{dv(r.pillars[p])}">{f3(r.pillars[p])}</td>' for p in PILLARS]
        cells += [f'<td data-v="{dv(r.metrics[m])}">{fmetric(r.metrics[m])}</td>' for m in lb.metrics]
        samples = f' <span class="ci">({r.n_samples} samples)</span>' if r.n_samples != r.n_images else ""
        cells.append(f'<td data-v="{r.n_images}">{r.n_images}{samples}</td>')
        cells.append(f'<td data-v="{dv(r.coverage)}">{r.coverage_text}{incomplete_marker(r)}</td>')
        cells.append(f'<td data-v="{r.n_errors}">{r.n_errors}</td>')
        cells.append(f'<td class="t sig"><details><summary>{esc(" ".join(r.runs))}</summary>'
                     f"<code>{esc(r.signature_line)}</code></details></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"Ranking for {esc(board.label)} (click a column header to sort; click again to reverse)"
    return (
        '<div class="tablewrap"><table class="lb sortable">'
        f"<caption class=\"muted\">{caption}</caption>"
        f"<thead><tr>{''.join(heads)}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody></table></div>"
    )


def _nice_range(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    span = max(hi - lo, 0.1)
    mid = (lo + hi) / 2
    lo, hi = mid - span * 0.6, mid + span * 0.6
    lo, hi = max(0.0, math.floor(lo * 20) / 20), min(1.0, math.ceil(hi * 20) / 20)
    if hi - lo < 0.05:
        lo, hi = max(0.0, hi - 0.1), min(1.0, lo + 0.1)
    return lo, hi


def _ticks(lo: float, hi: float) -> list[float]:
    """Round tick positions (at most 6) between ``lo`` and ``hi``."""
    step = next((s for s in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5) if (hi - lo) / s <= 6), 0.5)
    first = math.ceil(lo / step - 1e-9)
    out = []
    k = first
    while k * step <= hi + 1e-9:
        out.append(round(k * step, 6))
        k += 1
    return out


def scatter_svg(board: Board) -> str:
    """A perception-fidelity scatter: one labelled point per method (x fidelity, y perceptual)."""
    pts = [(r, r.pillars["fidelity"], r.pillars["perceptual"]) for r in board.rows]
    pts = [(r, x, y) for r, x, y in pts if math.isfinite(x) and math.isfinite(y)]
    missing = len(board.rows) - len(pts)
    if not pts:
        return '<p class="note">No method has both a fidelity and a perceptual pillar value to plot.</p>'
    w, h, ml, mr, mt, mb = 640, 420, 60, 170, 20, 50
    pw, ph = w - ml - mr, h - mt - mb
    x0, x1 = _nice_range([x for _, x, _ in pts])
    y0, y1 = _nice_range([y for _, _, y in pts])

    def sx(x: float) -> float:
        return ml + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return mt + ph - (y - y0) / (y1 - y0) * ph

    label = f"Perception-fidelity plot for {board.label}"
    parts = [
        f'<svg class="scatter" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'role="img" aria-label="{esc(label)}">',
        f"<title>{esc(label)}</title>",
    ]
    for gx in _ticks(x0, x1):
        parts.append(f'<line class="grid" x1="{sx(gx):.1f}" y1="{mt}" x2="{sx(gx):.1f}" y2="{mt + ph}"/>')
        parts.append(f'<text x="{sx(gx):.1f}" y="{mt + ph + 16}" text-anchor="middle">{gx:.2f}</text>')
    for gy in _ticks(y0, y1):
        parts.append(f'<line class="grid" x1="{ml}" y1="{sy(gy):.1f}" x2="{ml + pw}" y2="{sy(gy):.1f}"/>')
        parts.append(f'<text x="{ml - 6}" y="{sy(gy) + 4:.1f}" text-anchor="end">{gy:.2f}</text>')
    parts.append(f'<line class="axis" x1="{ml}" y1="{mt + ph}" x2="{ml + pw}" y2="{mt + ph}"/>')
    parts.append(f'<line class="axis" x1="{ml}" y1="{mt}" x2="{ml}" y2="{mt + ph}"/>')
    parts.append(f'<text x="{ml + pw / 2:.1f}" y="{h - 10}" text-anchor="middle">fidelity pillar \u2192</text>')
    parts.append(f'<text transform="translate(16 {mt + ph / 2:.1f}) rotate(-90)" text-anchor="middle">'
                 "perceptual pillar \u2192</text>")
    for r, x, y in pts:
        cls = ' class="top"' if r.rank == 1 else ""
        name = r.method if len(r.method) <= 24 else r.method[:23] + "\u2026"
        parts.append(
            f'<g><circle{cls} cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="5"><title>{esc(r.method)}: fidelity '
            f"{f3(x)}, perceptual {f3(y)}</title></circle>"
            f'<text x="{sx(x) + 8:.1f}" y="{sy(y) + 4:.1f}">{esc(name)}</text></g>'
        )
    parts.append("</svg>")
    note = ('<p class="note">One point per method; up and to the right is better; red points share rank 1.'
            + (f" {missing} method(s) without both pillars are not plotted." if missing else "") + "</p>")
    return "".join(parts) + note


def _rule_text(lb: Leaderboard) -> str:
    what = ("mean composite over images (samples of one input averaged)" if lb.rank_by == "composite"
            else "the floor: mean over inputs of the worst sample's composite")
    return (
        f"Ranked by {what}. Methods share a rank when the difference is not significant: a method joins "
        f"the current rank group while it is not significantly worse than the group's top method "
        f"(paired bootstrap over the images both scored, {lb.n_boot} resamples, \u03b1 = {lb.alpha:g}, "
        f"seed {lb.seed}). A method that scored fewer images than the task \u00d7 dataset has (coverage "
        "below 100%, marked incomplete) is ranked after every complete method. Intervals are 95% percentile "
        "bootstrap intervals over images. All pillars and the composite are in [0, 1], higher is better."
    )


def _conflict_banner(lb: Leaderboard) -> str:
    if not lb.conflicts:
        return ""
    names = {r.run_id: r.name for r in lb.runs}
    items = "".join(
        f"<li>{esc(names.get(c.run_id, c.run_id))}: <b>{esc(c.field)}</b> is {esc(c.value)!s} "
        f"(first run: {esc(c.reference)})</li>" for c in lb.conflicts
    )
    return (
        '<div class="banner" role="note"><p class="conflict">\u26a0 These results were merged with --force although '
        "their reproducibility signatures disagree on fields that change scores; marked rows are not "
        f"directly comparable.</p><ul>{items}</ul></div>"
    )


def _footer(lb: Leaderboard, depth: int) -> str:
    runs = "".join(
        f"<li>{esc(r.run_id)} ({esc(r.name)}): <code>{esc(r.signature_line)}</code></li>" for r in lb.runs
    )
    return (f"<footer><p>Built with paradigm {esc(__version__)}. Reproducibility signatures of the merged runs:</p>"
            f"<ul>{runs}</ul><p>Data: <a href=\"{'../' * depth}leaderboard.json\">leaderboard.json</a>, "
            f"<a href=\"{'../' * depth}leaderboard.csv\">leaderboard.csv</a>.</p></footer>")


def render_index(lb: Leaderboard) -> str:
    """The ``index.html`` page."""
    nav = "".join(f'<li><a href="#{b.anchor}">{esc(b.label)}</a></li>' for b in lb.boards)
    sections = []
    for b in lb.boards:
        sections.append(
            f'<section id="{b.anchor}"><h2>{esc(b.label)}</h2>\n{_board_table(lb, b)}\n'
            f"<h3>Perception vs. fidelity</h3>\n{scatter_svg(b)}</section>"
        )
    body = (
        f"<header><h1>{esc(lb.title)}</h1><p class=\"note\">{esc(_rule_text(lb))}</p></header>\n"
        f"{_conflict_banner(lb)}\n"
        + (f"<nav aria-label=\"boards\"><ul>{nav}</ul></nav>\n" if len(lb.boards) > 1 else "")
        + "<main>\n" + "\n".join(sections) + "\n</main>\n" + _footer(lb, 0)
    )
    return _page(lb.title, body)


def _thumb_cell(t: Thumb, alt: str) -> str:
    if t.path:
        return f'<td class="t"><img class="thumb" src="../{esc(t.path)}" alt="{esc(alt)}" loading="lazy"></td>'
    return f'<td class="t"><span class="missing">{esc(t.note or "no image")}</span></td>'


def _cases_table(board: Board, cases: list[Case], method: str) -> str:
    heads = [_th("Image", False, "t")]
    if board.has_samples:
        heads.append(_th("Sample", False, "t"))
    heads += [_th("Composite", True)] + [_th(p.capitalize(), True) for p in PILLARS]
    heads += ['<th scope="col" class="t">Output</th>', '<th scope="col" class="t">Ground truth</th>']
    rows = []
    for c in cases:
        cells = [f'<td class="t">{esc(c.image)}</td>']
        if board.has_samples:
            cells.append(f'<td class="t">{esc(c.sample)}</td>')
        cells.append(f'<td data-v="{dv(c.composite)}">{f3(c.composite)}</td>')
        cells += [f'<td data-v="{dv(c.pillars[p])}">{f3(c.pillars[p])}</td>' for p in PILLARS]
        cells.append(_thumb_cell(c.output, f"output of {method} for {c.image}"))
        cells.append(_thumb_cell(c.gt, f"ground truth of {c.image}"))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return ('<div class="tablewrap"><table class="cases sortable">'
            f"<thead><tr>{''.join(heads)}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody></table></div>")


def render_method_page(lb: Leaderboard, method: str) -> str:
    """The ``methods/<slug>.html`` page of one method: its ranks and its worst results."""
    sections = []
    any_missing = any_refused = False
    for b in lb.boards:
        row: Row | None = next((r for r in b.rows if r.method == method), None)
        if row is None:
            continue
        cases = b.worst.get(method, [])
        any_missing = any_missing or any(
            not t.path and t.note not in ("thumbnails off", OUTSIDE_NOTE, NO_ROOTS_NOTE)
            for c in cases for t in (c.output, c.gt)
        )
        any_refused = any_refused or any(t.note in (OUTSIDE_NOTE, NO_ROOTS_NOTE) for c in cases for t in (c.output, c.gt))
        rank = f"rank {row.rank} of {len(b.rows)}" if row.rank else "unranked"
        ci = row.composite
        summary = (f"<p>{rank}; composite {f3(ci.mean)} [{f3(ci.ci_low)}, {f3(ci.ci_high)}]; "
                   + ", ".join(f"{p} {f3(row.pillars[p])}" for p in PILLARS)
                   + f"; {row.n_scored} of {row.n_expected} images scored"
                   + f", {row.n_errors} error{'' if row.n_errors == 1 else 's'} in errors.csv"
                   + f"{incomplete_marker(row)}.{_conflict_marker(row.signature_conflict)}</p>"
                   f'<p class="muted">Signature: <code>{esc(row.signature_line)}</code></p>')
        table = (_cases_table(b, cases, method) if cases
                 else '<p class="note">No result of this method has a composite value.</p>')
        sections.append(f"<section><h2>{esc(b.label)}</h2>{summary}<h3>Worst results (lowest composite)</h3>"
                        f"{table}</section>")
    notes = []
    if not lb.thumbnails:
        notes.append("Thumbnails are off (built with --no-thumbnails).")
    elif any_missing:
        notes.append("Some image files were not reachable from where the leaderboard was built, so their "
                     "thumbnails are missing; build the leaderboard where the scored images are.")
    if lb.thumbnails and any_refused:
        notes.append("Some image paths in the scores lie outside the folders their run scored (or the run "
                     "records none), so no thumbnails were made of them; rebuild with --allow-outside only if "
                     "you trust the scores files.")
    note = "".join(f'<p class="note missing">{esc(n)}</p>' for n in notes)
    title = f"{method} \u2014 {lb.title}"
    body = (f'<header><p><a href="../index.html">\u2190 {esc(lb.title)}</a></p><h1>{esc(method)}</h1></header>'
            f"\n{note}\n<main>\n" + "\n".join(sections) + "\n</main>\n" + _footer(lb, 1))
    return _page(title, body, depth=1)
