"""Video and pipelines: mp4/webm in and out, y4m on stdin/stdout, GIF on stdout, trim and scale.

Clips are made in tmp_path with the bundled ffmpeg; the two stdin/stdout pipelines run
``python -m gifquant`` from this worktree as a child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import corpus_file, moving_clip, read_gif, write_gif

from gifquant._cli import main
from gifquant._core.frames import Frame, QuantizedFrame
from gifquant._io.ffmpeg import ffmpeg_exe, parse_probe
from gifquant._io.gif.write import GifWriter
from gifquant._io.image import ImageReader
from gifquant._io.timeline import CfrClock, TimelineOptions, apply_timeline, resample, trim
from gifquant._io.video import VideoReader
from gifquant._io.y4m import Y4mReader, Y4mWriter, rate_fraction

ROOT = Path(__file__).resolve().parents[1]
FF = ffmpeg_exe()
BIG = 10**9


def run(*argv) -> int:
    return main([str(a) for a in argv])


def ffmpeg(*args) -> None:
    subprocess.run([FF, "-v", "error", "-y", *map(str, args)], check=True)


def gifquant_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "gifquant", *map(str, args)]


def child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


def make_testsrc(path: Path, *, n: int = 20, rate: int = 20, size: str = "64x48", extra=()) -> Path:
    """A moving test pattern, ``n`` frames at ``rate`` fps, H.264 yuv420p (or y4m by suffix)."""
    codec = [] if path.suffix == ".y4m" else ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}", *extra, "-frames:v", n, *codec, path)
    return path


def flat(path: Path, colour: str, *, size: str = "64x48", vf: str, extra=()) -> Path:
    """A flat colour clip; ``vf`` does the RGB -> YUV conversion (so the matrix is known)."""
    src = f"color=c={colour}:s={size}:r=20:d=0.5,format=rgb24"
    ffmpeg("-f", "lavfi", "-i", src, "-vf", vf, *extra, path)
    return path


def video_frames(path: Path) -> list[np.ndarray]:
    with VideoReader(str(path), name=str(path), max_pixels=BIG) as r:
        return [f.rgba for f in r]


def gif_size(path: Path) -> tuple[int, int]:
    frames, _, _ = read_gif(path)
    return frames[0].shape[1], frames[0].shape[0]


@pytest.fixture
def clip(tmp_path) -> Path:
    return make_testsrc(tmp_path / "clip.mp4")


# --- colours ------------------------------------------------------------------------------------


def test_bt709_tagged_mp4_decodes_to_its_rgb(tmp_path):
    vf = "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"
    tags = ["-colorspace", "bt709", "-color_range", "tv", "-c:v", "libx264"]
    path = flat(tmp_path / "c.mp4", "0x3080C0", vf=vf, extra=tags)
    for f in video_frames(path):
        assert np.abs(f[..., :3].astype(int) - (0x30, 0x80, 0xC0)).max() <= 2


def test_untagged_sd_is_bt601_and_untagged_hd_is_bt709(tmp_path):
    for size, matrix in (("64x48", "bt601"), ("1280x720", "bt709")):
        vf = (
            f"scale=out_color_matrix={matrix}:out_range=tv,format=yuv420p,"
            "setparams=colorspace=unknown:range=unknown"
        )
        path = flat(tmp_path / f"{matrix}.mp4", "0xC04020", size=size, vf=vf)
        with VideoReader(str(path), name="x", max_pixels=BIG) as r:
            assert "bt709" not in r.probe.pix_fmt and r.probe.matrix == matrix
            f = next(iter(r))
        assert np.abs(f.rgba[..., :3].astype(int) - (0xC0, 0x40, 0x20)).max() <= 2


def test_full_range_jpeg_yuv(tmp_path):
    vf = "scale=out_color_matrix=bt601:out_range=full,format=yuvj420p"
    path = flat(tmp_path / "j.mp4", "0x10F080", vf=vf, extra=["-c:v", "libx264"])
    f = video_frames(path)[0]
    assert np.abs(f[..., :3].astype(int) - (0x10, 0xF0, 0x80)).max() <= 2


def test_flat_colour_survives_quantizing_to_mp4(tmp_path):
    vf = "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"
    src = flat(tmp_path / "c.mp4", "0x3080C0", vf=vf, extra=["-c:v", "libx264"])
    out = tmp_path / "o.mp4"
    assert run(src, out, "-k", "2", "-q") == 0
    for f in video_frames(out):
        assert np.abs(f[..., :3].astype(int) - (0x30, 0x80, 0xC0)).max() <= 3


def test_odd_sized_mp4_pads_with_its_edge_not_black(tmp_path):
    # yuv420p needs even sizes; a black pad row/column would bleed into the picture's edge
    # through the chroma it shares with it.
    red = np.zeros((13, 17, 3), np.uint8)
    red[...] = (200, 30, 40)
    src = write_gif(tmp_path / "r.gif", [red, red])
    out = tmp_path / "o.mp4"
    assert run(src, out, "-k", "2", "-q") == 0
    for f in video_frames(out):
        assert f.shape[:2] == (14, 18)
        assert np.abs(f[..., :3].astype(int) - (200, 30, 40)).max() <= 8


def test_gif_with_varying_delays_keeps_every_frame_in_mp4(tmp_path):
    # 80 ms then 40 ms frames: a rate taken from the first delay (12.5 fps) dropped every
    # other short frame; the shortest delay's rate (25 fps) shows each, the long one twice.
    frames = [np.full((16, 16, 3), (20 * i, 255 - 20 * i, 128), np.uint8) for i in range(10)]
    src = tmp_path / "v.gif"
    with open(src, "wb") as f:
        w = GifWriter(f, 16, 16)
        for i, rgb in enumerate(frames):
            delay = 0.08 if i == 0 else 0.04
            w.write(QuantizedFrame(np.zeros((16, 16), np.uint8), rgb[:1, 0], None, delay))
        w.close()
    out = tmp_path / "o.mp4"
    assert run(src, out, "-k", "2", "-q") == 0
    got = [f[8, 8, :3].astype(int) for f in video_frames(out)]
    assert len(got) == 11
    for want in frames:
        assert min(np.abs(g - want[0, 0]).max() for g in got) <= 8


# --- the five commands of the issue ---------------------------------------------------------------


def test_video_in_gif_out_keeps_frames_and_timing(clip, tmp_path):
    out = tmp_path / "o.gif"
    assert run(clip, out, "-k", "16", "-q") == 0
    frames, durs, loop = read_gif(out)
    assert len(frames) == 20 and sum(durs) == 1000 and loop == 0
    assert frames[0].shape[:2] == (48, 64)


def test_video_to_mp4_with_trim_scale_and_fps(tmp_path):
    src = make_testsrc(tmp_path / "clip.mp4", n=60, rate=20)  # 3 s
    out = tmp_path / "o.mp4"
    args = ["-k", "8", "--ss", "1", "--t", "1.5", "--scale", "32:-1", "--fps", "12"]
    assert run(src, out, *args, "-q") == 0
    with VideoReader(str(out), name="o", max_pixels=BIG) as r:
        assert (r.info.width, r.info.height, r.info.fps) == (32, 24, 12)
        assert len(list(r)) == 18


def test_y4m_on_stdin(clip, tmp_path):
    out = tmp_path / "o.gif"
    dec = subprocess.Popen(
        [FF, "-v", "error", "-i", clip, "-f", "yuv4mpegpipe", "-"], stdout=subprocess.PIPE
    )
    r = subprocess.run(
        gifquant_cmd("-", out, "-k", "8"),
        stdin=dec.stdout,
        env=child_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    dec.stdout.close()
    dec.wait()
    assert r.returncode == 0, r.stderr
    frames, durs, _ = read_gif(out)
    assert len(frames) == 20 and sum(durs) == 1000


def test_y4m_on_stdout_into_ffmpeg(clip, tmp_path):
    out = tmp_path / "o.mp4"
    gq = subprocess.Popen(
        gifquant_cmd(clip, "-", "-f", "y4m", "-k", "8"),
        env=child_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    enc = subprocess.run(
        [FF, "-v", "error", "-y", "-i", "-", "-c:v", "libx264", out],
        stdin=gq.stdout,
        capture_output=True,
    )
    gq.stdout.close()
    err = gq.stderr.read().decode()
    assert gq.wait() == 0 and enc.returncode == 0, err
    assert "20 frames" in err  # messages go to stderr, the stream alone to stdout
    assert len(video_frames(out)) == 20


def test_gif_on_stdout_and_stdin(tmp_path):
    src = write_gif(tmp_path / "in.gif", moving_clip())
    r = subprocess.run(
        gifquant_cmd(src, "-", "-f", "gif", "-k", "8"),
        env=child_env(),
        cwd=ROOT,
        capture_output=True,
    )
    assert r.returncode == 0 and r.stdout.startswith(b"GIF89a") and b"frames" in r.stderr
    frames, durs, _ = read_gif(r.stdout)
    assert len(frames) == 12 and durs == [50] * 12
    back = tmp_path / "back.gif"
    r2 = subprocess.run(
        gifquant_cmd("-", back, "-k", "4", "-q"),
        input=r.stdout,
        env=child_env(),
        cwd=ROOT,
        capture_output=True,
    )
    assert r2.returncode == 0 and len(read_gif(back)[0]) == 12


def test_mp4_on_stdin_is_spooled(clip, tmp_path):
    out = tmp_path / "o.gif"
    r = subprocess.run(
        gifquant_cmd("-", out, "-k", "4", "-q"),
        input=clip.read_bytes(),
        env=child_env(),
        cwd=ROOT,
        capture_output=True,
    )
    assert r.returncode == 0, r.stderr
    assert len(read_gif(out)[0]) == 20


# --- trimming, resampling, scaling ----------------------------------------------------------------


def test_ss_t_agree_between_ffmpeg_seek_and_y4m_stream(tmp_path):
    src = make_testsrc(tmp_path / "clip.mp4", n=40, rate=20)
    y4m = tmp_path / "clip.y4m"
    ffmpeg("-i", src, "-f", "yuv4mpegpipe", y4m)
    counts = []
    for inp in (src, y4m):
        out = tmp_path / f"{inp.suffix[1:]}.gif"
        assert run(inp, out, "-k", "4", "--ss", "0.5", "--t", "1", "-q") == 0
        frames, durs, _ = read_gif(out)
        counts.append(len(frames))
        assert sum(durs) == 1000
    assert counts == [20, 20]


def test_frames_limit_and_time_syntax(clip, tmp_path):
    out = tmp_path / "o.gif"
    assert run(clip, out, "-k", "4", "--frames", "7", "--ss", "00:00:00.25", "-q") == 0
    assert len(read_gif(out)[0]) == 7


def test_fps_lower_than_a_gif_source(tmp_path):
    src = write_gif(tmp_path / "in.gif", moving_clip(12), duration=0.05)  # 0.6 s at 20 fps
    out = tmp_path / "o.gif"
    assert run(src, out, "-k", "4", "--fps", "10", "-q") == 0
    frames, durs, _ = read_gif(out)
    assert len(frames) == 6 and durs == [100] * 6


def test_speed_keeps_every_frame_and_divides_its_time(tmp_path):
    src = write_gif(tmp_path / "in.gif", moving_clip(12), duration=0.1)  # 1.2 s at 10 fps
    plain, fast, slow = tmp_path / "p.gif", tmp_path / "f.gif", tmp_path / "s.gif"
    assert run(src, plain, "-k", "4", "-q") == 0
    assert run(src, fast, "-k", "4", "--speed", "2", "-q") == 0
    assert run(src, slow, "-k", "4", "--speed", "0.5", "--ss", "0.2", "-q") == 0
    (pf, _, _), (ff, fd, _), (_, sd, _) = read_gif(plain), read_gif(fast), read_gif(slow)
    assert fd == [50] * 12 and len(ff) == len(pf) == 12  # the same pictures, twice as fast
    assert all(np.array_equal(a, b) for a, b in zip(pf, ff, strict=True))
    assert sd == [200] * 10  # --ss is the source's time: 2 frames cut, then half speed
    # A rate after the speed is the output's: 2x of 10 fps resampled to 10 fps drops half.
    assert run(src, fast, "-k", "4", "--speed", "2", "--fps", "10", "-y", "-q") == 0
    assert read_gif(fast)[1] == [100] * 6


@pytest.mark.parametrize("speed", ["0", "101", "nan", "fast"])
def test_speed_out_of_range_is_a_usage_error(tmp_path, capsys, speed):
    src = write_gif(tmp_path / "in.gif", moving_clip(3))
    assert run(src, tmp_path / "o.gif", "--speed", speed) == 2
    assert "--speed" in capsys.readouterr().err and not (tmp_path / "o.gif").exists()


def test_speed_in_python_is_checked_once(tmp_path):
    import gifquant

    with pytest.raises(ValueError, match="speed 0 is outside"):
        gifquant.Settings.from_keywords(speed=0)
    src = write_gif(tmp_path / "in.gif", moving_clip(4), duration=0.1)
    gifquant.convert(src, tmp_path / "o.gif", k=4, speed=4)
    durations = read_gif(tmp_path / "o.gif")[1]  # 25 ms each, GIF delays whole cs
    assert len(durations) == 4 and sum(durations) == 100


def test_gif_input_trim_and_scale(tmp_path):
    src = write_gif(tmp_path / "in.gif", moving_clip(12, h=40, w=56))
    out = tmp_path / "o.gif"
    assert run(src, out, "-k", "4", "--ss", "0.1", "--t", "0.3", "--scale", "-1:20", "-q") == 0
    frames, durs, _ = read_gif(out)
    assert len(frames) == 6 and sum(durs) == 300 and frames[0].shape[:2] == (20, 28)


def test_gif_timing_from_30fps_within_one_centisecond(tmp_path):
    src = make_testsrc(tmp_path / "c30.mp4", n=45, rate=30)  # 1.5 s, delays of 3.33 cs
    out = tmp_path / "o.gif"
    assert run(src, out, "-k", "4", "-q") == 0
    _, durs, _ = read_gif(out)
    assert len(durs) == 45 and abs(sum(durs) - 1500) <= 10
    assert set(durs) <= {30, 40}


def test_odd_size_mp4_and_webm(clip, tmp_path):
    mp4, webm = tmp_path / "o.mp4", tmp_path / "o.webm"
    assert run(clip, mp4, "-k", "8", "--scale", "33:-1", "-q") == 0  # 33x25
    assert run(clip, webm, "-k", "8", "--scale", "33:-1", "-q") == 0
    m = video_frames(mp4)
    assert len(m) == 20 and m[0].shape[:2] == (26, 34)  # padded to even for yuv420p
    w = video_frames(webm)
    assert len(w) == 20 and w[0].shape[:2] == (25, 33)


def test_mp4_from_gif_keeps_its_rate(tmp_path):
    src = write_gif(tmp_path / "in.gif", moving_clip(10), duration=0.1)
    out = tmp_path / "o.mp4"
    assert run(src, out, "-k", "4", "-q") == 0
    with VideoReader(str(out), name="o", max_pixels=BIG) as r:
        assert r.info.fps == 10 and len(list(r)) == 10


def test_png_sequence(clip, tmp_path):
    out = tmp_path / "frames"
    assert run(clip, out, "-f", "png", "-k", "4", "--frames", "5", "-q") == 0
    assert sorted(os.listdir(out)) == [f"frame_{i:06d}.png" for i in range(1, 6)]


def test_png_frames_are_whole_pictures(tmp_path):
    # A still background: a GIF's later frames would hold only what changed.
    src = write_gif(tmp_path / "s.gif", moving_clip(6))
    out = tmp_path / "frames"
    assert run(src, out, "-f", "png", "-k", "8", "-q") == 0
    names = sorted(os.listdir(out))
    assert len(names) == 6
    from PIL import Image

    for name in names:
        with Image.open(out / name) as im:
            assert (np.asarray(im.convert("RGBA"))[..., 3] == 255).all(), name


def test_rotation_metadata_is_applied(clip, tmp_path):
    rot = tmp_path / "rot.mp4"
    ffmpeg("-display_rotation", "90", "-i", clip, "-c", "copy", rot)
    out = tmp_path / "o.gif"
    assert run(rot, out, "-k", "4", "-q") == 0
    assert gif_size(out) == (48, 64)


def test_non_square_pixels_are_shown_square(tmp_path):
    src = make_testsrc(tmp_path / "sar.mp4", n=5, size="32x48", extra=["-vf", "setsar=2"])
    out = tmp_path / "o.gif"
    assert run(src, out, "-k", "4", "-q") == 0
    assert gif_size(out) == (64, 48)


def test_audio_is_ignored(tmp_path):
    src = tmp_path / "av.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=64x48:r=20",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440",
        "-frames:v",
        10,
        "-t",
        "0.5",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        src,
    )
    out = tmp_path / "o.gif"
    assert run(src, out, "-k", "4", "-q") == 0
    assert len(read_gif(out)[0]) == 10


# --- y4m ----------------------------------------------------------------------------------------


def test_y4m_round_trip_is_exact_through_own_reader_and_ffmpeg(tmp_path):
    """The y4m written is 10-bit 4:4:4 full range: every colour comes back exactly, read here or
    by ffmpeg (at 8 bits Y'CbCr's rounding moved colours by a level: 0.38 dE on average)."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(3, 17, 23, 3), dtype=np.uint8)
    rgb[0, 0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]] + [
        [1, 1, 1],
        [254, 254, 254],
        [128, 128, 128],
    ]
    path = tmp_path / "rt.y4m"
    with open(path, "wb") as f:
        w = Y4mWriter(f, 23, 17, 30000 / 1001)
        for im in rgb:
            pal, idx = np.unique(im.reshape(-1, 3), axis=0, return_inverse=True)
            w.write(QuantizedFrame(idx.reshape(17, 23), pal, None, 1001 / 30000))
        w.close()
    assert b"F30000:1001" in path.read_bytes()[:80]
    with open(path, "rb") as f:
        back = [fr.rgba[..., :3] for fr in Y4mReader(f, name="rt", max_pixels=BIG)]
    assert len(back) == 3
    assert np.array_equal(np.stack(back), rgb)
    raw = subprocess.run(
        [FF, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    assert np.array_equal(np.frombuffer(raw, np.uint8).reshape(rgb.shape), rgb)


@pytest.mark.parametrize(
    "pix_fmt", ["yuv420p", "yuv422p", "yuv444p", "yuvj420p", "gray", "yuv420p10le"]
)
def test_y4m_chroma_formats_from_ffmpeg(tmp_path, pix_fmt):
    colour = "0x808080" if pix_fmt == "gray" else "0x3080C0"
    want = (0x80,) * 3 if pix_fmt == "gray" else (0x30, 0x80, 0xC0)
    rng = "full" if pix_fmt == "yuvj420p" else "tv"
    vf = f"scale=out_color_matrix=bt601:out_range={rng},format={pix_fmt}"
    path = flat(tmp_path / "c.y4m", colour, size="63x47", vf=vf, extra=["-strict", "-1"])
    with open(path, "rb") as f:
        frames = list(Y4mReader(f, name="c", max_pixels=BIG))
    assert len(frames) == 10 and frames[0].rgba.shape == (47, 63, 4)
    assert np.abs(frames[0].rgba[..., :3].astype(int) - want).max() <= 2


def test_rate_fraction():
    assert rate_fraction(30000 / 1001) == Fraction(30000, 1001)
    assert rate_fraction(29.97) == rate_fraction(30000 / 1001)
    assert rate_fraction(12.0) == 12


# --- errors: one line, exit 2, nothing left behind -----------------------------------------------


def assert_one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gifquant: error:"), err
    for w in words:
        assert w in err


def test_truncated_video(tmp_path, capsys):
    # Noise and short GOPs, so that half the file still holds decodable frames.
    extra = ["-vf", "noise=alls=30:allf=t", "-g", "5", "-movflags", "+faststart"]
    src = make_testsrc(tmp_path / "clip.mp4", n=40, extra=extra)
    data = src.read_bytes()
    for name, cut in (("head.mp4", data[: len(data) // 2]), ("tail.mp4", data[: len(data) // 8])):
        bad = tmp_path / name
        bad.write_bytes(cut)
        out = tmp_path / "o.gif"
        assert run(bad, out, "-k", "4", "-q") == 2
        assert_one_line_error(capsys, name)
        assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def test_not_a_video(tmp_path, capsys):
    bad = tmp_path / "junk.mp4"
    bad.write_bytes(b"\x00junk" * 100)
    assert run(bad, tmp_path / "o.mp4", "-q") == 2
    assert_one_line_error(capsys, "junk.mp4")
    assert os.listdir(tmp_path) == ["junk.mp4"]


def test_unknown_format(clip, tmp_path, capsys):
    assert run(clip, tmp_path / "o.xyz", "-f", "avi") == 2
    assert_one_line_error(capsys, "unknown output format")
    assert run(clip, tmp_path / "o.xyz") == 2
    assert_one_line_error(capsys, "extension")
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]


@pytest.mark.parametrize(
    "header",
    [b"YUV4MPEG2 W64 Hxx F20:1\n", b"YUV4MPEG2 F20:1\n", b"YUV4MPEG2 W64 H48 C411\n", b"YUV4MPEG2"],
)
def test_bad_y4m_header(tmp_path, capsys, header):
    bad = tmp_path / "bad.y4m"
    bad.write_bytes(header + b"FRAME\n" + bytes(64 * 48 * 3 // 2))
    out = tmp_path / "o.gif"
    assert run(bad, out, "-q") == 2
    assert_one_line_error(capsys, "y4m")
    assert not out.exists()


def test_bad_y4m_on_stdin(tmp_path):
    out = tmp_path / "o.gif"
    r = subprocess.run(
        gifquant_cmd("-", out),
        input=b"YUV4MPEG2 W0 H0\n",
        env=child_env(),
        cwd=ROOT,
        capture_output=True,
        text=False,
    )
    assert r.returncode == 2 and r.stderr.count(b"\n") == 1 and b"y4m" in r.stderr
    assert not out.exists()


def test_truncated_y4m(tmp_path, capsys):
    src = make_testsrc(tmp_path / "c.y4m", n=3)
    bad = tmp_path / "cut.y4m"
    bad.write_bytes(src.read_bytes()[:-100])
    assert run(bad, tmp_path / "o.mp4", "-q") == 2
    assert_one_line_error(capsys, "truncated")
    assert sorted(os.listdir(tmp_path)) == ["c.y4m", "cut.y4m"]  # no o.mp4, no temporary file


@pytest.mark.parametrize(
    "opts",
    [
        ["--ss", "abc"],
        ["--ss", "-1"],
        ["--t", "0"],
        ["--fps", "0"],
        ["--fps", "1/0"],
        ["--scale", "0:10"],
        ["--scale", "-1:-1"],
        ["--scale", "big"],
        ["--frames", "0"],
    ],
)
def test_bad_option_values(clip, tmp_path, capsys, opts):
    assert run(clip, tmp_path / "o.gif", *opts) == 2
    assert_one_line_error(capsys)
    assert not (tmp_path / "o.gif").exists()


def test_start_past_the_end(clip, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    assert run(clip, out, "--ss", "5", "-q") == 2
    assert_one_line_error(capsys, "no frames")
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]


def test_png_to_stdout_refused(clip, capsys):
    assert run(clip, "-", "-f", "png") == 2
    assert_one_line_error(capsys, "stdout")


def test_ffmpeg_is_reaped_on_early_exit(clip):
    r = VideoReader(str(clip), name="c", max_pixels=BIG)
    with r:
        it = iter(r)
        next(it)
        proc = r._proc.proc
    assert proc.returncode is not None  # killed and waited for: no zombie, no hang
    # Opening starts ffmpeg (a head start on the first frame); leaving unread still reaps it.
    with VideoReader(str(clip), name="c", max_pixels=BIG) as r:
        proc = r._proc.proc
    assert proc.returncode is not None


# --- timeline, pure -----------------------------------------------------------------------------


def frames_of(durations) -> list[Frame]:
    px = np.zeros((1, 1, 4), np.uint8)
    return [Frame(px + i, d) for i, d in enumerate(durations)]


def test_trim_nearest_frame_and_clipped_durations():
    fr = frames_of([0.05] * 40)  # 2 s at 20 fps
    out = list(trim(fr, 1.0, 0.5))
    assert len(out) == 10 and abs(sum(f.duration for f in out) - 0.5) < 1e-9
    long = frames_of([1.0, 1.0])
    out = list(trim(long, 0.2, 0.3))  # inside one long frame: it is still shown
    assert len(out) == 1 and abs(out[0].duration - 0.3) < 1e-9


def test_resample_like_ffmpeg_fps_filter():
    src = frames_of([0.05] * 20)  # 1 s at 20 fps
    assert len(list(resample(src, 12))) == 12
    assert len(list(resample(src, 50))) == 50
    variable = frames_of([0.1, 0.3, 0.1])  # the 0.3 s frame is repeated
    out = list(resample(variable, 10))
    assert [int(f.rgba[0, 0, 0]) for f in out] == [0, 1, 1, 1, 2]


def test_cfr_clock_keeps_the_timeline():
    c = CfrClock(30)
    total = sum(c.repeats(0.04) for _ in range(100))  # 4 s of 25 fps
    assert total == 120


def test_apply_timeline_info():
    from gifquant._core.frames import ClipInfo

    info, it = apply_timeline(
        frames_of([0.05] * 20),
        ClipInfo(1, 1, fps=20.0, n_frames=20),
        TimelineOptions(fps=10, frames=4),
    )
    assert info.fps == 10 and info.n_frames == 4 and len(list(it)) == 4


def test_probe_parser():
    text = (
        "  Duration: 00:00:14.00, start: 0.000000, bitrate: 416 kb/s\n"
        "  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), "
        "yuv420p(tv, bt709/unknown/unknown, progressive), 1280x720 [SAR 1:1 DAR 16:9], "
        "387 kb/s, 29.97 fps, 29.97 tbr, 10240 tbn (default)\n"
        "    Side data:\n      Display Matrix: rotation of -90.00 degrees\n"
    )
    p = parse_probe(text)
    assert (p.width, p.height, p.fps, p.duration) == (720, 1280, 29.97, 14.0)
    assert p.matrix == "bt709" and not p.full_range


# --- corpus -------------------------------------------------------------------------------------


def test_corpus_realshort(tmp_path):
    src = corpus_file("realshort.mp4")
    out = tmp_path / "o.gif"
    assert run(src, out, "-k", "4", "--scale", "160:-1", "-q") == 0
    frames, durs, _ = read_gif(out)
    assert len(frames) == 36 and abs(sum(durs) - 1200) <= 10 and frames[0].shape[:2] == (120, 160)


def test_corpus_cockatoo_trim(tmp_path):
    src = corpus_file("cockatoo.mp4")
    out = tmp_path / "o.mp4"
    assert run(src, out, "-k", "4", "--ss", "1", "--t", "2", "--scale", "160:-1", "-q") == 0
    n = len(video_frames(out))
    assert abs(n - 40) <= 1


def test_encoder_failure_leaves_nothing(tmp_path):
    from gifquant._core.frames import ClipInfo
    from gifquant._errors import GifquantError
    from gifquant._io.streams import OutputOptions, open_output

    out = tmp_path / "o.mp4"
    frame = QuantizedFrame(np.zeros((1, 1), np.uint8), np.zeros((1, 3), np.uint8), None, 0.05)
    with pytest.raises(GifquantError, match="ffmpeg could not encode"):
        info = ClipInfo(0, 1, fps=20.0)  # no such size
        with open_output(str(out), "mp4", info, OutputOptions()) as sink:
            sink.write(frame)
    assert os.listdir(tmp_path) == []


def test_clip_pixel_budget_defaults_to_images_only(clip, tmp_path, monkeypatch, capsys):
    # The default clip budget guards against GIF bombs; a video states its own length, so a long
    # one is not refused unless --max-clip-pixels says so.
    from gifquant._run import once as library

    monkeypatch.setattr(library, "DEFAULT_MAX_CLIP_PIXELS", 64 * 48 * 5)
    assert run(clip, tmp_path / "v.gif", "-k", "4", "-q") == 0
    gif = tmp_path / "v.gif"
    assert run(gif, tmp_path / "g.gif", "-k", "4", "-q") == 2
    assert "--max-clip-pixels" in capsys.readouterr().err
    assert run(clip, tmp_path / "w.gif", "-k", "4", "--max-clip-pixels", str(64 * 48 * 5)) == 2
    assert "--max-clip-pixels" in capsys.readouterr().err


def test_video_and_y4m_frames_say_they_are_opaque_and_are(tmp_path):
    # The flag lets the quantizer skip looking at alpha: it must never be set on a frame that
    # has a transparent pixel, and scaling keeps it.
    mp4 = make_testsrc(tmp_path / "a.mp4", n=3)
    y4m = make_testsrc(tmp_path / "a.y4m", n=3)
    frames = list(VideoReader(str(mp4), name="a.mp4", max_pixels=BIG))
    with open(y4m, "rb") as f:
        frames += list(Y4mReader(f, name="a.y4m", max_pixels=BIG))
    info = VideoReader(str(mp4), name="a.mp4", max_pixels=BIG).info
    _, scaled = apply_timeline(frames, info, TimelineOptions(fps=7, scale=(32, -1)))
    scaled = list(scaled)
    assert scaled[0].rgba.shape[:2] == (24, 32)
    for fr in [*frames, *scaled]:
        assert fr.opaque and (fr.rgba[..., 3] == 255).all()
    # A GIF's frames say so when Pillow decodes them without alpha; never with a hole in them.
    clip = moving_clip(3, 8, 8)
    holes = [np.ones((8, 8), bool), np.ones((8, 8), bool), np.eye(8, dtype=bool) == 0]
    for name, alpha in (("t.gif", None), ("holes.gif", holes)):
        write_gif(tmp_path / name, clip, alpha=alpha)
        with ImageReader(str(tmp_path / name), name=name, max_pixels=BIG) as reader:
            gif_frames = list(reader)
        for fr in gif_frames:
            assert not fr.opaque or (fr.rgba[..., 3] == 255).all()
        assert gif_frames[-1].opaque == (alpha is None)


def test_ffmpeg_that_cannot_run_is_a_one_line_error(tmp_path):
    # The bundled binary is trusted without a trial run; one that cannot run still fails cleanly.
    mp4 = make_testsrc(tmp_path / "a.mp4", n=2)
    bogus = tmp_path / "ffmpeg"
    bogus.write_text("not a program\n")
    bogus.chmod(0o755)
    env = dict(child_env(), IMAGEIO_FFMPEG_EXE=str(bogus))
    out = tmp_path / "o.gif"
    p = subprocess.run(
        gifquant_cmd(mp4, out, "-k", "4", "-q"), env=env, capture_output=True, text=True
    )
    assert p.returncode == 1
    assert "cannot run ffmpeg" in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert not out.exists()


# --- the command line's early start (_io/prestart.py) -----------------------------------------


def _processes_mentioning(text: str) -> list[str]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if text in cmd:
                out.append(cmd)
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list processes")
@pytest.mark.parametrize("extra", [[], ["--ss", "0.1"], ["--scale", "320:-1"]])
def test_command_line_early_start_gives_the_same_file(tmp_path, extra):
    # `gifquant IN.mp4 OUT.gif` probes and starts ffmpeg and the encoder while importing; the
    # reader adopts them only when they are what it would have started. Same bytes either way.
    src = make_testsrc(tmp_path / "big.mp4", n=4, size="640x480")
    early, late = tmp_path / "early.gif", tmp_path / "late.gif"
    p = subprocess.run(
        gifquant_cmd(src, early, "-k", "8", "-q", *extra), env=child_env(), capture_output=True
    )
    assert p.returncode == 0, p.stderr
    assert run(src, late, "-k", "8", "-q", *extra) == 0  # in-process: nothing started early
    assert early.read_bytes() == late.read_bytes()
    assert not _processes_mentioning(str(src))


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list processes")
def test_command_line_early_start_is_stopped_when_the_run_fails(tmp_path):
    src = make_testsrc(tmp_path / "big.mp4", n=4, size="640x480")
    out = tmp_path / "o.gif"
    p = subprocess.run(
        gifquant_cmd(src, out, "-k", "999"), env=child_env(), capture_output=True, text=True
    )
    assert p.returncode == 2 and "-k" in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert not out.exists()
    assert not _processes_mentioning(str(src))  # the decoder started early was stopped


def test_importing_gifquant_starts_nothing_and_handles_no_signal():
    # Only the command (command.run) takes the early steps; a program importing gifquant gets
    # no handlers, no threads, no processes.
    code = (
        "import signal, sys, gifquant; "
        "print(sorted(m for m in sys.modules if m in "
        "('subprocess', 'threading', 'imageio', 'cv2', 'tqdm', 'numpy')), "
        "signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)"
    )
    p = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True)
    assert p.stdout.decode().split() == ["[]", "True"], p.stderr


def test_early_start_hands_over_the_decoder_and_encoder_it_guessed(tmp_path):
    from gifquant._io.ffmpeg import decode_args, probe
    from gifquant._io.prestart import EarlyStart

    src = make_testsrc(tmp_path / "big.mp4", n=2, size="640x480")
    early = EarlyStart.begin([str(src), str(tmp_path / "o.gif"), "-k", "4"])
    assert early is not None
    try:
        pr, _ = probe(str(src), early)  # the early probe's result
        assert (pr.width, pr.height) == (640, 480)
        args = decode_args(str(src), pr, 640, 480, 0.0)
        assert early.take_decoder(decode_args(str(src), pr, 640, 480, 1.0)) is None
        decoder = early.take_decoder(args)
        worker = early.take_worker()
        assert decoder is not None and worker is not None and worker.poll() is None
        decoder.close()
        worker.kill()
        worker.wait()
        for pipe in (worker.stdin, worker.stdout):
            pipe.close()
    finally:
        early.stop()
    # An image is not guessed at.
    gif = write_gif(tmp_path / "t.gif", moving_clip(2, 8, 8))
    assert EarlyStart.begin([str(gif), str(tmp_path / "o2.gif")]) is None


@pytest.mark.parametrize(
    ("name", "vf", "codec"),
    [
        ("plain.mp4", "format=yuv420p", ["-c:v", "libx264"]),
        ("alpha.mov", "format=rgba,geq=r='r(X,Y)':a='if(lt(X,20),0,255)'", ["-c:v", "qtrle"]),
    ],
)
def test_frames_are_ffmpeg_own_rgba_planar_or_not(tmp_path, name, vf, codec):
    # Without alpha ffmpeg hands the frames over as planar RGB (cheaper for it), with alpha
    # as RGBA: either way they are the pixels of its own RGBA conversion, alpha and all.
    from gifquant._io.ffmpeg import decode_args, decoded_format, probe

    src = tmp_path / name
    lavfi = f"testsrc2=s=40x30:r=10:d=0.5,{vf}"
    cmd = [FF, "-v", "error", "-f", "lavfi", "-i", lavfi, *codec, str(src)]
    subprocess.run(cmd, check=True)
    pr, _ = probe(str(src))
    assert decoded_format(pr) == ("rgba" if name == "alpha.mov" else "gbrp")
    args = [a.replace("gbrp", "rgba") for a in decode_args(str(src), pr, 40, 30, 0.0)]
    raw = subprocess.run([FF, "-v", "error", *args], capture_output=True, check=True).stdout
    want = np.frombuffer(raw, np.uint8).reshape(-1, 30, 40, 4)
    with VideoReader(str(src), name=name, max_pixels=BIG) as r:
        got = np.stack([f.rgba for f in r])
    np.testing.assert_array_equal(got, want)
    assert (want[..., 3] == 0).any() == (name == "alpha.mov")
