"""First contact with ``paradigm annotate``: the README's relative paths, and hostile JSON bodies.

Issue 16, items 1 and 17: ``paradigm annotate demo/results --gt demo/gt`` (relative paths) must serve
every image; a deeply nested JSON body must answer 400, not 500.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_annotate_helpers import make_tree

from paradigm.annotate.app import StudyConfig, create_app, open_study
from paradigm.cli import cli

pytest.importorskip("flask", reason="flask is not installed (pip install flask)")


def _all_image_ids(study) -> list[str]:
    return sorted(study.images)


def test_relative_paths_serve_every_image(tmp_path, monkeypatch):
    make_tree(tmp_path / "demo", n_images=2)
    monkeypatch.chdir(tmp_path)
    st = open_study(StudyConfig(results=Path("demo/results"), gt=Path("demo/gt"),
                                db=Path("db/annotate.sqlite")))
    assert st.config.results.is_absolute() and st.config.gt.is_absolute()
    assert Path(st.store.path).is_absolute()
    c = create_app(st).test_client()
    ids = _all_image_ids(st)
    assert ids
    for image_id in ids:  # originals, GT and generated catch images
        r = c.get(f"/img/{image_id}")
        assert r.status_code == 200, (image_id, r.status_code, r.get_data(as_text=True)[:200])
        assert r.data[:4] == b"\x89PNG"
    # the generated files land beside the database, resolved from where the command ran
    assert (tmp_path / "db" / "annotate.files").is_dir()


def test_relative_paths_still_serve_after_a_chdir(tmp_path, monkeypatch):
    """Paths are resolved once at start-up: a later change of directory does not break serving."""
    make_tree(tmp_path / "demo", n_images=1)
    monkeypatch.chdir(tmp_path)
    st = open_study(StudyConfig(results=Path("demo/results"), gt=Path("demo/gt")))
    monkeypatch.chdir(tmp_path.parent)
    c = create_app(st).test_client()
    assert all(c.get(f"/img/{i}").status_code == 200 for i in _all_image_ids(st))


def test_cli_readme_command_with_relative_paths(tmp_path, monkeypatch):
    """``paradigm annotate demo/results --gt demo/gt`` verbatim: the study it builds serves images."""
    make_tree(tmp_path / "demo", n_images=2)
    monkeypatch.chdir(tmp_path)
    seen: list = []

    class _Fake:
        server_port = 1

        def serve_forever(self) -> None:
            c = create_app(seen[0]).test_client()
            seen.append([c.get(f"/img/{i}").status_code for i in _all_image_ids(seen[0])])

        def server_close(self) -> None:
            return None

    def fake(study, host="127.0.0.1", port=8765):
        seen.append(study)
        return _Fake()

    monkeypatch.setattr("paradigm.annotate.app.make_server", fake)
    r = CliRunner().invoke(cli, ["annotate", "demo/results", "--gt", "demo/gt"])
    assert r.exit_code == 0, r.output
    assert seen[1] and set(seen[1]) == {200}
    assert (tmp_path / "demo" / "results" / ".paradigm" / "annotate.sqlite").is_file()
    assert str(tmp_path / "demo" / "results" / ".paradigm" / "annotate.sqlite") in r.output


@pytest.mark.parametrize("depth", [5_000, 200_000])
def test_deeply_nested_json_is_a_400(tmp_path, depth):
    res, gt = make_tree(tmp_path / "d", n_images=1)
    st = open_study(StudyConfig(results=res, gt=gt, db=tmp_path / "a.sqlite"))
    app = create_app(st)
    app.config["MAX_CONTENT_LENGTH"] = 4 * depth + 1024  # let the body through to the parser
    c = app.test_client()
    for route in ("/api/next", "/api/answer"):
        body = '{"rater": ' + "[" * depth + "]" * depth + "}"
        r = c.post(route, data=body, content_type="application/json")
        assert r.status_code == 400, (route, r.status_code)
        assert "JSON" in r.get_json()["error"]


def test_nested_json_at_the_default_limit_is_a_400(tmp_path):
    """Within the default 64 KiB body limit, 30 000 nested arrays still fit: 400, not 500."""
    res, gt = make_tree(tmp_path / "d", n_images=1)
    c = create_app(open_study(StudyConfig(results=res, gt=gt, db=tmp_path / "a.sqlite"))).test_client()
    body = "[" * 30_000 + "]" * 30_000
    assert len(body) < 64 * 1024
    r = c.post("/api/next", data=body, content_type="application/json")
    assert r.status_code == 400
    assert os.environ.get("PARADIGM_OFFLINE") == "1"
