"""Check that this checkout writes the same bytes as another commit.

    python scripts/same_outputs.py main                    # corpus at k=4,16,256 + the doc commands
    python scripts/same_outputs.py HEAD~3 --only corpus --k 16 --jobs 1
    python scripts/same_outputs.py main --only corpus --clips ../clips/*.mkv --k 16 \
        --options "" "--transfer in/sunset.png" "--metric manhattan --frames 30"

Each run is made twice in the same scratch folder outside the project: once with the commit's
source (``git archive`` into a temporary folder) on ``PYTHONPATH``, once with a copy of this
checkout's ``gifquant/`` (taken at the start, uncommitted edits included), both
with ``python -m gifquant`` and the same interpreter. The working directory is the scratch folder
for both sides: with ``python -m`` the working directory comes first on ``sys.path``, so running
from inside the project would compare the new code with itself. Every file a run writes, and its
stdout and stderr, are compared byte for byte (timings, which change from run to run, are masked
in text and dropped from JSON). Where the bytes of an image differ, its decoded frames are compared
too, so a change meant to keep the pixels is told from one that changes them.

Run it with the project's virtualenv (its interpreter runs both sides). Exit status: 0 when
every run matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("GIFQUANT_CORPUS", ROOT.parent / "shared" / "corpus"))

# The README's and docs' example commands, with their placeholder inputs mapped to real files
# (``{shapes}`` etc. are copied into ``in/`` of every scratch folder). Commands that need a
# network (dask tcp://) or an input the project does not carry are left out.
DOC_COMMANDS = {
    "quick-start": "{gq} in/shapes.gif out.gif -k 4 --seeded --stats --compare compare.gif "
    "--panels random,seeded,original",
    "enhance": "{gq} in/shapes.gif out.gif --enhance 1.6",
    "min-saturation": "{gq} in/clip.mp4 out.gif --min-saturation 0.3",
    "mode": "{gq} in/shapes.gif out.gif --representative mode",
    "palette-picking": "{gq} palette in/clip.mp4 -k 6 --min-saturation 0.3 --representative mode "
    "--swatch swatch.png",
    "video-gif": "{gq} in/clip.mp4 out.gif -k 16",
    "video-mp4": "{gq} in/clip.mp4 out.mp4 -k 8 --ss 1 --t 2 --scale 480:-1 --fps 12",
    "y4m-out": "{gq} in/clip.mp4 out.y4m -f y4m -k 8",
    "gif-stdout": "{gq} in/shapes.gif - -f gif -k 8 > out.gif",
    "loop": "{gq} in/clip.mp4 out.gif --loop 2",
    "matte": "{gq} in/shapes.gif out.mp4 --matte '#202020'",
    "lossy": "{gq} in/clip.mp4 out.gif -k 64 --lossy 40",
    "max-size": "{gq} in/clip.mp4 out.gif --max-size 200K",
    "compare-grid": "{gq} compare in/shapes.gif grid.gif -k 2 4 10 --modes random seeded",
    "compare-metric": "{gq} compare in/shapes.gif grid.mp4 -k 4 --metric euclidean manhattan",
    "compare-space": "{gq} compare in/clip.mp4 grid.gif -k 8 16 --space lab oklab "
    "--panel-width 240",
    "palette-json": "{gq} palette in/shapes.gif -k 6 --swatch swatch.png --timeline timeline.png "
    "--format json",
    "palette-modes": "{gq} palette in/shapes.gif -k 6 --timeline timeline.png "
    "--modes random seeded",
    "palette-photo": "{gq} palette in/sunset.png -k 5 --replaced replaced.png -o palette.gpl",
    "report": "{gq} in/clip.mp4 out.gif -k 16 --report report.json --stats",
    "palette-from-hex": "{gq} in/shapes.gif fixed.gif --palette-from in/pico8.hex",
    "palette-from-gif": "{gq} in/clip.mp4 out.gif --palette-from in/shapes.gif -k 8",
    "transfer": "{gq} in/shapes.gif sunset.gif --transfer in/sunset.png",
    "dither": "{gq} in/shapes.gif out.gif -k 4 --dither floyd-steinberg",
    "batch": "{gq} batch 'in/*.gif' --out-dir out/ -k 16 --jobs 2 --summary batch.json",
}
CORPUS_CLIPS = [
    "classroom.gif",
    "newtonscradle.gif",
    "people-detection.gif",
    "bottle-detection.mp4",
    "cockatoo.mp4",
    "realshort.mp4",
]
TIMING = re.compile(r"\d+(\.\d+)? ?(s|fps|ms|x|files/s|frames/s)(?![\w/])")
TIMING_KEYS = re.compile(r"second|fps|elapsed|time|rss", re.I)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("commit", help="the commit to compare this checkout with (e.g. main)")
    ap.add_argument("--k", type=int, nargs="+", default=[4, 16, 256], help="corpus k values")
    ap.add_argument("--only", choices=["corpus", "docs"], help="one set of runs only")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (default 2)")
    ap.add_argument("--name", nargs="+", help="only the runs with these names (see the output)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--clips", nargs="+", type=Path, help="corpus runs on these files instead")
    ap.add_argument("--options", nargs="+", default=[""], metavar="ARGS",
                    help="corpus runs once with each of these added (default: none; a lone "
                    "flag with a space before it: ' --random')")  # fmt: skip
    args = ap.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="gq-same-"))
    try:
        old = _checkout(args.commit, scratch / "old-src")
        new = scratch / "new-src"  # a copy, so that edits made while this runs do not count
        shutil.copytree(
            ROOT / "gifquant", new / "gifquant", ignore=shutil.ignore_patterns("__pycache__")
        )
        runs = _runs(args)
        if args.name:
            runs = {n: c for n, c in runs.items() if n in args.name}
        inputs = _inputs(scratch / "inputs", args.clips or [])
        print(
            f"comparing {ROOT} with {args.commit} ({_rev(args.commit)}): {len(runs)} runs",
            flush=True,
        )
        same = 0
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            todo = [pool.submit(_compare, n, c, old, new, inputs, scratch) for n, c in runs.items()]
            for done in as_completed(todo):  # each run said as it ends
                ok, lines = done.result()
                same += ok
                print("\n".join(lines), flush=True)
        print(f"{same} of {len(runs)} runs identical")
        return 0 if same == len(runs) else 1
    finally:
        if args.keep:
            print(f"scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _runs(args: argparse.Namespace) -> dict[str, str]:
    runs: dict[str, str] = {}
    if args.only != "docs":
        clips = [c.name for c in args.clips] if args.clips else CORPUS_CLIPS
        for clip in clips:
            if not args.clips and not (CORPUS / clip).exists():
                continue
            for k in args.k:
                for extra in args.options:
                    slug = re.sub(r"[^\w.]+", "-", extra).strip("-")
                    name = f"{Path(clip).stem}-k{k}" + (f"-{slug}" if slug else "")
                    runs[name] = (
                        f"{{gq}} in/{clip} out.gif -k {k} --stats --report report.json {extra}"
                    )
    if args.only != "corpus":
        runs.update({f"doc-{n}": c for n, c in DOC_COMMANDS.items()})
    return runs


def _rev(commit: str) -> str:
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", commit], text=True,
                         capture_output=True, check=True)  # fmt: skip
    return out.stdout.strip()


def _checkout(commit: str, dest: Path) -> Path:
    """The commit's tree in ``dest`` (outside the project), built in place if it has kernels."""
    dest.mkdir(parents=True)
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit],
                         capture_output=True, check=True).stdout  # fmt: skip
    with tempfile.TemporaryFile() as f:
        f.write(tar)
        f.seek(0)
        with tarfile.open(fileobj=f) as t:
            t.extractall(dest, filter="data")
    if (dest / "setup.py").exists() and list(dest.glob("gifquant/**/*.pyx")):
        subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"], cwd=dest,
                       check=True, capture_output=True)  # fmt: skip
    return dest


def _inputs(dest: Path, clips: list[Path]) -> Path:
    dest.mkdir()
    for name in ("shapes.gif", "pico8.hex", "sunset.png"):
        shutil.copy(ROOT / "samples" / name, dest / name)
    if (CORPUS / "realshort.mp4").exists():
        shutil.copy(CORPUS / "realshort.mp4", dest / "clip.mp4")
    for clip in CORPUS_CLIPS:
        if (CORPUS / clip).exists():
            os.symlink(CORPUS / clip, dest / clip)
    for clip in clips:
        if not (dest / clip.name).exists():
            os.symlink(clip.resolve(), dest / clip.name)
    return dest


def _run(command: str, src: Path, inputs: Path, cwd: Path, keep: Path) -> None:
    """Run ``command`` with ``src`` first on the path, from ``cwd``; move its files to ``keep``."""
    cwd.mkdir(parents=True)
    shutil.copytree(inputs, cwd / "in", symlinks=True)
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0", NO_COLOR="1")
    env.pop("GIFQUANT_CORPUS", None)
    gq = f"{sys.executable} -m gifquant"
    check = f"{sys.executable} -c 'import gifquant,sys; sys.stderr.write(gifquant.__file__)'"
    where = subprocess.run(check, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
    if not where.stderr.startswith(str(src)):
        raise RuntimeError(f"{src} is not the gifquant imported ({where.stderr!r})")
    p = subprocess.run(command.format(gq=gq), shell=True, cwd=cwd, env=env, capture_output=True)
    shutil.rmtree(cwd / "in")
    (cwd / "_status").write_text(str(p.returncode))
    (cwd / "_stdout").write_bytes(p.stdout)
    (cwd / "_stderr").write_bytes(p.stderr)
    shutil.move(cwd, keep)


def _compare(name: str, command: str, old: Path, new: Path, inputs: Path, scratch: Path):
    cwd = scratch / "run" / name  # one path for both sides, so paths in outputs agree
    _run(command, old, inputs, cwd, scratch / "old" / name)
    _run(command, new, inputs, cwd, scratch / "new" / name)
    a, b = scratch / "old" / name, scratch / "new" / name
    files = sorted({p.relative_to(a) for p in a.rglob("*") if p.is_file()}
                   | {p.relative_to(b) for p in b.rglob("*") if p.is_file()})  # fmt: skip
    notes = []
    for rel in files:
        fa, fb = a / rel, b / rel
        if not (fa.exists() and fb.exists()):
            notes.append(f"{rel}: only {'old' if fa.exists() else 'new'}")
        elif not filecmp.cmp(fa, fb, shallow=False) and not _same_text(fa, fb):
            notes.append(f"{rel}: bytes differ{_frames_note(fa, fb)}")
    status = (a / "_status").read_text()
    head = f"{'same' if not notes else 'DIFF'}  {name} (exit {status}, {len(files) - 3} files)"
    return not notes, [head] + [f"      {n}" for n in notes]


def _same_text(a: Path, b: Path) -> bool:
    """Whether two text files agree once timings are masked (JSON: timing keys dropped)."""
    try:
        ta, tb = a.read_text(), b.read_text()
    except UnicodeDecodeError:
        return False
    if a.suffix == ".json":
        try:
            return _untimed(json.loads(ta)) == _untimed(json.loads(tb))
        except ValueError:
            pass
    return TIMING.sub("#", ta) == TIMING.sub("#", tb)


def _untimed(x):
    if isinstance(x, dict):
        return {k: _untimed(v) for k, v in x.items() if not TIMING_KEYS.search(k)}
    if isinstance(x, list):  # a batch's records come in the order they finish
        return sorted((_untimed(v) for v in x), key=lambda v: json.dumps(v, sort_keys=True))
    return x


def _frames_note(a: Path, b: Path) -> str:
    if a.suffix.lower() not in (".gif", ".png"):
        return ""
    try:
        fa, fb = _frames(a), _frames(b)
    except Exception as e:  # an unreadable file is reported, not raised
        return f" (frames not decoded: {e})"
    if len(fa) != len(fb):
        return f" ({len(fa)} frames against {len(fb)})"
    diff = sum(not np.array_equal(x, y) for x, y in zip(fa, fb, strict=True))
    return ", decoded frames identical" if not diff else f", {diff} of {len(fa)} frames differ"


def _frames(path: Path) -> list[np.ndarray]:
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        return [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(im)]


if __name__ == "__main__":
    sys.exit(main())
