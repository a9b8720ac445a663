"""BAPPS 2AFC folders: ``<root>/[2afc/]{train,val}/<subset>/{ref,p0,p1,judge}/<id>.{png,npy}``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..judgments import Judgments, twoafc


def load_bapps(path: str | Path) -> Judgments:
    """BAPPS 2AFC judgments.

    ``judge/<id>.npy`` holds the fraction of people who preferred p1 (B). ``path`` may be the dataset
    root, the ``2afc`` folder, a split or a single subset folder. Items are paths relative to ``path``.
    """
    root = Path(path)
    judges = sorted(root.rglob("judge/*.npy"))
    if not judges:
        raise InputError(f"BAPPS: no judge/*.npy under {root}; point to the 2afc folder of the dataset")
    refs, a, b, h, split = [], [], [], [], []
    for j in judges:
        sub = j.parent.parent
        try:
            val = float(np.asarray(np.load(j)).ravel()[0])
        except (OSError, ValueError, IndexError) as exc:
            raise InputError(f"BAPPS: cannot read {j}: {exc}") from exc
        rel = sub.relative_to(root)
        img = next((p.name for p in (sub / "ref").glob(j.stem + ".*")), j.stem + ".png")
        refs.append(str(rel / "ref" / img))
        a.append(str(rel / "p0" / img))
        b.append(str(rel / "p1" / img))
        h.append(val)
        split.append(str(rel))
    return twoafc(refs, a, b, h, split=split, name="bapps", source=str(root))
