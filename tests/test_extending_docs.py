"""The worked examples of docs/extending.md run as written (metric and loader in a subprocess, so the
registries of this process stay clean; the profile in a temporary copy of the profiles file)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomllib
from click.testing import CliRunner
from PIL import Image

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def example(marker: str, lang: str = "python") -> str:
    """The first ```LANG block after ``<!-- example:MARKER -->`` in docs/extending.md."""
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf"<!-- example:{marker} -->\s*```{lang}\n(.*?)```", text, re.S)
    assert m, f"docs/extending.md lacks the {lang} example {marker!r}"
    return m.group(1)


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(cwd)},
    )


def _image(path: Path, seed: int, size: int = 48, noise: int = 0) -> None:
    """A smooth random RGB image (plus uniform noise of +-``noise`` levels), saved as PNG."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (6, 6, 3)).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    a = np.asarray(base).astype(int)
    if noise:
        a = a + np.random.default_rng(100 + noise).integers(-noise, noise + 1, a.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(path)


def test_metric_example_registers_and_meets_the_contract(tmp_path: Path) -> None:
    plugin = tmp_path / "mean_abs_error_example.py"
    plugin.write_text(example("metric"), encoding="utf-8")
    check = textwrap.dedent(
        """
        import math, torch, paradigm
        import mean_abs_error_example  # noqa: F401  (registers the metric)
        from paradigm.metrics.registry import list_metrics
        from paradigm.metrics.spec import build_manifest

        assert "mean_abs_error" in list_metrics()
        m = paradigm.create_metric("MAE")
        g = torch.Generator().manual_seed(0)
        ref = torch.rand(8, 3, 16, 16, generator=g)
        x = (ref + 0.1 * torch.randn(8, 3, 16, 16, generator=g)).clamp(0, 1)
        v = m(x, ref)
        assert v.shape == (8,) and v.dtype == torch.float64
        want = (x.double() - ref.double()).abs().mean(dim=(1, 2, 3))
        assert torch.allclose(v, want, atol=1e-12)
        assert float(m(x, x).abs().max()) == 0.0
        singles = torch.cat([m(x[i:i+1], ref[i:i+1]) for i in range(8)])
        assert torch.allclose(singles, v, atol=1e-12)
        spec = paradigm.metrics.registry.get_metric_class("mean_abs_error").spec()
        assert spec.pillar == "fidelity" and spec.composable and not spec.higher_is_better
        assert build_manifest([spec]).direction("mean_abs_error") is False
        print("ok")
        """
    )
    res = subprocess.run(
        [sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)},
    )
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stdout + res.stderr


def test_loader_example_registers_through_an_entry_point_and_benchmarks(tmp_path: Path) -> None:
    (tmp_path / "my_loader.py").write_text(example("loader"), encoding="utf-8")
    # the docs' pyproject entry point, as `pip install` writes it into the distribution's metadata
    eps = tomllib.loads(example("loader-entry-point", "toml"))["project"]["entry-points"]["meta_eval.loaders"]
    dist = tmp_path / "mydata_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mydata-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[meta_eval.loaders]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    data = tmp_path / "mydata"
    rows = []
    for r in (1, 2):
        _image(data / "refs" / f"r{r}.png", r)
        for lev in (1, 2, 3):
            _image(data / "dist" / f"r{r}_noise{lev}.png", r, noise=8 * lev)
            rows.append((f"r{r}_noise{lev}.png", f"r{r}.png", "noise", 5.0 - lev + 0.1 * r))
    pd.DataFrame(rows, columns=["image", "reference", "distortion", "mos"]).to_csv(data / "mos.csv", index=False)
    res = _run(
        f"""
        import json, pandas as pd, pytest
        from click.testing import CliRunner
        from meta_eval.errors import InputError
        from meta_eval.loaders import load_human, loader_kinds

        assert "mydata" in loader_kinds()
        j = load_human("mydata:{data}")
        assert j.name == "mydata" and j.kind == "opinion" and len(j) == 6 and j.higher_is_better
        assert j.score_range == (1.0, 5.0) and sorted(set(j.references)) == ["r1.png", "r2.png"]
        assert not load_human("mydata:{data}?higher_is_better=0").higher_is_better
        with pytest.raises(InputError, match="unknown option"):
            load_human("mydata:{data}?sheet=1")
        with pytest.raises(InputError, match="missing column"):
            (pd.read_csv("{data}/mos.csv").drop(columns="mos")).to_csv("{tmp_path}/bad.csv", index=False)
            load_human("mydata:{tmp_path}/bad.csv")

        from paradigm.cli import cli
        out = "{tmp_path}/bench"
        r = CliRunner().invoke(cli, ["meta-eval", "benchmark", "--dataset", "mydata:{data}", "--metrics", "psnr",
                                     "--bootstrap", "20", "--out", out, "-q"], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        assert pd.read_csv(out + "/errors.csv").empty
        psnr = next(m for m in json.load(open(out + "/results.json"))["metrics"] if m["metric"] == "psnr")
        assert psnr["srcc"] > 0.5  # less noise: higher PSNR and higher MOS
        print("ok")
        """,
        tmp_path,
    )
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stdout + res.stderr


def test_profile_example_validates_and_scores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paradigm.cli import cli
    from paradigm.composite import profiles
    from paradigm.composite.aggregate import resolve_spec

    entry = json.loads(example("profile", "json"))
    shipped = json.loads(profiles.PROFILES_FILE.read_text(encoding="utf-8"))
    shipped["profiles"].update(entry)
    assert "scanned-documents" in profiles.validate_profiles(shipped, "docs example")
    copy = tmp_path / "profiles-v2.json"
    copy.write_text(json.dumps(shipped), encoding="utf-8")
    monkeypatch.setattr(profiles, "PROFILES_FILE", copy)
    monkeypatch.setitem(profiles.PROFILES_FILES, 2, copy)
    spec = resolve_spec(None, "scanned-documents")
    assert spec.profile == "scanned-documents"
    assert set(spec.metrics()) == {"psnr", "ssim", "edge_f1", "geo_drift", "niqe"}
    assert len(json.loads((profiles.DATA_DIR / "default-v2.json").read_text())["calibrations"]) == 48
    for k in (1, 2):
        _image(tmp_path / "gt" / f"page{k}.png", k, size=96)
        _image(tmp_path / "results" / f"page{k}.png", k, size=96, noise=10 * k)
    # the docs' commands
    out = tmp_path / "scores"
    r = CliRunner().invoke(cli, ["score", str(tmp_path / "results"), "--gt", str(tmp_path / "gt"),
                                 "--profile", "scanned-documents", "--out", str(out), "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out / "scores.csv")
    assert {"psnr", "ssim", "edge_f1", "geo_drift", "niqe", "composite"} <= set(table.columns)
    assert table["composite"].notna().all()
    assert table.set_index("image")["composite"]["page1"] > table.set_index("image")["composite"]["page2"]
    r = CliRunner().invoke(cli, ["explain", str(tmp_path / "results" / "page1.png"), "--gt",
                                 str(tmp_path / "gt" / "page1.png"), "--profile", "scanned-documents"])
    assert r.exit_code == 0, r.output
    assert "profile scanned-documents" in r.output and "edge_f1" in r.output
