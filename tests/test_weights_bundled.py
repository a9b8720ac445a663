"""The NIQE and BRISQUE parameters ship inside the package: found with no weights dir and no network.

Expected digests are the ones published for the upstream files (the project's shared/README.md,
repeated in tests/test_weights.py), not computed by the code under test.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from paradigm.weights import (
    cache_dir,
    clear_hash_cache,
    get_entry,
    licence_path,
    load_state_dict,
    resolve,
    status,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
BUNDLED = {
    "niqe_pris_params": ("2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296", "Apache License"),
    "brisque_allmodel": ("8b04d6045f1b27261610c8ab1730fdcc14ec80bfab0f1ab5f703bbc2927314de", "Permission is hereby granted"),
    "brisque_allrange": ("e47d753d96b631e1aa2dbac8c4e51ade767f2def8ce678c7130b6b3f90ee915f", "Permission is hereby granted"),
}


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Offline, no weights dir, an empty cache, an empty HOME."""
    monkeypatch.setenv("PARADIGM_OFFLINE", "1")
    monkeypatch.delenv("PARADIGM_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("PARADIGM_WEIGHTS_TABLE", raising=False)
    monkeypatch.setenv("PARADIGM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    clear_hash_cache()
    return tmp_path


def test_bundled_files_found_and_verified(bare: Path) -> None:
    for name, (digest, licence_text) in BUNDLED.items():
        p = resolve(name)
        assert hashlib.sha256(p.read_bytes()).hexdigest() == digest, name
        st = status(name)
        assert (st["state"], st["where"], st["verification"]) == ("verified", "package", "pinned"), name
        lic = licence_path(get_entry(name))
        assert lic is not None and licence_text in lic.read_text(encoding="utf-8", errors="replace"), name
        e = get_entry(name)
        assert e["bundled"] == "paradigm._data" and e["provenance"] and e["sha256_source"]
    assert not cache_dir().exists(), "nothing is downloaded or copied"
    sd = load_state_dict("niqe_pris_params")
    assert sd["mu_pris_param"].shape == (1, 36) and sd["cov_pris_param"].shape == (36, 36)


def test_bundled_files_equal_the_shared_originals(bare: Path) -> None:
    if not (SHARED / "weights").is_dir():
        pytest.skip(f"shared data absent: {SHARED / 'weights'}")
    for name, rel in (("niqe_pris_params", "niqe/niqe_pris_params.npz"), ("brisque_allmodel", "brisque/allmodel"),
                      ("brisque_allrange", "brisque/allrange")):
        assert resolve(name).read_bytes() == (SHARED / "weights" / rel).read_bytes(), name


def test_setup_ships_every_bundled_file() -> None:
    """setup.py's package_data globs (read from the file) match every bundled file and licence text."""
    tree = ast.parse((REPO / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    package_data = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "package_data"))
    shipped = {p.relative_to(REPO / "data").as_posix() for g in package_data["paradigm._data"]
               for p in (REPO / "data").glob(g) if p.is_file()}
    from paradigm.weights import all_entries

    wanted = {e[k] for e in all_entries().values() if e.get("bundled") == "paradigm._data"
              for k in ("package_path", "licence_file")}
    assert len(wanted) == 5 and wanted <= shipped, wanted - shipped


def test_niqe_and_brisque_run_with_default_parameters(bare: Path) -> None:
    from paradigm.metrics.nr_classic import brisque, niqe

    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 128, 128, generator=g)
    x = torch.nn.functional.avg_pool2d(x, 5, 1, 2)  # some structure
    n, b = niqe(x), brisque(x)
    assert torch.isfinite(n).all() and torch.isfinite(b).all()
    if (SHARED / "weights").is_dir():
        assert torch.equal(n, niqe(x, params_path=SHARED / "weights" / "niqe" / "niqe_pris_params.npz"))
        br = SHARED / "weights" / "brisque"
        assert torch.equal(b, brisque(x, model_path=br / "allmodel", range_path=br / "allrange"))


def test_demo_scores_a_perceptual_pillar_offline(bare: Path) -> None:
    """The issue's first done-when in miniature: no weights dir, no network, default metrics."""
    from paradigm.cli import cli
    from paradigm.demo import make_demo

    d = bare / "demo"
    make_demo(d, size=176, seed=0)  # ms_ssim needs >= 161 px
    r = CliRunner().invoke(cli, ["score", str(d / "results"), "--gt", str(d / "gt"), "--input", str(d / "input"),
                                 "--out", str(d / "scores")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    s = pd.read_csv(d / "scores" / "summary.csv")
    for pillar in ("perceptual", "stability", "fidelity"):
        rows = s[s.metric == pillar]
        assert sorted(rows.method) == ["bicubic", "denoise-classic", "generative-k3", "sharp-cast"], pillar
        assert rows["mean"].notna().all() and rows["mean"].between(0, 1).all(), pillar
    assert set(s.metric) >= {"niqe", "brisque"}
