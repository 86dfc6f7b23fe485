"""Peak memory of gifquant runs, two sections:

- ``length``: the whole of bottle-detection.mp4 against its first 119 frames. Frames stream
  from ffmpeg one at a time, so the peak should not grow with the clip's length.
- ``large``: two 4000x4000 frames of uniform RGB noise (y4m 4:4:4, made in a temporary
  directory) to GIF, y4m and mp4, and to GIF with ``--stats``: peak RSS, bytes per frame pixel
  over an import-only run, and PASS/FAIL against the budget of 16 bytes a pixel + 200 MB.

Each run is a fresh ``python -m gifquant`` child; its resident set and those of its children
(ffmpeg, the GIF encoder process) are summed by polling /proc (Linux), and ru_maxrss of the
largest process is shown beside it.

    python scripts/bench_memory.py [--section length|large|all] [CORPUS_DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = "bottle-detection.mp4"
SHORT_FRAMES = 119
TARGET_RATIO = 1.3


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    """Child processes of every thread of ``pid`` (ffmpeg is started from a worker thread)."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def _tree_rss_kib(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _rss_kib(p)
        todo.extend(_children(p))
    return total


def measure(argv: list[str], *, interval: float = 0.02) -> tuple[int, int, float]:
    """Run ``argv``; return (peak summed RSS of its process tree, ru_maxrss of the largest
    descendant, both KiB; wall seconds). Runs in a fresh child, so ru_maxrss is its own."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_kib(proc.pid))
        time.sleep(interval)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}")
    return peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, seconds


def _measure_fresh(
    extra: list[str], clip: Path, out: Path, *, argv: list[str] | None = None
) -> tuple[int, int, float]:
    """One run measured from a fresh interpreter, so RUSAGE_CHILDREN holds this run alone
    (``argv``: that command instead of gifquant on ``clip``)."""
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); from bench_memory import measure; "
        "print(json.dumps(measure(sys.argv[2:])))"
    )
    if argv is None:
        argv = [sys.executable, "-m", "gifquant", str(clip), str(out), "-k", "16", "-y", "-q"]
        argv += extra
    r = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    peak, maxrss, seconds = json.loads(r.stdout.strip().splitlines()[-1])
    return peak, maxrss, seconds


def memory_section(corpus_dir: str | Path) -> list[str]:
    """Printable lines: peak RSS on the whole clip vs its first 119 frames, and the ratio."""
    clip = Path(corpus_dir) / CLIP
    if not clip.exists():
        return [f"memory: {clip} not present, skipped"]
    lines = [f"memory: python -m gifquant {CLIP} out.gif -k 16 (peak RSS, gifquant + ffmpeg)"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.gif"
        short = _measure_fresh(["--frames", str(SHORT_FRAMES)], clip, out)
        whole = _measure_fresh([], clip, out)
    for label, (peak, maxrss, seconds) in (
        (f"first {SHORT_FRAMES} frames", short),
        ("whole clip (1189 frames)", whole),
    ):
        lines.append(
            f"  {label:<26} {peak / 1024:7.1f} MiB  (largest process {maxrss / 1024:.1f} MiB, "
            f"{seconds:.1f} s)"
        )
    ratio = whole[0] / short[0] if short[0] else float("nan")
    verdict = "ok" if ratio <= TARGET_RATIO else f"over the {TARGET_RATIO} target"
    lines.append(f"  ratio whole / first {SHORT_FRAMES}: {ratio:.2f} ({verdict})")
    return lines


# The large-frame budget: bytes per frame pixel, and a constant (tables, libraries, ffmpeg).
LARGE_SIDE = 4000
LARGE_FRAMES = 2
BYTES_PER_PIXEL = 16
CONSTANT_BYTES = 200_000_000


def write_noise_y4m(path: Path, side: int = LARGE_SIDE, n_frames: int = LARGE_FRAMES) -> None:
    """``n_frames`` frames of ``side`` x ``side`` uniform RGB noise as y4m 4:4:4 (full range)."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from gifquant._io.y4m import rgb_to_yuv444

    rng = np.random.default_rng(0)
    band = 256
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{side} H{side} F25:1 Ip A1:1 C444 XCOLORRANGE=FULL\n".encode())
        for _ in range(n_frames):
            planes = np.empty((3, side, side), np.uint8)
            for top in range(0, side, band):
                rgb = rng.integers(0, 256, (min(band, side - top), side, 3), dtype=np.uint8)
                planes[:, top : top + band] = rgb_to_yuv444(rgb)
            f.write(b"FRAME\n")
            f.write(planes.data)


def large_section(*, outputs: tuple[str, ...] = ("gif", "y4m", "mp4", "gif --stats")) -> list[str]:
    """Printable lines: peak RSS of 2 frames of 4000x4000 noise to each output, against the
    budget of 16 bytes a pixel + 200 MB."""
    pixels = LARGE_SIDE * LARGE_SIDE
    limit = BYTES_PER_PIXEL * pixels + CONSTANT_BYTES
    lines = [
        f"large frames: {LARGE_FRAMES} frames of {LARGE_SIDE}x{LARGE_SIDE} noise (y4m 4:4:4), "
        f"-k 16; budget {BYTES_PER_PIXEL} B/px + {CONSTANT_BYTES / 1e6:.0f} MB = "
        f"{limit / 1e6:.0f} MB"
    ]
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "noise.y4m"
        write_noise_y4m(clip)
        base = _measure_fresh([], clip, clip, argv=[sys.executable, "-c", "import gifquant._cli"])
        lines.append(f"  {'import only':<16} {base[0] / 1024:7.1f} MiB")
        for spec in outputs:
            ext, *extra = spec.split()
            # --stats is measured only without -q: run it with its report (to DEVNULL).
            argv = [sys.executable, "-m", "gifquant", str(clip), str(Path(tmp) / f"out.{ext}")]
            argv += ["-k", "16", "-y", *extra] + ([] if "--stats" in extra else ["-q"])
            try:
                peak, maxrss, seconds = _measure_fresh([], clip, clip, argv=argv)
            except subprocess.CalledProcessError as exc:
                lines.append(f"  {spec:<16} failed: {exc.stderr.strip().splitlines()[-1:]}")
                continue
            per_px = (peak - base[0]) * 1024 / pixels
            verdict = "PASS" if peak * 1024 <= limit else "FAIL"
            lines.append(
                f"  {spec:<16} {peak / 1024:7.1f} MiB  {per_px:5.1f} B/px  {verdict}  "
                f"(largest process {maxrss / 1024:.1f} MiB, {seconds:.1f} s)"
            )
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default=str(ROOT.parent / "shared" / "corpus"))
    parser.add_argument("--section", choices=("length", "large", "all"), default="length")
    args = parser.parse_args()
    if args.section in ("length", "all"):
        print("\n".join(memory_section(args.corpus)))
    if args.section in ("large", "all"):
        print("\n".join(large_section()))
