"""Hostile and broken inputs, pixel budgets, and never losing the user's files."""

from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_decoders_agree, frame_offsets, moving_clip, read_gif, write_gif

from gifquant._cli import main
from gifquant._core.frames import Frame, QuantizedFrame
from gifquant._errors import GifquantError
from gifquant._io.budget import limit_clip
from gifquant._io.gif.scan import scan_gif
from gifquant._io.gif.write import GifWriter, encode_frame

ROOT = Path(__file__).resolve().parents[1]


def run(*argv) -> int:
    return main([str(a) for a in argv])


def assert_clean_error(capsys, *texts: str) -> str:
    """stderr is exactly one ``gifquant: error:`` line containing every text."""
    err = capsys.readouterr().err.strip()
    assert err.startswith("gifquant: error:") and len(err.splitlines()) == 1, err
    for t in texts:
        assert t in err, err
    return err


def raw_gif(
    screen: tuple[int, int], frames: list[tuple[int, int, int, int]], *, lzw: bytes | None = None
) -> bytes:
    """A hand-made GIF: each frame a descriptor (left, top, width, height) over tiny image data.

    The data is one 1x1 black pixel's LZW stream whatever the descriptor claims, as a bomb has.
    """
    if lzw is None:
        _, lzw, _ = encode_frame(np.zeros((1, 1), np.uint8), np.zeros((2, 3), np.uint8), None)
    out = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + bytes(6)  # 2-entry table
    for left, top, w, h in frames:
        out += b"\x21\xf9\x04\x04\x05\x00\x00\x00"  # graphic control: 5 cs, keep
        out += b"\x2c" + struct.pack("<HHHHB", left, top, w, h, 0) + lzw
    return out + b"\x3b"


@pytest.fixture
def clip4(tmp_path) -> Path:
    return write_gif(tmp_path / "clip.gif", moving_clip(4, 16, 20))


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# --- inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["noise.gif", "noise.png", "noise.jpg", "text.webp"])
def test_noise_or_text_with_an_image_extension(tmp_path, capsys, name):
    rng = np.random.default_rng(1)
    bad = tmp_path / name
    bad.write_bytes(b"hello\n" * 9 if name.startswith("text") else rng.bytes(5000))
    assert run(bad, tmp_path / "o.gif") == 2
    assert_clean_error(capsys, name)
    assert listing(tmp_path) == [name]


def test_directory_as_input(tmp_path, capsys):
    assert run(tmp_path, tmp_path / "o.gif") == 2
    assert_clean_error(capsys, "is a directory")


def test_unreadable_input(clip4, tmp_path, capsys, monkeypatch):
    if os.geteuid() != 0:
        clip4.chmod(0)
    else:  # root reads anything: make the permission check say no
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m: m != os.R_OK and real(p, m))
    assert run(clip4, tmp_path / "o.gif") == 2
    assert_clean_error(capsys, "permission denied")


def test_truncated_gif_is_refused_at_every_cut(clip4, tmp_path, capsys):
    data = clip4.read_bytes()
    offs = frame_offsets(data)
    cuts = {
        "signature": 4,
        "screen descriptor": 10,
        "global palette": 15,
        "first frame's descriptor": offs[0] + 5,
        "first frame's LZW data": offs[0] + 10 + 768 + 40,
        "mid-clip": (offs[1] + offs[2]) // 2,
        "last frame's data": len(data) - 20,
    }
    for where, cut in cuts.items():
        bad = tmp_path / "cut.gif"
        bad.write_bytes(data[:cut])
        assert run(bad, tmp_path / "o.gif", "-q") == 2, where
        err = assert_clean_error(capsys)
        assert "truncated" in err or "not an image" in err, (where, err)
        assert listing(tmp_path) == ["clip.gif", "cut.gif"], where


def test_mid_clip_truncation_names_the_frame(clip4, tmp_path, capsys):
    data = clip4.read_bytes()
    offs = frame_offsets(data)
    bad = tmp_path / "cut.gif"
    bad.write_bytes(data[: (offs[2] + offs[3]) // 2])
    assert run(bad, tmp_path / "o.gif") == 2
    assert_clean_error(capsys, "ends inside frame 2 (after 2 complete frames)")


def test_missing_trailer_alone_is_accepted(clip4, tmp_path):
    # Complete frames with no end marker: common in the wild, and every decoder plays them.
    src = tmp_path / "notrailer.gif"
    src.write_bytes(clip4.read_bytes()[:-1])
    assert run(src, tmp_path / "o.gif", "-q") == 0
    assert len(read_gif(tmp_path / "o.gif")[0]) == 4


def test_zero_size_frame_inside_a_clip(tmp_path, capsys):
    src = tmp_path / "z.gif"
    src.write_bytes(raw_gif((8, 8), [(0, 0, 8, 8), (0, 0, 0, 4), (0, 0, 8, 8)]))
    assert run(src, tmp_path / "o.gif") == 2
    assert_clean_error(capsys, "frame 1 has zero width or height")


def test_frame_out_of_bounds_bomb_refused_before_decoding(tmp_path, capsys):
    # A 10x10 screen whose second frame, 12 bytes of data, claims to reach 9000x9000:
    # Pillow would grow its canvas to 81 M pixels for it.
    src = tmp_path / "oob.gif"
    src.write_bytes(raw_gif((10, 10), [(0, 0, 10, 10), (8990, 8990, 10, 10)]))
    assert scan_gif(io.BytesIO(src.read_bytes())).canvas_width == 9000
    assert run(src, tmp_path / "o.gif") == 2
    assert_clean_error(capsys, "9000x9000", "--max-pixels")
    assert listing(tmp_path) == ["oob.gif"]


def test_huge_frame_with_tiny_data_refused(tmp_path, capsys):
    src = tmp_path / "big.gif"
    src.write_bytes(raw_gif((60000, 60000), [(0, 0, 60000, 60000)]))
    assert src.stat().st_size < 100
    assert run(src, tmp_path / "o.gif") == 2
    assert_clean_error(capsys, "--max-pixels", "decompression bomb")


def test_png_over_the_frame_budget(tmp_path, capsys):
    from PIL import Image

    Image.new("L", (300, 200)).save(tmp_path / "big.png")
    assert run(tmp_path / "big.png", tmp_path / "o.gif", "--max-pixels", "50000") == 2
    assert_clean_error(capsys, "300x200 = 60000 pixels", "--max-pixels")


def test_max_pixels_is_the_per_frame_budget(clip4, tmp_path, capsys):
    assert run(clip4, tmp_path / "o.gif", "--max-pixels", "319") == 2
    assert_clean_error(capsys, "20x16 = 320 pixels")
    assert run(clip4, tmp_path / "o.gif", "--max-pixels", "320", "-q") == 0


def test_absurd_frame_count_refused_by_the_clip_budget(tmp_path, capsys):
    # 20,000 one-pixel frames on a 2000x2000 screen: 80 G pixels to composite, 400 kB of file.
    src = tmp_path / "many.gif"
    src.write_bytes(raw_gif((2000, 2000), [(0, 0, 1, 1)] * 20000))
    assert run(src, tmp_path / "o.gif") == 2
    assert_clean_error(capsys, "20000 frames of 2000x2000", "--max-clip-pixels")
    assert listing(tmp_path) == ["many.gif"]


def test_max_clip_pixels_budget_and_zero_for_no_limit(clip4, tmp_path, capsys):
    assert run(clip4, tmp_path / "o.gif", "--max-clip-pixels", str(4 * 320 - 1)) == 2
    assert_clean_error(capsys, "4 frames of 20x16 = 1280 pixels")
    assert not (tmp_path / "o.gif").exists()
    assert run(clip4, tmp_path / "o.gif", "--max-clip-pixels", str(4 * 320), "-q") == 0
    assert run(clip4, tmp_path / "p.gif", "--max-clip-pixels", "0", "-q") == 0
    assert run(clip4, tmp_path / "q.gif", "--max-clip-pixels", "-1") == 2
    assert_clean_error(capsys, "--max-clip-pixels")


def test_clip_budget_exceeded_mid_stream_leaves_no_output(clip4, tmp_path, capsys, monkeypatch):
    # Readers that cannot count up front stop as soon as the decoded total is over the budget.
    from gifquant._io import image

    monkeypatch.setattr(image, "_check_layout", lambda *a, **kw: None)
    out = tmp_path / "o.gif"
    out.write_bytes(b"keep me")
    assert run(clip4, out, "-y", "--max-clip-pixels", str(3 * 320 - 1)) == 2
    assert_clean_error(capsys, "at frame 2", "--max-clip-pixels")
    assert listing(tmp_path) == ["clip.gif", "o.gif"] and out.read_bytes() == b"keep me"


def test_truncated_gif_on_stdin(clip4, tmp_path):
    data = clip4.read_bytes()
    cmd = [sys.executable, "-m", "gifquant", "-", str(tmp_path / "o.gif"), "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(cmd, input=data[: len(data) // 2], capture_output=True, env=env)
    assert r.returncode == 2 and r.stderr.startswith(b"gifquant: error:")
    assert len(r.stderr.strip().splitlines()) == 1 and listing(tmp_path) == ["clip.gif"]
    r = subprocess.run(cmd, input=data, capture_output=True, env=env)
    assert r.returncode == 0 and len(read_gif(tmp_path / "o.gif")[0]) == 4


def test_limit_clip_stops_a_stream_once_over_budget():
    pulled = []

    def frames():
        for i in range(100):
            pulled.append(i)
            yield Frame(np.zeros((10, 10, 4), np.uint8), 0.04)

    got = []
    with pytest.raises(GifquantError, match="at frame 5"):
        for fr in limit_clip(frames(), name="x", max_clip_pixels=550):
            got.append(fr)
    assert len(got) == 5 and pulled == list(range(6))
    assert len(list(limit_clip(frames(), name="x", max_clip_pixels=10_000))) == 100


# --- outputs --------------------------------------------------------------------------------


def test_output_is_a_directory(clip4, tmp_path, capsys):
    (tmp_path / "o.gif").mkdir()
    assert run(clip4, tmp_path / "o.gif", "-y") == 2
    assert_clean_error(capsys, "is a directory")


def test_output_folder_not_writable(clip4, tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:
        ro.chmod(0o500)
    else:  # root writes anywhere: make the permission check say no
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m: m != os.W_OK and real(p, m))
    assert run(clip4, ro / "o.gif") == 2
    assert_clean_error(capsys, "not writable")
    assert listing(ro) == []


def test_temporary_file_cannot_be_created(clip4, tmp_path, capsys, monkeypatch):
    real_open = os.open

    def refuse(path, flags, *a, **kw):  # the temporary output is made with O_EXCL
        if flags & os.O_EXCL:
            raise OSError(30, "Read-only file system")
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", refuse)
    assert run(clip4, tmp_path / "o.gif") == 2
    assert_clean_error(capsys, "cannot write in", "Read-only file system")


def test_output_equal_to_input_by_any_spelling(clip4, tmp_path, capsys, monkeypatch):
    before = clip4.read_bytes()
    (tmp_path / "sub").mkdir()
    os.link(clip4, tmp_path / "hard.gif")
    (tmp_path / "dirlink").symlink_to(tmp_path)
    monkeypatch.chdir(tmp_path / "sub")
    spellings = [
        clip4,
        "../clip.gif",
        f"{tmp_path}/sub/../clip.gif",
        f"{tmp_path}//clip.gif",
        tmp_path / "dirlink" / "clip.gif",
        tmp_path / "hard.gif",
    ]
    for out in spellings:
        assert run(clip4, out, "-y") == 2, out
        assert_clean_error(capsys, "output is the input")
    assert run("../hard.gif", "../dirlink/clip.gif", "-y") == 2
    assert_clean_error(capsys, "output is the input")
    assert clip4.read_bytes() == before


def test_no_overwrite_flag_and_conflict_with_y(clip4, tmp_path, capsys):
    out = tmp_path / "o.gif"
    out.write_bytes(b"keep me")
    assert run(clip4, out, "-n") == 2
    assert_clean_error(capsys, "not overwriting (-n)")
    assert run(clip4, out, "-n", "-y") == 2
    assert_clean_error(capsys, "not allowed with")
    assert out.read_bytes() == b"keep me"
    assert run(clip4, tmp_path / "new.gif", "-n", "-q") == 0


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("answer, rc", [("y\n", 0), ("n\n", 2), ("\n", 2), ("", 2)])
def test_overwrite_prompt_on_a_terminal(clip4, tmp_path, capsys, monkeypatch, answer, rc):
    out = tmp_path / "o.gif"
    out.write_bytes(b"keep me")
    monkeypatch.setattr(sys, "stdin", _Tty(answer))
    assert run(clip4, out, "-q") == rc
    err = capsys.readouterr().err
    assert err.startswith(f"File '{out}' already exists. Overwrite? [y/N] ")
    assert (out.read_bytes() == b"keep me") == (rc != 0)


def test_overwrite_prompt_through_a_real_pty(clip4, tmp_path):
    pty = pytest.importorskip("pty")
    out = tmp_path / "o.gif"
    for answer, rc in ((b"n\n", 2), (b"y\n", 0)):
        out.write_bytes(b"keep me")
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen(
                [sys.executable, "-m", "gifquant", str(clip4), str(out), "-q"],
                stdin=slave,
                stderr=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            os.write(master, answer)
            _, err = p.communicate(timeout=60)
        finally:
            os.close(slave)
            os.close(master)
        assert p.returncode == rc
        assert b"already exists. Overwrite? [y/N]" in err
        assert (out.read_bytes() == b"keep me") == (rc == 2)


def test_no_prompt_when_stdin_is_not_a_terminal(clip4, tmp_path, capsys, monkeypatch):
    out = tmp_path / "o.gif"
    out.write_bytes(b"keep me")
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert run(clip4, out) == 2
    assert_clean_error(capsys, "use -y")
    assert out.read_bytes() == b"keep me"


# --- atomic output --------------------------------------------------------------------------


def _interrupt_at(monkeypatch, n: int, exc: BaseException) -> None:
    from gifquant._run import pipeline

    # The main thread paints each planned frame: the failure strikes there, at frame n.
    real = pipeline.TemporalQuantizer.paint
    calls = []

    def paint(self, *a, **kw):
        calls.append(1)
        if len(calls) == n:
            raise exc
        return real(self, *a, **kw)

    monkeypatch.setattr(pipeline.TemporalQuantizer, "paint", paint)


@pytest.mark.parametrize("existing", [False, True])
def test_ctrl_c_mid_run_leaves_nothing_behind(clip4, tmp_path, capsys, monkeypatch, existing):
    out, cmp = tmp_path / "o.gif", tmp_path / "c.gif"
    if existing:
        out.write_bytes(b"keep me")
    _interrupt_at(monkeypatch, 3, KeyboardInterrupt())
    assert run(clip4, out, "-y", "--compare", cmp) == 130
    assert "interrupted" in capsys.readouterr().err
    assert listing(tmp_path) == (["clip.gif", "o.gif"] if existing else ["clip.gif"])
    if existing:
        assert out.read_bytes() == b"keep me"


def test_unexpected_error_mid_run_leaves_nothing_behind(clip4, tmp_path, monkeypatch, capsys):
    out = tmp_path / "o.gif"
    out.write_bytes(b"keep me")
    _interrupt_at(monkeypatch, 2, RuntimeError("boom"))
    assert run(clip4, out, "-y") == 1  # a bug is still one line, never a traceback
    err = capsys.readouterr().err.strip()
    assert err == "gifquant: internal error: RuntimeError: boom"
    assert listing(tmp_path) == ["clip.gif", "o.gif"] and out.read_bytes() == b"keep me"


def test_error_while_planning_a_frame_is_one_line_and_leaves_nothing(
    clip4, tmp_path, monkeypatch, capsys
):
    # Palettes are planned in their own thread, ahead of the main one: its errors come through.
    from gifquant._run import pipeline

    real = pipeline.TemporalQuantizer.plan
    calls = []

    def plan(self, *a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("planner broke")
        return real(self, *a, **kw)

    monkeypatch.setattr(pipeline.TemporalQuantizer, "plan", plan)
    out = tmp_path / "o.gif"
    assert run(clip4, out, "-y") == 1
    assert (
        capsys.readouterr().err.strip() == "gifquant: internal error: RuntimeError: planner broke"
    )
    assert listing(tmp_path) == ["clip.gif"]


def test_disk_error_mid_run_is_one_line_and_leaves_nothing(clip4, tmp_path, capsys, monkeypatch):
    from gifquant._io import streams

    def full(self, frame):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(streams.GifSink, "write", full)
    assert run(clip4, tmp_path / "o.gif") == 1
    assert_clean_error(capsys, "No space left on device")
    assert listing(tmp_path) == ["clip.gif"]


def test_sigterm_mid_run_leaves_nothing_behind(tmp_path):
    # 400 frames of colour noise: quick to write, many seconds to quantize like this.
    rng = np.random.default_rng(0)
    src = tmp_path / "long.gif"
    with open(src, "wb") as f:
        wr = GifWriter(f, 64, 48)
        palette = rng.integers(0, 256, size=(256, 3), dtype=np.uint8)
        for _ in range(400):
            idx = rng.integers(0, 256, size=(48, 64), dtype=np.uint8)
            wr.write(QuantizedFrame(idx, palette, None, 0.04))
        wr.close()
    out = tmp_path / "o.gif"
    out.write_bytes(b"keep me")
    p = subprocess.Popen(
        [sys.executable, "-m", "gifquant", str(src), str(out), "-y", "-q", "-k", "32"]
        + ["--random", "--n-init", "10", "--max-iter", "300", "--tol", "0"],  # a slow run
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    # Wait until the temporary output exists: the run is under way.
    deadline = time.monotonic() + 300  # a guard against a hang, however loaded the machine
    while not any(n.endswith(".part") for n in os.listdir(tmp_path)):
        assert p.poll() is None and time.monotonic() < deadline, "run ended before SIGTERM"
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143, err
    assert b"Traceback" not in err
    assert listing(tmp_path) == ["long.gif", "o.gif"] and out.read_bytes() == b"keep me"


def test_sigterm_whose_exception_is_lost_still_stops_the_run(tmp_path, capsys, monkeypatch):
    # A signal landing in C code that swallows errors (numpy importing a submodule) loses the
    # handler's exception; the flag it sets stops the run at the next frame anyway.
    from gifquant import _signals as signals

    monkeypatch.setattr(signals, "_handler", lambda signum, frame: signals._note(signum))
    src = write_gif(tmp_path / "clip.gif", moving_clip(30))
    out = tmp_path / "o.gif"
    calls = []

    def on_frame(i: int) -> None:
        calls.append(i)
        if i == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    real = signals.check

    def check() -> None:  # called after every frame
        on_frame(len(calls))
        real()

    monkeypatch.setattr(signals, "check", check)
    assert main([str(src), str(out), "-k", "4"]) == 143
    assert calls[-1] == 2 or calls[-1] == 3  # stopped at once, not after 30 frames
    assert "interrupted" in capsys.readouterr().err
    assert listing(tmp_path) == ["clip.gif"]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_file_handles_are_closed_on_every_path(clip4, tmp_path, capsys, monkeypatch):
    data = clip4.read_bytes()
    cut = tmp_path / "cut.gif"
    cut.write_bytes(data[: len(data) - 200])
    broken = bytearray(data)
    broken[frame_offsets(data)[1] + 10 + 768 + 5 : frame_offsets(data)[1] + 10 + 768 + 40] = bytes(
        35
    )
    bad_lzw = tmp_path / "lzw.gif"
    bad_lzw.write_bytes(bytes(broken))
    before = _open_fds()
    for argv in (
        [clip4, tmp_path / "o.gif", "-q"],
        [cut, tmp_path / "o2.gif"],
        [bad_lzw, tmp_path / "o3.gif"],
        [clip4, tmp_path / "o4.gif", "--max-clip-pixels", "10"],
    ):
        run(*argv)
    _interrupt_at(monkeypatch, 2, KeyboardInterrupt())
    assert run(clip4, tmp_path / "o5.gif") == 130
    assert _open_fds() == before


# --- decoders agree on our output -----------------------------------------------------------


def test_transparency_appearing_after_an_opaque_first_frame(tmp_path):
    # Pillow decides from the first frame whether a GIF has alpha: our output gives every
    # frame a transparent index when the source has any, so it sees what ffmpeg sees.
    frames = moving_clip(4, 16, 20)
    alpha = [np.ones((16, 20), bool) for _ in frames]
    alpha[2][:5, :5] = False
    alpha[3][:5, :5] = False
    src = write_gif(tmp_path / "t.gif", frames, alpha=alpha)
    out = tmp_path / "o.gif"
    assert run(src, out, "-k", "4", "-q") == 0
    got, _, _ = read_gif(out)
    assert [int((g[..., 3] == 0).sum()) for g in got] == [0, 0, 25, 25]
    assert_decoders_agree(out)


def test_always_transparent_writer_leaves_a_full_palette_alone():
    buf = io.BytesIO()
    wr = GifWriter(buf, 4, 4, always_transparent=True)
    palette = np.arange(256 * 3, dtype=np.uint8).reshape(256, 3)
    idx = np.arange(16, dtype=np.uint8).reshape(4, 4)
    wr.write(QuantizedFrame(idx, palette, None, 0.1))
    wr.close()
    got, _, _ = read_gif(buf.getvalue())
    np.testing.assert_array_equal(got[0][..., :3], palette[idx])
    assert (got[0][..., 3] == 255).all()


@pytest.mark.parametrize("left", [65535, 65534])
def test_a_frame_placed_past_the_largest_canvas_is_an_input_error(tmp_path, capsys, left):
    from PIL import Image

    im = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), "P")
    im.putpalette([0, 0, 0, 255, 255, 255])
    buf = io.BytesIO()
    im.save(buf, "GIF")
    data = bytearray(buf.getvalue())
    at = data.index(b"\x2c") + 1  # the image descriptor's left edge
    data[at : at + 2] = struct.pack("<H", left)
    src = tmp_path / "far.gif"
    src.write_bytes(bytes(data))
    assert main([str(src), str(tmp_path / "o.gif")]) == 2
    assert "largest GIF canvas" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["open", "close"])
def test_scratch_files_go_whenever_the_run_is_interrupted(tmp_path, monkeypatch, where):
    # The stdin spool, quantize()'s spool and --max-size's probes live in the temporary folder;
    # a signal between a file's creation and its name reaching the caller left it there.
    from gifquant._io import atomic

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    real = getattr(atomic.os, where)
    calls = []

    def interrupted(*args, **kwargs):
        result = real(*args, **kwargs)
        if not calls:
            calls.append(args)
            raise KeyboardInterrupt  # as a signal handler raises, just after the call
        return result

    monkeypatch.setattr(atomic.os, where, interrupted)
    with pytest.raises(KeyboardInterrupt):
        with atomic.scratch_file("gifquant-stdin-"):
            pass
    assert calls and os.listdir(tmp_path) == []
    monkeypatch.setattr(atomic.os, where, real)
    with atomic.scratch_folder("gifquant-size-") as folder:
        Path(folder, "probe.gif").write_bytes(b"x")
    with pytest.raises(RuntimeError):
        with atomic.scratch_file("gifquant-stdin-") as (name, f):
            f.write(b"data")
            raise RuntimeError
    assert os.listdir(tmp_path) == []


def test_stdin_spool_is_removed_after_a_broken_input(clip4, tmp_path, monkeypatch):
    data = clip4.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "gifquant", "-", str(tmp_path / "o.gif"), "-q"],
        input=data[: len(data) * 2 // 3],
        capture_output=True,
        env=env,
    )
    assert r.returncode == 2 and b"Traceback" not in r.stderr
    assert os.listdir(tmp_path / "tmp") == []
