"""Soak check: a 20-minute-equivalent clip streamed through stdin, peak memory recorded.

    python scripts/soak.py                      # 1200 s at 25 fps (30000 frames) of 160x120
    python scripts/soak.py --sink null          # y4m to stdout (counted, then dropped), no GIF
    python scripts/soak.py --quick              # 60 s of video, for a test or a quick look
    python scripts/soak.py --width 320 --height 240 --seconds 600 --fps 30

The clip is generated frame by frame (never held in memory) as a y4m 4:4:4 stream and written
into the stdin of ``python -m gifquant - OUT -k 16 -q``: a slowly drifting gradient, a few shapes
moving on their own paths, and a hard cut to a new scene every 20 to 60 s, so every frame needs
fresh k-means work and a scene cut now and then resets the palette.

The gifquant process's VmHWM (peak resident set) is polled from /proc every 0.2 s; ru_maxrss of
the reaped child gives the final peak. Peaks are printed at 10%, 50% and 100% of the frames
sent: frames stream one at a time, so they should be flat. Exit 1 (FAIL) when gifquant exits
non-zero or its peak at the end is more than ``--max-growth`` (1.3) times the peak at 10%.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.2
MARKS = (0.1, 0.5)
# BT.601 full range, as the header's XCOLORRANGE=FULL says
_KR, _KB = 0.299, 0.114
_KG = 1.0 - _KR - _KB


def _rgb_to_yuv444(rgb: NDArray[np.float32]) -> bytes:
    """RGB of shape (h, w, 3) float32 in 0..255 to planar Y, Cb, Cr bytes (3 * h * w)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = _KR * r + _KG * g + _KB * b
    cb = (b - y) * (0.5 / (1 - _KB)) + 128.0
    cr = (r - y) * (0.5 / (1 - _KR)) + 128.0
    return np.clip(np.rint(np.stack([y, cb, cr])), 0, 255).astype(np.uint8).tobytes()


def y4m_frames(width: int, height: int, fps: int, n_frames: int, seed: int = 0) -> Iterator[bytes]:
    """The synthetic clip as y4m: the header line, then one ``FRAME\\n`` + planes chunk per frame.

    Each frame is computed from its index alone, so memory stays at one frame.
    """
    yield (
        f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C444 XYSCSS=444 XCOLORRANGE=FULL\n"
    ).encode("ascii")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xx /= max(width - 1, 1)
    yy /= max(height - 1, 1)
    scene_end = 0
    for i in range(n_frames):
        if i >= scene_end:  # a hard cut: new colours, new shapes, new paths
            scene_end = i + int(rng.uniform(20, 60) * fps)
            base = rng.uniform(0, 255, size=(3, 3)).astype(np.float32)  # corner colours
            drift = rng.uniform(0.02, 0.2, size=3)  # gradient phase speeds, cycles per second
            n_shapes = int(rng.integers(2, 6))
            colours = rng.uniform(0, 255, size=(n_shapes, 3)).astype(np.float32)
            radii = rng.uniform(0.06, 0.2, size=n_shapes)
            speeds = rng.uniform(0.05, 0.4, size=(n_shapes, 2))
            phases = rng.uniform(0, 2 * np.pi, size=(n_shapes, 2))
            square = rng.random(n_shapes) < 0.5
        t = i / fps
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * drift * t)  # (3,) slowly changing weights
        frame = (
            base[0] * (xx * wave[0])[..., None]
            + base[1] * (yy * wave[1])[..., None]
            + base[2] * ((1 - xx) * (1 - yy) * wave[2])[..., None]
        )
        np.minimum(frame, 255, out=frame)
        for s in range(n_shapes):
            cx = 0.5 + 0.45 * np.sin(2 * np.pi * speeds[s, 0] * t + phases[s, 0])
            cy = 0.5 + 0.45 * np.sin(2 * np.pi * speeds[s, 1] * t + phases[s, 1])
            dx, dy = np.abs(xx - cx), np.abs(yy - cy) * (height / width)
            if square[s]:
                inside = np.maximum(dx, dy) < radii[s]
            else:
                inside = dx * dx + dy * dy < radii[s] ** 2
            frame[inside] = colours[s]
        yield b"FRAME\n" + _rgb_to_yuv444(frame)


def _status_kib(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS of ``pid`` in KiB from /proc (empty once the process is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    out[line[:5]] = int(line.split()[1])
    except OSError:
        pass
    return out


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def soak(args: argparse.Namespace) -> int:
    """Run one soak; print the figures; return 0 (PASS) or 1 (FAIL)."""
    n_frames = round(args.seconds * args.fps)
    tmp = tempfile.TemporaryDirectory(prefix="gifquant-soak-")
    out_path = Path(tmp.name) / "soak.gif"
    out_args = ["-f", "y4m", "-"] if args.sink == "null" else [str(out_path)]
    argv = [sys.executable, "-m", "gifquant", "-", *out_args, "-k", str(args.k), "-q"]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(
        f"soak: {args.width}x{args.height} at {args.fps} fps, {args.seconds:g} s = {n_frames} "
        f"frames, to {'stdout (counted, dropped)' if args.sink == 'null' else 'a GIF'}",
        flush=True,
    )
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE if args.sink == "null" else subprocess.DEVNULL,
    )
    sent = 0
    out_bytes = 0

    def feed() -> None:
        nonlocal sent
        try:
            for n, chunk in enumerate(y4m_frames(args.width, args.height, args.fps, n_frames)):
                proc.stdin.write(chunk)
                sent = n  # chunk 0 is the header
        except OSError:  # gifquant stopped reading (a broken pipe): its exit code says why
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    def drain() -> None:
        nonlocal out_bytes
        fd = proc.stdout.fileno()
        while chunk := os.read(fd, 1 << 20):
            out_bytes += len(chunk)

    threads = [threading.Thread(target=feed, daemon=True)]
    if args.sink == "null":
        threads.append(threading.Thread(target=drain, daemon=True))
    for th in threads:
        th.start()

    peak_at: dict[float, int] = {}  # fraction of the frames -> VmHWM (KiB) when it was reached
    hwm = 0
    last_report = start
    while proc.poll() is None:
        status = _status_kib(proc.pid)
        hwm = max(hwm, status.get("VmHWM", 0))
        for mark in MARKS:
            if mark not in peak_at and sent >= mark * n_frames:
                peak_at[mark] = hwm
        now = time.perf_counter()
        if args.verbose and now - last_report >= 30:
            last_report = now
            print(
                f"  {now - start:6.0f} s  {sent:6d}/{n_frames} frames  "
                f"rss {_mib(status.get('VmRSS', 0))}  peak {_mib(hwm)}",
                flush=True,
            )
        time.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - start
    for th in threads:
        th.join()
    # ru_maxrss of the reaped child (KiB on Linux): the true peak, between polls included
    peak_end = max(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    for mark in MARKS:
        peak_at.setdefault(mark, peak_end)  # the run ended before the poll saw the mark

    if args.sink == "null":
        size = out_bytes
    else:
        size = out_path.stat().st_size if out_path.exists() else 0
    tmp.cleanup()
    growth = peak_end / peak_at[MARKS[0]] if peak_at[MARKS[0]] else float("inf")
    print(f"frames sent: {sent} of {n_frames}")
    print(f"seconds: {seconds:.1f}")
    print(f"fps: {sent / seconds:.1f}")
    for mark in MARKS:
        print(f"peak RSS at {mark:.0%}: {_mib(peak_at[mark])}")
    print(f"peak RSS at 100%: {_mib(peak_end)}")
    print(f"growth 10% -> 100%: {growth:.2f}x (limit {args.max_growth:g}x)")
    print(f"output size: {size} bytes")
    print(f"exit code: {proc.returncode}")
    failures = []
    if proc.returncode != 0:
        failures.append(f"gifquant exited with {proc.returncode}")
    if sent < n_frames:
        failures.append(f"only {sent} of {n_frames} frames were taken")
    if growth > args.max_growth:
        failures.append(f"peak memory grew {growth:.2f}x between 10% and the end")
    print("FAIL: " + "; ".join(failures) if failures else "PASS")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--width", type=int, default=160)
    p.add_argument("--height", type=int, default=120)
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--seconds", type=float, default=None, help="clip length (default 1200)")
    p.add_argument("--quick", action="store_true", help="a short run: 60 s unless --seconds")
    p.add_argument("-k", type=int, default=16, help="colours per frame (default 16)")
    p.add_argument(
        "--sink",
        choices=["gif", "null"],
        default="gif",
        help="gif: a GIF in a temporary folder (default); null: y4m to stdout, counted",
    )
    p.add_argument("--max-growth", type=float, default=1.3, help="peak at end / peak at 10%%")
    p.add_argument("-v", "--verbose", action="store_true", help="a progress line every 30 s")
    args = p.parse_args(argv)
    if args.seconds is None:
        args.seconds = 60.0 if args.quick else 1200.0
    if args.width <= 0 or args.height <= 0 or args.fps <= 0 or args.seconds <= 0:
        p.error("--width, --height, --fps and --seconds must be positive")
    return soak(args)


if __name__ == "__main__":
    sys.exit(main())
