"""gifquant: re-encode animations with few colours, seeding each frame's k-means from the last.

The public surface: ``convert`` (a file, as the command does), ``batch`` (many files, in
worker processes or on a Dask cluster) and ``quantize`` (frames in memory, or an
``Animation`` that plays in a notebook); the quantizer (``QuantizeOptions``,
``TemporalQuantizer``), the clustering (``kmeans``), the metrics (``QualityMeter``) and the
command line (``main``). They are imported on first use: importing gifquant loads nothing
else, and the command (``_command.py``) can handle signals and start ffmpeg before numpy loads.
Every module is private; ``__all__`` is the public surface.
"""

import importlib as _importlib

from ._version import __version__

_LAZY = {
    "convert": "._run.convert",
    "batch": "._run.batch",
    "BatchReport": "._run.batch",
    "FileRecord": "._run.batch",
    "ConvertReport": "._run.once",
    "Stats": "._run.once",
    "quantize": "._run.arrays",
    "Animation": "._run.display",
    "palette": "._pictures.palette",
    "compare": "._pictures.grid",
    "CompareReport": "._pictures.grid",
    "Palette": "._pictures.model",
    "PaletteReport": "._pictures.palette",
    "GifquantError": "._errors",
    "ClipInfo": "._core.frames",
    "Frame": "._core.frames",
    "QuantizedFrame": "._core.frames",
    "KMeansResult": "._core.kmeans",
    "kmeans": "._core.kmeans",
    "QualityMeter": "._core.metrics",
    "QuantizeOptions": "._core.options",
    "Settings": "._run.settings",
    "TemporalQuantizer": "._core.temporal",
}

__all__ = ["__version__", "main", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name], __name__), name)
        value.__module__ = __name__  # public here, wherever it is defined (as httpx does)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gifquant' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def main(argv=None) -> int:
    """Run the command line (see ``gifquant --help``); returns the exit code."""
    from ._cli import main as _main

    return _main(argv)
