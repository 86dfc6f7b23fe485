"""Time gifquant's building blocks per frame on real frames, and the whole pipeline end to end.

Usage: python scripts/profile_stages.py [--frames 60] [--k 16] [--only stages|pipeline]

Frames come from ``../shared/corpus/cockatoo.mp4`` (first N frames, 1280x720, decoded with the
bundled ffmpeg) and ``newtonscradle.gif`` (through gifquant's own reader). Prints milliseconds per
frame (median over frames) for each primitive, then the pipeline's wall time with and without
quality measurement. A benchmark, not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import io
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gifquant import colour, metrics, quantize
from gifquant.frames import Frame
from gifquant.io.gif import GifWriter, encode_frame
from gifquant.io.image import ImageReader
from gifquant.pipeline import run
from gifquant.quantize import QuantizeOptions, TemporalQuantizer

# gifquant re-exports the function kmeans, which shadows the module of the same name.
kmeans = importlib.import_module("gifquant.kmeans")
CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


def decode_video(path: Path, n: int) -> list[np.ndarray]:
    """The first ``n`` frames of a video as (h, w, 4) uint8, via the bundled ffmpeg."""
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    probe = subprocess.run([exe, "-i", str(path)], capture_output=True, text=True).stderr
    import re

    w, h = map(int, re.search(r"Video:.*?(\d{2,5})x(\d{2,5})", probe).groups())
    cmd = [exe, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgba"]
    raw = subprocess.run(cmd + ["-frames:v", str(n), "-"], capture_output=True, check=True).stdout
    arr = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 4)
    return [a.copy() for a in arr]


def per_frame(fn: Callable[[int], object], n: int, repeat: int = 1) -> float:
    """Median CPU milliseconds (all threads of the process) of ``fn(i)`` over frames i < n.

    CPU time rather than wall time: other jobs on a shared machine inflate wall time.
    """
    times = []
    for i in range(n):
        best = np.inf
        for _ in range(repeat):
            t = time.process_time()
            fn(i)
            best = min(best, time.process_time() - t)
        times.append(best)
    return 1000.0 * float(np.median(times))


def stages(name: str, frames: list[np.ndarray], k: int) -> None:
    n = len(frames)
    print(f"\n== {name}: {n} frames {frames[0].shape[1]}x{frames[0].shape[0]}, k={k}")
    rows: list[tuple[str, float]] = []
    src = [quantize.distinct_colours(f) for f in frames]
    rows.append(("distinct_colours", per_frame(lambda i: quantize.distinct_colours(frames[i]), n)))
    if hasattr(quantize, "ColourIndexer"):
        ix = quantize.ColourIndexer()
        rows.append(("ColourIndexer.distinct", per_frame(lambda i: ix.distinct(frames[i]), n)))
    print(f"   distinct colours per frame: median {int(np.median([len(s.colours) for s in src]))}")
    rows.append(
        (
            "colour_histogram(5)",
            per_frame(lambda i: quantize.colour_histogram(src[i].colours, src[i].counts, 5), n),
        )
    )
    rows.append(
        ("to_space lab (distinct)", per_frame(lambda i: colour.to_space(src[i].colours, "lab"), n))
    )
    rows.append(
        (
            "to_space oklab (distinct)",
            per_frame(lambda i: colour.to_space(src[i].colours, "oklab"), n),
        )
    )
    exact = [colour.to_space(s.colours, "lab").astype(np.float64) for s in src]
    hist = [quantize.colour_histogram(s.colours, s.counts, 5) for s in src]
    fit = [(colour.to_space(m, "lab").astype(np.float64), w) for m, w in hist]
    print(f"   histogram points per frame: median {int(np.median([len(w) for _, w in fit]))}")
    rng = np.random.default_rng(0)
    rows.append(
        (
            f"init_centers k++ k={k} (hist)",
            per_frame(
                lambda i: kmeans.init_centers(
                    fit[i][0], fit[i][1], k, method="kmeans++", metric="euclidean", rng=rng
                ),
                min(n, 10),
            ),
        )
    )
    rows.append(
        (
            "init_centers k++ k=256 (hist)",
            per_frame(
                lambda i: kmeans.init_centers(
                    fit[i][0], fit[i][1], 256, method="kmeans++", metric="euclidean", rng=rng
                ),
                min(n, 5),
            ),
        )
    )
    cents = [
        kmeans.init_centers(x, w, k, method="kmeans++", metric="euclidean", rng=rng) for x, w in fit
    ]
    rows.append(
        (
            "assign hist euclid",
            per_frame(lambda i: kmeans.assign(fit[i][0], cents[i], "euclidean"), n),
        )
    )
    rows.append(
        (
            "assign hist manhattan",
            per_frame(lambda i: kmeans.assign(fit[i][0], cents[i], "manhattan"), n),
        )
    )
    rows.append(
        (
            "assign exact euclid",
            per_frame(lambda i: kmeans.assign(exact[i], cents[i], "euclidean"), n),
        )
    )
    rows.append(
        (
            "assign exact manhattan",
            per_frame(lambda i: kmeans.assign(exact[i], cents[i], "manhattan"), n),
        )
    )
    labs = [kmeans.assign(x, c, "euclidean")[0] for (x, _), c in zip(fit, cents, strict=True)]
    rows.append(
        (
            "_update hist euclid",
            per_frame(
                lambda i: kmeans._update(fit[i][0], fit[i][1], labs[i], cents[i], "euclidean"), n
            ),
        )
    )
    rows.append(
        (
            "weighted_medians hist",
            per_frame(lambda i: kmeans.weighted_medians(fit[i][0], fit[i][1], labs[i], k), n),
        )
    )
    rows.append(
        (
            "_lloyd hist 10 it",
            per_frame(
                lambda i: kmeans._lloyd(
                    fit[i][0], fit[i][1], cents[i], metric="euclidean", max_iter=10, tol=0
                ),
                n,
            ),
        )
    )
    rows.append(("from_space lab", per_frame(lambda i: colour.from_space(cents[i], "lab"), n)))
    for space in ("lab", "oklab"):
        opts = QuantizeOptions(k=k, space=space)
        q = TemporalQuantizer(opts)
        res = []

        def qfn(i: int, q=q, res=res) -> None:
            res.append(q.quantize(frames[i]))

        rows.append((f"TemporalQuantizer.quantize {space}", per_frame(qfn, n)))
        if space == "lab":
            qres = res
    out_rgb = [r.frame.rgb() for r in qres]
    rows.append(("QuantizedFrame.rgb", per_frame(lambda i: qres[i].frame.rgb(), n)))
    rows.append(
        ("lab_image (source)", per_frame(lambda i: metrics.lab_image(frames[i][..., :3]), n))
    )
    rows.append(("lab_image (output)", per_frame(lambda i: metrics.lab_image(out_rgb[i]), n)))
    meter = metrics.QualityMeter()
    rows.append(
        (
            "QualityMeter.update",
            per_frame(
                lambda i: meter.update(frames[i][..., :3], out_rgb[i], frames[i][..., 3] >= 128), n
            ),
        )
    )
    if hasattr(metrics.QualityMeter, "update_indexed"):
        meter2 = metrics.QualityMeter()

        def indexed(i: int) -> None:
            s, f = qres[i].source, qres[i].frame
            meter2.update_indexed(s.colours, s.inverse, s.opaque, f.indices, f.palette)

        rows.append(("QualityMeter.update_indexed", per_frame(indexed, n)))
    rows.append(
        (
            "encode_frame",
            per_frame(
                lambda i: encode_frame(
                    qres[i].frame.indices, qres[i].frame.palette, qres[i].frame.transparent
                ),
                n,
            ),
        )
    )
    for label, ms in rows:
        print(f"   {label:34s} {ms:8.2f} ms/frame")


def pipeline(frames: list[np.ndarray], k: int, repeat: int = 3) -> None:
    print(f"\n== pipeline: {len(frames)} frames, k={k}")

    class Sink:
        def __init__(self) -> None:
            self.w = GifWriter(io.BytesIO(), frames[0].shape[1], frames[0].shape[0])

        def write(self, fr) -> None:
            self.w.write(fr)

    params = [("measure", {"measure": True}), ("-q", {"measure": False})]
    kw = dataclasses.fields(QuantizeOptions)
    del kw
    import inspect

    if "threads" in inspect.signature(run).parameters:
        params += [
            ("measure, no threads", {"measure": True, "threads": False}),
            ("-q, no threads", {"measure": False, "threads": False}),
        ]
    for label, extra in params:
        times, cpu = [], []
        for _ in range(repeat):
            sink = Sink()
            t, c = time.perf_counter(), time.process_time()
            run((Frame(f, 0.04) for f in frames), sink, QuantizeOptions(k=k), **extra)
            sink.w.close()
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        print(
            f"   {label:24s} wall {np.median(times):6.2f} s (min {min(times):.2f}), "
            f"cpu {np.median(cpu):6.2f} s"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--only", choices=("stages", "pipeline"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    t = time.perf_counter()
    cock = decode_video(CORPUS / "cockatoo.mp4", args.frames)
    print(f"decode cockatoo ({len(cock)} frames, ffmpeg rawvideo): {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    with ImageReader(str(CORPUS / "newtonscradle.gif"), name="n", max_pixels=10**9) as r:
        newton = [f.rgba for f in r][: args.frames]
    print(f"decode newtonscradle (Pillow reader): {time.perf_counter() - t:.2f} s")
    if args.only != "pipeline":
        stages("cockatoo.mp4", cock, args.k)
        stages("newtonscradle.gif", newton, args.k)
    if args.only != "stages":
        pipeline(cock, args.k, args.repeat)


if __name__ == "__main__":
    main()
