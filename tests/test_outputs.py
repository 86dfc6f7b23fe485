"""What an output path means, under hostile use (issue 13): devices and FIFOs are written in
place, symlinks replace their target, the input is never overwritten (through stdin either),
PNG outputs are one file or a folder as the name says, and odd but valid paths work."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import moving_clip, read_gif, write_gif
from PIL import Image

from gifquant._cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*argv) -> int:
    return main([str(a) for a in argv])


def command(*argv, stdin=None, shell_suffix: str = "") -> subprocess.CompletedProcess:
    """``python -m gifquant ARGV`` in a child, optionally through sh for a redirection."""
    args = [sys.executable, "-m", "gifquant", *map(str, argv)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if shell_suffix:
        cmd = " ".join(f"'{a}'" for a in args) + " " + shell_suffix
        return subprocess.run(["sh", "-c", cmd], capture_output=True, env=env, stdin=stdin)
    return subprocess.run(args, capture_output=True, env=env, stdin=stdin)


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_gif(tmp_path / "clip.gif", moving_clip(6, 24, 32))


# --- item 1: devices, FIFOs and symlinks ------------------------------------------------------


def test_a_character_device_is_written_in_place_not_replaced(clip, tmp_path):
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a copy of /dev/null
    except PermissionError:
        pytest.skip("mknod needs root")
    assert run(clip, node, "-f", "gif", "-y", "-q") == 0
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["clip.gif", "null"]


def test_a_fifo_is_written_in_place(clip, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert run(clip, fifo, "-f", "gif", "-y", "-q") == 0
    reader.join(30)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    out = tmp_path / "o.gif"
    out.write_bytes(got[0])
    assert len(read_gif(out)[0]) == 6


def test_a_symlink_to_stdout_writes_stdout_and_stays_a_link(clip, tmp_path):
    link = tmp_path / "out"
    os.symlink("/proc/self/fd/1", link)
    res = command(clip, link, "-f", "gif", "-y", "-q")
    assert res.returncode == 0, res.stderr
    assert os.path.islink(link) and res.stdout[:6] == b"GIF89a"


def test_a_symlink_to_a_regular_file_replaces_the_file_not_the_link(clip, tmp_path):
    target = tmp_path / "target.gif"
    target.write_bytes(b"old")
    link = tmp_path / "link.gif"
    os.symlink("target.gif", link)
    assert run(clip, link, "-y", "-q") == 0
    assert os.path.islink(link) and os.readlink(link) == "target.gif"
    assert len(read_gif(target)[0]) == 6


# --- items 2, 3, 4: the input and the comparison -------------------------------------------


def test_the_input_given_on_stdin_is_never_the_output(clip):
    before = clip.read_bytes()
    with open(clip, "rb") as f:
        res = command("-", clip, "-y", stdin=f)
    assert res.returncode == 2 and b"output is the input" in res.stderr
    assert clip.read_bytes() == before


def test_the_input_is_never_appended_to_through_stdout(clip):
    before = clip.read_bytes()
    res = command(clip, "-", "-f", "gif", shell_suffix=f">> '{clip}'")
    assert res.returncode == 2 and b"output is the input" in res.stderr
    assert clip.read_bytes() == before


def test_compare_and_output_are_compared_as_files(clip, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(clip, "o.gif", "--compare", "./o.gif") == 2
    assert "--compare needs its own file path" in capsys.readouterr().err
    assert not (tmp_path / "o.gif").exists()


def test_compare_writes_the_format_its_extension_names(clip, tmp_path):
    cmp = tmp_path / "cmp.mp4"
    assert run(clip, tmp_path / "o.gif", "--compare", cmp, "-q") == 0
    assert cmp.read_bytes()[4:8] == b"ftyp"


def test_compare_with_an_unknown_extension_names_the_option_not_f(clip, tmp_path, capsys):
    assert run(clip, tmp_path / "o.gif", "--compare", tmp_path / "x.txt") == 2
    err = capsys.readouterr().err
    assert "--compare" in err and "-f" not in err.replace("--compare", "")
    assert sorted(os.listdir(tmp_path)) == ["clip.gif"]


# --- item 7: PNG outputs ---------------------------------------------------------------------


def test_out_png_is_an_apng_with_every_frame_whole(clip, tmp_path):
    gif, png = tmp_path / "o.gif", tmp_path / "o.png"
    assert run(clip, gif, "-k", "8", "-q") == 0
    assert run(clip, png, "-k", "8", "-q") == 0
    with Image.open(png) as im:
        assert im.format == "PNG" and im.n_frames == 6 and im.info["loop"] == 0
        frames, durations = [], []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
            durations.append(im.info["duration"])
    want, want_durations, _ = read_gif(gif)
    assert durations == want_durations
    for a, b in zip(frames, want, strict=True):
        np.testing.assert_array_equal(a, b[..., :3])


def test_out_png_of_a_still_is_a_plain_palette_png(tmp_path):
    still = tmp_path / "still.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(still)
    out = tmp_path / "o.png"
    assert run(still, out, "-k", "4", "-q") == 0
    with Image.open(out) as im:
        assert im.mode == "P" and not getattr(im, "is_animated", False)
        assert len(im.convert("RGB").getcolors()) <= 4


def test_f_png_makes_a_folder_with_the_umask_and_y_replaces_only_frames(clip, tmp_path, capsys):
    folder = tmp_path / "frames"
    old = os.umask(0o027)
    try:
        assert run(clip, folder, "-f", "png", "-q") == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o750
    assert sorted(os.listdir(folder)) == [f"frame_{i:06d}.png" for i in range(1, 7)]
    assert run(clip, folder, "-f", "png", "-q") == 2  # exists: needs -y
    assert run(clip, folder, "-f", "png", "-q", "-y", "--frames", "3") == 0
    assert sorted(os.listdir(folder)) == [f"frame_{i:06d}.png" for i in range(1, 4)]
    (folder / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert run(clip, folder, "-f", "png", "-q", "-y") == 2
    assert "notes.txt" in capsys.readouterr().err
    assert (folder / "notes.txt").read_text() == "mine" and len(os.listdir(folder)) == 4


# --- item 12: valid paths -------------------------------------------------------------------


def test_an_output_name_of_255_bytes_works(clip, tmp_path):
    out = tmp_path / ("a" * 251 + ".gif")
    assert run(clip, out, "-q") == 0 and len(read_gif(out)[0]) == 6


def test_a_pipe_given_by_path_is_read(clip, tmp_path):
    # /dev/stdin, a FIFO (what bash's <(...) hands over) used to be refused as "empty file".
    with open(clip, "rb") as f:
        res = command("/dev/stdin", tmp_path / "o.gif", "-q", stdin=f)
    assert res.returncode == 0, res.stderr
    fifo = tmp_path / "fifo.gif"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(clip.read_bytes()))
    writer.start()
    assert run(fifo, tmp_path / "f.gif", "-q") == 0
    writer.join(30)
    assert len(read_gif(tmp_path / "f.gif")[0]) == 6


def test_files_named_like_ffmpeg_protocols_are_files(tmp_path, monkeypatch):
    from gifquant._io.ffmpeg import ffmpeg_exe

    monkeypatch.chdir(tmp_path)
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x24:duration=0.4"]
        + ["-pix_fmt", "yuv420p", "-f", "mp4", "file:http:x.mp4"],
        check=True,
    )
    os.link("http:x.mp4", "pipe:0")
    assert run("http:x.mp4", "a.gif", "-q") == 0
    assert run("pipe:0", "b.gif", "-q") == 0
    assert len(read_gif(tmp_path / "b.gif")[0]) == len(read_gif(tmp_path / "a.gif")[0]) > 1


# --- items 13, 14, 15: messages and options --------------------------------------------------


def test_a_missing_input_is_named_before_an_existing_output(tmp_path, capsys):
    out = tmp_path / "o.gif"
    out.write_bytes(b"x")
    assert run(tmp_path / "missing.gif", out) == 2
    assert "missing.gif: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("abbrev", [["--pal", "0"], ["--comp", "c.gif"], ["--palette", "p.png"]])
def test_abbreviated_options_are_refused(clip, tmp_path, capsys, abbrev):
    assert run(clip, tmp_path / "o.gif", *abbrev) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_panels_without_compare_is_refused(clip, tmp_path, capsys):
    assert run(clip, tmp_path / "o.gif", "--panels", "k=2,k=4") == 2
    assert "--panels needs --compare" in capsys.readouterr().err


def test_quiet_stats_prints_the_stats(clip, tmp_path, capsys):
    assert run(clip, tmp_path / "o.gif", "-q", "--stats") == 0
    err = capsys.readouterr().err
    assert "mean dE" in err and "colours on screen" in err and err.count("\n") == 1


def test_the_summary_time_includes_the_encoders_finish(clip, tmp_path, capsys, monkeypatch):
    # A clock that jumps 1000 s when the encoder finishes (ffmpeg closing the webm): the
    # time said includes it only if it is read after. (No wall clock: a loaded machine's
    # start-up and scheduling would make any ratio of it flaky.)
    import re
    import types

    from gifquant._io.video import VideoWriter
    from gifquant._run import once as _library

    now = [0.0]
    monkeypatch.setattr(_library, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    close = VideoWriter.close

    def finish(self):
        close(self)
        now[0] += 1000.0

    monkeypatch.setattr(VideoWriter, "close", finish)
    assert run(clip, tmp_path / "o.webm") == 0
    said = float(re.search(r"([\d.]+) s \(", capsys.readouterr().err).group(1))
    assert said >= 1000.0


# --- items 10, 11: numbers and exits -------------------------------------------------------


@pytest.mark.parametrize(
    "option, value, rng",
    [
        ("--frames", str(10**30), "1..1000000000"),
        ("--dither-strength", "inf", "0..8"),
        ("--dither-strength", "nan", "0..8"),
        ("--palette-hysteresis", "1e308", "0..100"),
        ("--tol", "-inf", "0..100"),
        ("--palette-memory", "nan", "less than 1"),
        ("--fps", "1000", "0.01..100"),
        ("--fps", "inf", "0.01..100"),
        ("--ss", "nan", "0..1e+09"),
        ("--seed", str(2**40), "0..4294967295"),
    ],
)
def test_numbers_outside_their_range_are_usage_errors(clip, tmp_path, capsys, option, value, rng):
    assert run(clip, tmp_path / "o.gif", f"{option}={value}") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and option in err and rng in err
    assert sorted(os.listdir(tmp_path)) == ["clip.gif"]


def test_a_closed_stdout_is_not_an_internal_error(clip, tmp_path):
    ok = command(clip, tmp_path / "o.gif", "-q", shell_suffix=">&-")
    assert ok.returncode == 0, ok.stderr
    bad = command(clip, "-", "-f", "gif", "-q", shell_suffix=">&-")
    assert bad.returncode == 2 and b"stdout is closed" in bad.stderr


# --- item 19: the umask ----------------------------------------------------------------------


def test_writing_never_changes_the_umask(clip, tmp_path, monkeypatch):
    def no_umask(mask):
        raise AssertionError("os.umask called while writing")

    monkeypatch.setattr(os, "umask", no_umask)
    assert run(clip, tmp_path / "o.gif", "-q") == 0
    assert run(clip, tmp_path / "o.mp4", "-q") == 0
    assert run(clip, tmp_path / "frames", "-f", "png", "-q") == 0


# --- found by a hostile run ------------------------------------------------------------------


def frames_in(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("spelling", ["{d}/.", "{d}/"])
def test_a_frames_folder_spelled_with_a_dot_or_slash_is_replaced(clip, tmp_path, spelling):
    folder = tmp_path / "fd"
    assert run(clip, folder, "-f", "png", "-q", "--frames", "3") == 0
    assert run(clip, spelling.format(d=folder), "-f", "png", "-y", "-q", "--frames", "2") == 0
    assert frames_in(folder) == ["frame_000001.png", "frame_000002.png"]


def test_the_current_folder_is_never_replaced(clip, tmp_path, monkeypatch, capsys):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "frame_000001.png").write_bytes(b"x")
    monkeypatch.chdir(tmp_path / "work")
    assert run(clip, ".", "-f", "png", "-y", "-q") == 2
    assert "current folder" in capsys.readouterr().err
    assert frames_in(tmp_path / "work") == ["frame_000001.png"]


def test_a_subfolder_named_like_a_frame_is_not_a_frame(clip, tmp_path, capsys):
    folder = tmp_path / "fr"
    (folder / "frame_000009.png").mkdir(parents=True)
    (folder / "frame_000009.png" / "keep.txt").write_text("precious")
    assert run(clip, folder, "-f", "png", "-y", "-q") == 2
    assert (folder / "frame_000009.png" / "keep.txt").read_text() == "precious"


def test_an_input_inside_the_frames_folder_is_not_destroyed(clip, tmp_path):
    folder = tmp_path / "fi"
    assert run(clip, folder, "-f", "png", "-q", "--frames", "3") == 0
    assert run(folder / "frame_000001.png", folder, "-f", "png", "-y", "-q") == 2
    assert len(frames_in(folder)) == 3


def test_a_comparison_inside_the_frames_folder_is_refused(clip, tmp_path):
    folder = tmp_path / "fr"
    assert run(clip, folder, "-f", "png", "-q", "--frames", "3") == 0
    cmp = folder / "cmp.png"
    assert run(clip, folder, "-f", "png", "-y", "-q", "--compare", cmp) == 2
    assert len(frames_in(folder)) == 3


def test_a_frames_folder_behind_a_symlink_is_written_and_the_link_kept(clip, tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink("real", tmp_path / "lnk")
    assert run(clip, tmp_path / "lnk", "-f", "png", "-y", "-q", "--frames", "2") == 0
    assert os.path.islink(tmp_path / "lnk") and len(frames_in(tmp_path / "real")) == 2


def test_compare_to_a_folder_writes_png_frames(clip, tmp_path):
    assert run(clip, tmp_path / "o.gif", "--compare", f"{tmp_path / 'cmp'}/", "-q") == 0
    assert len(frames_in(tmp_path / "cmp")) == 6


def test_stdin_and_stdout_on_one_file_is_refused(clip):
    before = clip.read_bytes()
    with open(clip, "rb") as f:
        res = command("-", "-", "-f", "gif", stdin=f, shell_suffix=f">> '{clip}'")
    assert res.returncode == 2 and b"output is the input" in res.stderr
    assert clip.read_bytes() == before


def test_compare_through_a_link_to_stdout_is_refused_when_stdout_is_the_output(clip, tmp_path):
    link = tmp_path / "so.gif"
    os.symlink("/proc/self/fd/1", link)
    res = command(clip, "-", "-f", "gif", "--compare", link, "-q", shell_suffix="| cat >/dev/null")
    assert b"--compare needs its own file path" in res.stderr


def test_a_pipe_of_something_else_is_refused_at_once(tmp_path):
    res = command("/dev/zero", tmp_path / "o.gif")
    assert res.returncode == 2 and b"not a GIF, image, y4m or video stream" in res.stderr


def test_names_that_are_not_utf8_are_written(clip, tmp_path):
    out = os.path.join(os.fsencode(tmp_path), b"bad\xffname.gif")
    assert run(clip, os.fsdecode(out), "-q") == 0 and os.path.exists(out)


def test_closed_stdin_or_stderr_are_not_internal_errors(clip, tmp_path):
    (tmp_path / "e.gif").write_bytes(b"x")
    res = command(clip, tmp_path / "e.gif", shell_suffix="<&-")
    assert res.returncode == 2 and b"already exists" in res.stderr
    res = command(clip, tmp_path / "c.gif", "-y", shell_suffix="2>&-")
    assert res.returncode == 0 and len(read_gif(tmp_path / "c.gif")[0]) == 6
    res = command("-", tmp_path / "d.gif", shell_suffix="<&-")
    assert res.returncode == 2 and b"stdin is closed" in res.stderr


def test_a_name_too_long_is_refused_up_front(clip, tmp_path, capsys):
    assert run(clip, tmp_path / ("a" * 252 + ".gif"), "-q") == 2
    assert "file name too long" in capsys.readouterr().err


def test_a_socket_is_neither_input_nor_output(clip, tmp_path, capsys):
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        assert run(clip, tmp_path / "sock", "-f", "gif", "-y", "-q") == 2
        assert run(tmp_path / "sock", tmp_path / "o.gif", "-q") == 2
    finally:
        sock.close()
    assert capsys.readouterr().err.count("is a socket") == 2


def test_a_fifo_whose_reader_leaves_says_so(clip, tmp_path, capsys):
    big = write_gif(tmp_path / "big.gif", moving_clip(40, 120, 160))
    fifo = tmp_path / "f.gif"
    os.mkfifo(fifo)

    def leave():
        with open(fifo, "rb") as f:
            f.read(10)

    reader = threading.Thread(target=leave)
    reader.start()
    assert run(big, fifo, "-y", "-q", "--no-delta") == 1
    reader.join(30)
    assert "the reader went away" in capsys.readouterr().err


def test_n_refuses_an_existing_device_and_y_keeps_a_files_mode(clip, tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert run(clip, fifo, "-f", "gif", "-n") == 2
    out = tmp_path / "o.gif"
    out.write_bytes(b"x")
    os.chmod(out, 0o600)
    assert run(clip, out, "-y", "-q") == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_a_missing_input_is_named_whatever_the_output(tmp_path, capsys):
    for out in ("o.txt", "-"):
        assert run(tmp_path / "nope.gif", out) == 2
        assert "nope.gif: no such file" in capsys.readouterr().err


class _Signal(BaseException):
    """Stands for the exception a signal handler raises."""


@pytest.mark.parametrize("folder", [False, True])
def test_a_signal_just_after_the_temporary_file_is_made_leaves_nothing(
    tmp_path, monkeypatch, folder
):
    # A signal's exception can come at any bytecode; the moment the temporary file exists but
    # its name is not yet returned used to leave a .part file behind (seen under load).
    from gifquant._io import atomic

    target = tmp_path / ("frames" if folder else "out.gif")
    made = os.mkdir if folder else os.open

    def then_signal(*args, **kwargs):
        made(*args, **kwargs)
        raise _Signal

    monkeypatch.setattr(atomic.os, "mkdir" if folder else "open", then_signal)
    with pytest.raises(_Signal):
        with atomic.atomic_dir(str(target)) if folder else atomic.output_file(str(target)):
            pass
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []
