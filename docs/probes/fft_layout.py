"""Probe: FSIM's 16 inverse FFTs per image in torch (one thread), as laid out and transposed, and in scipy.

``paradigm/metrics/fsim.py`` computes a wide image's phase congruency on its transpose and uses torch's
FFT (MKL on x86) instead of ``scipy.fft``; its docstrings quote the times this prints (CPU ms for the
16 complex64 transforms of one image's responses, fastest of 40, alternating the variants). Run from
the repository root::

    python docs/probes/fft_layout.py
"""

from __future__ import annotations

import time

import numpy as np
import scipy.fft
import torch

#: FSIM grids (rows x cols after its downsampling): TID2013/Kodak-like 384x512 -> 192x256,
#: DIV2K-like 2040x1356 -> 272x408, 768x512 -> 256x384
GRIDS = ((192, 256), (272, 408), (256, 384))


def best_ms(fns: dict[str, object], repeat: int = 40) -> dict[str, float]:
    best = {k: float("inf") for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.process_time()
            fn()  # type: ignore[operator]
            best[k] = min(best[k], time.process_time() - t0)
    return {k: 1e3 * v for k, v in best.items()}


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    for rows, cols in GRIDS:
        a = (rng.standard_normal((16, rows, cols)) + 1j * rng.standard_normal((16, rows, cols))).astype(np.complex64)
        t, tt = torch.from_numpy(a), torch.from_numpy(np.ascontiguousarray(a.transpose(0, 2, 1)))
        ms = best_ms({"torch": lambda t=t: torch.fft.ifft2(t), "torch transposed": lambda tt=tt: torch.fft.ifft2(tt),
                      "scipy": lambda a=a: scipy.fft.ifft2(a, workers=1)})
        print(f"{rows}x{cols}: " + ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items()))


if __name__ == "__main__":
    main()
