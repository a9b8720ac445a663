"""``paradigm annotate``: collect pairwise human judgments of restoration results in the browser.

Modules:
    schedule: which comparison a rater sees next (balanced, repeats, catch trials, active mode).
    store: the SQLite database of issued trials and answers.
    app: the Flask web app and server.
    export: ``votes.csv`` (contracts §5) and the per-rater quality-control report ``raters.csv``.
    page: the page's HTML, script and style.

``import paradigm.annotate`` is light: Flask is imported only when the app is built.
See ``docs/annotate.md``.
"""

from __future__ import annotations

from .export import export_votes, rater_report
from .schedule import Design, InputGroup, Record, Scheduler, TrialSpec
from .store import Store

__all__ = ["Design", "InputGroup", "Record", "Scheduler", "Store", "TrialSpec", "export_votes", "rater_report"]
