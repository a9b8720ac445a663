"""Probe: how long numba takes to compile paradigm's CPU loops once, and to load them from its cache.

Decodes a PNG and runs the metrics that use compiled loops on a small batch in two fresh processes sharing an empty
``NUMBA_CACHE_DIR``: the first compiles everything, the second loads it (numba's own set-up
included in both). Run from the repository root::

    python docs/probes/compile_time.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

METRICS = ("ciede2000", "ssim", "ms_ssim", "edge_f1", "piqe", "fsim", "vsi", "nlpd", "vif")
CHILD = f"""
import os, tempfile, time, torch, numpy, paradigm
from PIL import Image
from paradigm.io import read_image
x, r = torch.rand(2, 3, 256, 256), torch.rand(2, 3, 256, 256)
png = os.path.join(tempfile.mkdtemp(), "x.png")
Image.fromarray(numpy.zeros((8, 8, 3), numpy.uint8)).save(png)
t = time.perf_counter()
read_image(png)  # the 8-bit PNG decoder's loop
for name in {METRICS!r}:
    m = paradigm.create_metric(name)
    m(x) if name == "piqe" else m(x, r)
print(round(time.perf_counter() - t, 1))
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("first run (compiles)", "second run (loads from the cache)"):
            out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
            print(f"{label}: {out.stdout.strip()} s for the PNG decoder and {', '.join(METRICS)}")


if __name__ == "__main__":
    main()
