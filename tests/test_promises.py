"""Promises the newest surfaces broke under hostile use (issue 25): every output of a run is put
in place together or not at all, user mistakes are exit 2 with one line, palette's outputs
do not collide, --lossy's result is checked, limits are refused before the work."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import moving_clip, write_gif

from gifquant._cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*argv) -> int:
    return main([str(a) for a in argv])


def command(*argv, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m gifquant ARGV`` in a child process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    args = [sys.executable, "-m", "gifquant", *map(str, argv)]
    return subprocess.run(args, capture_output=True, env=env, timeout=300)


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_gif(tmp_path / "clip.gif", moving_clip(6, 24, 32))


def files(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# --- item 1: a failed --report writes no output -------------------------------------------------


@pytest.mark.parametrize("report", ["/dev/full", "/proc/r.json"])
def test_a_failed_report_leaves_the_outputs_untouched(clip, tmp_path, report, capsys):
    if not os.path.exists(os.path.dirname(report) if report.startswith("/proc") else report):
        pytest.skip(f"no {report} here")
    out = tmp_path / "pre.gif"
    out.write_bytes(b"earlier")
    code = run(clip, out, "--compare", tmp_path / "cmp.gif", "--report", report, "-y", "-q")
    assert code in (1, 2)
    assert out.read_bytes() == b"earlier"
    assert files(tmp_path) == ["clip.gif", "pre.gif"]  # no comparison, no .part
    assert capsys.readouterr().err.count("\n") == 1


def test_the_report_and_outputs_appear_together(clip, tmp_path):
    out, report = tmp_path / "o.gif", tmp_path / "r.json"
    assert run(clip, out, "--compare", tmp_path / "c.gif", "--report", report, "-q") == 0
    assert files(tmp_path) == ["c.gif", "clip.gif", "o.gif", "r.json"]
    assert b'"bytes": %d' % out.stat().st_size in report.read_bytes()


# --- item 2: palette's outputs appear together or not at all -----------------------------------


def palette_outputs(tmp_path: Path) -> list[str]:
    return [
        "-o",
        str(tmp_path / "p.json"),
        "--swatch",
        str(tmp_path / "s.png"),
        "--timeline",
        str(tmp_path / "t.png"),
        "--replaced",
        str(tmp_path / "r.gif"),
    ]


def test_palette_stopped_by_a_signal_leaves_no_output(clip, tmp_path, monkeypatch, capsys):
    from gifquant._cli import palette as cli_palette

    def signalled(*args, **kwargs):  # SIGINT while the last output is written
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    real = cli_palette.convert
    monkeypatch.setattr(cli_palette, "convert", signalled)
    assert run("palette", clip, "-k", 4, *palette_outputs(tmp_path), "-q") == 130
    assert files(tmp_path) == ["clip.gif"]
    assert "no output written" in capsys.readouterr().err


def test_palette_failing_on_one_output_leaves_none(clip, tmp_path, capsys):
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc here")
    outputs = palette_outputs(tmp_path)[:4] + ["--timeline", "/proc/t.png"]
    assert run("palette", clip, "-k", 4, *outputs, "-q") == 2
    assert files(tmp_path) == ["clip.gif"]
    assert capsys.readouterr().err.count("\n") == 1


def test_palette_writes_every_output(clip, tmp_path, capsys):
    assert run("palette", clip, "-k", 4, *palette_outputs(tmp_path), "-q") == 0
    assert files(tmp_path) == ["clip.gif", "p.json", "r.gif", "s.png", "t.png"]


# --- item 9: user mistakes are exit 2 with a plain line, not internal errors --------------------


@pytest.mark.parametrize("address", ["notanaddress", "tcp://127.0.0.1:port", "foo://h:1"])
def test_batch_refuses_a_dask_address_that_is_not_one(clip, tmp_path, address, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    assert run("batch", clip, "--out-dir", out, "--dask", address, "-q") == 2
    err = capsys.readouterr().err
    assert "not a scheduler address" in err and "internal" not in err and err.count("\n") == 1
    assert not out.exists()


def test_batch_refuses_a_list_with_a_nul_byte(clip, tmp_path, capsys):
    listed = tmp_path / "list.txt"
    listed.write_text(f"{clip}\n{tmp_path}/a\0b.gif\n")
    out = tmp_path / "out"
    assert run("batch", listed, "--out-dir", out, "-q") == 2
    err = capsys.readouterr().err
    assert "NUL byte" in err and "internal" not in err and err.count("\n") == 1
    assert not out.exists()


# --- item 10: palette's outputs do not collide; - is stdout once --------------------------------


@pytest.mark.parametrize(
    "outputs, says",
    [
        (["--swatch", "same.png", "--timeline", "same.png", "-y"], "the same file"),
        (["-o", "x.png", "--swatch", "x.png", "-y"], "the same file"),
        (["--format", "json", "--swatch", "-"], "give -o FILE"),  # the text asked: to stdout
        (["-o", "-", "--timeline", "-"], "at most one output"),
        (["-o", "p.json", "--replaced", "-"], "name a file"),
        (["-o", "p.json", "--plot3d", "-"], "name it .html"),
    ],
)
def test_palette_refuses_colliding_outputs_up_front(
    clip, tmp_path, outputs, says, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert run("palette", clip, "-k", 3, *outputs, "-q") == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
    assert files(tmp_path) == ["clip.gif"]


def test_palette_writes_a_picture_to_stdout_when_the_text_goes_to_a_file(
    clip, tmp_path, capfdbinary, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert run("palette", clip, "-k", 3, "-o", "p.json", "--swatch", "-", "-q") == 0
    assert capfdbinary.readouterr().out[:8] == b"\x89PNG\r\n\x1a\n"
    assert files(tmp_path) == ["clip.gif", "p.json"]


# --- item 12: batch --summary follows the overwrite rule ----------------------------------------


def test_batch_summary_is_not_replaced_without_y(clip, tmp_path, capsys):
    summary = tmp_path / "s.json"
    summary.write_text("earlier")
    argv = ["batch", clip, "--out-dir", tmp_path / "out", "--summary", summary, "-q"]
    assert run(*argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert summary.read_text() == "earlier" and not (tmp_path / "out").exists()
    assert run(*argv, "-n") == 2 and summary.read_text() == "earlier"
    assert run(*argv, "-y") == 0 and summary.read_text().startswith("{")


# --- item 11: --lossy checks what gifsicle wrote -------------------------------------------------


@pytest.mark.parametrize(
    "writes",
    [b"", b"GIF89a", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"],  # empty, 6 bytes, no frame
)
@pytest.mark.parametrize("to_stdout", [False, True])
def test_lossy_refuses_what_a_broken_gifsicle_wrote(
    clip, tmp_path, monkeypatch, capfdbinary, writes, to_stdout
):
    from gifquant._io.gif import gifsicle

    fake = tmp_path / "gifsicle"
    (tmp_path / "writes").write_bytes(writes)
    fake.write_text(f"#!/bin/sh\ncat > /dev/null\ncat '{tmp_path / 'writes'}'\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setattr(gifsicle, "find_gifsicle", lambda: str(fake))
    out = tmp_path / "o.gif"
    out.write_bytes(b"earlier")
    target = ["-", "-f", "gif"] if to_stdout else [out, "-y"]
    assert run(clip, *target, "--lossy", 40, "-q") == 1
    got = capfdbinary.readouterr()
    assert b"gifsicle --lossy wrote a broken result" in got.err and got.err.count(b"\n") == 1
    assert got.out == b"" and out.read_bytes() == b"earlier"
    assert files(tmp_path) == ["clip.gif", "gifsicle", "o.gif", "writes"]


# --- item 6: a recursive glob does not follow symlink loops ------------------------------------


@pytest.mark.parametrize("link, to", [("self", "../x"), ("up", "..")])
def test_a_recursive_glob_does_not_follow_a_symlink_loop(clip, tmp_path, link, to, capsys):
    loop = tmp_path / "loop"
    (loop / "x").mkdir(parents=True)
    (loop / "g.gif").write_bytes(clip.read_bytes())
    (loop / "x" / "g.gif").write_bytes(clip.read_bytes())
    os.symlink(to, loop / "x" / link)
    out = tmp_path / "out"
    assert run("batch", f"{loop}/**/*.gif", "--out-dir", out, "-k", 4, "--jobs", 1, "-q") == 0
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["g.gif", "x/g.gif"]


# --- item 7: compare refuses a grid too large before it reads a frame ---------------------------


def test_compare_refuses_a_grid_too_large_before_any_frame(clip, tmp_path):
    from gifquant import compare

    seen = []
    with pytest.raises(ValueError, match="the grid would be"):
        compare(clip, tmp_path / "g.gif", k=[2, 4], max_pixels=5000, on_frame=seen.append)
    assert seen == [] and files(tmp_path) == ["clip.gif"]


# --- items 3 and 4: what killed workers and batches leave is removed, a live run's is not -----


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def plant_temps(out: Path) -> tuple[Path, Path]:
    """A temporary file of out/clip.gif left by a process that is gone, and one of a live
    process (this one: another batch writing the same output)."""
    out.mkdir()
    dead = out / f".clip.gif.0badf00d.{dead_pid()}.part"
    live = out / f".clip.gif.0badf00d.{os.getpid()}.part"
    dead.write_bytes(b"x")
    live.write_bytes(b"x")
    return dead, live


def test_a_batch_removes_temporary_files_of_dead_runs_only(clip, tmp_path):
    out = tmp_path / "out"
    dead, live = plant_temps(out)
    assert run("batch", clip, "--out-dir", out, "-k", 4, "--jobs", 1, "-q") == 0
    assert not dead.exists() and live.exists() and (out / "clip.gif").exists()


def test_a_dask_batch_leaves_no_scratch_space_or_temporary_file(clip, tmp_path):
    pytest.importorskip("distributed")
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    dead, live = plant_temps(out)
    # The scratch folders of a killed --dask local batch and of one still running.
    (tmp / f"gifquant-dask-{dead_pid()}-0badf00d" / "dask-scratch-space").mkdir(parents=True)
    (tmp / f"gifquant-dask-{os.getpid()}-0badf00d").mkdir()
    argv = ["batch", clip, clip, "--out-dir", out, "-k", 4, "--dask", "local", "-j", 1, "-q"]
    res = command(*argv, env={"TMPDIR": str(tmp)})
    assert res.returncode == 0, res.stderr
    # No dask-scratch-space/*.lock, nor the killed batch's scratch folder.
    assert os.listdir(tmp) == [f"gifquant-dask-{os.getpid()}-0badf00d"]
    assert not dead.exists() and live.exists() and (out / "clip.gif").exists()


def test_a_killed_batch_takes_its_pool_with_it(tmp_path):
    """SIGKILL reaches only the batch: its workers notice, unwind their file and exit, and the
    forkserver and resource tracker follow, so a caller reading stderr gets its end."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        write_gif(src / f"c{i}.gif", moving_clip(120, 120, 160, seed=i))
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}
    argv = [sys.executable, "-m", "gifquant", "batch", src, "--out-dir", out, "-k", 64]
    proc = subprocess.Popen(
        [*map(str, argv), "-j", "2", "-q"],
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # its own process group, for the clean-up below
    )
    try:
        while not list(out.rglob(".*.part")):  # under way
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.01)
        proc.kill()
        proc.wait()
        ended = []
        reader = threading.Thread(target=lambda: ended.append(proc.stderr.read()), daemon=True)
        reader.start()
        reader.join(120)  # a guard against hanging for ever, not a timing
        assert ended, "the pool outlived the batch, holding its stderr open"
    finally:
        with contextlib.suppress(OSError):  # what a failure left
            os.killpg(proc.pid, signal.SIGKILL)
    assert not list(out.rglob(".*.part")) and os.listdir(tmp) == []


def test_a_dask_worker_killed_under_a_file_leaves_no_temporary_file(tmp_path):
    pytest.importorskip("distributed")
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        write_gif(src / f"c{i}.gif", moving_clip(150, 120, 160, seed=i))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "gifquant", "batch", src, "--out-dir", out, "-k", 64]
    argv += ["--dask", "local", "-j", 2, "-q"]
    proc = subprocess.Popen(list(map(str, argv)), stderr=subprocess.PIPE, env=env)
    killed = None
    while killed is None and proc.poll() is None:
        for part in out.glob(".*.part") if out.exists() else ():
            pid = part.name.split(".")[-2]
            assert pid.isdigit(), f"{part.name}: a temporary name carries its writer's pid"
            if int(pid) != proc.pid:  # a worker's, not the batch's own
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
                    killed = pid
                break
        time.sleep(0.01)
    err = proc.communicate(timeout=300)[1]
    if killed is None:
        pytest.skip("the batch converted every file before its cluster took one")
    assert proc.returncode == 0, err
    assert files(out) == [f"c{i}.gif" for i in range(6)]  # no .part


# --- item 5: no traceback from the pool's start-up or shutdown ---------------------------------


def test_a_worker_failing_to_start_as_the_batch_goes_prints_no_traceback():
    """What the forkserver does with a child whose start fails (the batch's semaphore gone):
    its excepthook, set by gifquant._run.batch as the forkserver's preload."""
    script = (
        "import sys, multiprocessing, multiprocessing.forkserver as fs\n"
        "def main(): import gifquant._run.batch\n"
        "fs.main.__code__ = main.__code__\n"  # (so that the import runs 'in' forkserver.main)
        "fs.main()\n"
        "try:\n"
        "    raise FileNotFoundError(2, 'No such file or directory')\n"
        "except Exception:\n"
        "    sys.excepthook(*sys.exc_info())\n"
        "sys.excepthook(RuntimeError, RuntimeError('boom'), None)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stderr.decode() == "gifquant: worker: internal error: RuntimeError: boom\n"


def test_a_worker_stopped_by_a_signal_prints_no_traceback(tmp_path):
    """A pool worker's stderr after a signal: what multiprocessing prints of its shutdown."""
    script = (
        "import os, signal, sys, traceback, multiprocessing\n"
        "from gifquant._run import batch as _batch\n"
        "_batch._init_worker(multiprocessing.SimpleQueue(), os.getppid(), None)\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    for _ in range(10**8): pass\n"
        "except SystemExit:\n"
        "    sys.stderr.write('Process ForkServerProcess-2:\\n')\n"
        "    traceback.print_exc()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env)
    assert res.returncode == 0 and res.stderr == b""


# --- item 8: memory within 16 B a frame pixel + 200 MB where the docs say so -------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB on Linux")
def test_palette_of_two_4000x4000_noise_frames_keeps_to_the_memory_budget(tmp_path):
    # palette works alone (no child process), so ru_maxrss is its whole peak. Before: 442 MiB
    # (464 MB, over the 456 MB budget) as glibc kept a large frame's freed temporaries; now
    # 402 MiB. (docs/memory.md has every path, by scripts/bench_memory.py --section paths.)
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_memory import write_noise_y4m

    clip = tmp_path / "noise.y4m"
    write_noise_y4m(clip, side=4000, n_frames=2)
    run_and_peak = (
        "import json, resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "print(json.dumps([r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))"
    )
    argv = [sys.executable, "-m", "gifquant", "palette", clip, "-k", 16, "-o", tmp_path / "p.json"]
    res = subprocess.run(
        [sys.executable, "-c", run_and_peak, *map(str, argv)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    code, kib = json.loads(res.stdout.strip().splitlines()[-1])
    assert code == 0, res.stderr
    assert kib * 1024 <= 16 * 4000 * 4000 + 200_000_000, f"{kib / 1024:.0f} MiB"


def test_the_report_and_the_comparison_cannot_be_one_file(clip, tmp_path, capsys):
    # (found by the second hostile run: the report replaced the comparison, exit 0)
    both = tmp_path / "c.gif"
    assert run(clip, tmp_path / "o.gif", "--compare", both, "--report", both, "-q") == 2
    assert "--report needs its own file path" in capsys.readouterr().err
    assert files(tmp_path) == ["clip.gif"]


def test_batch_summary_dash_is_stdout_not_a_file_named_dash(clip, tmp_path, capsys, monkeypatch):
    # (found by the second hostile run: --summary - wrote a file named '-')
    monkeypatch.chdir(tmp_path)
    assert run("batch", clip, "--out-dir", "out", "--summary", "-", "-q") == 0
    assert json.loads(capsys.readouterr().out)["done"] == 1
    assert files(tmp_path) == ["clip.gif", "out"]


def test_palette_writes_a_fifo_only_once_every_file_succeeded(clip, tmp_path):
    # (found by the second hostile run: -o FIFO was written first, before a later failure)
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc here")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    outputs = ["-o", fifo, "--swatch", tmp_path / "s.png", "--timeline", "/proc/t.png"]
    assert run("palette", clip, "-k", 3, *outputs, "-q") == 2
    with contextlib.suppress(OSError):  # end the reader if nothing opened the FIFO
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    reader.join(60)
    assert got == [b""] and files(tmp_path) == ["clip.gif", "fifo"]


def test_batch_refuses_an_unwritable_summary_or_out_dir_before_any_file(clip, tmp_path, capsys):
    # (found by the second hostile run: the summary failed after every file was converted;
    # an --out-dir that cannot be made was exit 1)
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc here")
    out = tmp_path / "out"
    assert run("batch", clip, "--out-dir", out, "--summary", "/proc/s.json", "-q") == 2
    assert not out.exists()
    assert run("batch", clip, "--out-dir", "/proc/out", "-q") == 2
    err = capsys.readouterr().err.splitlines()
    assert "cannot write in /proc" in err[0] and "cannot make the folder" in err[1]
