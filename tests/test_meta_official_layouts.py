"""LIVE release-2 ``.mat`` files and the CSIQ spreadsheet layout (fixtures written in the official layouts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.io import savemat

from meta_eval.errors import InputError
from meta_eval.human import load_csiq, load_human, load_live


def _live(folder: Path) -> None:
    n = 982
    rng = np.random.default_rng(0)
    orgs = np.zeros(n)
    orgs[[0, 300, 981]] = 1
    dmos = np.where(orgs == 1, 0.0, rng.uniform(10, 90, n))
    savemat(folder / "dmos.mat", {"dmos": dmos[None], "orgs": orgs[None]})
    refs = np.empty((1, n), dtype=object)
    for k in range(n):
        refs[0, k] = f"ref{k % 29}.bmp"
    savemat(folder / "refnames_all.mat", {"refnames_all": refs})


def test_live_release_folder(tmp_path: Path) -> None:
    _live(tmp_path)
    df = load_live(tmp_path)
    assert len(df) == 979  # three reference copies left out
    assert df.frame.item.iloc[0] == "jp2k/img2.bmp" and df.frame.item.iloc[-1] == "fastfading/img173.bmp"
    assert df.higher_is_better is False
    assert set(df.frame.distortion) == {"jp2k", "jpeg", "wn", "gblur", "fastfading"}
    assert df.frame.reference.iloc[0] == "ref1.bmp"
    assert len(load_human(f"live:{tmp_path}")) == 979


def test_live_folder_without_mat_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="dmos.mat"):
        load_live(tmp_path)


def test_csiq_csv_export_names_items_like_the_files(tmp_path: Path) -> None:
    f = tmp_path / "csiq.csv"
    pd.DataFrame({"image": ["1600", "1600", "aerial_city"], "dst_idx": [1, 3, 5],
                  "dst_type": ["noise", "jpeg 2000", "f noise"], "dst_lev": [1, 3, 2],
                  "dmos_std": [0.1, 0.1, 0.1], "dmos": [0.06, 0.3, 0.2]}).to_csv(f, index=False)
    df = load_csiq(f)
    assert df.frame.item.tolist() == ["1600.AWGN.1.png", "1600.jpeg2000.3.png", "aerial_city.fnoise.2.png"]
    assert df.higher_is_better is False


def test_csiq_spreadsheet(tmp_path: Path) -> None:
    f = tmp_path / "csiq.DMOS.xlsx"
    t = pd.DataFrame({"image": [1600, 1600], "dst_idx": [1, 2], "dst_type": ["blur", "contrast"],
                      "dst_lev": [2, 4], "dmos_std": [0.1, 0.1], "dmos": [0.2, 0.4]})
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        f.write_bytes(b"PK\x03\x04 not really a spreadsheet")
        with pytest.raises(InputError, match="openpyxl"):
            load_csiq(f)
        return
    t.to_excel(f, sheet_name="all_by_image", index=False)
    assert load_csiq(f).frame.item.tolist() == ["1600.BLUR.2.png", "1600.contrast.4.png"]
