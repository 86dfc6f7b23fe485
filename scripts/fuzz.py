"""Fuzz the command line with mutated images; count converts, clean errors and every failure.

    python scripts/fuzz.py                 # 200 mutations, one subprocess each
    python scripts/fuzz.py -n 1000 -j 2 --seed 7 --keep crashes/
    python scripts/fuzz.py --atheris       # coverage-guided, in-process (needs atheris)

Seeds: a tiny generated clip, samples/shapes.gif, ../shared/corpus/edge/*.gif when present, and
Pillow-made PNG, APNG, animated WebP and multi-page TIFF clips. GIFs get structure-aware
mutations (extensions inserted, removed or emptied; image descriptor fields, LZW minimum code
size, truncated sub-blocks, duplicated or dropped frames, control-block fields) and byte-wise
ones; PNGs chunk-level ones (chunks dropped, doubled, swapped; acTL and fcTL fields) and
byte-wise ones, their CRCs mended half the time so that the mutation reaches the decoder; WebP
and TIFF byte-wise ones.

Each mutated file runs as ``python -m gifquant IN OUT`` with a timeout (OUT a GIF, one run in ten
a folder of PNG frames), in a fresh folder that also holds its TMPDIR. A run passes when it
converts (exit 0, the output decodes, with at least as many frames as the input holds: a GIF's
image blocks, counted here independently of gifquant, or Pillow's count for other formats) or
refuses cleanly (exit 2, one ``gifquant: error:`` line on stderr, no output); a traceback, an
internal error, a wrong frame count, a leftover file (``.part``, temporary folder), another exit
code or a timeout is a failure, and with ``--keep`` the input is saved for a regression test.
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EDGE = ROOT.parent / "shared" / "corpus" / "edge"
# Small budgets: a mutated size field may claim a legal but slow 8000x8000 canvas.
LIMITS = ["--max-pixels", "1000000", "--max-clip-pixels", "20000000"]


def tiny_clip_gif() -> bytes:
    """A 4-frame 24x16 animated GIF with a transparent corner, written by gifquant's writer."""
    sys.path.insert(0, str(ROOT))
    from gifquant._core.frames import QuantizedFrame
    from gifquant._io.gif.write import GifWriter

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


def _clip(n: int, h: int, w: int) -> list[np.ndarray]:
    """RGB frames: colour bands that move, and a square that moves across them."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for t in range(n):
        img = np.stack([(xx * 9 + t * 20) % 256, (yy * 13) % 256, ((xx + yy) * 5) % 256], -1)
        img[2 : h // 2, t * 2 % w : t * 2 % w + 4] = (250, 240, 30)
        out.append(img.astype(np.uint8))
    return out


def pillow_seeds() -> list[tuple[str, bytes, str]]:
    """(name, bytes, suffix) of small PNG, APNG, animated WebP and multi-page TIFF files."""
    from PIL import Image

    frames = [Image.fromarray(f) for f in _clip(4, 12, 16)]
    alpha = Image.fromarray(np.full((12, 16), 255, np.uint8))
    alpha.paste(0, (0, 0, 4, 12))  # a see-through band
    rgba = [f.convert("RGBA") for f in frames]
    for im in rgba:
        im.putalpha(alpha)
    out = []

    def save(name: str, suffix: str, first, **opts) -> None:
        buf = io.BytesIO()
        first.save(buf, **opts)
        out.append((name, buf.getvalue(), suffix))

    save("png", "png", frames[0], format="PNG")
    save(
        "apng",
        "png",
        frames[0],
        format="PNG",
        save_all=True,
        append_images=frames[1:],
        duration=[40, 80, 40, 120],
        loop=0,
        disposal=1,
        blend=0,
    )
    save(
        "apng-alpha",
        "png",
        rgba[0],
        format="PNG",
        save_all=True,
        append_images=rgba[1:],
        duration=50,
        loop=0,
        blend=1,
    )
    save(
        "webp",
        "webp",
        frames[0],
        format="WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=60,
        loop=0,
        lossless=True,
    )
    save(
        "webp-alpha",
        "webp",
        rgba[0],
        format="WEBP",
        save_all=True,
        append_images=rgba[1:],
        duration=[40, 40, 80, 40],
        loop=0,
        quality=50,
    )
    save("tiff", "tif", frames[0], format="TIFF", save_all=True, append_images=frames[1:])
    save(
        "tiff-lzw",
        "tif",
        rgba[0],
        format="TIFF",
        save_all=True,
        append_images=rgba[1:],
        compression="tiff_lzw",
    )
    return out


def seed_files(*, others: bool = True) -> list[tuple[str, bytes, str]]:
    """(name, bytes, suffix) of the files to mutate: GIFs, then (``others``) the Pillow seeds."""
    seeds = [("tiny", tiny_clip_gif(), "gif")]
    shapes = ROOT / "samples" / "shapes.gif"
    if shapes.exists():
        seeds.append(("shapes", shapes.read_bytes(), "gif"))
    if EDGE.is_dir():
        seeds += [(p.stem, p.read_bytes(), "gif") for p in sorted(EDGE.glob("*.gif"))]
    if others:
        seeds += pillow_seeds()
    return seeds


# --- GIF structure -------------------------------------------------------------------------


def gif_blocks(data: bytes) -> tuple[bytes, list[list], bytes] | None:
    """Split a well-formed GIF into (header with global table, blocks, tail).

    A block is ``["ext", label, [sub-blocks]]`` or ``["img", descriptor (9 bytes), local
    table, lzw minimum code size, [sub-blocks]]``; None when ``data`` does not parse.
    """
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        return None
    pos = 13 + ((3 << ((data[10] & 7) + 1)) if data[10] & 0x80 else 0)
    head, blocks = data[:pos], []

    def subs(p: int) -> tuple[list[bytes], int]:
        out = []
        while True:
            n = data[p]
            if n == 0:
                return out, p + 1
            out.append(data[p + 1 : p + 1 + n])
            if len(out[-1]) != n:
                raise IndexError
            p += 1 + n

    try:
        while pos < len(data) and data[pos] != 0x3B:
            if data[pos] == 0x21:
                label = data[pos + 1]
                chain, pos = subs(pos + 2)
                blocks.append(["ext", label, chain])
            elif data[pos] == 0x2C:
                desc = data[pos + 1 : pos + 10]
                fl = desc[8]
                n = (3 << ((fl & 7) + 1)) if fl & 0x80 else 0
                table = data[pos + 10 : pos + 10 + n]
                lzw = data[pos + 10 + n]
                chain, end = subs(pos + 11 + n)
                blocks.append(["img", desc, table, lzw, chain])
                pos = end
            else:
                return None
    except IndexError:
        return None
    return head, blocks, data[pos:]


def gif_join(head: bytes, blocks: list[list], tail: bytes) -> bytes:
    """The GIF bytes of ``gif_blocks``' parts (sub-blocks longer than 255 bytes are cut)."""
    out = bytearray(head)

    def chain(subs: list[bytes]) -> None:
        for sb in subs:
            out.append(len(sb[:255]))
            out.extend(sb[:255])
        out.append(0)

    for b in blocks:
        if b[0] == "ext":
            out += bytes([0x21, b[1]])
            chain(b[2])
        else:
            out += b"\x2c" + b[1] + b[2] + bytes([b[3]])
            chain(b[4])
    return bytes(out + tail)


def _frames(blocks: list[list]) -> list[int]:
    return [i for i, b in enumerate(blocks) if b[0] == "img"]


def _pick(rng: np.random.Generator, items: list):
    return items[int(rng.integers(0, len(items)))] if items else None


def _new_extension(rng: np.random.Generator) -> list:
    kind = int(rng.integers(0, 7))
    if kind == 0:  # empty data: legal, and Pillow's trap
        return ["ext", int(_pick(rng, [0xF9, 0xFF, 0xFE, 0x01])), []]
    if kind == 1:  # a graphic control block of odd size
        n = int(rng.integers(1, 8))
        return ["ext", 0xF9, [rng.integers(0, 256, n, dtype=np.uint8).tobytes()]]
    if kind == 2:  # a graphic control block, random fields
        fl, delay, ti = (int(v) for v in rng.integers(0, [256, 65536, 256]))
        return ["ext", 0xF9, [bytes([fl]) + struct.pack("<H", delay) + bytes([ti])]]
    if kind == 3:  # a loop count
        return ["ext", 0xFF, [b"NETSCAPE2.0", b"\x01" + struct.pack("<H", int(rng.integers(0, 9)))]]
    if kind == 4:  # a comment of several sub-blocks
        return ["ext", 0xFE, [b"x" * int(rng.integers(1, 256)) for _ in range(rng.integers(1, 4))]]
    if kind == 5:  # a plain text block
        return ["ext", 0x01, [bytes(12), b"hello"]]
    return ["ext", int(rng.integers(0, 256)), [rng.bytes(int(rng.integers(1, 40)))]]


def mutate_gif_structure(data: bytes, rng: np.random.Generator) -> tuple[bytes, str] | None:
    """One to three block-level mutations of a well-formed GIF; None when it does not parse."""
    parsed = gif_blocks(data)
    if parsed is None:
        return None
    head, blocks, tail = parsed
    head = bytearray(head)
    done = []
    for _ in range(int(rng.integers(1, 4))):
        frames = _frames(blocks)
        exts = [i for i, b in enumerate(blocks) if b[0] == "ext"]
        kind = int(rng.integers(0, 12))
        if kind == 0:  # insert an extension (often just before a frame)
            at = _pick(rng, frames) if rng.random() < 0.7 and frames else None
            at = int(rng.integers(0, len(blocks) + 1)) if at is None else at
            ext = _new_extension(rng)
            blocks.insert(at, ext)
            done.append(f"ext+{ext[1]:02x}/{len(ext[2])}@{at}")
        elif kind == 1 and exts:  # remove an extension
            i = _pick(rng, exts)
            del blocks[i]
            done.append(f"ext-@{i}")
        elif kind == 2 and exts:  # empty an extension's data
            i = _pick(rng, exts)
            blocks[i][2] = []
            done.append(f"ext0@{i}")
        elif kind == 3 and exts:  # a control block's fields
            i = _pick(rng, [j for j in exts if blocks[j][1] == 0xF9] or exts)
            sb = bytearray(blocks[i][2][0] if blocks[i][2] else b"\x00")
            j = int(rng.integers(0, len(sb)))
            sb[j] = int(rng.integers(0, 256))
            blocks[i][2] = [bytes(sb), *blocks[i][2][1:]]
            done.append(f"extfield@{i}.{j}")
        elif kind == 4 and frames:  # position or size in the image descriptor
            i = _pick(rng, frames)
            desc = bytearray(blocks[i][1])
            field = int(rng.integers(0, 4))
            old = struct.unpack("<H", desc[2 * field : 2 * field + 2])[0]
            new = int(
                _pick(
                    rng,
                    [
                        0,
                        1,
                        old + 1,
                        max(0, old - 1),
                        old * 2,
                        255,
                        4096,
                        65535,
                        int(rng.integers(0, 65536)),
                    ],
                )
            )
            desc[2 * field : 2 * field + 2] = struct.pack("<H", min(new, 65535))
            blocks[i][1] = bytes(desc)
            done.append(f"desc{'xywh'[field]}={new}@{i}")
        elif kind == 5 and frames:  # interlace, local table flag or size, sort bit
            i = _pick(rng, frames)
            desc = bytearray(blocks[i][1])
            what = int(rng.integers(0, 4))
            if what == 0:
                desc[8] ^= 0x40
            elif what == 1:  # the flag alone: the table bytes do not follow it
                desc[8] ^= 0x80
            elif what == 2:
                desc[8] = (desc[8] & ~7) | int(rng.integers(0, 8))
            else:  # a proper local table of random colours
                bits = int(rng.integers(0, 8))
                desc[8] = (desc[8] & 0x78) | 0x80 | bits
                blocks[i][2] = rng.bytes(3 << (bits + 1))
            blocks[i][1] = bytes(desc)
            done.append(f"flags{what}={desc[8]:02x}@{i}")
        elif kind == 6 and frames:  # LZW minimum code size
            i = _pick(rng, frames)
            blocks[i][3] = int(_pick(rng, [0, 1, 2, 3, 7, 8, 11, 12, 13, 255]))
            done.append(f"lzw={blocks[i][3]}@{i}")
        elif kind == 7 and frames:  # fewer or shorter data sub-blocks
            i = _pick(rng, frames)
            chain = blocks[i][4]
            if chain:
                j = int(rng.integers(0, len(chain)))
                blocks[i][4] = chain[:j] + (
                    [chain[j][: int(rng.integers(0, len(chain[j])))]] if rng.random() < 0.5 else []
                )
            done.append(f"subcut@{i}")
        elif kind == 8 and frames:  # duplicate a frame with its control block
            i = _pick(rng, frames)
            lo = i - 1 if i and blocks[i - 1][0] == "ext" else i
            at = int(rng.integers(0, len(blocks) + 1))
            blocks[at:at] = [list(b) for b in blocks[lo : i + 1]]
            done.append(f"dupframe{i}@{at}")
        elif kind == 9 and len(frames) > 1:  # drop a frame
            i = _pick(rng, frames)
            del blocks[i]
            done.append(f"delframe@{i}")
        elif kind == 10:  # screen size, global table flag or size
            what = int(rng.integers(0, 3))
            if what == 0:
                j = int(rng.integers(6, 10))
                head[j] = int(rng.integers(0, 256))
            elif what == 1:
                head[10] ^= 0x80
            else:
                head[10] = (head[10] & ~7) | int(rng.integers(0, 8))
            done.append(f"screen{what}")
        elif kind == 11:  # no trailer, or bytes after it
            tail = b"" if tail else b";" + rng.bytes(int(rng.integers(0, 20)))
            done.append("tail")
    return gif_join(bytes(head), blocks, tail), ",".join(done)


def mend_png_crcs(data: bytes) -> bytes:
    """The PNG's chunks with their CRCs recomputed (as far as the chunk lengths can be walked)."""
    b = bytearray(data)
    pos = 8
    while pos + 12 <= len(b):
        n = struct.unpack(">I", b[pos : pos + 4])[0]
        end = pos + 8 + n
        if end + 4 > len(b):
            break
        b[end : end + 4] = struct.pack(">I", zlib.crc32(b[pos + 4 : end]) & 0xFFFFFFFF)
        pos = end + 4
    return bytes(b)


def mutate_png_chunks(data: bytes, rng: np.random.Generator) -> tuple[bytes, str] | None:
    """One or two chunk-level mutations of a PNG or APNG (chunks dropped, doubled, swapped; an
    acTL or fcTL field changed), CRCs mended; None when the chunks do not parse."""
    chunks, pos = [], 8
    while pos + 12 <= len(data):
        n = struct.unpack(">I", data[pos : pos + 4])[0]
        chunks.append(bytearray(data[pos : pos + 12 + n]))
        pos += 12 + n
    if len(chunks) < 3 or pos != len(data):
        return None
    done = []
    for _ in range(int(rng.integers(1, 3))):
        i = int(rng.integers(1, len(chunks) - 1))  # IHDR and IEND stay
        kind = int(rng.integers(0, 4))
        if kind == 0:
            del chunks[i]
            done.append(f"chunk-@{i}")
        elif kind == 1:
            chunks.insert(int(rng.integers(1, len(chunks))), bytearray(chunks[i]))
            done.append(f"chunk2@{i}")
        elif kind == 2:
            j = int(rng.integers(1, len(chunks) - 1))
            chunks[i], chunks[j] = chunks[j], chunks[i]
            done.append(f"swap{i}:{j}")
        else:
            ctl = [k for k, c in enumerate(chunks) if c[4:8] in (b"acTL", b"fcTL")]
            if not ctl:
                continue
            k = _pick(rng, ctl)
            body = len(chunks[k]) - 12
            j = 8 + 4 * int(rng.integers(0, max(1, body // 4)))
            value = int(_pick(rng, [0, 1, 2, 7, 0x7FFFFFFF, 0xFFFFFFFF, int(rng.integers(0, 99))]))
            chunks[k][j : j + 4] = struct.pack(">I", value)[: len(chunks[k][j : j + 4])]
            done.append(f"{bytes(chunks[k][4:8]).decode()}@{j}={value}")
        if len(chunks) < 3:
            break
    return mend_png_crcs(data[:8] + b"".join(bytes(c) for c in chunks)), ",".join(done)


def mutate_any(name: str, data: bytes, suffix: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """A mutation fit for the seed's format: structure-aware ones for GIFs, byte-wise ones,
    or both."""
    how = []
    if suffix == "gif" and rng.random() < 0.6:
        got = mutate_gif_structure(data, rng)
        if got is not None:
            data, what = got
            how.append(what)
    if suffix == "png" and rng.random() < 0.4:
        got = mutate_png_chunks(data, rng)
        if got is not None:
            data, what = got
            how.append(what)
    if not how or rng.random() < 0.3:
        data, what = mutate(data, rng)
        how.append(what)
    if suffix == "png" and rng.random() < 0.5:
        data = mend_png_crcs(data)
        how.append("crc")
    return data, " ".join(how)


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


def count_gif_frames(data: bytes) -> int | None:
    """Complete image blocks in a GIF, walked here (not by gifquant's scan); None if no GIF.

    Bytes between blocks that start none are skipped, as decoders do.
    """
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        return None
    pos = 13 + ((3 << ((data[10] & 7) + 1)) if data[10] & 0x80 else 0)
    n = 0

    def chain_end(p: int) -> int:
        while p < len(data) and data[p]:
            p += data[p] + 1
        if p >= len(data):
            raise IndexError
        return p + 1

    try:
        while pos < len(data) and data[pos] != 0x3B:
            if data[pos] == 0x21:
                pos = chain_end(pos + 2)
            elif data[pos] == 0x2C:
                fl = data[pos + 9] if pos + 9 < len(data) else 0
                pos = chain_end(pos + 11 + ((3 << ((fl & 7) + 1)) if fl & 0x80 else 0))
                n += 1
            else:
                pos += 1
    except IndexError:
        pass  # a truncated last frame is not complete
    return n


def count_frames(data: bytes) -> int | None:
    """How many frames the input holds: a GIF's image blocks, else Pillow's count (or None)."""
    n = count_gif_frames(data)
    if n is not None:
        return n
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                return int(getattr(im, "n_frames", 1))
    except Exception:
        return None


VERDICTS = ("convert", "clean", "traceback", "internal", "wrongcount", "leftover", "hang", "bad")


def classify(
    rc: int | None, stderr: str, out: Path, folder: Path, inputs: list[str], want: int | None
) -> str:
    """One of ``VERDICTS`` for one run; ``inputs`` are the files the run started with, ``want``
    the input's frame count (None: unknown)."""
    if rc is None:
        return "hang"
    if "Traceback" in stderr:
        return "traceback"
    if "gifquant: internal error:" in stderr:
        return "internal"  # a bug the command line caught: one line, but a bug
    left = sorted(os.listdir(folder))
    if [p for p in left if p not in (*inputs, out.name)] or os.listdir(folder / "tmp"):
        return "leftover"
    lines = stderr.strip().splitlines()
    if rc == 2 and len(lines) == 1 and lines[0].startswith("gifquant: error:"):
        return "clean" if not out.exists() else "bad"
    if rc == 0 and out.exists() and not lines:
        try:
            got = _output_frames(out)
        except Exception:
            return "bad"
        if got is None:
            return "leftover"  # a folder output holding something besides its frames
        if want is not None and got < want:
            return "wrongcount"
        return "convert"
    return "bad"


def _output_frames(out: Path) -> int | None:
    """Frames in an output: a GIF (each decoded; Pillow's count must match a plain walk) or a
    folder of PNGs (None when it holds anything else). Raises when a frame does not decode."""
    from PIL import Image, ImageSequence

    if out.is_dir():
        names = sorted(os.listdir(out))
        if any(not (n.startswith("frame_") and n.endswith(".png")) for n in names):
            return None
        for n in names:
            with Image.open(out / n) as im:
                im.convert("RGBA")
        return len(names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(out) as im:
            got = 0
            for fr in ImageSequence.Iterator(im):
                fr.convert("RGBA")
                got += 1
    if got != count_gif_frames(out.read_bytes()):
        raise ValueError("Pillow and a plain walk disagree on the output's frame count")
    return got


def run_one(
    data: bytes, timeout: float, suffix: str = "gif", output: str = "gif"
) -> tuple[str, str]:
    """Run the CLI on ``data`` in a fresh folder, to ``out.gif`` or (``output="png"``) a folder
    of PNG frames; returns (verdict, stderr)."""
    want = count_frames(data)
    with tempfile.TemporaryDirectory(prefix="gifquant-fuzz-") as tmp:
        folder = Path(tmp)
        (folder / "tmp").mkdir()
        src = folder / f"in.{suffix}"
        out = folder / ("out.gif" if output == "gif" else "frames")
        src.write_bytes(data)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(folder / "tmp")}
        cmd = [sys.executable, "-m", "gifquant", str(src), str(out), "-k", "4", "-q", *LIMITS]
        if output == "png":
            cmd += ["-f", "png"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return "hang", ""
        verdict = classify(r.returncode, r.stderr, out, folder, ["tmp", src.name], want)
        detail = r.stderr
        if verdict == "wrongcount":
            detail += f"(input holds {want} frames, output has fewer)"
        if verdict == "leftover":
            detail += f"(left: {sorted(os.listdir(folder))} tmp: {os.listdir(folder / 'tmp')})"
        return verdict, detail


def run_atheris() -> None:  # pragma: no cover - local only
    import atheris

    with atheris.instrument_imports():
        from gifquant._cli import main

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
    p.add_argument("-j", "--jobs", type=int, default=1, help="runs at a time (default 1)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per run (default 30)")
    p.add_argument("--keep", type=Path, help="save failing inputs in this folder")
    p.add_argument("--gif-only", action="store_true", help="GIF seeds only")
    p.add_argument("-v", "--verbose", action="store_true", help="print every run's verdict")
    p.add_argument("--atheris", action="store_true", help="coverage-guided fuzzing (atheris)")
    args, _ = p.parse_known_args()
    if args.atheris:
        run_atheris()
        return 0
    rng = np.random.default_rng(args.seed)
    seeds = seed_files(others=not args.gif_only)
    cases = []  # drawn up front, so a seed gives the same cases whatever -j
    for i in range(args.n):
        name, base, suffix = seeds[int(rng.integers(0, len(seeds)))]
        data, how = mutate_any(name, base, suffix, rng)
        output = "png" if rng.random() < 0.1 else "gif"
        cases.append((i, name, suffix, data, how, output))
    counts = dict.fromkeys(VERDICTS, 0)
    start = time.perf_counter()

    def one(case):
        return case, run_one(case[3], args.timeout, case[2], case[5])

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for (i, name, suffix, data, how, output), (verdict, err) in pool.map(one, cases):
            how += " -f png" if output == "png" else ""
            counts[verdict] += 1
            if args.verbose:
                print(f"[{i}] {verdict} {name} {how}: {err.strip()[:150]}", file=sys.stderr)
            if verdict not in ("convert", "clean"):
                print(f"[{i}] {verdict}: {name} {how}\n{err.strip()[-600:]}", file=sys.stderr)
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    path = args.keep / f"{i:05d}-{name}-{verdict}.{suffix}"
                    path.write_bytes(data)
    seconds = time.perf_counter() - start
    print(" ".join(f"{k}={v}" for k, v in counts.items()) + f" ({args.n} runs, {seconds:.0f} s)")
    return 0 if counts["convert"] + counts["clean"] == args.n else 1


if __name__ == "__main__":
    sys.exit(main())
