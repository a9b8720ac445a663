"""The worked examples of docs/extending.md run as written (in a subprocess: the registry stays clean)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def example(marker: str) -> str:
    """The first ```python block after ``<!-- example:MARKER -->`` in docs/extending.md."""
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf"<!-- example:{marker} -->\s*```python\n(.*?)```", text, re.S)
    assert m, f"docs/extending.md lacks the example {marker!r}"
    return m.group(1)


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
