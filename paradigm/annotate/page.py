"""The annotation page: HTML, script and style, served by :mod:`paradigm.annotate.app`.

Kept as Python strings so the package needs no data files. The page has no inline script or style
(the app sends a strict Content-Security-Policy), and every server-provided text is inserted with
``textContent``: names from folder names are never parsed as HTML.
"""

from __future__ import annotations

import html

INDEX_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<link rel="stylesheet" href="app.css">
<script src="app.js" defer></script>
</head>
<body>
<header>
  <h1 id="title">{title}</h1>
  <span id="progress" aria-live="polite"></span>
  <span id="rater-label"></span>
  <button type="button" id="switch-rater" hidden>switch rater</button>
</header>
<main>
<section id="login" hidden>
  <form id="login-form">
    <label for="rater-input">Your rater id</label>
    <input id="rater-input" name="rater" maxlength="64" autocomplete="off" required
           placeholder="e.g. alice or r07">
    <button type="submit" id="start">Start</button>
  </form>
  <p class="help">The id is only used to group your answers; it is remembered by this browser.
  You will see the reference (ground truth) and two restored versions, A and B, of the same image.
  Pick the one that looks better to you, i.e. closer to the reference in quality and faithfulness.</p>
</section>
<section id="study" hidden>
  <p id="reference-name" class="refname"></p>
  <div id="panes" class="panes">
    <figure class="pane" id="pane-ref"><figcaption>Reference (ground truth)</figcaption>
      <div class="view"><img id="img-ref" alt="reference" draggable="false"></div></figure>
    <figure class="pane ab" id="pane-a"><figcaption>A</figcaption>
      <div class="view"><img id="img-a" alt="A" draggable="false"></div></figure>
    <figure class="pane ab" id="pane-b"><figcaption>B</figcaption>
      <div class="view"><img id="img-b" alt="B" draggable="false"></div></figure>
    <figure class="pane" id="pane-flip" hidden><figcaption id="flip-label">A</figcaption>
      <div class="view" id="flip-view"><img id="img-flip-a" alt="A" draggable="false">
        <img id="img-flip-b" alt="B" draggable="false" hidden></div></figure>
  </div>
  <div class="controls">
    <button type="button" class="choice" id="btn-a" data-choice="a" disabled>A better <kbd>1</kbd></button>
    <button type="button" class="choice" id="btn-tie" data-choice="tie" disabled>About the same <kbd>2</kbd></button>
    <button type="button" class="choice" id="btn-b" data-choice="b" disabled>B better <kbd>3</kbd></button>
  </div>
  <div class="controls small">
    <label><input type="checkbox" id="toggle-view"> A&harr;B toggle view <kbd>T</kbd></label>
    <button type="button" id="flip" disabled>show other <kbd>Space</kbd></button>
    <label><input type="checkbox" id="flicker"> flicker <kbd>F</kbd></label>
    <button type="button" id="zoom-in">zoom + <kbd>+</kbd></button>
    <button type="button" id="zoom-out">zoom &minus; <kbd>-</kbd></button>
    <button type="button" id="zoom-reset">reset <kbd>0</kbd></button>
  </div>
  <p class="help">Keys: <kbd>1</kbd>/<kbd>&larr;</kbd> A better, <kbd>2</kbd>/<kbd>&darr;</kbd> about the same,
  <kbd>3</kbd>/<kbd>&rarr;</kbd> B better. Scroll to zoom, drag to pan (all views move together).</p>
</section>
<section id="done" hidden>
  <h2>Thank you!</h2>
  <p id="done-text">This session is complete.</p>
</section>
<p id="error" role="alert"></p>
</main>
</body>
</html>
"""

APP_CSS = """
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: #1e1f22; color: #e6e6e6; }
header { display: flex; gap: 1.2em; align-items: baseline; padding: .5em 1em; background: #2b2d31; }
header h1 { font-size: 1.1em; margin: 0; }
main { padding: .6em 1em; }
.help { color: #a8a8a8; font-size: .9em; max-width: 60em; }
.refname { margin: .2em 0 .5em; color: #c8c8c8; }
.panes { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: .6em; }
.panes.flip { grid-template-columns: repeat(2, minmax(0, 1fr)); }
.pane { margin: 0; }
.pane[hidden] { display: none; }
figcaption { text-align: center; font-weight: 600; padding: .2em; }
.view { position: relative; overflow: hidden; background: #111; cursor: grab; aspect-ratio: 1 / 1;
        touch-action: none; user-select: none; }
.view.dragging { cursor: grabbing; }
.view img { position: absolute; left: 0; top: 0; width: 100%; height: 100%; object-fit: contain;
            transform-origin: 0 0; image-orientation: none; }
.view img[hidden] { display: none; }
.view.pixelated img { image-rendering: pixelated; }
.controls { display: flex; gap: .8em; justify-content: center; margin: .8em 0; flex-wrap: wrap; }
.controls.small { font-size: .9em; }
button { font: inherit; padding: .45em 1em; border-radius: 6px; border: 1px solid #555; background: #3a3c42;
         color: #eee; cursor: pointer; }
button.choice { font-size: 1.1em; min-width: 10em; }
button:disabled { opacity: .45; cursor: default; }
kbd { font-size: .8em; border: 1px solid #777; border-radius: 3px; padding: 0 .3em; margin-left: .3em; }
#error { color: #ff8a80; }
input { font: inherit; padding: .3em; }
"""

APP_JS = r"""
"use strict";
(function () {
  const KEY = "paradigm.annotate.rater";
  const $ = (id) => document.getElementById(id);
  const state = { rater: null, trial: null, t0: null, busy: false, zoom: { s: 1, x: 0, y: 0 },
                  flipSide: "a", flicker: null };

  function show(id) {
    for (const s of ["login", "study", "done"]) { $(s).hidden = (s !== id); }
  }
  function error(msg) { $("error").textContent = msg || ""; }

  async function api(path, body) {
    let lastErr = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const r = await fetch(path, { method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        const data = await r.json().catch(() => ({}));
        if (!r.ok) { throw new Error(data.error || ("server answered " + r.status)); }
        return data;
      } catch (e) {
        lastErr = e;
        if (e instanceof TypeError) { await new Promise((ok) => setTimeout(ok, 500 * (attempt + 1))); continue; }
        throw e;
      }
    }
    throw lastErr;
  }

  // ------------------------------------------------------------------ rater id
  function start() {
    const r = localStorage.getItem(KEY);
    if (!r) { show("login"); $("rater-input").focus(); return; }
    state.rater = r;
    $("rater-label").textContent = "rater: " + r;
    $("switch-rater").hidden = false;
    next();
  }
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const r = $("rater-input").value.trim();
    if (!r) { return; }
    localStorage.setItem(KEY, r);
    start();
  });
  $("switch-rater").addEventListener("click", () => {
    localStorage.removeItem(KEY);
    state.rater = null; state.trial = null;
    $("rater-label").textContent = ""; $("switch-rater").hidden = true; $("progress").textContent = "";
    stopFlicker(); show("login");
  });

  // ------------------------------------------------------------------ trials
  function setButtons(on) {
    for (const b of document.querySelectorAll("button.choice")) { b.disabled = !on; }
    $("flip").disabled = !on;
  }
  function loaded(img) {
    if (img.complete && img.naturalWidth > 0) { return Promise.resolve(); }
    return new Promise((ok, fail) => {
      img.onload = () => ok();
      img.onerror = () => fail(new Error("an image failed to load"));
    });
  }
  async function next() {
    error(""); setButtons(false); state.t0 = null;
    let data;
    try { data = await api("api/next", { rater: state.rater }); }
    catch (e) {
      if (/rater id/.test(e.message)) { localStorage.removeItem(KEY); show("login"); }
      error(e.message); return;
    }
    const p = data.progress;
    $("progress").textContent = p.answered + " / " + p.total;
    if (data.done) { stopFlicker(); show("done"); return; }
    state.trial = data.trial;
    show("study");
    $("reference-name").textContent = "Image: " + data.trial.reference;
    const imgs = data.trial.images;
    const els = { ref: $("img-ref"), a: $("img-a"), b: $("img-b") };
    const pending = [];
    for (const k of ["ref", "a", "b"]) { els[k].src = imgs[k]; pending.push(loaded(els[k])); }
    $("img-flip-a").src = imgs.a; $("img-flip-b").src = imgs.b;
    resetZoom();
    setFlip("a");
    try { await Promise.all(pending); }
    catch (e) { error(e.message + " - reload the page to try again"); return; }
    const ref = els.ref;
    for (const v of document.querySelectorAll(".view")) {
      v.style.aspectRatio = ref.naturalWidth + " / " + ref.naturalHeight;
    }
    state.t0 = performance.now();
    setButtons(true);
  }
  async function answer(choice) {
    if (!state.trial || state.t0 === null || state.busy) { return; }
    state.busy = true; setButtons(false);
    const ms = Math.round(performance.now() - state.t0);
    try {
      await api("api/answer", { rater: state.rater, trial_id: state.trial.id, choice: choice, time_ms: ms });
      document.body.dataset.answered = String(Number(document.body.dataset.answered || 0) + 1);
      await next();
    } catch (e) { error(e.message); setButtons(true); }
    finally { state.busy = false; }
  }
  for (const b of document.querySelectorAll("button.choice")) {
    b.addEventListener("click", () => answer(b.dataset.choice));
  }

  // ------------------------------------------------------------------ toggle / flicker view
  function setFlip(side) {
    state.flipSide = side;
    $("img-flip-a").hidden = side !== "a";
    $("img-flip-b").hidden = side !== "b";
    $("flip-label").textContent = side === "a" ? "A" : "B";
  }
  function setToggleView(on) {
    $("toggle-view").checked = on;
    $("pane-a").hidden = on; $("pane-b").hidden = on; $("pane-flip").hidden = !on;
    $("panes").classList.toggle("flip", on);
    if (!on) { stopFlicker(); }
  }
  function stopFlicker() {
    if (state.flicker) { clearInterval(state.flicker); state.flicker = null; }
    $("flicker").checked = false;
  }
  function setFlicker(on) {
    stopFlicker();
    if (on) {
      setToggleView(true);
      $("flicker").checked = true;
      state.flicker = setInterval(() => setFlip(state.flipSide === "a" ? "b" : "a"), 600);
    }
  }
  $("toggle-view").addEventListener("change", (ev) => setToggleView(ev.target.checked));
  $("flicker").addEventListener("change", (ev) => setFlicker(ev.target.checked));
  $("flip").addEventListener("click", () => { setToggleView(true); setFlip(state.flipSide === "a" ? "b" : "a"); });
  $("flip-view").addEventListener("dblclick", () => setFlip(state.flipSide === "a" ? "b" : "a"));

  // ------------------------------------------------------------------ synchronised zoom / pan
  function applyZoom() {
    const z = state.zoom;
    const t = "translate(" + z.x + "px," + z.y + "px) scale(" + z.s + ")";
    for (const img of document.querySelectorAll(".view img")) { img.style.transform = t; }
    for (const v of document.querySelectorAll(".view")) { v.classList.toggle("pixelated", z.s >= 2); }
  }
  function resetZoom() { state.zoom = { s: 1, x: 0, y: 0 }; applyZoom(); }
  function zoomAt(factor, cx, cy) {
    const z = state.zoom;
    const s = Math.min(32, Math.max(1, z.s * factor));
    const k = s / z.s;
    z.x = cx - (cx - z.x) * k; z.y = cy - (cy - z.y) * k; z.s = s;
    if (s === 1) { z.x = 0; z.y = 0; }
    applyZoom();
  }
  function zoomCentre(factor) {
    const v = document.querySelector(".view");
    zoomAt(factor, v.clientWidth / 2, v.clientHeight / 2);
  }
  for (const v of document.querySelectorAll(".view")) {
    v.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const r = v.getBoundingClientRect();
      zoomAt(ev.deltaY < 0 ? 1.25 : 0.8, ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });
    v.addEventListener("pointerdown", (ev) => {
      v.setPointerCapture(ev.pointerId); v.classList.add("dragging");
      let lx = ev.clientX, ly = ev.clientY;
      const move = (e) => { state.zoom.x += e.clientX - lx; state.zoom.y += e.clientY - ly;
                            lx = e.clientX; ly = e.clientY; applyZoom(); };
      const up = () => { v.classList.remove("dragging"); v.removeEventListener("pointermove", move);
                         v.removeEventListener("pointerup", up); v.removeEventListener("pointercancel", up); };
      v.addEventListener("pointermove", move); v.addEventListener("pointerup", up);
      v.addEventListener("pointercancel", up);
    });
  }
  $("zoom-in").addEventListener("click", () => zoomCentre(1.5));
  $("zoom-out").addEventListener("click", () => zoomCentre(1 / 1.5));
  $("zoom-reset").addEventListener("click", resetZoom);

  // ------------------------------------------------------------------ keys
  document.addEventListener("keydown", (ev) => {
    if (ev.target && ev.target.tagName === "INPUT" && ev.target.type !== "checkbox") { return; }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if ($("study").hidden) { return; }
    const k = ev.key;
    let handled = true;
    if (k === "1" || k === "ArrowLeft") { answer("a"); }
    else if (k === "2" || k === "ArrowDown") { answer("tie"); }
    else if (k === "3" || k === "ArrowRight") { answer("b"); }
    else if (k === "t" || k === "T") { setToggleView(!$("toggle-view").checked); }
    else if (k === " ") { setToggleView(true); setFlip(state.flipSide === "a" ? "b" : "a"); }
    else if (k === "f" || k === "F") { setFlicker(!state.flicker); }
    else if (k === "+" || k === "=") { zoomCentre(1.5); }
    else if (k === "-") { zoomCentre(1 / 1.5); }
    else if (k === "0") { resetZoom(); }
    else { handled = false; }
    if (handled) { ev.preventDefault(); }
  });

  start();
})();
"""


def index_html(title: str) -> str:
    """The page with ``title`` (HTML-escaped) filled in."""
    return INDEX_HTML.format(title=html.escape(title, quote=True))
