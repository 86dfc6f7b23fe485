"""Package shape: the pure core stays pure, the exported names are the documented ones."""

from __future__ import annotations

import importlib
import subprocess
import sys

import gifquant


def test_pure_core_imports_no_io_libraries():
    code = (
        "import sys; import gifquant._kmeans, gifquant._metrics, gifquant._temporal, "
        "gifquant._colour, gifquant._options, gifquant._transfer, gifquant._representative; "
        "bad = [m for m in ('imageio', 'cv2', 'tqdm', 'PIL') if m in sys.modules];"
        "print(','.join(bad))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""


def test_exported_names():
    assert set(gifquant.__all__) == {
        "__version__",
        "Animation",
        "BatchReport",
        "FileRecord",
        "ClipInfo",
        "CompareReport",
        "Palette",
        "PaletteReport",
        "ConvertReport",
        "Frame",
        "GifquantError",
        "KMeansResult",
        "QualityMeter",
        "QuantizeOptions",
        "QuantizedFrame",
        "Stats",
        "TemporalQuantizer",
        "compare",
        "batch",
        "convert",
        "kmeans",
        "main",
        "palette",
        "quantize",
    }
    for name in gifquant.__all__:
        assert getattr(gifquant, name).__doc__ or name == "__version__", name
    # Once every module is loaded, the public names are exactly __all__: the modules are
    # private (_kmeans, _io, ...), and no module shadows a function of the same name.
    importlib.import_module("gifquant._cli")  # loads the whole package
    assert callable(gifquant.quantize) and callable(gifquant.convert)
    public = {n for n in vars(gifquant) if not n.startswith("_")}
    assert public <= set(gifquant.__all__) and set(gifquant.__all__) <= set(dir(gifquant))
