"""The weights table, the resolver and ``paradigm weights`` (all offline, temporary folders only)."""
# ruff: noqa: F811  (fixtures imported from _tiny_weights are redefined as arguments)

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from _tiny_weights import offline_env  # noqa: F401  (fixture)
from click.testing import CliRunner

from paradigm.errors import MetricUnavailableError, WeightsError, WeightsHashError, WeightsNotFoundError
from paradigm.weights import (
    all_entries,
    cache_dir,
    clear_hash_cache,
    get_entry,
    import_file,
    load_state_dict,
    override_table,
    register_entry,
    resolve,
    sha256_file,
    status,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

REQUIRED = {
    "niqe_pris_params": ("niqe_pris_params.npz", "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"),
    "brisque_allmodel": ("allmodel", "8b04d6045f1b27261610c8ab1730fdcc14ec80bfab0f1ab5f703bbc2927314de"),
    "brisque_allrange": ("allrange", "e47d753d96b631e1aa2dbac8c4e51ade767f2def8ce678c7130b6b3f90ee915f"),
    "dists_heads": (None, "f5e65c96230b7f6ca995691647d482237e4cab8a50c5c4a5784f219ef0748218"),
}


def _file(tmp_path: Path, name: str, data: bytes) -> tuple[Path, str]:
    p = tmp_path / name
    p.write_bytes(data)
    return p, hashlib.sha256(data).hexdigest()


def _entry(filename: str, sha: str | None, **extra: object) -> dict[str, object]:
    return {
        "filename": filename,
        "urls": ["https://example.invalid/" + filename],
        "sha256": sha,
        "format": "text",
        "licence": "test",
        **extra,
    }


# ------------------------------------------------------------------------------------------ table
def test_table_has_required_entries() -> None:
    table = all_entries()
    for name, (filename, sha) in REQUIRED.items():
        assert table[name]["sha256"] == sha
        if filename:
            assert table[name]["filename"] == filename
    for name in ("alexnet", "vgg16", "squeezenet1_1", "lpips_alex_v0.1", "dinov2_vits14", "dinov2_vitb14",
                 "dinov2_vitl14", "open_clip_vit_b_32_laion2b_s34b_b79k", "pyiqa_musiq_koniq",
                 "pyiqa_clipiqa_plus", "pyiqa_topiq_nr_koniq", "pyiqa_maniqa_koniq", "pyiqa_maniqa_pipal",
                 "pyiqa_nima_vgg16_ava"):
        assert name in table, name
    filenames = [e["filename"] for e in table.values()]
    assert len(filenames) == len(set(filenames)), "cache file names must be unique"
    for name, e in table.items():
        assert e["urls"], name
        assert e["format"] in ("torch", "safetensors", "npz", "text", "mat"), name
        assert e["sha256"] or e.get("sha256_prefix") or e.get("sha256") is None


def test_torchvision_digests_agree_with_filenames() -> None:
    """torchvision embeds the first 8 hex digits of the sha256 in its file names: an independent check
    of the full digests the table pins from public sources."""
    for name in ("alexnet", "vgg16", "squeezenet1_1"):
        e = get_entry(name)
        prefix = e["filename"].rsplit("-", 1)[1].split(".")[0]
        assert len(prefix) == 8 and e["sha256"].startswith(prefix), name
        assert e["urls"][0].startswith("https://download.pytorch.org/models/") and prefix in e["urls"][0]
        assert e["sha256_source"] and e["size"]
    # pyiqa names its checkpoints the same way (name-<8 hex of the sha256>.pth)
    musiq = get_entry("pyiqa_musiq_koniq")
    assert musiq["filename"].endswith("-e95806b9.pth") and musiq["sha256"].startswith("e95806b9")
    for name in ("pyiqa_clipiqa_plus", "pyiqa_topiq_nr_koniq", "pyiqa_maniqa_pipal", "pyiqa_nima_vgg16_ava"):
        e = get_entry(name)
        assert e["sha256"] is None and e["filename"].endswith(f"-{e['sha256_prefix']}.pth"), name


def test_unknown_name_suggests() -> None:
    with pytest.raises(WeightsError, match="niqe_pris_params"):
        get_entry("niqe_pris_param")


def test_register_and_override_are_scoped(tmp_path: Path) -> None:
    with override_table({"tmp_entry": _entry("tmp.bin", "0" * 64)}):
        assert get_entry("tmp_entry")["filename"] == "tmp.bin"
    with pytest.raises(WeightsError):
        get_entry("tmp_entry")
    with override_table({}):
        register_entry("tmp_entry2", _entry("tmp2.bin", None))
        assert get_entry("tmp_entry2")["sha256"] is None
    with pytest.raises(WeightsError):
        get_entry("tmp_entry2")


def test_bad_entry_rejected() -> None:
    from paradigm.errors import InputError

    with pytest.raises(InputError, match="sha256"):
        register_entry("bad", _entry("x", "nothex"))
    with pytest.raises(InputError, match="format"):
        register_entry("bad", _entry("x", None, format="pickle"))


# ------------------------------------------------------------------------------------------ resolve
def test_search_order_and_verification(tmp_path: Path, offline_env: Path) -> None:
    src, sha = _file(tmp_path, "src.bin", b"hello weights")
    with override_table({"t": _entry("t.bin", sha)}):
        with pytest.raises(WeightsNotFoundError):
            resolve("t")
        # cache dir
        cache_dir().mkdir(parents=True)
        (cache_dir() / "t.bin").write_bytes(b"hello weights")
        assert resolve("t") == (cache_dir() / "t.bin").resolve()
        # weights dir wins over the cache
        (offline_env / "t.bin").write_bytes(b"hello weights")
        assert resolve("t") == (offline_env / "t.bin").resolve()
        # explicit path wins over both, as a file or a folder
        assert resolve("t", src) == src.resolve()
        (tmp_path / "dir").mkdir()
        (tmp_path / "dir" / "t.bin").write_bytes(b"hello weights")
        assert resolve("t", tmp_path / "dir") == (tmp_path / "dir" / "t.bin").resolve()


def test_missing_offline_message(offline_env: Path) -> None:
    sha = "ab" * 32
    with override_table({"t": _entry("t.bin", sha)}):
        with pytest.raises(WeightsNotFoundError) as info:
            resolve("t")
    msg = str(info.value)
    assert "t.bin" in msg and sha in msg and "https://example.invalid/t.bin" in msg
    assert str(offline_env) in msg and str(cache_dir()) in msg
    assert "paradigm weights import" in msg and "PARADIGM_OFFLINE" in msg
    assert isinstance(info.value, MetricUnavailableError) and isinstance(info.value, FileNotFoundError)


def test_explicit_missing_path(offline_env: Path, tmp_path: Path) -> None:
    with override_table({"t": _entry("t.bin", "ab" * 32)}), pytest.raises(WeightsNotFoundError, match="nope"):
        resolve("t", tmp_path / "nope.bin")


def test_wrong_hash(tmp_path: Path, offline_env: Path) -> None:
    want = "cd" * 32
    (offline_env / "t.bin").write_bytes(b"corrupt")
    got = hashlib.sha256(b"corrupt").hexdigest()
    with override_table({"t": _entry("t.bin", want)}), pytest.raises(WeightsHashError) as info:
        resolve("t")
    assert want in str(info.value) and got in str(info.value)


def test_prefix_verification(tmp_path: Path, offline_env: Path) -> None:
    data = b"torchvision-like"
    sha = hashlib.sha256(data).hexdigest()
    (offline_env / f"net-{sha[:8]}.pth").write_bytes(data)
    with override_table({"net": _entry(f"net-{sha[:8]}.pth", None, sha256_prefix=sha[:8])}):
        assert status("net")["state"] == "prefix-verified"
        assert resolve("net").name == f"net-{sha[:8]}.pth"
        assert status("net")["state"] == "recorded"  # resolve records the full digest of the accepted file
    with override_table({"net": _entry(f"net-{sha[:8]}.pth", None, sha256_prefix="00000000")}):
        with pytest.raises(WeightsHashError):
            resolve("net")


def test_unverified_user_file_is_recorded(tmp_path: Path, offline_env: Path) -> None:
    from paradigm.weights.lock import read_lock

    (offline_env / "u.bin").write_bytes(b"user file")
    with override_table({"u": _entry("u.bin", None)}):
        p = resolve("u")  # accepted: the user supplied it
        rec = read_lock(cache_dir())["u.bin"]
        assert rec["sha256"] == hashlib.sha256(b"user file").hexdigest() and rec["origin"] == "user-file"
        assert rec["name"] == "u" and p == (offline_env / "u.bin").resolve()
        assert status("u")["state"] == "recorded"
        # later corruption is caught against the recorded digest
        (offline_env / "u.bin").write_bytes(b"user file, changed")
        clear_hash_cache()
        with pytest.raises(WeightsHashError, match="recorded"):
            resolve("u")


def test_failed_connection_is_offline(offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.delenv("PARADIGM_OFFLINE")
    with socket.socket() as s:  # a loopback port that nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sha = "ef" * 32
    entry = _entry("t.bin", sha)
    entry["urls"] = [f"http://127.0.0.1:{port}/t.bin"]
    with override_table({"t": entry}), pytest.raises(WeightsNotFoundError) as info:
        resolve("t")
    msg = str(info.value)
    assert "download failed" in msg and sha in msg and "t.bin" in msg and "paradigm weights import" in msg
    assert not list(cache_dir().glob("*.part")), "no partial file may be left behind"


def test_bundled_lpips_heads(offline_env: Path) -> None:
    p = resolve("lpips_alex_v0.1")
    assert p.name == "alex.pth" and "lpips" in str(p)
    sd = load_state_dict("lpips_alex_v0.1")
    assert "lin0.model.1.weight" in sd


def test_load_npz_and_text_from_shared(offline_env: Path) -> None:
    niqe = SHARED / "weights" / "niqe" / "niqe_pris_params.npz"
    if not niqe.exists():
        pytest.skip(f"shared data absent: {niqe}")
    sd = load_state_dict("niqe_pris_params", niqe)
    assert sd["mu_pris_param"].shape == (1, 36)
    assert resolve("brisque_allmodel", SHARED / "weights" / "brisque").name == "allmodel"
    with pytest.raises(WeightsError, match="text"):
        load_state_dict("brisque_allrange", SHARED / "weights" / "brisque")


def test_subfolders_and_alt_names(tmp_path: Path, offline_env: Path) -> None:
    data = b"heads"
    sha = hashlib.sha256(data).hexdigest()
    (offline_env / "other").mkdir()
    (offline_env / "other" / "weights.pt").write_bytes(b"someone else's weights.pt")
    (offline_env / "mine").mkdir()
    (offline_env / "mine" / "weights.pt").write_bytes(data)
    with override_table({"h": _entry("h_unique.pt", sha, alt_filenames=["weights.pt"])}):
        assert resolve("h") == (offline_env / "mine" / "weights.pt").resolve()
        assert resolve("h", offline_env / "mine") == (offline_env / "mine" / "weights.pt").resolve()
        assert status("h")["where"] == "weights-dir"
    with override_table({"h": _entry("h_unique.pt", "00" * 32, alt_filenames=["weights.pt"])}):
        with pytest.raises(WeightsNotFoundError):  # generic names that do not verify are skipped
            resolve("h")


def test_shared_tree_as_weights_dir(monkeypatch: pytest.MonkeyPatch, offline_env: Path) -> None:
    if not (SHARED / "weights").is_dir():
        pytest.skip(f"shared data absent: {SHARED / 'weights'}")
    monkeypatch.setenv("PARADIGM_WEIGHTS_DIR", str(SHARED / "weights"))
    for name in ("niqe_pris_params", "brisque_allmodel", "brisque_allrange", "dists_heads"):
        assert status(name)["state"] == "verified", name
    assert resolve("dists_heads") == (SHARED / "weights" / "dists" / "weights.pt").resolve()


def test_hash_cached_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p, sha = _file(tmp_path, "h.bin", b"abc" * 100)
    clear_hash_cache()
    opened = []
    real_open = open

    def counting_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(file) == str(p.resolve()):
            opened.append(1)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    assert sha256_file(p) == sha and sha256_file(p) == sha
    assert len(opened) == 1


# ------------------------------------------------------------------------------------------ import + CLI
def test_import_by_hash_and_name(tmp_path: Path, offline_env: Path) -> None:
    src, sha = _file(tmp_path, "download.bin", b"imported")
    with override_table({"i": _entry("i.bin", sha), "n": _entry("n.bin", None)}):
        name, dest = import_file(src)
        assert name == "i" and dest == cache_dir() / "i.bin" and dest.read_bytes() == b"imported"
        assert resolve("i") == dest.resolve()
        name, dest = import_file(src, "n")  # unknown hash: accepted, digest recorded
        from paradigm.weights.lock import read_lock

        assert read_lock(cache_dir())["n.bin"]["sha256"] == sha
        with pytest.raises(WeightsHashError):
            import_file(src, "niqe_pris_params")
    other, _ = _file(tmp_path, "other.bin", b"matches nothing")
    with pytest.raises(WeightsError, match="--name"):
        import_file(other)


def test_cli_list_import_path(tmp_path: Path, offline_env: Path) -> None:
    from paradigm.cli import cli

    runner = CliRunner()
    src, sha = _file(tmp_path, "download.bin", b"cli import")
    with override_table({"c": _entry("c.bin", sha)}):
        res = runner.invoke(cli, ["weights", "list"])
        assert res.exit_code == 0, res.output
        line = next(ln for ln in res.output.splitlines() if ln.startswith("c "))
        assert "missing" in line and "c.bin" in line
        assert "lpips_alex_v0.1" in res.output and "niqe_pris_params" in res.output

        res = runner.invoke(cli, ["weights", "path", "c"])
        assert res.exit_code != 0 and "c.bin" in res.output and sha in res.output

        res = runner.invoke(cli, ["weights", "import", str(src)])
        assert res.exit_code == 0, res.output
        assert "imported c" in res.output

        res = runner.invoke(cli, ["weights", "list", "--json"])
        rows = {r["name"]: r for r in json.loads(res.output)}
        assert rows["c"]["state"] == "verified" and rows["c"]["where"] == "cache"
        assert rows["lpips_alex_v0.1"]["where"] == "package"

        res = runner.invoke(cli, ["weights", "path", "c"])
        assert res.exit_code == 0 and res.output.strip() == str((cache_dir() / "c.bin").resolve())

        (offline_env / "c.bin").write_bytes(b"tampered")
        res = runner.invoke(cli, ["weights", "list", "--json"])
        assert {r["name"]: r for r in json.loads(res.output)}["c"]["state"] == "hash-mismatch"


def test_import_paradigm_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, paradigm.weights; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pinned_entries_cite_sources_and_immutable_hub_urls() -> None:
    import re

    for name, e in all_entries().items():
        assert bool(e["sha256"]) == bool(e["sha256_source"]), name
        if e["sha256"]:
            for url in e["urls"]:
                if "huggingface.co" in url:
                    assert re.search(r"/resolve/[0-9a-f]{40}/", url), (name, url)


def test_default_metrics_need_only_pinned_files() -> None:
    """Every file the default metric set needs has a full sha256: CLIP and DINOv2 download by default."""
    from paradigm.weights.manage import names_for_metrics

    needed = names_for_metrics(["default"])
    assert {"alexnet", "lpips_alex_v0.1", "vgg16", "dists_heads", "niqe_pris_params", "brisque_allmodel",
            "brisque_allrange", "dinov2_vits14", "open_clip_vit_b_32_laion2b_s34b_b79k"} <= set(needed)
    for name in needed:
        assert len(get_entry(name)["sha256"] or "") == 64, name
