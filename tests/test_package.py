"""Package shape: the pure core stays pure, the exported names are the documented ones."""

from __future__ import annotations

import importlib
import subprocess
import sys

import gifquant


def test_pure_core_imports_no_io_libraries():
    code = (
        "import sys; import gifquant.kmeans, gifquant.metrics, gifquant.temporal, "
        "gifquant.colour; bad = [m for m in ('imageio', 'cv2', 'tqdm', 'PIL') if m in sys.modules];"
        "print(','.join(bad))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""


def test_exported_names():
    assert set(gifquant.__all__) == {
        "__version__",
        "Animation",
        "ClipInfo",
        "ConvertReport",
        "Frame",
        "GifquantError",
        "KMeansResult",
        "QualityMeter",
        "QuantizeOptions",
        "QuantizedFrame",
        "Stats",
        "TemporalQuantizer",
        "convert",
        "kmeans",
        "main",
        "quantize",
    }
    for name in gifquant.__all__:
        assert getattr(gifquant, name).__doc__ or name == "__version__", name
    # The functions stay functions once every module is loaded (no module of the same name).
    importlib.import_module("gifquant.cli")  # loads the whole package

    assert callable(gifquant.quantize) and callable(gifquant.convert)
    public = {n for n in vars(gifquant) if not n.startswith("_")} - {"main"}
    modules = {n for n in public if type(getattr(gifquant, n)).__name__ == "module"}
    assert public - modules <= set(gifquant.__all__)
