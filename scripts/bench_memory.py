"""Peak memory of gifquant runs, three sections:

- ``length``: the whole of bottle-detection.mp4 against its first 119 frames. Frames stream
  from ffmpeg one at a time, so the peak should not grow with the clip's length.
- ``large``: two 4000x4000 frames of uniform RGB noise (y4m 4:4:4, made in a temporary
  directory) to GIF, y4m and mp4, and to GIF with ``--stats``: peak RSS, bytes per frame pixel
  over an import-only run, and PASS/FAIL against the budget of 16 bytes a pixel + 200 MB.
- ``paths``: every way in and out of 4000x4000 frames, against the same budget: y4m noise to
  GIF, y4m, mp4 and GIF with ``--stats``; pure RGB noise as a 2-frame APNG and a still PNG to
  GIF; a 2-frame GIF to GIF; ``compare`` to GIF and mp4; ``palette``; and the Python API's
  ``quantize()`` of a (2, 4000, 4000, 3) array (counted without the input and the returned
  array, which the caller holds). Written as a markdown table with ``--markdown FILE``.

Each run is a fresh ``python -m gifquant`` child; its resident set and those of its children
(ffmpeg, the GIF encoder process) are summed by polling /proc (Linux) every 20 ms: the peak of
that sum is the figure (gifquant plus its children). Beside it, the sum of each process's own
peak (VmHWM, an upper bound: the peaks need not coincide) and ru_maxrss of the largest process.

    python scripts/bench_memory.py [--section length|large|paths|all] [CORPUS_DIR]
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


def _hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(_children(p))
    return found


def measure_tree(argv: list[str], *, interval: float = 0.02, env_extra: dict | None = None):
    """Run ``argv``; return (peak of the summed RSS of its process tree, the sum of each
    process's own peak RSS, both KiB; wall seconds). Linux only (/proc)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env_extra or {}))
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak, hwm = 0, {}
    while proc.poll() is None:
        pids = _tree(proc.pid)
        peak = max(peak, sum(_rss_kib(p) for p in pids))
        for p in pids:
            hwm[p] = max(hwm.get(p, 0), _hwm_kib(p))
        time.sleep(interval)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}: {err.strip()}")
    return peak, sum(hwm.values()), seconds


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


def write_noise_images(folder: Path, side: int = LARGE_SIDE) -> tuple[Path, Path, Path]:
    """Pure RGB noise (two thirds of the pixels a colour of their own): a 2-frame APNG, a
    still PNG, and a 2-frame GIF (256 random colours a frame); and a still PNG whose every
    pixel has a colour of its own."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    frames = [
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)) for _ in range(2)
    ]
    apng, png, gif = folder / "noise.apng", folder / "noise.png", folder / "noise.gif"
    frames[0].save(apng, format="PNG", save_all=True, append_images=frames[1:], duration=40)
    frames[0].save(png)
    paletted = [
        Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8), mode="P")
        for _ in range(2)
    ]
    for im in paletted:
        im.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
    paletted[0].save(gif, save_all=True, append_images=paletted[1:], duration=40, loop=0)
    # Every pixel a colour of its own: the most distinct colours a frame can have.
    codes = rng.permutation(1 << 24)[: side * side].astype(np.uint32)
    rgb = np.stack([(codes >> 16) & 255, (codes >> 8) & 255, codes & 255], -1).astype(np.uint8)
    distinct = folder / "distinct.png"
    Image.fromarray(rgb.reshape(side, side, 3)).save(distinct)
    return apng, png, gif, distinct


_QUANTIZE = """
import numpy as np, gifquant
rng = np.random.default_rng(0)
frames = rng.integers(0, 256, (2, {side}, {side}, 3), dtype=np.uint8)
out = gifquant.quantize(frames, k=16)
assert out.shape == frames.shape
"""


def paths_section(markdown: Path | None = None) -> list[str]:
    """Printable lines (and a markdown table in ``markdown``): the peak of gifquant plus its
    children on each path of 4000x4000 frames, against the budget of 16 B/px + 200 MB."""
    pixels = LARGE_SIDE * LARGE_SIDE
    limit = BYTES_PER_PIXEL * pixels + CONSTANT_BYTES
    gq = [sys.executable, "-m", "gifquant"]
    rows: list[tuple[str, float, float, float, bool]] = []
    lines = [
        f"paths: {LARGE_SIDE}x{LARGE_SIDE} frames, -k 16; peak of gifquant + children "
        f"(sum of each process's peak); budget {limit / 1e6:.0f} MB = {limit / 2**20:.0f} MiB"
    ]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        y4m = tmp / "noise.y4m"
        write_noise_y4m(y4m)
        apng, png, gif, distinct = write_noise_images(tmp)
        out = tmp / "out"
        cases = [
            ("y4m (2 frames) -> GIF", [*gq, y4m, f"{out}.gif", "-q"]),
            ("y4m -> y4m", [*gq, y4m, f"{out}.y4m", "-q"]),
            ("y4m -> mp4", [*gq, y4m, f"{out}.mp4", "-q"]),
            ("y4m -> GIF --stats", [*gq, y4m, f"{out}.gif", "--stats"]),
            ("APNG of RGB noise (2 frames) -> GIF", [*gq, apng, f"{out}.gif", "-q"]),
            ("PNG of RGB noise (still) -> GIF", [*gq, png, f"{out}.gif", "-q"]),
            ("PNG of 16 M distinct colours (still) -> GIF", [*gq, distinct, f"{out}.gif", "-q"]),
            ("GIF (2 frames, 256 colours) -> GIF", [*gq, gif, f"{out}.gif", "-q"]),
            ("compare y4m -> GIF (-k 4)", [*gq, "compare", y4m, f"{out}.gif", "-k", "4"]),
            ("compare y4m -> mp4 (-k 4)", [*gq, "compare", y4m, f"{out}.mp4", "-k", "4"]),
            (
                "compare y4m -> GIF (-k 4, --panel-width 2000: a 4002x4130 grid)",
                [*gq, "compare", y4m, f"{out}.gif", "-k", "4", "--panel-width", "2000"],
            ),
            (
                "compare y4m -> mp4 (-k 4, --panel-width 2000)",
                [*gq, "compare", y4m, f"{out}.mp4", "-k", "4", "--panel-width", "2000"],
            ),
            ("palette y4m", [*gq, "palette", y4m, "-k", "16", "-o", f"{out}.json", "-q"]),
        ]
        for label, argv in cases:
            argv = [str(a) for a in argv]
            if argv[3] not in ("compare", "palette"):
                argv += ["-k", "16", "-y"]
            else:
                argv += ["-y"]
            try:
                peak, hwm, seconds = measure_tree(argv)
            except RuntimeError as exc:
                lines.append(f"  {label:<38} failed: {str(exc)[-200:]}")
                continue
            rows.append((label, peak / 1024, hwm / 1024, seconds, peak * 1024 <= limit))
        # The caller holds the input and the returned array (each 2 x 4000 x 4000 x 3 bytes):
        # they are not gifquant's working memory.
        peak, hwm, seconds = measure_tree([sys.executable, "-c", _QUANTIZE.format(side=LARGE_SIDE)])
        held = 2 * (2 * pixels * 3) // 1024
        own = peak - held
        rows.append(
            (
                "quantize() of (2, 4000, 4000, 3) uint8, less its input and result",
                own / 1024,
                (hwm - held) / 1024,
                seconds,
                own * 1024 <= limit,
            )
        )
    for label, peak, hwm, seconds, ok in rows:
        lines.append(
            f"  {label:<38} {peak:7.0f} MiB  ({hwm:.0f} MiB)  {'PASS' if ok else 'FAIL'}  "
            f"{seconds:.1f} s"
        )
    if markdown is not None:
        table = [
            "| path (4000x4000 frames, -k 16) | peak, gifquant + children | sum of the "
            "processes' own peaks | bytes a pixel over 200 MB | within 16 B/px + 200 MB |",
            "|---|---:|---:|---:|---|",
        ]
        table += [
            f"| {label} | {peak:.0f} MiB | {hwm:.0f} MiB | "
            f"{(peak * 2**20 - CONSTANT_BYTES) / pixels:.1f} | {'yes' if ok else 'no'} |"
            for label, peak, hwm, _, ok in rows
        ]
        markdown.write_text("\n".join(table) + "\n")
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default=str(ROOT.parent / "shared" / "corpus"))
    parser.add_argument("--section", choices=("length", "large", "paths", "all"), default="length")
    parser.add_argument("--markdown", type=Path, help="paths: also write the table here")
    args = parser.parse_args()
    if args.section in ("length", "all"):
        print("\n".join(memory_section(args.corpus)))
    if args.section in ("large", "all"):
        print("\n".join(large_section()))
    if args.section in ("paths", "all"):
        print("\n".join(paths_section(args.markdown)))
