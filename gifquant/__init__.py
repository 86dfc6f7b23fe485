"""gifquant: re-encode animations with few colours, seeding each frame's k-means from the last.

The public surface: the quantizer (``QuantizeOptions``, ``TemporalQuantizer``), the clustering
(``kmeans``), the metrics (``QualityMeter``) and the command line (``main``).
"""

import sys as _sys

from .io import prestart as _prestart

# When this process is the gifquant command reading a video, ffmpeg starts now, beside the
# imports below (~0.2 s); see io/prestart.py. Nothing happens for a program importing gifquant.
if _prestart.is_command_line():
    _prestart.begin(_sys.argv[1:])

from ._version import __version__  # noqa: E402
from .frames import ClipInfo, Frame, QuantizedFrame  # noqa: E402
from .kmeans import KMeansResult, kmeans  # noqa: E402
from .metrics import QualityMeter  # noqa: E402
from .quantize import QuantizeOptions, TemporalQuantizer  # noqa: E402

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
