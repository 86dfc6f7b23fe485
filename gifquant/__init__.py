"""gifquant: re-encode animations with few colours, seeding each frame's k-means from the last.

The public surface: the quantizer (``QuantizeOptions``, ``TemporalQuantizer``), the clustering
(``kmeans``), the metrics (``QualityMeter``) and the command line (``main``).
"""

from ._version import __version__
from .frames import ClipInfo, Frame, QuantizedFrame
from .kmeans import KMeansResult, kmeans
from .metrics import QualityMeter
from .quantize import QuantizeOptions, TemporalQuantizer

__all__ = [
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
]


def main(argv=None) -> int:
    """Run the command line (see ``gifquant --help``); returns the exit code."""
    from .cli import main as _main

    return _main(argv)
