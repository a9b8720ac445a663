"""The leaderboard as Markdown (``README.md``): the same tables as the HTML page.

Names from folders and files are escaped with :func:`md_escape`: table pipes and backticks cannot
break the table or open code spans, and ``<``/``>``/``&`` become entities so no raw HTML gets through.
"""

from __future__ import annotations

import math

from .._version import __version__
from .merge import PILLARS
from .model import Leaderboard

_SPECIAL = set("\\`*_[]|~")


def md_escape(text: object) -> str:
    """Escape a name for a Markdown table cell (pipes, backticks, emphasis, links, raw HTML, newlines)."""
    out = []
    for ch in str(text):
        if ch in "\r\n\t":
            out.append(" ")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch in _SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _f3(x: float | None) -> str:
    return "\u2013" if x is None or not math.isfinite(x) else f"{x:.3f}"


def _fm(x: float | None) -> str:
    from .html import fmetric

    return fmetric(x)


def render_markdown(lb: Leaderboard) -> str:
    """The ``README.md`` text."""
    from .html import _rule_text

    lines = [f"# {md_escape(lb.title)}", "", _rule_text(lb), ""]
    if lb.conflicts:
        names = {r.run_id: r.name for r in lb.runs}
        lines += ["> \u26a0 **Signature conflict**: these results were merged with `--force` although their "
                  "reproducibility signatures disagree on fields that change scores; rows marked \u26a0 are not "
                  "directly comparable.", ">"]
        for c in lb.conflicts:
            lines.append(f"> - {md_escape(names.get(c.run_id, c.run_id))}: {md_escape(c.field)} is "
                         f"{md_escape(c.value)} (first run: {md_escape(c.reference)})")
        lines.append("")
    for b in lb.boards:
        lines += [f"## {md_escape(b.label)}", ""]
        head = ["Rank", "Method", "Composite (95% CI)"]
        if b.has_samples:
            head.append("Floor (95% CI)")
        head += [p.capitalize() for p in PILLARS] + [md_escape(m) for m in lb.metrics] + ["Images", "Coverage", "Errors", "Signature"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join(":---" if h in ("Method", "Signature") else "---:" for h in head) + "|")
        for r in b.rows:
            mark = f" \u26a0 conflict: {md_escape(r.signature_conflict)}" if r.signature_conflict else ""
            ci = r.composite
            cells = [str(r.rank) if r.rank else "\u2013",
                     f"[{md_escape(r.method)}](methods/{r.slug}.html){mark}",
                     f"{_f3(ci.mean)} [{_f3(ci.ci_low)}, {_f3(ci.ci_high)}]"]
            if b.has_samples:
                fl = r.floor
                cells.append(f"{_f3(fl.mean)} [{_f3(fl.ci_low)}, {_f3(fl.ci_high)}]" if fl else "\u2013")
            cells += [_f3(r.pillars[p]) for p in PILLARS]
            cells += [_fm(r.metrics[m]) for m in lb.metrics]
            cells.append(f"{r.n_images} ({r.n_samples} samples)" if r.n_samples != r.n_images else str(r.n_images))
            cells.append(r.coverage_text + ("" if r.complete else " \u26a0 incomplete"))
            cells.append(str(r.n_errors))
            cells.append(md_escape(r.signature_line))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Runs", ""]
    for run in lb.runs:
        lines.append(f"- {md_escape(run.run_id)} ({md_escape(run.name)}): {md_escape(run.signature_line)}")
    lines += ["", f"Built with paradigm {__version__}; data in [leaderboard.json](leaderboard.json) and "
              "[leaderboard.csv](leaderboard.csv), pages in [index.html](index.html).", ""]
    return "\n".join(lines)
