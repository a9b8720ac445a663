"""Print pyiqa's IL-NIQE scores with the synthetic template, the expected values of tests/test_ilniqe.py.

Run with an environment that has pyiqa (0.1.16 was used; it is never imported by paradigm or its
tests)::

    /work/peer/.venv/bin/python tests/tools/ilniqe_pyiqa_reference.py [../shared/calibration]

It writes the template of ``make_ilniqe_fixture.write_template(seed=0)`` to a temporary folder, builds
``pyiqa.archs.niqe_arch.ILNIQE(pretrained_model_path=...)`` and scores, as (1, 3, H, W) tensors of the
8-bit images / 255: the 524x524 ``synthetic_image(seed=7)``, and the calibration images dist/I03,
dist/I19 and ref/I03 (512x384 BMPs).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_ilniqe_fixture import synthetic_image, write_template  # noqa: E402

CALIBRATION = ("dist/I03", "dist/I19", "ref/I03")


def main() -> None:
    from pyiqa.archs.niqe_arch import ILNIQE

    calib = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3] / "shared" / "calibration"
    with tempfile.TemporaryDirectory() as tmp:
        model = ILNIQE(pretrained_model_path=str(write_template(Path(tmp) / "template.mat")))
    images = {"synthetic_524": synthetic_image()}
    for name in CALIBRATION:
        images[name] = np.array(Image.open(calib / f"{name}.bmp").convert("RGB"))
    for name, arr in images.items():
        x = torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255.0
        with torch.no_grad():
            score = float(model(x).reshape(-1)[0])
        print(f"{name}: {score!r}")


if __name__ == "__main__":
    main()
