"""The two Y-channel rules (issue 16, item 6): BasicSR's float Y and MATLAB ``rgb2ycbcr`` on uint8.

Expected values come from a NumPy implementation of the definitions (docs/colour.md), not from
paradigm's code.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import paradigm
from paradigm.errors import InputError
from paradigm.metrics.colour import rgb_to_y
from paradigm.metrics.fidelity import psnr
from paradigm.signature import build_signature, signature_line


def _y_numpy(rgb8: np.ndarray, rounded: bool) -> np.ndarray:
    y = 16.0 + (65.481 * rgb8[..., 0] + 128.553 * rgb8[..., 1] + 24.966 * rgb8[..., 2]) / 255.0
    return np.floor(y + 0.5) if rounded else y


def _t(rgb8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb8.astype(np.float64) / 255.0).permute(2, 0, 1)[None]


def test_rgb_to_y_rounding_by_hand():
    # (10, 20, 30): Y = 16 + (654.81 + 2571.06 + 748.98) / 255 = 31.5876... -> MATLAB uint8 32
    px = np.array([[[10, 20, 30], [255, 255, 255], [0, 0, 0], [200, 100, 50]]], np.uint8)
    y_float = rgb_to_y(_t(px))[0, 0, 0].numpy() * 255
    y_round = rgb_to_y(_t(px), round8=True)[0, 0, 0].numpy() * 255
    assert y_float[0] == pytest.approx(31.58765, abs=1e-4) and y_round[0] == pytest.approx(32.0, abs=1e-9)
    assert y_round[1] == pytest.approx(235.0, abs=1e-9) and y_round[2] == pytest.approx(16.0, abs=1e-9)
    np.testing.assert_allclose(y_float, _y_numpy(px, False)[0], atol=1e-9)
    np.testing.assert_allclose(y_round, _y_numpy(px, True)[0], atol=1e-9)


def test_psnr_matlab_rule_matches_an_independent_implementation():
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 256, (48, 40, 3)).astype(np.uint8)
    out = np.clip(gt.astype(int) + rng.integers(-2, 3, gt.shape), 0, 255).astype(np.uint8)
    for rounded, opt in ((False, True), (True, "matlab"), (False, "float")):
        mse = np.mean((_y_numpy(out, rounded) - _y_numpy(gt, rounded)) ** 2)
        want = 10 * np.log10(255.0**2 / mse)
        assert float(psnr(_t(out), _t(gt), y_channel=opt)) == pytest.approx(want, abs=1e-9)
    assert float(psnr(_t(out), _t(gt), y_channel="matlab")) != float(psnr(_t(out), _t(gt), y_channel=True))
    with pytest.raises(InputError):
        psnr(_t(out), _t(gt), y_channel="basicsr")


def test_metric_options_and_signature_record_the_rule():
    m = paradigm.create_metric("psnr", y_channel="matlab")
    assert m.signature()["options"]["y_channel"] == "matlab"
    assert paradigm.create_metric("ssim", y_channel="matlab") is not None
    sig_m = build_signature([m.signature()], y_channel="matlab")
    sig_f = build_signature([paradigm.create_metric("psnr", y_channel=True).signature()], y_channel=True)
    assert sig_m["y_channel"] == "matlab" and sig_f["y_channel"] is True
    assert "|y:matlab|" in signature_line(sig_m) and "|y:yes|" in signature_line(sig_f)


def test_cli_y_rule(tmp_path):
    from _helpers import save_random_png as save
    from click.testing import CliRunner

    from paradigm.cli import cli

    for i in range(2):
        save(tmp_path / "gt" / f"im{i}.png", i, size=24)
        save(tmp_path / "res" / "m" / f"im{i}.png", 50 + i, size=24)
    base = ["score", str(tmp_path / "res"), "--gt", str(tmp_path / "gt"), "--metrics", "psnr", "--no-cache", "-q"]
    r_m = CliRunner().invoke(cli, [*base, "--y-rule", "matlab"], catch_exceptions=False)
    r_f = CliRunner().invoke(cli, [*base, "--y-channel"], catch_exceptions=False)
    assert r_m.exit_code == 0 and r_f.exit_code == 0, r_m.output + r_f.output
    assert "|y:matlab|" in r_m.stdout and "y_channel=matlab" in r_m.stdout
    assert "|y:yes|" in r_f.stdout and "y_channel=true" in r_f.stdout
