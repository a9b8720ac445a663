"""``python -m paradigm.metrics.manifest --write|--check``: regenerate or check the committed manifest.

The manifest (``paradigm/metrics/manifest.json``, see :mod:`paradigm.metrics.spec`) is the specs of
every metric registered by paradigm's own modules; a test and CI keep it in sync with the classes.
"""

from __future__ import annotations

import argparse
import sys

from .registry import get_metric_class, list_metrics
from .spec import MANIFEST_PATH, Manifest, build_manifest, manifest_text


def registered_manifest() -> Manifest:
    """The manifest of the metrics registered right now (imports torch and every metric module)."""
    return build_manifest(get_metric_class(n).spec() for n in list_metrics())


def main(argv: list[str] | None = None) -> int:
    """Regenerate (``--write``) or check (``--check``, exit 1 when stale) the committed manifest."""
    ap = argparse.ArgumentParser(prog="python -m paradigm.metrics.manifest", description=main.__doc__)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", action="store_true", help="write paradigm/metrics/manifest.json")
    g.add_argument("--check", action="store_true", help="exit 1 when the committed manifest is stale")
    args = ap.parse_args(argv)
    text = manifest_text(registered_manifest())
    if args.write:
        MANIFEST_PATH.write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {MANIFEST_PATH}\n")
        return 0
    current = MANIFEST_PATH.read_text(encoding="utf-8") if MANIFEST_PATH.is_file() else ""
    if current != text:
        sys.stderr.write(f"{MANIFEST_PATH} is stale; run `python -m paradigm.metrics.manifest --write`\n")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
