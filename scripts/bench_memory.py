"""Peak memory of a video run: the whole of bottle-detection.mp4 against its first 119 frames.

Frames stream from ffmpeg one at a time, so the peak should not grow with the clip's length.
Each run is a fresh ``python -m gifquant`` child; its resident set and its ffmpeg grandchild's
are summed by polling /proc (Linux), and ru_maxrss of the largest process is shown beside it.

    python scripts/bench_memory.py [CORPUS_DIR]
"""

from __future__ import annotations

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


def _measure_fresh(extra: list[str], clip: Path, out: Path) -> tuple[int, int, float]:
    """One run measured from a fresh interpreter, so RUSAGE_CHILDREN holds this run alone."""
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); from bench_memory import measure; "
        "print(json.dumps(measure(sys.argv[2:])))"
    )
    argv = [sys.executable, "-m", "gifquant", str(clip), str(out), "-k", "16", "-y", "-q", *extra]
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


if __name__ == "__main__":
    corpus = sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "shared" / "corpus")
    print("\n".join(memory_section(corpus)))
