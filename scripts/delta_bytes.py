"""Bytes and encoder CPU of two builds' GIFs, and whether every frame composites the same.

    python scripts/delta_bytes.py --base /tmp/main-build     # corpus + camera clips, k 16, 256
    python scripts/delta_bytes.py --base /tmp/main-build -k 16 ../clips/sunset.mkv

Each build is a source folder with its kernels compiled in place (for another commit:
``git archive main | tar -x -C /tmp/main-build && python setup.py build_ext --inplace`` there);
``--new`` defaults to this checkout. Each input is converted with ``python -m gifquant in out.gif
-k K`` (default settings) by each build in a scratch folder outside the project, with every frame
encoded in the converting process rather than the encoder process (the same bytes: the same
function) so that the encoder's CPU can be summed: ``time.thread_time`` around each
``encode_frame`` call ("encode s") and each ``leave_unchanged`` call ("delta s"). The frames are
then decoded by Pillow (``ImageSequence`` + ``convert("RGBA")``, which composites a frame over
the ones before it) and by gifquant's own reader, and compared frame by frame: "same" says the
two builds' files show the same RGBA in every frame under both.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

REPO = Path(__file__).resolve().parent.parent

# Run with a build's folder first on sys.path: converts argv[1] to argv[2] at -k argv[3] and
# prints the CPU seconds spent encoding frames and making delta frames, as JSON.
DRIVER = """
import json, sys, time
from gifquant._io import prestart
from gifquant._io.gif import lzw, write
from gifquant._cli import main
spent = {"encode": 0.0, "delta": 0.0}
def timed(f, key):
    def g(*a, **kw):
        t = time.thread_time()
        try:
            return f(*a, **kw)
        finally:
            spent[key] += time.thread_time() - t
    return g
write.encode_frame = timed(write.encode_frame, "encode")
write.leave_unchanged = timed(write.leave_unchanged, "delta")
lzw.WORKER_PIXELS = prestart.WORKER_PIXELS = 1 << 62
status = main([sys.argv[1], sys.argv[2], "-k", sys.argv[3], "-q"])
print(json.dumps({"status": status, **spent}))
"""


def convert(build: Path, src: Path, out: Path, k: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(build)}
    with tempfile.TemporaryDirectory() as scratch:
        p = subprocess.run(
            [sys.executable, "-c", DRIVER, str(src), str(out), str(k)],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
        )
    if p.returncode != 0:
        raise SystemExit(f"{build}: {src} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def pillow_frames(path: Path) -> list[np.ndarray]:
    with Image.open(io.BytesIO(path.read_bytes())) as im:
        return [np.asarray(fr.convert("RGBA")).copy() for fr in ImageSequence.Iterator(im)]


def own_frames(build: Path, path: Path) -> list[np.ndarray]:
    """The frames gifquant's reader (of the ``--new`` build) gives, RGBA."""
    from gifquant._io.image import ImageReader

    with ImageReader(str(path), name=path.name, max_pixels=1 << 30) as r:
        return [np.asarray(f.rgba).copy() for f in r]


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(map(np.array_equal, a, b))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="*", type=Path)
    parser.add_argument("--base", type=Path, required=True, help="the build to compare with")
    parser.add_argument("--new", type=Path, default=REPO)
    parser.add_argument("-k", type=int, nargs="+", default=[16, 256])
    parser.add_argument("--keep", type=Path, help="keep the GIFs here (base ones are reused)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.new))
    clips = REPO.parent / "clips"
    inputs = args.inputs or [
        *sorted((REPO.parent / "shared" / "corpus").glob("*.gif")),
        *sorted((REPO.parent / "shared" / "corpus" / "edge").glob("*.gif")),
        *[clips / f"{n}.mkv" for n in ("sky", "sunset", "meeting", "traffic", "cockatoo60")],
    ]
    keep = args.keep or Path(tempfile.mkdtemp(prefix="delta_bytes-"))
    print(
        "| input | k | before KB | after KB | after/before | encode s before -> after "
        "| delta s before -> after | same composites |"
    )
    print("|---|---|---|---|---|---|---|---|")
    totals = [0, 0]
    for src in inputs:
        for k in args.k:
            runs = {}
            for label, build in (("base", args.base), ("new", args.new)):
                out = keep / label / f"{src.stem}-k{k}.gif"
                out.parent.mkdir(parents=True, exist_ok=True)
                cpu = out.with_suffix(".json")
                if label == "base" and out.exists() and cpu.exists():
                    runs[label] = out, json.loads(cpu.read_text())
                    continue
                out.unlink(missing_ok=True)  # (gifquant would not overwrite it)
                res = convert(build, src, out, k)
                if res["status"] != 0:
                    runs[label] = None
                    break
                cpu.write_text(json.dumps(res))
                runs[label] = out, res
            if runs.get("base") is None or runs.get("new") is None:
                print(f"| {src.name} | {k} | refused | | | | | |")
                continue
            (a, ca), (b, cb) = runs["base"], runs["new"]
            na, nb = a.stat().st_size, b.stat().st_size
            totals[0] += na
            totals[1] += nb
            ok = same(pillow_frames(a), pillow_frames(b))
            ok = ok and same(own_frames(args.new, a), own_frames(args.new, b))
            print(
                f"| {src.name} | {k} | {na / 1000:.1f} | {nb / 1000:.1f} | {nb / na:.3f} | "
                f"{ca['encode']:.2f} -> {cb['encode']:.2f} | {ca['delta']:.2f} -> "
                f"{cb['delta']:.2f} | {'yes' if ok else 'NO'} |",
                flush=True,
            )
    print(
        f"| total | | {totals[0] / 1000:.1f} | {totals[1] / 1000:.1f} | "
        f"{totals[1] / max(1, totals[0]):.3f} | | | |"
    )


if __name__ == "__main__":
    main()
