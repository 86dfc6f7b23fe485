"""The bundled ffmpeg binary: find it, probe a file, run it as a child that is always reaped."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .._errors import GifquantError
from . import children

# ffmpeg colourspace tags -> the names the scale filter's in_color_matrix takes.
_MATRICES = {
    "bt709": "bt709",
    "bt470bg": "bt601",
    "smpte170m": "bt601",
    "bt601": "bt601",
    "fcc": "fcc",
    "smpte240m": "smpte240m",
    "bt2020nc": "bt2020",
    "bt2020c": "bt2020",
}


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of imageio-ffmpeg's bundled ffmpeg (never a system one, so behaviour is pinned), or
    of the one ``IMAGEIO_FFMPEG_EXE`` names, as imageio-ffmpeg does."""
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise GifquantError(f"ffmpeg is not available: {exc}", exit_code=1) from None
    exe = os.environ.get("IMAGEIO_FFMPEG_EXE") or _bundled(imageio_ffmpeg.__file__)
    if exe:
        return exe
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise GifquantError(f"ffmpeg is not available: {exc}", exit_code=1) from None


def _bundled(package_file: str) -> str | None:
    """The executable in imageio-ffmpeg's ``binaries`` folder, found without running it.

    ``get_ffmpeg_exe`` runs ``ffmpeg -version`` to check the binary: one more process start per
    run. A binary that cannot run fails at its first real run, with a one-line error.
    """
    folder = Path(package_file).parent / "binaries"
    found = sorted(p for p in folder.glob("ffmpeg*") if p.is_file() and os.access(p, os.X_OK))
    return str(found[0]) if len(found) == 1 else None


@dataclass(frozen=True)
class VideoProbe:
    """What ``ffmpeg -i`` says about a file's first video stream.

    width, height : size of the frames as shown: square pixels, after ffmpeg's autorotation
    fps : frame rate (the stream's fps, else tbr), or None
    duration : seconds, or None
    matrix : YCbCr matrix for the scale filter (bt601, bt709, ...), None for RGB sources
    full_range : True when the YCbCr samples use 0..255 (pc/jpeg range)
    """

    width: int
    height: int
    fps: float | None
    duration: float | None
    pix_fmt: str
    matrix: str | None
    full_range: bool
    rotation: float = 0.0


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses or brackets."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def parse_probe(stderr: str) -> VideoProbe | None:
    """Parse the stream description ``ffmpeg -i FILE`` prints; None when there is no video."""
    lines = stderr.splitlines()
    duration = None
    m = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", stderr)
    if m:
        duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    for i, line in enumerate(lines):
        m = re.search(r"Stream #\S+.*?: Video: (.*)$", line)
        if not m:
            continue
        if "(attached pic)" in line:  # cover art in audio files is not a clip
            continue
        parts = _split_top(m[1])
        if len(parts) < 2:
            continue
        fm = re.match(r"(\w+)(?:\((.*)\))?", parts[1])
        pix_fmt = fm[1] if fm else ""
        tags = [t.strip() for t in (fm[2] or "").split(",")] if fm else []
        width = height = 0
        fps = None
        for p in parts[1:]:
            sm = re.match(r"(\d+)x(\d+)(?: \[SAR (\d+):(\d+))?", p)
            if sm and not width:
                width, height = int(sm[1]), int(sm[2])
                if sm[3] and int(sm[3]) > 0 and int(sm[4]) > 0 and sm[3] != sm[4]:
                    # Non-square pixels: decode to the shape players show.
                    width = max(1, round(width * int(sm[3]) / int(sm[4])))
            fm2 = re.match(r"([\d.]+)(k?) (fps|tbr)$", p)
            if fm2 and (fps is None or fm2[3] == "fps"):
                v = float(fm2[1]) * (1000 if fm2[2] else 1)
                if v > 0 and (fps is None or fm2[3] == "fps"):
                    fps = v
        # Side data (rotation) follows the stream line, until the next stream.
        rotation = 0.0
        for nxt in lines[i + 1 :]:
            if "Stream #" in nxt:
                break
            rm = re.search(r"rotation of (-?[\d.]+) degrees", nxt)
            if rm:
                rotation = float(rm[1])
        if round(rotation) % 180 == 90:
            width, height = height, width
        is_yuv = pix_fmt.startswith(("yuv", "nv", "p0", "p2", "p4", "gray", "y2", "uyv", "yuyv"))
        full_range = pix_fmt.startswith("yuvj") or "pc" in tags
        matrix = None
        if is_yuv:
            for t in tags:
                name = t.split("/")[0]
                if name in _MATRICES:
                    matrix = _MATRICES[name]
                    break
            else:
                # Untagged: HD is BT.709, SD is BT.601, as players assume.
                matrix = "bt709" if width >= 1280 or height > 576 else "bt601"
        return VideoProbe(width, height, fps, duration, pix_fmt, matrix, full_range, rotation)
    return None


def probe(path: str, early=None) -> tuple[VideoProbe | None, str]:
    """Run ``ffmpeg -i path`` (or take its result from ``early``, a ``prestart.EarlyStart``,
    when the command started it while importing); return the first video stream (or None) and
    ffmpeg's last line."""
    got = early.take_probe(path) if early is not None else None
    return got if got is not None else run_probe(path)  # type: ignore[return-value]


def run_probe(path: str) -> tuple[VideoProbe | None, str]:
    """Run ``ffmpeg -i path``: the first video stream (or None) and ffmpeg's last line."""
    try:
        # Tracked like every child: a signal while it runs (or while it starts, in the early
        # start's thread) must not leave it behind.
        proc = children.spawn(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", file_url(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise GifquantError(f"cannot run ffmpeg: {exc}", exit_code=1) from None
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        raise GifquantError(f"{path}: ffmpeg took over 60 s to read it", exit_code=1) from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.decode("utf-8", "replace")
    return parse_probe(text), last_error(text)


SWS_FLAGS = "accurate_rnd+full_chroma_int"  # exact rounding; the default path is off by 1-2 units


# Pixel formats that may carry alpha (ffmpeg's names, by prefix): their frames come over as RGBA,
# alpha and all, as every stream's once did (a scaled frame's colours are weighed by it).
_ALPHA_FORMATS = ("yuva", "gbrap", "ya", "rgba", "bgra", "argb", "abgr", "pal8", "ayuv", "vuya")


def decoded_format(pr: VideoProbe) -> str:
    """The raw format ffmpeg hands ``pr``'s frames over in: ``gbrp`` (planar RGB, planes G, B,
    R), or ``rgba`` where the stream may carry alpha or its format is not known."""
    return "gbrp" if pr.pix_fmt and not pr.pix_fmt.startswith(_ALPHA_FORMATS) else "rgba"


def file_url(path: str) -> str:
    """``path`` as ffmpeg's ``file:`` URL, so that a file named ``pipe:0`` or ``http:x.mp4``
    is read as the file, not as a protocol."""
    return "file:" + os.path.abspath(path)


def decode_args(path: str, pr: VideoProbe, width: int, height: int, start: float) -> list[str]:
    """ffmpeg's arguments to decode ``path``'s first video stream from ``start`` seconds to raw
    frames of ``width`` x ``height`` on stdout, converted with the stream's matrix to
    ``decoded_format(pr)``. Planar RGB where there is no alpha: the same pixels as RGBA, and
    cheaper (ffmpeg's conversion to a packed format costs it more than the interleave,
    ``_kernels.planes_rgba``, costs us: 1.2 against 0.2 ms a 720p frame), and a quarter fewer
    bytes cross the pipe."""
    scale = f"scale=w={width}:h={height}:flags={SWS_FLAGS}"
    if pr.matrix is not None:
        rng = "full" if pr.full_range else "limited"
        scale += f":in_color_matrix={pr.matrix}:in_range={rng}"
    seek = ["-ss", f"{start:.6f}"] if start > 0 else []
    fmt = decoded_format(pr)
    return [
        *seek,
        "-i",
        file_url(path),
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-dn",
        "-vf",
        f"{scale},format={fmt}",
        "-f",
        "rawvideo",
        "-pix_fmt",
        fmt,
        "pipe:1",
    ]


def last_error(text: str) -> str:
    """The most telling line of ffmpeg's stderr, without the ``[demuxer @ 0x...]`` prefix."""
    lines = [
        re.sub(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", ln).strip()
        for ln in text.splitlines()
        if ln.strip()
    ]
    lines = [ln for ln in lines if ln and "output file must be specified" not in ln]
    for ln in lines:
        if re.search(r"invalid|error|not found|corrupt|truncat", ln, re.I):
            return ln
    return lines[-1] if lines else ""


class FfmpegProcess:
    """A running ffmpeg child. Its stderr goes to a temporary file (no pipe to fill and block).

    The owner calls ``close()`` on every exit path (readers and writers do it in their own
    ``close``/``abort``, which the I/O context managers call): the child is killed and reaped.
    """

    def __init__(self, args: Sequence[str], *, stdin=None, stdout=None) -> None:
        self._err = tempfile.TemporaryFile()
        try:
            self.proc = children.spawn(
                [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", *args],
                stdin=stdin,
                stdout=stdout,
                stderr=self._err,
                bufsize=0,
            )
        except OSError as exc:
            self._err.close()
            raise GifquantError(f"cannot run ffmpeg: {exc}", exit_code=1) from None

    def stderr_text(self) -> str:
        self._err.seek(0)
        return self._err.read(65536).decode("utf-8", "replace")

    def wait(self, timeout: float | None = None) -> int:
        """Close our end of its pipes and wait for it; returns its exit code."""
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """Stop it now and reap it (no zombie left behind)."""
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        self._err.close()
