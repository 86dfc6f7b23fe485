"""Contact sheet: a source clip and each tool's output side by side, plus a zoomed static crop.

    python scripts/contact_sheet.py SOURCE OUT.png --tool NAME=PATH [--tool NAME=PATH ...]
                                    [--frames 0,mid,last] [--crop x,y,w,h | --crop auto]
                                    [--zoom 4] [--crop-frames 4] [--align time|index]

Rows are the source and each tool. The first block shows the chosen frames (``--frames``: frame
numbers, negative from the end, or first/mid/last). The second block zooms (nearest neighbour) into
one region over ``--crop-frames`` consecutive frames from the middle of the clip. ``--crop auto``
picks the region where the source moves least but is not flat, so the speckle, ghosts and flicker
a tool adds where nothing moves stand out. The number of distinct colours of every shown frame is
printed to stdout.

GIF (and APNG, WebP) is decoded with Pillow's ``ImageSequence.Iterator`` + ``convert("RGBA")``,
composited over black: imageio's pillow plugin leaves delta frames uncomposited. Video (mp4, ...)
is decoded by imageio-ffmpeg's bundled ffmpeg as rgb24 at the stream's constant frame rate. Frames
are streamed and only those shown are kept. A tool's frame is matched to a source frame by display
time (GIF delays under 20 ms count as 100 ms, as ffmpeg and browsers play them), so a tool that
merged or dropped frames shows the frame a viewer would see; ``--align index`` matches frame
numbers instead. Outputs of another size are resized (nearest) to the source size.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont, ImageSequence

PILLOW_MAGIC = (b"GIF87a", b"GIF89a", b"\x89PNG\r\n\x1a\n")
GIF_MIN_DELAY_MS = 20  # shorter delays play as 100 ms in ffmpeg's demuxer and in browsers
LAST = -(2**62)  # --frames token "last": the final frame, known only once the stream ends
MID = -(2**61)  # --frames token "mid": half the frame count

BACKGROUND = (56, 56, 56)
BAR = (16, 16, 16)
TEXT = (235, 235, 235)
CROP_OUTLINE = (255, 0, 255)
GAP = 6


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``rgb`` of shape (h, w, 3) uint8, shown from ``start`` for ``duration``.

    Times are seconds, or frame numbers with ``--align index``.
    """

    index: int
    start: float
    duration: float
    rgb: NDArray[np.uint8]


@dataclass(frozen=True)
class Crop:
    x: int
    y: int
    w: int
    h: int
    how: str


# --------------------------------------------------------------------------------------------
# decoding


def _is_pillow_image(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(16)
    return head.startswith(PILLOW_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _iter_pillow(path: Path) -> Iterator[tuple[NDArray[np.uint8], float]]:
    """(rgb, duration in s) of each frame, composited by Pillow over black."""
    with Image.open(path) as im:
        for fr in ImageSequence.Iterator(im):
            rgba = np.asarray(fr.convert("RGBA"))
            alpha = rgba[..., 3:4].astype(np.uint16)
            rgb = (rgba[..., :3] * alpha // 255).astype(np.uint8)
            delay = int(fr.info.get("duration") or 0)
            yield rgb, (delay if delay >= GIF_MIN_DELAY_MS else 100) / 1000


def _iter_video(path: Path) -> Iterator[tuple[NDArray[np.uint8], float]]:
    """(rgb, duration in s) of each frame, decoded by imageio-ffmpeg's ffmpeg."""
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(gen)
        w, h = meta["size"]
        fps = float(meta.get("fps") or 25.0)
        for buf in gen:
            yield np.frombuffer(buf, np.uint8).reshape(h, w, 3), 1 / fps
    finally:
        gen.close()  # stops the ffmpeg process when the caller stops early


def iter_frames(path: Path, *, align: str) -> Iterator[Frame]:
    """Frames of a GIF/APNG/WebP or video file, streamed, with their display times."""
    raw = _iter_pillow(path) if _is_pillow_image(path) else _iter_video(path)
    start = 0.0
    for i, (rgb, duration) in enumerate(raw):
        if align == "index":
            start, duration = float(i), 1.0
        yield Frame(i, start, duration, rgb)
        start += duration


def count_frames(path: Path) -> int:
    """Number of frames; for video the container's count, which decoding may not match exactly."""
    if _is_pillow_image(path):
        with Image.open(path) as im:
            return int(getattr(im, "n_frames", 1))
    return int(imageio_ffmpeg.count_frames_and_secs(str(path))[0])


def collect_indices(frames: Iterable[Frame], wanted: set[int]) -> tuple[dict[int, Frame], Frame]:
    """Keep the frames numbered in ``wanted`` and the final frame; drop the rest as they pass."""
    kept: dict[int, Frame] = {}
    last: Frame | None = None
    for fr in frames:
        if fr.index in wanted:
            kept[fr.index] = fr
        last = fr
    if last is None:
        raise ValueError("no frames decoded")
    return kept, last


def collect_at_times(frames: Iterable[Frame], times: list[float]) -> list[Frame]:
    """For each time, the frame on screen then; times after the end get the final frame."""
    found: list[Frame | None] = [None] * len(times)
    last: Frame | None = None
    for fr in frames:
        for j, t in enumerate(times):
            if found[j] is None and fr.start <= t < fr.start + fr.duration:
                found[j] = fr
        last = fr
    if last is None:
        raise ValueError("no frames decoded")
    return [f if f is not None else last for f in found]


# --------------------------------------------------------------------------------------------
# choosing frames and the crop


def parse_frames(spec: str) -> list[int]:
    """``--frames`` tokens as frame numbers, or the MID and LAST markers."""
    out: list[int] = []
    for tok in (t.strip().lower() for t in spec.split(",") if t.strip()):
        if tok == "first":
            out.append(0)
        elif tok == "mid":
            out.append(MID)
        elif tok == "last":
            out.append(LAST)
        else:
            out.append(int(tok))
    if not out:
        raise ValueError("--frames names no frame")
    return out


def resolve_frames(tokens: list[int], n_frames: int) -> list[int]:
    """Frame numbers in [0, n_frames); LAST stays LAST until the stream's end is known."""
    out: list[int] = []
    for t in tokens:
        if t == LAST:
            out.append(LAST)
        elif t == MID:
            out.append(n_frames // 2)
        elif t < 0:
            out.append(max(0, n_frames + t))
        else:
            out.append(min(t, n_frames - 1))
    return out


def crop_run(n_frames: int, length: int) -> list[int]:
    """``length`` consecutive frame numbers centred on the middle of the clip."""
    length = max(1, min(length, n_frames))
    first = min(max(0, n_frames // 2 - length // 2), n_frames - length)
    return list(range(first, first + length))


def parse_crop(spec: str) -> tuple[int, int, int, int] | None:
    """``x,y,w,h`` as four ints, or None for ``auto``."""
    if spec.strip().lower() == "auto":
        return None
    x, y, w, h = (int(v) for v in spec.split(","))
    if w < 1 or h < 1:
        raise ValueError(spec)
    return x, y, w, h


def clamp_crop(x: int, y: int, w: int, h: int, width: int, height: int) -> Crop:
    """The given crop moved and cut to lie inside a width x height frame."""
    x, y = min(max(0, x), width - 1), min(max(0, y), height - 1)
    return Crop(x, y, min(w, width - x), min(h, height - y), "given")


def _window_means(a: NDArray[np.float64], h: int, w: int, ys, xs) -> NDArray[np.float64]:
    """Mean of ``a`` over each h x w window whose top-left is (ys[i], xs[j])."""
    s = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    s[1:, 1:] = a.cumsum(0).cumsum(1)
    total = (
        s[np.ix_(ys + h, xs + w)]
        - s[np.ix_(ys, xs + w)]
        - s[np.ix_(ys + h, xs)]
        + s[np.ix_(ys, xs)]
    )
    return total / (h * w)


def _positions(size: int, window: int, stride: int) -> NDArray[np.intp]:
    pos = np.arange(0, size - window + 1, stride)
    if pos[-1] != size - window:
        pos = np.append(pos, size - window)
    return pos


def auto_crop(run: list[NDArray[np.uint8]]) -> Crop:
    """The window where the source changes least over ``run`` but is textured.

    run : consecutive source frames, each (h, w, 3) uint8. The window is 1/5 of the frame each
    way, 32x24 to 96x72. Among windows whose luma is not flat (std over the window at least a
    quarter of the 90th percentile, and at least 3 levels) and whose mean change between frames
    is within a little of the least, the one with the most distinct colours wins: gradients
    and fine texture are where a few colours show speckle and banding.
    """
    h, w = run[0].shape[:2]
    cw = min(w, max(32, min(96, w // 5)))
    ch = min(h, max(24, min(72, h // 5)))
    stride = max(1, min(cw, ch) // 8)
    ys, xs = _positions(h, ch, stride), _positions(w, cw, stride)

    motion = np.zeros((h, w))
    for a, b in pairwise(run):
        diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2)
        np.maximum(motion, diff, out=motion)
    mid = run[len(run) // 2]
    luma = mid.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    mean = _window_means(luma, ch, cw, ys, xs)
    std = np.sqrt(np.clip(_window_means(luma**2, ch, cw, ys, xs) - mean**2, 0, None))
    change = _window_means(motion, ch, cw, ys, xs)

    textured = std >= max(3.0, 0.25 * float(np.percentile(std, 90)))
    if not textured.any():
        textured = std >= std.max()
    least = change[textured].min()
    iy, ix = np.nonzero(textured & (change <= least + 0.5 + 0.25 * least))
    if iy.size > 300:  # distinct colours are counted on at most 300 windows, spread evenly
        keep = np.linspace(0, iy.size - 1, 300).astype(np.intp)
        iy, ix = iy[keep], ix[keep]
    best = max(
        zip(iy, ix, strict=True),
        key=lambda p: (
            distinct_colours(mid[ys[p[0]] : ys[p[0]] + ch, xs[p[1]] : xs[p[1]] + cw]),
            -change[p],
            std[p],
        ),
    )
    return Crop(int(xs[best[1]]), int(ys[best[0]]), cw, ch, "auto")


def distinct_colours(rgb: NDArray[np.uint8]) -> int:
    """Number of distinct RGB triples in an (..., 3) uint8 array."""
    c = rgb.reshape(-1, 3).astype(np.uint32)
    return int(np.unique(c[:, 0] << 16 | c[:, 1] << 8 | c[:, 2]).size)


# --------------------------------------------------------------------------------------------
# drawing


def _fit(rgb: NDArray[np.uint8], w: int, h: int) -> Image.Image:
    im = Image.fromarray(rgb)
    return im if im.size == (w, h) else im.resize((w, h), Image.Resampling.NEAREST)


def _labelled(im: Image.Image, label: str, font: ImageFont.ImageFont) -> Image.Image:
    """``im`` under a dark bar holding ``label``."""
    left, top, right, bottom = font.getbbox(label)
    bar = bottom - top + 6
    cell = Image.new("RGB", (max(im.width, right - left + 8), bar + im.height), BACKGROUND)
    draw = ImageDraw.Draw(cell)
    draw.rectangle((0, 0, cell.width - 1, bar - 1), fill=BAR)
    draw.text((4 - left, 3 - top), label, font=font, fill=TEXT)
    cell.paste(im, (0, bar))
    return cell


def _grid(rows: list[list[Image.Image]]) -> Image.Image:
    widths = [max(r[j].width for r in rows if j < len(r)) for j in range(max(map(len, rows)))]
    heights = [max(c.height for c in r) for r in rows]
    sheet = Image.new(
        "RGB", (sum(widths) + GAP * (len(widths) + 1), sum(heights) + GAP * len(rows)), BACKGROUND
    )
    y = GAP
    for r, rh in zip(rows, heights, strict=True):
        x = GAP
        for c, cw in zip(r, widths, strict=False):  # a short row leaves its last columns empty
            sheet.paste(c, (x, y))
            x += cw + GAP
        y += rh + GAP
    return sheet


def _stack(parts: list[Image.Image | str], font: ImageFont.ImageFont) -> Image.Image:
    """Images one under another; a str becomes a full-width title bar."""
    width = max(p.width for p in parts if isinstance(p, Image.Image))
    ims = [
        _labelled(Image.new("RGB", (width, 0)), p, font) if isinstance(p, str) else p for p in parts
    ]
    sheet = Image.new("RGB", (max(i.width for i in ims), sum(i.height for i in ims)), BACKGROUND)
    y = 0
    for im in ims:
        sheet.paste(im, (0, y))
        y += im.height
    return sheet


def _label(name: str, fr: Frame, align: str) -> str:
    return f"{name} #{fr.index}" if align == "index" else f"{name} #{fr.index} {fr.start:.2f}s"


# --------------------------------------------------------------------------------------------
# command line


def _tool(spec: str) -> tuple[str, Path]:
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {spec!r}")
    return name, Path(path)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="contact_sheet.py",
        description="Render source and tool outputs side by side, with a zoomed static crop.",
    )
    p.add_argument("source", type=Path, help="source GIF or video")
    p.add_argument("out", type=Path, help="PNG to write")
    p.add_argument(
        "--tool", type=_tool, action="append", required=True, metavar="NAME=PATH",
        help="a tool's output (GIF or video); repeat for more rows",
    )  # fmt: skip
    p.add_argument("--frames", default="0,mid,last", help="frames to show: N, -N, first, mid, last")
    p.add_argument("--crop", default="auto", help="x,y,w,h of the zoomed region, or auto")
    p.add_argument("--zoom", type=int, default=4, help="nearest-neighbour zoom of the crop")
    p.add_argument("--crop-frames", type=int, default=4, help="consecutive frames in the crop")
    p.add_argument(
        "--align", choices=("time", "index"), default="time",
        help="match a tool's frames to the source's by display time or by frame number",
    )  # fmt: skip
    return p


@dataclass(frozen=True)
class Row:
    """One row of the sheet: the frames shown and the crop run, as decoded (any size)."""

    name: str
    shown: list[Frame]
    run: list[Frame]


@dataclass(frozen=True)
class Gathered:
    rows: list[Row]
    crop: Crop
    width: int
    height: int
    n_frames: int


def gather(
    source: Path,
    tools: list[tuple[str, Path]],
    *,
    frames: list[int],
    crop: tuple[int, int, int, int] | None,
    crop_frames: int,
    align: str,
) -> Gathered:
    """Decode the source once, then each tool once, keeping only the frames the sheet shows."""
    n_est = max(1, count_frames(source))
    shown_idx = resolve_frames(frames, n_est)
    run_idx = crop_run(n_est, crop_frames)
    kept, final = collect_indices(iter_frames(source, align=align), set(shown_idx) | set(run_idx))

    def source_frame(i: int) -> Frame:
        # The container's count can overstate what decodes: past the end is the final frame.
        return final if i == LAST or i > final.index else kept[i]

    # Tokens that land on one frame (a still, "-1,last") show it once.
    shown = list({f.index: f for f in map(source_frame, shown_idx)}.values())
    run = list({f.index: f for f in map(source_frame, run_idx)}.values())
    # Pillow grows the canvas of a GIF whose frames overflow it: the final frame is the largest.
    h, w = final.rgb.shape[:2]
    if crop is None:
        box = auto_crop([np.asarray(_fit(f.rgb, w, h)) for f in run])
    else:
        box = clamp_crop(*crop, w, h)

    rows = [Row("source", shown, run)]
    times = [f.start + f.duration / 2 for f in shown + run]
    for name, path in tools:
        got = collect_at_times(iter_frames(path, align=align), times)
        rows.append(Row(name, got[: len(shown)], got[len(shown) :]))
    return Gathered(rows, box, w, h, final.index + 1)


def draw_sheet(g: Gathered, *, title: str, zoom: int, align: str) -> Image.Image:
    """The overview block (rows x shown frames) above the zoomed crop block (rows x run)."""
    font = ImageFont.load_default()
    c = g.crop
    overview: list[list[Image.Image]] = []
    zoomed: list[list[Image.Image]] = []
    for r, row in enumerate(g.rows):
        cells = []
        for f in row.shown:
            im = _fit(f.rgb, g.width, g.height)
            if r == 0:  # the crop's place, on the source row only so the tools' pixels stay bare
                im = im.copy()
                ImageDraw.Draw(im).rectangle(
                    (c.x - 1, c.y - 1, c.x + c.w, c.y + c.h), outline=CROP_OUTLINE
                )
            cells.append(_labelled(im, _label(row.name, f, align), font))
        overview.append(cells)
        tiles = []
        for f in row.run:
            tile = _fit(f.rgb, g.width, g.height).crop((c.x, c.y, c.x + c.w, c.y + c.h))
            tile = tile.resize((c.w * zoom, c.h * zoom), Image.Resampling.NEAREST)
            tiles.append(_labelled(tile, _label(row.name, f, align), font))
        zoomed.append(tiles)

    run = g.rows[0].run
    ends = (run[0].index, run[-1].index)
    frames_of_run = f"frames {ends[0]}-{ends[1]}" if len(run) > 1 else f"frame {ends[0]}"
    names = ", ".join(row.name for row in g.rows)
    return _stack(
        [
            f"{title}  {g.width}x{g.height}  {g.n_frames} frames  rows: {names}",
            _grid(overview),
            f"static crop x={c.x} y={c.y} {c.w}x{c.h} ({c.how}, magenta box above)"
            f"  source {frames_of_run}  nearest x{zoom}",
            _grid(zoomed),
        ],
        font,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for path in [args.source, *(p for _, p in args.tool)]:
        if not path.is_file():
            parser.error(f"{path}: no such file")
    if args.zoom < 1 or args.crop_frames < 1:
        parser.error("--zoom and --crop-frames must be at least 1")
    try:
        frames = parse_frames(args.frames)
    except ValueError as e:
        parser.error(f"--frames: {e}")
    try:
        crop = parse_crop(args.crop)
    except ValueError:
        parser.error(f"--crop: expected x,y,w,h or auto, got {args.crop!r}")

    try:
        g = gather(
            args.source,
            args.tool,
            frames=frames,
            crop=crop,
            crop_frames=args.crop_frames,
            align=args.align,
        )
    except (OSError, ValueError, RuntimeError, Image.DecompressionBombError) as e:  # undecodable
        print(f"contact_sheet.py: {e}", file=sys.stderr)
        return 1

    print("distinct colours per shown frame")
    width = max(len(row.name) for row in g.rows)
    for row in g.rows:
        counts = "  ".join(f"#{f.index}: {distinct_colours(f.rgb)}" for f in row.shown)
        print(f"  {row.name:<{width}}  {counts}")

    sheet = draw_sheet(g, title=args.source.name, zoom=args.zoom, align=args.align)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
