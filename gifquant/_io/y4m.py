"""YUV4MPEG2 (y4m), the uncompressed stream ``ffmpeg -f yuv4mpegpipe`` reads and writes.

Reading: 4:2:0 (all sitings), 4:2:2, 4:4:4 and mono, 8 to 16 bits, one frame in memory at a time;
YCbCr is BT.601, limited range unless the stream says ``XCOLORRANGE=FULL`` (ffmpeg's tag).
Writing: 4:4:4, 10 bits, BT.601 full range, so no chroma is lost before the next tool and every
colour comes back exact: at 8 bits, Y'CbCr's rounding moved a colour by up to one level a
channel (mean 0.51 dE on realshort at k=16, 0.38 dE on random colours), at 10 bits (each
8-bit value x 4, as ffmpeg scales full range) ffmpeg's decoder and this reader give back every
sRGB colour exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from numpy.typing import NDArray

from .._core.frames import ClipInfo, Frame, QuantizedFrame
from .._errors import GifquantError
from .budget import check_budget
from .sniff import Y4M_MAGIC
from .timeline import CfrClock

if TYPE_CHECKING:
    from fractions import Fraction

_MAX_LINE = 4096
# Pixels converted at a time (YCbCr <-> RGB go through float32 planes, 4 bytes a sample).
_BAND_PIXELS = 1 << 18
# BT.601 luma weights
_KR, _KB = 0.299, 0.114
_KG = 1.0 - _KR - _KB

# Chroma tag -> (horizontal, vertical subsampling, has chroma, bit depth)
_CHROMA = {
    "420jpeg": (2, 2, True, 8),
    "420paldv": (2, 2, True, 8),
    "420mpeg2": (2, 2, True, 8),
    "420": (2, 2, True, 8),
    "422": (2, 1, True, 8),
    "444": (1, 1, True, 8),
    "mono": (1, 1, False, 8),
}
for _d in (9, 10, 12, 14, 16):
    for _c in ("420", "422", "444"):
        _CHROMA[f"{_c}p{_d}"] = (*_CHROMA[_c][:3], _d)
    _CHROMA[f"mono{_d}"] = (1, 1, False, _d)


class Y4mReader:
    """Iterate the frames of a y4m stream (a pipe or a file) as RGBA ``Frame`` s."""

    def __init__(self, f: BinaryIO, *, name: str, max_pixels: int, head: bytes = b"") -> None:
        """``head``: bytes of the stream already read (to sniff it), put back in front."""
        self._f = f
        self._name = name
        line = head + (f.readline(_MAX_LINE) if not head.endswith(b"\n") else b"")
        if not line.startswith(Y4M_MAGIC + b" ") or not line.endswith(b"\n"):
            raise GifquantError(f"{name}: bad y4m header (not 'YUV4MPEG2 W.. H.. ...')")
        from fractions import Fraction  # here: it imports decimal, start-up a GIF run never needs

        width = height = 0
        fps = Fraction(25)
        chroma = "420jpeg"
        self.full_range = False
        for tok in line[len(Y4M_MAGIC) :].split():
            key, val = chr(tok[0]), tok[1:].decode("ascii", "replace")
            try:
                if key == "W":
                    width = int(val)
                elif key == "H":
                    height = int(val)
                elif key == "F":
                    num, den = (int(x) for x in val.split(":"))
                    if num > 0 and den > 0:
                        fps = Fraction(num, den)
                elif key == "C":
                    chroma = val.lower()
                elif key == "X" and val.upper().startswith("COLORRANGE="):
                    self.full_range = val.upper() == "COLORRANGE=FULL"
            except ValueError:
                field = tok.decode(errors="replace")
                raise GifquantError(f"{name}: bad y4m header field {field!r}") from None
        if width <= 0 or height <= 0:
            raise GifquantError(f"{name}: bad y4m header: no valid size (W{width} H{height})")
        if chroma not in _CHROMA:
            raise GifquantError(f"{name}: y4m colour format C{chroma} is not supported")
        check_budget(name, width, height, 1, max_pixels=max_pixels, max_clip_pixels=0)
        self._sx, self._sy, self._has_chroma, self._depth = _CHROMA[chroma]
        self._cw = -(-width // self._sx)
        self._ch = -(-height // self._sy)
        self._bps = 1 if self._depth <= 8 else 2
        self._frame_bytes = self._bps * (
            width * height + (2 * self._cw * self._ch if self._has_chroma else 0)
        )
        self.fps = float(fps)
        self.info = ClipInfo(width, height, loop=0, fps=self.fps, n_frames=None)
        self.seeked = 0.0

    def __enter__(self) -> Y4mReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass  # the caller owns the stream

    def _plane(
        self, buf: memoryview, start: int, w: int, h: int, rows: slice = slice(None)
    ) -> NDArray[np.float32]:
        dtype = np.uint8 if self._bps == 1 else np.dtype("<u2")
        a = np.frombuffer(buf, dtype, count=w * h, offset=start).reshape(h, w)[rows]
        scale = 1.0 / (1 << (self._depth - 8))  # to 8-bit units
        return a.astype(np.float32) * np.float32(scale)

    def _rgba(self, buf: memoryview) -> NDArray[np.uint8]:
        w, h = self.info.width, self.info.height
        out = np.empty((h, w, 4), np.uint8)
        n = self._bps * w * h
        cn = self._bps * self._cw * self._ch
        full_chroma = self._has_chroma and (self._sx, self._sy) == (1, 1)
        u = v = None
        if self._has_chroma and not full_chroma:  # upsampled whole, then read band by band
            u = self._upsample(self._plane(buf, n, self._cw, self._ch))
            v = self._upsample(self._plane(buf, n + cn, self._cw, self._ch))
        # Band by band: the float32 planes of a whole frame would cost 12+ bytes a pixel.
        band = max(1, _BAND_PIXELS // w)
        for top in range(0, h, band):
            rows = slice(top, min(h, top + band))
            y = self._plane(buf, 0, w, h, rows)
            if full_chroma:
                bu = self._plane(buf, n, w, h, rows)
                bv = self._plane(buf, n + cn, w, h, rows)
            else:
                bu = None if u is None else u[rows]
                bv = None if v is None else v[rows]
            yuv_to_rgba(y, bu, bv, full_range=self.full_range, out=out[rows])
        return out

    def _upsample(self, c: NDArray[np.float32]) -> NDArray[np.float32]:
        w, h = self.info.width, self.info.height
        if (self._sx, self._sy) == (1, 1):
            return c
        import cv2  # here: only y4m input with subsampled chroma needs it (~25 ms to import)

        # Upsample to the even-padded size, then crop, so sample j stays over pixels 2j, 2j+1.
        full = cv2.resize(
            c, (self._cw * self._sx, self._ch * self._sy), interpolation=cv2.INTER_LINEAR
        )
        return full[:h, :w]

    def __iter__(self):
        n = 0
        while True:
            line = self._f.readline(_MAX_LINE)
            if not line:
                break
            if not line.startswith(b"FRAME") or not line.endswith(b"\n"):
                raise GifquantError(
                    f"{self._name}: broken y4m stream at frame {n}: no FRAME marker"
                )
            buf = bytearray(self._frame_bytes)
            view = memoryview(buf)
            got = 0
            while got < len(buf):
                k = self._f.readinto(view[got:])
                if not k:
                    break
                got += k
            if got < len(buf):
                raise GifquantError(
                    f"{self._name}: truncated y4m stream: frame {n} has {got} of {len(buf)} bytes"
                )
            # Handed over, not kept: no reference stays here while the frame is worked on.
            out = [Frame(self._rgba(view), 1.0 / self.fps, opaque=True)]
            del view, buf
            yield out.pop()
            n += 1
        if n == 0:
            raise GifquantError(f"{self._name}: y4m stream has no frames")


def yuv_to_rgba(
    y: NDArray[np.float32],
    u: NDArray[np.float32] | None,
    v: NDArray[np.float32] | None,
    *,
    full_range: bool,
    out: NDArray[np.uint8] | None = None,
) -> NDArray[np.uint8]:
    """BT.601 Y'CbCr planes of shape (h, w), float 8-bit units, to RGBA of shape (h, w, 4) uint8
    (written into ``out`` when given)."""
    if full_range:
        yl = y
        cb = None if u is None else u - 128.0
        cr = None if v is None else v - 128.0
    else:
        yl = (y - 16.0) * np.float32(255.0 / 219.0)
        cb = None if u is None else (u - 128.0) * np.float32(255.0 / 224.0)
        cr = None if v is None else (v - 128.0) * np.float32(255.0 / 224.0)
    h, w = y.shape
    if out is None:
        out = np.empty((h, w, 4), np.uint8)
    if cb is None or cr is None:
        g = np.clip(np.rint(yl), 0, 255).astype(np.uint8)
        out[..., 0] = out[..., 1] = out[..., 2] = g
    else:
        r = yl + np.float32(2 * (1 - _KR)) * cr
        b = yl + np.float32(2 * (1 - _KB)) * cb
        g = (yl - np.float32(_KR) * r - np.float32(_KB) * b) / np.float32(_KG)
        for i, c in enumerate((r, g, b)):
            out[..., i] = np.clip(np.rint(c), 0, 255)
    out[..., 3] = 255
    return out


def _ycbcr(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """RGB of shape (..., 3) uint8 to BT.601 full-range Y, Cb, Cr in 8-bit units, unrounded:
    shape (3, ...) float32."""
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = np.float32(_KR) * r + np.float32(_KG) * g + np.float32(_KB) * b
    cb = (b - y) * np.float32(0.5 / (1 - _KB)) + 128.0
    cr = (r - y) * np.float32(0.5 / (1 - _KR)) + 128.0
    return np.stack([y, cb, cr])


def rgb_to_yuv444(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """RGB of shape (h, w, 3) uint8 to BT.601 full-range planar Y, Cb, Cr: shape (3, h, w) uint8."""
    return np.clip(np.rint(_ycbcr(rgb)), 0, 255).astype(np.uint8)


def colours_to_ycbcr10(colours: NDArray[np.uint8]) -> NDArray[np.uint16]:
    """(n, 3) sRGB colours to BT.601 full-range Y, Cb, Cr at 10 bits (the 8-bit value x 4):
    shape (3, n), little-endian uint16. Decoded and rounded to 8 bits, each is its colour."""
    return np.clip(np.rint(_ycbcr(colours) * np.float32(4)), 0, 1023).astype("<u2")


def rate_fraction(fps: float) -> Fraction:
    """A frame rate as the small fraction y4m's F tag wants (29.97 -> 30000:1001)."""
    from fractions import Fraction

    if abs(fps - round(fps)) < 1e-6:
        return Fraction(round(fps))
    ntsc = fps * 1.001
    if abs(ntsc - round(ntsc)) < 1e-3:
        return Fraction(round(ntsc) * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def _write_planes(f: BinaryIO, frame: QuantizedFrame) -> None:
    """What ``frame`` shows as 10-bit Y, Cb, Cr planes, from its palette's values, written band
    by band (no plane of the whole frame is held)."""
    table = colours_to_ycbcr10(frame.palette)
    h, w = frame.indices.shape
    band = max(1, _BAND_PIXELS // max(w, 1))
    for plane in table:
        for top in range(0, h, band):
            f.write(plane[frame.indices[top : top + band]].data)


class Y4mWriter:
    """Write QuantizedFrames as a y4m 4:4:4 10-bit stream at a constant ``fps``.

    Frames of other durations are duplicated or dropped on the constant clock (like ffmpeg).
    """

    def __init__(self, f: BinaryIO, width: int, height: int, fps: float) -> None:
        self._f = f
        self._clock = CfrClock(fps)
        rate = rate_fraction(fps)
        self._last: QuantizedFrame | None = None
        self.n_frames = 0
        f.write(
            f"YUV4MPEG2 W{width} H{height} F{rate.numerator}:{rate.denominator} Ip A1:1 "
            "C444p10 XYSCSS=444P10 XCOLORRANGE=FULL\n".encode("ascii")
        )

    def write(self, frame: QuantizedFrame) -> None:
        n = self._clock.repeats(frame.duration)
        self._last = frame
        for _ in range(n):
            self._f.write(b"FRAME\n")
            _write_planes(self._f, frame)
        self.n_frames += n

    def close(self) -> None:
        if self.n_frames == 0 and self._last is not None:
            self._f.write(b"FRAME\n")
            _write_planes(self._f, self._last)
            self.n_frames = 1
        self._f.flush()
