"""Memory of large frames (issue 13, item 20): a frame of noise, whose distinct colours are
nearly as many as its pixels, must cost a few bytes a pixel, not ~50 to ~100.

The numbers of record are in ``scripts/bench_memory.py --section large`` (2 x 4000x4000).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from gifquant._core.distinct import frame_colours
from gifquant._core.temporal import QuantizeOptions, TemporalQuantizer
from gifquant._io.y4m import rgb_to_yuv444, yuv_to_rgba

ROOT = Path(__file__).resolve().parents[1]
MiB = 1 << 20


def _noise_yuv(rng: np.random.Generator, side: int) -> np.ndarray:
    """Uniform RGB noise as Y, Cb, Cr planes (3, side, side) uint8, full range."""
    return rgb_to_yuv444(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))


def test_numeric_core_working_set_of_large_noise_frames():
    # Deterministic: what numpy allocates (tracemalloc) while two frames of noise are split
    # into colours, planned and painted. Here 75% of the pixels have a colour of their own, so
    # the per-colour arrays weigh almost as much as per-pixel ones. Before issue 13's item 20
    # the peak was 165 B/px; now 54, of which 28 are the 64 MiB colour -> index table (a frame
    # of over 65536 colours).
    side = 1536
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(2):
        y, u, v = _noise_yuv(rng, side).astype(np.float32)
        frames.append(yuv_to_rgba(y, u, v, full_range=True))
    opts = QuantizeOptions(k=16)
    q = TemporalQuantizer(opts)
    tracemalloc.start()
    try:
        for rgba in frames:
            fc = frame_colours(rgba, opts, opaque=True)
            res = q.paint(q.plan(None, prepared=fc))
            del fc, res
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    pixels = side * side
    table = 64 * MiB  # the int32 colour -> index table, one per frame here
    assert peak <= 40 * pixels + table, f"{peak / pixels:.1f} B/px"


_RUN = """
import json, resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(json.dumps([r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))
"""


def _max_rss(argv: list[str]) -> int:
    """ru_maxrss (bytes) of the largest process ``argv`` started, measured from a fresh child."""
    out = subprocess.run(
        [sys.executable, "-c", _RUN, *argv], capture_output=True, text=True, check=True, cwd=ROOT
    )
    rc, kib = json.loads(out.stdout.strip().splitlines()[-1])
    assert rc == 0, argv
    return kib * 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB on Linux")
def test_cli_peak_memory_of_two_large_noise_frames(tmp_path):
    # End to end, a fresh process: 2 frames of 2048x2048 noise (y4m 4:4:4, 62% of the pixels a
    # colour of their own) to GIF. Before issue 13's item 20 the largest process peaked 790 MiB
    # over an import-only run; now ~190 MiB. (The budget of 16 B/px + 200 MB is met at
    # 4000x4000, where a quarter of the pixels have a colour of their own: see the bench.)
    side = 2048
    clip = tmp_path / "noise.y4m"
    rng = np.random.default_rng(0)
    with open(clip, "wb") as f:
        f.write(f"YUV4MPEG2 W{side} H{side} F25:1 Ip C444 XCOLORRANGE=FULL\n".encode())
        for _ in range(2):
            f.write(b"FRAME\n" + _noise_yuv(rng, side).tobytes())
    base = _max_rss([sys.executable, "-c", "import gifquant._cli"])
    argv = [sys.executable, "-m", "gifquant", str(clip), str(tmp_path / "o.gif"), "-k", "16"]
    peak = _max_rss([*argv, "-q"])
    pixels = side * side
    assert peak - base <= 16 * pixels + 300 * MiB, f"{(peak - base) / MiB:.0f} MiB"
