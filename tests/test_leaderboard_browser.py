"""The leaderboard page in a real headless Chromium: sorting, escaping, no script injection, offline.

Needs Debian's ``/usr/bin/chromium`` and Playwright for Python (``pip install playwright``; no
``playwright install``: the system browser is used). Set ``PARADIGM_SCREENSHOT_DIR`` to keep the
screenshots.
"""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import screenshot
from _synthetic_scores import synthetic_scores, write_scores_folder

from paradigm.leaderboard import build_leaderboard

pytestmark = pytest.mark.browser

HOSTILE = "<script>alert(1)</script>"
CANARY = "<img src=x onerror=\"window.__pwned=1\">"


@pytest.fixture
def site(tmp_path):
    from PIL import Image

    df = synthetic_scores({"alpha": 0.8, "beta": 0.55, HOSTILE: 0.7, CANARY: 0.6, "zeta": 0.65}, n_images=6,
                          task="sr", dataset="set<5>")
    folder = write_scores_folder(tmp_path / "scores", df, roots={"results": str(tmp_path / "scores" / "results"),
                                                                 "gt": str(tmp_path / "scores" / "gt")})
    rng = np.random.default_rng(0)
    for rel in set(df["output_path"]) | set(df["gt_path"]):
        p = tmp_path / "scores" / rel
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(p)
        except OSError:  # a hostile name that is no valid path: its thumbnails are reported missing
            pass
    out = tmp_path / "lb"
    build_leaderboard([folder], out, title="Browser <test>", n_boot=200)
    return out


def _column(page, col: int) -> list[str]:
    return page.eval_on_selector_all(
        f"table.lb tbody tr td:nth-child({col})", "els => els.map(e => e.textContent.trim())"
    )


def test_page_sorts_escapes_and_runs_offline(browser, site, tmp_path):
    context = browser.new_context(java_script_enabled=True)
    page = context.new_page()
    dialogs: list[str] = []
    requests: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto((site / "index.html").resolve().as_uri())

    methods = _column(page, 2)
    assert methods[0] == "alpha" and set(methods) == {"alpha", "beta", HOSTILE, CANARY, "zeta"}
    # hostile names are visible as text and did not run
    assert page.get_by_text(HOSTILE, exact=True).count() == 1
    assert page.get_by_text(CANARY, exact=True).count() == 1
    assert page.locator("table.lb img").count() == 0
    assert page.evaluate("window.__pwned === undefined")
    assert "set<5>" in page.locator("h2").first.inner_text()
    assert page.title() == "Browser <test>"

    # click "Method": ascending by name; click again: reversed
    header = page.locator("table.lb thead th").nth(1)
    header.locator("button").click()
    asc = _column(page, 2)
    assert asc == sorted(methods, key=str.lower) and asc != methods
    assert header.get_attribute("aria-sort") == "ascending"
    header.locator("button").click()
    assert _column(page, 2) == asc[::-1]
    assert header.get_attribute("aria-sort") == "descending"

    # numeric sort on the composite column, keyboard only
    comp = page.locator("table.lb thead th").nth(2).locator("button")
    comp.focus()
    page.keyboard.press("Enter")
    values = [float(v.split()[0]) for v in _column(page, 3)]
    assert values == sorted(values)
    page.keyboard.press("Space")
    values = [float(v.split()[0]) for v in _column(page, 3)]
    assert values == sorted(values, reverse=True)

    # the scatter plot has one labelled point per method, names as text
    assert page.locator("svg.scatter circle").count() == 5
    assert page.locator("svg.scatter text", has_text=HOSTILE[:20]).count() == 1
    screenshot(page, tmp_path, "leaderboard-index.png")

    # per-method page of the hostile method
    page.get_by_role("link", name=HOSTILE, exact=True).click()
    page.wait_for_load_state("load")
    assert "/methods/" in page.url
    assert page.locator("h1").inner_text() == HOSTILE
    imgs = page.locator("img.thumb")
    assert imgs.count() >= 2
    page.evaluate("Array.from(document.images).forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    assert page.evaluate("Array.from(document.images).every(i => i.naturalWidth > 0)")
    screenshot(page, tmp_path, "leaderboard-method.png")

    # the canary method (its images could be missing) still renders as text
    page.goto((site / "index.html").resolve().as_uri())
    page.get_by_role("link", name=CANARY, exact=True).click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == CANARY
    assert page.evaluate("window.__pwned === undefined")

    assert dialogs == []
    assert errors == []
    assert all(u.startswith("file://") for u in requests), [u for u in requests if not u.startswith("file://")]
    context.close()
