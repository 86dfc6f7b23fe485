"""Package shape: the pure core stays pure, the exported names are the documented ones."""

from __future__ import annotations

import subprocess
import sys

import gifquant


def test_pure_core_imports_no_io_libraries():
    code = (
        "import sys; import gifquant.kmeans, gifquant.metrics, gifquant.quantize, "
        "gifquant.colour; bad = [m for m in ('imageio', 'cv2', 'tqdm', 'PIL') if m in sys.modules];"
        "print(','.join(bad))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""


def test_exported_names():
    assert set(gifquant.__all__) == {
        "__version__",
        "ClipInfo",
        "Frame",
        "KMeansResult",
        "QualityMeter",
        "QuantizeOptions",
        "QuantizedFrame",
        "TemporalQuantizer",
        "kmeans",
        "main",
    }
    for name in gifquant.__all__:
        assert hasattr(gifquant, name)
