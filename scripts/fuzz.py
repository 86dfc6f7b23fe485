"""Fuzz the command line with byte-wise mutated GIFs; count converts, clean errors, crashes, hangs.

    python scripts/fuzz.py                 # 200 mutations, one subprocess each
    python scripts/fuzz.py -n 2000 --seed 7 --keep crashes/
    python scripts/fuzz.py --atheris       # coverage-guided, in-process (needs atheris)

Seeds: a tiny generated clip, samples/shapes.gif, and ../shared/corpus/edge/*.gif when present.
Each mutated file runs as ``python -m gifquant IN OUT`` with a timeout. A run passes when it
converts (exit 0, the output decodes) or refuses cleanly (exit 2, one ``gifquant: error:`` line
on stderr); a traceback, another exit code, a leftover temporary file or a timeout is a failure,
and with ``--keep`` the input is saved for a regression test.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EDGE = ROOT.parent / "shared" / "corpus" / "edge"
# Small budgets: a mutated size field may claim a legal but slow 8000x8000 canvas.
LIMITS = ["--max-pixels", "1000000", "--max-clip-pixels", "20000000"]


def tiny_clip_gif() -> bytes:
    """A 4-frame 24x16 animated GIF with a transparent corner, written by gifquant's writer."""
    sys.path.insert(0, str(ROOT))
    from gifquant.frames import QuantizedFrame
    from gifquant.io.gif import GifWriter

    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, size=(16, 3), dtype=np.uint8)
    buf = io.BytesIO()
    wr = GifWriter(buf, 24, 16, loop=0)
    for t in range(4):
        idx = (np.add.outer(np.arange(16), np.arange(24)) // 3 + t) % 15
        idx = idx.astype(np.uint8)
        idx[:4, :4] = 15
        wr.write(QuantizedFrame(idx, palette, 15, 0.04 * (t + 1)))
    wr.close()
    return buf.getvalue()


def seed_files() -> list[tuple[str, bytes]]:
    """(name, bytes) of the GIFs to mutate."""
    seeds = [("tiny", tiny_clip_gif())]
    shapes = ROOT / "samples" / "shapes.gif"
    if shapes.exists():
        seeds.append(("shapes", shapes.read_bytes()))
    if EDGE.is_dir():
        seeds += [(p.stem, p.read_bytes()) for p in sorted(EDGE.glob("*.gif"))]
    return seeds


def mutate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """One to three random byte-level mutations of ``data``; returns (bytes, description)."""
    b = bytearray(data)
    done = []
    for _ in range(int(rng.integers(1, 4))):
        n = len(b)
        if n < 2:
            break
        kind = int(rng.integers(0, 7))
        i = int(rng.integers(0, n))
        if kind == 0:  # overwrite a few bytes with random values
            k = int(rng.integers(1, 9))
            b[i : i + k] = rng.integers(0, 256, size=len(b[i : i + k]), dtype=np.uint8).tobytes()
            done.append(f"set@{i}+{k}")
        elif kind == 1:  # flip one bit
            b[i] ^= 1 << int(rng.integers(0, 8))
            done.append(f"bit@{i}")
        elif kind == 2:  # truncate
            del b[i:]
            done.append(f"cut@{i}")
        elif kind == 3:  # duplicate a span somewhere else
            j = int(rng.integers(i, min(n, i + 512) + 1))
            at = int(rng.integers(0, n + 1))
            b[at:at] = b[i:j]
            done.append(f"dup{i}:{j}@{at}")
        elif kind == 4:  # zero a span
            j = int(rng.integers(i, min(n, i + 64) + 1))
            b[i:j] = bytes(j - i)
            done.append(f"zero{i}:{j}")
        elif kind == 5:  # an extreme 16-bit field (sizes, offsets, delays)
            b[i : i + 2] = bytes([0xFF, 0xFF])[: len(b[i : i + 2])]
            done.append(f"ffff@{i}")
        else:  # delete a span
            j = int(rng.integers(i, min(n, i + 64) + 1))
            del b[i:j]
            done.append(f"del{i}:{j}")
    return bytes(b), ",".join(done)


def classify(rc: int | None, stderr: str, out: Path, folder: Path) -> str:
    """'convert', 'clean', 'traceback', 'hang' or 'bad' (anything else) for one run."""
    if rc is None:
        return "hang"
    if "Traceback" in stderr:
        return "traceback"
    if any(p.name.endswith(".part") for p in folder.iterdir()):
        return "bad"
    lines = stderr.strip().splitlines()
    if rc == 2 and len(lines) == 1 and lines[0].startswith("gifquant: error:"):
        return "clean" if not out.exists() else "bad"
    if rc == 0 and out.exists():
        from PIL import Image, ImageSequence

        try:
            with Image.open(out) as im:
                for fr in ImageSequence.Iterator(im):
                    fr.convert("RGBA")
        except Exception:
            return "bad"
        return "convert"
    return "bad"


def run_one(data: bytes, timeout: float) -> tuple[str, str]:
    """Run the CLI on ``data`` in a fresh folder; returns (verdict, stderr)."""
    with tempfile.TemporaryDirectory(prefix="gifquant-fuzz-") as tmp:
        folder = Path(tmp)
        src, out = folder / "in.gif", folder / "out.gif"
        src.write_bytes(data)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "gifquant", str(src), str(out), "-k", "4", "-q", *LIMITS]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return "hang", ""
        src.unlink()
        return classify(r.returncode, r.stderr, out, folder), r.stderr


def run_atheris() -> None:  # pragma: no cover - local only
    import atheris

    with atheris.instrument_imports():
        from gifquant.cli import main

    folder = Path(tempfile.mkdtemp(prefix="gifquant-atheris-"))

    def one(data: bytes) -> None:
        src, out = folder / "in.gif", folder / "out.gif"
        src.write_bytes(data)
        if out.exists():
            out.unlink()
        rc = main([str(src), str(out), "-k", "4", "-q", *LIMITS])
        if rc not in (0, 2):
            raise RuntimeError(f"exit code {rc}")

    atheris.Setup([sys.argv[0], *sys.argv[2:]], one)
    atheris.Fuzz()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=200, help="mutated files to run (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per run (default 30)")
    p.add_argument("--keep", type=Path, help="save failing inputs in this folder")
    p.add_argument("-v", "--verbose", action="store_true", help="print every run's verdict")
    p.add_argument("--atheris", action="store_true", help="coverage-guided fuzzing (atheris)")
    args, _ = p.parse_known_args()
    if args.atheris:
        run_atheris()
        return 0
    rng = np.random.default_rng(args.seed)
    seeds = seed_files()
    counts = dict.fromkeys(("convert", "clean", "traceback", "hang", "bad"), 0)
    start = time.perf_counter()
    for i in range(args.n):
        name, base = seeds[int(rng.integers(0, len(seeds)))]
        data, how = mutate(base, rng)
        verdict, err = run_one(data, args.timeout)
        counts[verdict] += 1
        if args.verbose:
            print(f"[{i}] {verdict} {name} {how}: {err.strip()[:150]}", file=sys.stderr)
        if verdict not in ("convert", "clean"):
            print(f"[{i}] {verdict}: {name} {how}\n{err.strip()[-600:]}", file=sys.stderr)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"{i:05d}-{name}-{verdict}.gif").write_bytes(data)
    seconds = time.perf_counter() - start
    print(" ".join(f"{k}={v}" for k, v in counts.items()) + f" ({args.n} runs, {seconds:.0f} s)")
    return 0 if counts["traceback"] == counts["hang"] == counts["bad"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
