"""Shared helpers of the ``paradigm annotate`` tests (tiny results trees, simulated raters, a live server).

Imported by the other ``test_annotate_*`` modules; its own tests check the helpers.
"""

from __future__ import annotations

import json
import math
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from paradigm.annotate.schedule import CATCH_GT, Scheduler
from paradigm.annotate.store import Store

METHODS = ("alpha", "beta", "gamma")


def make_tree(
    root: Path,
    methods: Sequence[str] = METHODS,
    n_images: int = 4,
    size: int = 16,
    task: str = "sr",
    dataset: str = "tiny",
    samples: Mapping[str, int] | None = None,
) -> tuple[Path, Path]:
    """Write ``root/gt/<task>/<dataset>/img<k>.png`` and ``root/results/<method>/<task>/<dataset>/img<k>.png``.

    Method ``j`` adds noise of growing strength (so the first method is best); ``samples`` gives a
    method several ``_s<k>`` samples. Returns ``(results, gt)``.
    """
    from PIL import Image

    rng = np.random.default_rng(0)
    gt = root / "gt" / task / dataset
    gt.mkdir(parents=True)
    res = root / "results"
    for k in range(n_images):
        base = rng.random((size, size, 3))
        Image.fromarray((base * 255).astype(np.uint8)).save(gt / f"img{k}.png")
        for j, m in enumerate(methods):
            d = res / m / task / dataset
            d.mkdir(parents=True, exist_ok=True)
            n = (samples or {}).get(m, 0)
            names = [f"img{k}.png"] if not n else [f"img{k}_s{s}.png" for s in range(n)]
            for name in names:
                img = np.clip(base + rng.normal(0, 0.05 * (j + 1), base.shape), 0, 1)
                Image.fromarray((img * 255).astype(np.uint8)).save(d / name)
    return res, root / "gt"


def simulate(
    store: Store,
    scheduler: Scheduler,
    raters: Mapping[str, float],
    strengths: Mapping[str, float],
    seed: int = 0,
    interleave: bool = True,
) -> int:
    """Let simulated raters answer until their sessions end; returns the number of answers.

    ``raters``: rater -> probability of answering a catch trial correctly (a careless rater also
    answers regular trials at random). Regular answers follow Bradley–Terry with ``strengths``.
    """
    rng = random.Random(seed)
    active = list(raters)
    n = 0
    while active:
        order = list(active)
        if interleave:
            rng.shuffle(order)
        for rater in order:
            rec = store.next_trial(rater, scheduler)
            if rec is None:
                active.remove(rater)
                continue
            care = raters[rater]
            if rec.kind == "catch":
                right = rec.catch_answer or "a"
                wrong = "b" if right == "a" else "a"
                winner = right if rng.random() < care else wrong
            elif care < 0.5:
                winner = rng.choice(["a", "b", "tie"])
            else:
                d = strengths[rec.method_a] - strengths[rec.method_b]
                p_a = 1.0 / (1.0 + math.exp(-d))
                winner = "a" if rng.random() < p_a else "b"
            store.answer(rater, rec.trial_id, winner, rng.randint(300, 5000))
            n += 1
    return n


def http(method: str, url: str, body: Any = None, headers: Mapping[str, str] | None = None,
         raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP request (no redirects followed); returns ``(status, headers, body)``."""
    data = raw
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: Any, **k: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@contextmanager
def live_server(study: Any) -> Iterator[str]:
    """Serve ``study`` on 127.0.0.1 (free port) in a thread; yields the base URL."""
    from paradigm.annotate.app import make_server

    server = make_server(study, "127.0.0.1", 0)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        t.join(5)


# ------------------------------------------------------------------------------------ tests
def test_make_tree_is_discovered(tmp_path):
    from paradigm.layout import discover

    res, gt = make_tree(tmp_path, samples={"gamma": 2})
    lay = discover(res, gt)
    assert lay.methods == list(METHODS)
    assert not lay.unpaired
    assert len(lay.pairs) == 4 * 2 + 4 * 2  # alpha, beta single; gamma two samples


def test_simulated_catch_answers_follow_care(tmp_path):
    from paradigm.annotate.schedule import Design, InputGroup

    design = Design(tuple(InputGroup(f"r{k}", {m: ("",) for m in METHODS}) for k in range(3)))
    sch = Scheduler(design, catch_rate=0.5, repeat_rate=0.0, max_trials=20)
    store = Store(tmp_path / "s.sqlite")
    simulate(store, sch, {"good": 1.0, "bad": 0.0}, {m: 0.0 for m in METHODS})
    recs = [r for r in store.records() if r.kind == "catch"]
    assert recs
    for r in recs:
        ok = preferred_gt(r.method_a, r.method_b, r.winner)
        assert ok == (r.rater == "good")


def preferred_gt(method_a: str, method_b: str, winner: str | None) -> bool:
    """Whether ``winner`` picked the GT side of a catch trial."""
    return (winner == "a" and method_a == CATCH_GT) or (winner == "b" and method_b == CATCH_GT)
