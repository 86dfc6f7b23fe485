"""Video in and out through the bundled ffmpeg, one frame at a time over a pipe.

Reading: ffmpeg decodes the first video stream (audio, subtitles and data are ignored, rotation
metadata is applied) and converts YCbCr to RGB with the matrix and range the stream is tagged
with (untagged: BT.709 for HD, BT.601 for SD, as players do): planar, interleaved to RGBA by a
kernel, or RGBA where the stream may carry alpha. Writing: raw RGB goes to ffmpeg's
stdin, H.264 yuv420p (mp4) or VP9 (webm) at a constant frame rate, tagged BT.709.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from .._core.frames import ClipInfo, Frame, QuantizedFrame
from .._errors import GifquantError
from .._kernels import planes_rgba
from .budget import check_budget
from .ffmpeg import (
    SWS_FLAGS,
    FfmpegProcess,
    decode_args,
    decoded_format,
    file_url,
    last_error,
    probe,
)
from .prestart import EarlyStart
from .timeline import CfrClock
from .y4m import rate_fraction

# Pixels sent to the encoder at a time.
_SEND_PIXELS = 1 << 18
GIF_ZERO_DELAY = 0.1  # seconds a 0-delay GIF frame shows for, in browsers and in ffmpeg


class VideoReader:
    """Iterate a video file's frames as RGBA ``Frame`` s; ``info`` is known once it is open.

    start : seek (accurately, in ffmpeg) to this time in seconds before the first frame
    """

    def __init__(
        self,
        path: str,
        *,
        name: str,
        max_pixels: int,
        start: float = 0.0,
        early: EarlyStart | None = None,
    ) -> None:
        self._path, self._name, self._start, self._early = path, name, start, early
        pr, err = probe(path, early)
        if pr is None:
            why = f" ({err})" if err else ""
            raise GifquantError(f"{name}: not an image or video gifquant can read{why}")
        if pr.width <= 0 or pr.height <= 0:
            raise GifquantError(f"{name}: video has no usable frame size")
        check_budget(name, pr.width, pr.height, 1, max_pixels=max_pixels, max_clip_pixels=0)
        self.probe = pr
        fps = pr.fps or 25.0
        n = None
        if pr.duration:
            n = max(1, round(max(0.0, pr.duration - start) * fps))
        self.info = ClipInfo(pr.width, pr.height, loop=0, fps=fps, n_frames=n)
        self._proc: FfmpegProcess | None = None
        self.seeked = start  # the caller's trim starts after this

    def __enter__(self) -> VideoReader:
        # Start decoding now: ffmpeg's start-up and first frame (~0.1 s) overlap the caller's
        # own setting up (output, threads) instead of following it.
        self.start()
        return self

    def start(self) -> None:
        """Start ffmpeg, if not running (iterating starts it too)."""
        if self._proc is None:
            args = self.ffmpeg_args()
            # The command line may have started this very decoder while it was importing.
            early = self._early.take_decoder(args) if self._early is not None else None
            self._proc = early or FfmpegProcess(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
            )

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop ffmpeg if it is still running (early exit, error) and reap it."""
        if self._proc is not None:
            self._proc.close()
            self._proc = None

    def ffmpeg_args(self) -> list[str]:
        return decode_args(self._path, self.probe, self.info.width, self.info.height, self._start)

    def __iter__(self) -> Iterator[Frame]:
        w, h = self.info.width, self.info.height
        # ffmpeg's planar frame, read into each time and interleaved (None: RGBA comes over)
        planes = np.empty((3, h, w), np.uint8) if decoded_format(self.probe) == "gbrp" else None
        size = w * h * (3 if planes is not None else 4)
        duration = 1.0 / self.info.fps
        self.start()
        out = self._proc.proc.stdout
        n = 0
        try:
            while True:
                buf = np.empty((h, w, 4), np.uint8)  # not zero-filled: every byte is written
                view = memoryview((buf if planes is None else planes).reshape(-1))
                got = 0
                while got < size:
                    k = out.readinto(view[got:])
                    if not k:
                        break
                    got += k
                if got == 0:
                    break
                if got < size:
                    raise GifquantError(f"{self._name}: broken or truncated video at frame {n}")
                if planes is not None:
                    planes_rgba(planes, buf)
                # Handed over, not kept: no reference stays here while the frame is worked on.
                handed = [Frame(buf, duration, opaque=True)]
                del buf, view
                yield handed.pop()
                n += 1
            rc = self._proc.wait(timeout=60)
            err = self._proc.stderr_text()
        finally:
            self.close()
        if rc == 0 and n == 0 and self._start > 0 and not _decode_errors(err):
            return  # sought past the end: no frames, the caller says so
        if rc != 0 or n == 0:
            why = last_error(err) or (f"ffmpeg exited with {rc}" if rc else "no frames")
            raise GifquantError(f"{self._name}: broken or truncated video at frame {n}: {why}")
        if _decode_errors(err):
            raise GifquantError(
                f"{self._name}: broken or truncated video (decoded {n} frames): {last_error(err)}"
            )


def planes_rgba_reference(gbr: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``_kernels.planes_rgba`` in numpy: ffmpeg's planar ``gbrp`` frame, (3, h, w) uint8, as a
    new (h, w, 4) RGBA frame, alpha 255."""
    out = np.full(gbr.shape[1:] + (4,), 255, np.uint8)
    out[..., 0], out[..., 1], out[..., 2] = gbr[2], gbr[0], gbr[1]
    return out


def _decode_errors(stderr: str) -> bool:
    """Whether ffmpeg reported damaged data (it carries on and exits 0 on a cut-off file)."""
    low = stderr.lower()
    return any(
        s in low
        for s in ("invalid nal", "error while decoding", "corrupt", "truncat", "partial file")
    )


class VideoWriter:
    """Encode QuantizedFrames to ``target`` (a path or ``pipe:1``) with ffmpeg at ``fps``.

    Frames of other durations are duplicated or dropped on the constant clock, as ffmpeg does.
    """

    def __init__(
        self,
        target: str,
        fmt: str,
        width: int,
        height: int,
        fps: float,
        *,
        stdout: BinaryIO | int | None = None,
    ) -> None:
        self._fmt = fmt
        self._clock = CfrClock(fps)
        self._last: QuantizedFrame | None = None
        self.n_frames = 0
        rate = rate_fraction(fps)
        to_yuv = (
            f"scale=out_color_matrix=bt709:out_range=tv:flags={SWS_FLAGS},format=yuv420p,"
            "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv"
        )
        if fmt == "mp4":
            # yuv420p needs even sizes: pad the odd row/column rather than stretch, with a copy
            # of the edge (black would bleed into the picture through the shared chroma).
            vf = f"pad=ceil(iw/2)*2:ceil(ih/2)*2,{to_yuv}"
            if width % 2 or height % 2:
                smear = f"fillborders=right={width % 2}:bottom={height % 2}:mode=smear"
                vf = f"pad=ceil(iw/2)*2:ceil(ih/2)*2,{smear},{to_yuv}"
            codec = ["-c:v", "libx264", "-preset", "medium", "-crf", "18"]
            codec += ["-profile:v", "high", "-tune", "animation"]
            mux = ["-movflags", "+faststart", "-f", "mp4"]
            if target.startswith("pipe:"):  # a pipe cannot seek back to write the index
                mux = ["-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4"]
        else:
            vf = to_yuv
            codec = ["-c:v", "libvpx-vp9", "-crf", "30", "-b:v", "0", "-row-mt", "1"]
            codec += ["-deadline", "good", "-cpu-used", "4"]
            mux = ["-f", "webm"]
        args = [
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-framerate",
            f"{rate.numerator}/{rate.denominator}",
            "-i",
            "pipe:0",
            "-an",
            "-vf",
            vf,
            *codec,
            "-color_range",
            "tv",
            "-colorspace",
            "bt709",
            "-color_primaries",
            "bt709",
            "-color_trc",
            "bt709",
            *mux,
            "-y",
            target if target == "pipe:1" else file_url(target),
        ]
        self._proc = FfmpegProcess(args, stdin=subprocess.PIPE, stdout=stdout)

    def _send(self, frame: QuantizedFrame, n: int) -> None:
        h, w = frame.indices.shape
        rows = max(1, _SEND_PIXELS // max(w, 1))
        try:
            for _ in range(n):
                # Band by band: a whole frame's RGB (and a bytes copy of it) would be 6 B a pixel.
                for top in range(0, h, rows):
                    rgb = frame.palette[frame.indices[top : top + rows]]
                    self._proc.proc.stdin.write(rgb.data)
        except (BrokenPipeError, OSError):
            self._failed()
        self.n_frames += n

    def write(self, frame: QuantizedFrame) -> None:
        duration = frame.duration if frame.duration > 0 else GIF_ZERO_DELAY
        n = self._clock.repeats(duration)
        self._last = frame
        if n:
            self._send(frame, n)

    def _failed(self) -> None:
        self._proc.kill()
        raise GifquantError(
            f"ffmpeg could not encode {self._fmt}: {last_error(self._proc.stderr_text())}",
            exit_code=1,
        )

    def close(self) -> None:
        """Send the end of the stream and wait for ffmpeg to finish the file."""
        if self.n_frames == 0 and self._last is not None:
            self._send(self._last, 1)
        try:
            rc = self._proc.wait()
        except OSError:
            rc = -1
        if rc != 0:
            self._failed()
        self._proc.close()

    def abort(self) -> None:
        """Kill ffmpeg (after an error upstream) and reap it."""
        self._proc.close()
