"""The leaderboard's data model: what :mod:`.build` computes and :mod:`.html`/:mod:`.markdown` render."""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from .merge import Conflict, Run

RankBy = Literal["composite", "floor"]

#: Why a thumbnail was not made (shown on the page).
OUTSIDE_NOTE = "outside the run's results and ground-truth folders"
NO_ROOTS_NOTE = "the run records no results and ground-truth folders"


@dataclass
class Interval:
    """A mean with its bootstrap interval (NaN when not computable)."""

    mean: float
    ci_low: float = math.nan
    ci_high: float = math.nan


@dataclass
class Row:
    """One method in one board."""

    method: str
    slug: str
    rank: int  # 0: unranked (no finite score)
    composite: Interval
    floor: Interval | None
    pillars: dict[str, float]
    metrics: dict[str, float]
    n_images: int
    n_samples: int
    runs: list[str]
    signature_line: str
    signature_conflict: str
    n_scored: int = 0  # images with a composite value
    n_expected: int = 0  # images of the task x dataset (any method's scores or errors)
    n_errors: int = 0  # errors.csv rows of this method in this task x dataset

    @property
    def complete(self) -> bool:
        """Whether the method scored every image of the task x dataset."""
        return self.n_scored >= self.n_expected

    @property
    def coverage(self) -> float:
        """Images scored / images in the task x dataset (NaN when the board has no image)."""
        return self.n_scored / self.n_expected if self.n_expected else math.nan

    @property
    def coverage_text(self) -> str:
        """``"7/8"``."""
        return f"{self.n_scored}/{self.n_expected}"


@dataclass
class Thumb:
    """A copied thumbnail (``path`` relative to the leaderboard folder) or why there is none."""

    path: str | None
    note: str = ""


@dataclass
class Case:
    """One of a method's worst results."""

    image: str
    sample: str
    composite: float
    pillars: dict[str, float]
    output: Thumb
    gt: Thumb


@dataclass
class Board:
    """The ranking of one task x dataset."""

    task: str
    dataset: str
    rows: list[Row]
    has_samples: bool
    worst: dict[str, list[Case]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``task / dataset`` with empty parts left out (``"all results"`` when both are empty)."""
        parts = [p for p in (self.task, self.dataset) if p]
        return " / ".join(parts) if parts else "all results"

    @property
    def anchor(self) -> str:
        """A safe HTML id for this board."""
        return "board-" + slugify(f"{self.task}\x00{self.dataset}")


@dataclass
class Leaderboard:
    """Everything the writers need."""

    title: str
    rank_by: RankBy
    seed: int
    n_boot: int
    alpha: float
    metrics: list[str]
    boards: list[Board]
    runs: list[Run]
    conflicts: list[Conflict]
    methods: dict[str, str]  # method name -> slug
    thumbnails: bool


def slugify(name: str) -> str:
    """A file-name-safe, unique slug: ASCII letters/digits/dashes plus a hash of the exact name.

    Example:
        >>> slugify("<script>alert(1)</script>")
        'script-alert-1-script-...'  # doctest: +SKIP
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:40].strip("-")
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{text}-{digest}" if text else f"m-{digest}"
