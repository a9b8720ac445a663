"""Probe: can a model of MATLAB's rounding explain BRISQUE's flat-area signs?

In a flat 7x7 neighbourhood of grey level ``c`` the MSCN coefficient is ``c - mu`` with ``mu`` the
Gaussian-weighted mean, 0 in exact arithmetic. MATLAB's ``filter2`` leaves +-1e-14 noise whose sign
enters BRISQUE's AGGD features. The official values of I06 and I08 are reproduced exactly only
with these signs of ``c - mu`` (from an exhaustive search over sign assignments):
248: -, 249: 0 (I06); 162: -, 140: -, 87: -, 85: 0, 103: 0, 74: - (I08).

This probe builds the window as ``fspecial('gaussian', 7, 7/6)`` normalised twice (MATLAB's
column-major sums), perturbs each of its 10 distinct values by -1/0/+1 ulp (3**10 models, for
MATLAB's own ``exp``), sums ``w * c`` either sequentially or column by column, and counts the
models that give the known signs, then checks whether those models agree on the other grey
levels. Run from the repository root::

    python docs/probes/brisque_sign_models.py
"""

from __future__ import annotations

import itertools

import numpy as np

SIGMA = 7.0 / 6.0
KNOWN = {248: -1, 249: 0, 162: -1, 140: -1, 87: -1, 85: 0, 103: 0, 74: -1}


def windows() -> tuple[np.ndarray, np.ndarray]:
    """All perturbed windows, ``(K, 7, 7)`` indexed [model, column, row], and the perturbations."""
    x, y = np.meshgrid(np.arange(-3, 4), np.arange(-3, 4))
    r2 = x * x + y * y
    levels = sorted({int(v) for v in r2.reshape(-1)})
    combos = np.array(list(itertools.product((-1, 0, 1), repeat=len(levels))))
    k = len(combos)
    vals = np.empty((k, len(levels)))
    for j, r in enumerate(levels):
        base = np.exp(-r / (2 * SIGMA * SIGMA))
        up, down = np.nextafter(base, np.inf), np.nextafter(base, -np.inf)
        vals[:, j] = np.where(combos[:, j] > 0, up, np.where(combos[:, j] < 0, down, base))
    index = {r: j for j, r in enumerate(levels)}
    h = vals[:, [index[int(v)] for v in r2.T.reshape(-1)]]  # column-major, as h(:)
    total = np.zeros(k)
    for i in range(49):
        total = total + h[:, i]
    h = h / total[:, None]
    hm = h.reshape(k, 7, 7)
    col = np.zeros((k, 7))
    for j in range(7):
        acc = np.zeros(k)
        for i in range(7):
            acc = acc + hm[:, j, i]
        col[:, j] = acc
    total = np.zeros(k)
    for j in range(7):
        total = total + col[:, j]
    return hm / total[:, None, None], combos


def signs(w: np.ndarray, c: float, columnwise: bool) -> np.ndarray:
    """sign(c - mu) for every model, ``mu`` summed sequentially or column by column."""
    k = w.shape[0]
    total = np.zeros(k)
    for j in range(7):
        acc = np.zeros(k) if columnwise else total
        for i in range(7):
            acc = acc + w[:, j, i] * c
        total = total + acc if columnwise else acc
    return np.sign(c - total)


def main() -> None:
    w, combos = windows()
    for columnwise in (False, True):
        score = sum((signs(w, float(c), columnwise) == s).astype(int) for c, s in KNOWN.items())
        ok = np.flatnonzero(score == len(KNOWN))
        name = "column by column" if columnwise else "sequential"
        print(f"{name}: {len(ok)} of {len(combos)} models give all {len(KNOWN)} known signs")
        if len(ok):
            disagree = [c for c in range(256) if len(set(signs(w[ok], float(c), columnwise).tolist())) > 1]
            print(f"  those models disagree on {len(disagree)} of 256 grey levels")


if __name__ == "__main__":
    main()
