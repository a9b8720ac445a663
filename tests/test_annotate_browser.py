"""``paradigm annotate`` in a real headless Chromium: rater login, clicks and keys, toggle view, zoom, export.

Needs Debian's ``/usr/bin/chromium`` and Playwright for Python (``pip install playwright``; no
``playwright install``: the system browser is used). Set ``PARADIGM_SCREENSHOT_DIR`` to keep the
screenshot.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from _helpers import screenshot
from test_annotate_helpers import live_server, make_tree

pytestmark = pytest.mark.browser

pytest.importorskip("flask", reason="flask is not installed (pip install flask)")
HOSTILE = 'set<img src=x onerror="window.__pwned=1">'
TITLE = "Pairwise <script>window.__pwned=2</script> study"


def test_rate_pairs_in_chromium(browser, tmp_path, monkeypatch):
    from paradigm.annotate.app import StudyConfig, open_study
    from paradigm.annotate.export import export_votes

    make_tree(tmp_path / "data", n_images=3, size=48, dataset=HOSTILE)
    db = tmp_path / "db" / "annotate.sqlite"
    # relative paths, as the README's `paradigm annotate demo/results --gt demo/gt` gives them
    monkeypatch.chdir(tmp_path)
    st = open_study(StudyConfig(results=Path("data/results"), gt=Path("data/gt"), db=Path("db/annotate.sqlite"),
                                pairs=6, catch_rate=0.2, repeat_rate=0.2, token="tok-123", title=TITLE))
    n = st.scheduler.max_trials
    ctx = browser.new_context(viewport={"width": 1400, "height": 700})
    page = ctx.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.on("response", lambda r: console.append(f"http {r.status} {r.url}") if r.status >= 400 else None)
    with live_server(st) as base:
        assert ctx.request.get(base + "/").status == 403  # no token: refused
        page.goto(base + "/?token=tok-123")
        assert page.url == base + "/"  # token moved into a cookie, dropped from the address bar
        assert page.title() == TITLE  # escaped, shown literally
        page.wait_for_selector("#login:not([hidden])")
        page.fill("#rater-input", "browser-rater")
        page.click("#start")
        page.wait_for_selector("#btn-a:not([disabled])")
        page.wait_for_function("['#img-ref', '#img-a', '#img-b'].every(s => document.querySelector(s).complete)")
        widths = page.eval_on_selector_all("#img-ref, #img-a, #img-b", "els => els.map(e => e.naturalWidth)")
        assert widths == [48, 48, 48], (widths, console)  # every image served (a 500 leaves width 0)
        ref_text = page.text_content("#reference-name")
        assert HOSTILE in ref_text  # the folder name is shown as text, not parsed as HTML
        assert page.evaluate("window.__pwned") is None
        assert page.text_content("#progress") == f"0 / {n}"
        assert page.evaluate("localStorage.getItem('paradigm.annotate.rater')") == "browser-rater"

        # synchronised zoom: wheel over B zooms all views identically
        box = page.locator("#pane-b .view").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 3)
        page.mouse.wheel(0, -300)
        transforms = page.eval_on_selector_all(
            "#pane-ref img, #pane-a img, #pane-b img", "els => els.map(e => e.style.transform)"
        )
        assert len(set(transforms)) == 1 and "scale(1)" not in transforms[0] and "scale" in transforms[0]
        # pan by dragging A: all follow
        box_a = page.locator("#pane-a .view").bounding_box()
        page.mouse.move(box_a["x"] + 40, box_a["y"] + 40)
        page.mouse.down()
        page.mouse.move(box_a["x"] + 70, box_a["y"] + 55)
        page.mouse.up()
        t2 = page.eval_on_selector_all("#pane-ref img, #pane-b img", "els => els.map(e => e.style.transform)")
        assert len(set(t2)) == 1 and t2[0] != transforms[0]
        screenshot(page, tmp_path, "annotate-trial.png")

        # toggle view A<->B
        page.keyboard.press("t")
        assert page.is_visible("#pane-flip") and not page.is_visible("#pane-a") and not page.is_visible("#pane-b")
        assert page.text_content("#flip-label") == "A"
        page.keyboard.press(" ")
        assert page.text_content("#flip-label") == "B"
        assert page.is_visible("#img-flip-b") and not page.is_visible("#img-flip-a")
        screenshot(page, tmp_path, "annotate-toggle.png")
        page.keyboard.press("t")
        assert page.is_visible("#pane-a") and not page.is_visible("#pane-flip")
        page.keyboard.press("0")
        assert "scale(1)" in page.eval_on_selector("#img-a", "e => e.style.transform")

        # answer every trial: buttons and keys
        choices = []
        for i in range(n):
            page.wait_for_selector("#btn-a:not([disabled])")
            page.wait_for_timeout(60)
            if i % 3 == 0:
                page.click("#btn-a")
                choices.append("a")
            elif i % 3 == 1:
                page.keyboard.press("ArrowRight")
                choices.append("b")
            else:
                page.click("#btn-tie")
                choices.append("tie")
            page.wait_for_selector(f"body[data-answered='{i + 1}']", state="attached")
        page.wait_for_selector("#done:not([hidden])")
        assert page.text_content("#progress") == f"{n} / {n}"

        # a reload remembers the rater and shows the end of the session
        page.reload()
        page.wait_for_selector("#done:not([hidden])")
        assert page.is_hidden("#login")
    assert not [c for c in console if c.startswith(("error", "pageerror"))], console
    ctx.close()

    rows = st.store.answer_rows()
    assert [r["winner"] for r in rows] == choices
    assert all(r["rater"] == "browser-rater" and r["time_ms"] is not None and r["time_ms"] >= 50 for r in rows)
    kinds = [r["kind"] for r in rows]
    assert kinds.count("catch") == 1 and kinds.count("repeat") == 1

    res_x = export_votes(db, tmp_path / "votes.csv")
    with open(res_x.votes_path, newline="", encoding="utf-8") as fh:
        votes = list(csv.DictReader(fh))
    assert len(votes) == n and all(v["rater"] == "browser-rater" for v in votes)
    assert all(v["reference"].startswith(f"sr/{HOSTILE}/img") for v in votes)
    try:
        from meta_eval.human import load_human
    except ImportError:
        return
    table = load_human(f"votes:{res_x.votes_path}")
    assert len(table) == n and int(table["is_catch"].sum()) == 1
