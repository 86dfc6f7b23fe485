"""Signals at any moment of a run: one line, exit 128 + N, nothing left behind, no hang.

Each run is a real ``python -m gifquant`` on a video (so ffmpeg children exist), signalled on a
fixed schedule, so a failure reproduces."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gifquant._io.ffmpeg import ffmpeg_exe

ROOT = Path(__file__).resolve().parents[1]
# 50 points over the first second after gifquant's handlers are in place. A signal before that
# is the interpreter's (a KeyboardInterrupt traceback from its start-up), and how long start-up
# takes depends on the machine's load, so the clock starts when the handlers are seen.
SCHEDULE = [i / 49 for i in range(50)]

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """12 s of a 320x240 test pattern: several seconds to convert."""
    path = tmp_path_factory.mktemp("sig") / "clip.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i"]
        + ["testsrc=size=320x240:rate=25:duration=12", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    return path


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                found.append(cmd)
    return found


def _wait_for_handlers(p: subprocess.Popen) -> None:
    """Wait until process ``p`` catches SIGTERM (gifquant's handlers are installed: Python's
    own start-up catches only SIGINT), or has ended."""
    deadline = time.monotonic() + 60
    bit = 1 << (signal.SIGTERM - 1)
    while p.poll() is None and time.monotonic() < deadline:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                caught = next(line for line in f if line.startswith("SigCgt:"))
        except (OSError, StopIteration):
            return
        if int(caught.split()[1], 16) & bit:
            return
        time.sleep(0.001)


def _signalled_run(video: Path, work: Path, out: str, signum: int, delay: float):
    """Run gifquant on ``video`` into ``work/out``, send ``signum`` ``delay`` seconds after its
    handlers are in place; returns (exit code, stderr)."""
    work.mkdir()
    p = subprocess.Popen(
        [sys.executable, "-m", "gifquant", str(video), out, "-q"],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    _wait_for_handlers(p)
    time.sleep(delay)
    p.send_signal(signum)
    try:
        _, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail(f"hung after {signal.Signals(signum).name} at {delay:.3f} s")
    return p.returncode, err.decode(errors="replace")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_sigint_and_sigterm_in_the_first_second(video, tmp_path):
    failures = []
    for i, delay in enumerate(SCHEDULE):
        signum = (signal.SIGINT, signal.SIGTERM)[i % 2]
        work = tmp_path / f"run{i}"
        code, err = _signalled_run(video, work, ("o.gif", "o.mp4")[i // 2 % 2], signum, delay)
        left, alive = os.listdir(work), _processes_mentioning(str(video))
        ok = code == 128 + signum and "Traceback" not in err and err.count("\n") <= 1
        if not ok or left or alive:
            name = signal.Signals(signum).name
            failures.append((round(delay, 3), name, code, err[-300:], left, alive))
    assert failures == []


@pytest.mark.parametrize("name", ["SIGHUP", "SIGQUIT", "SIGUSR1", "SIGINT", "SIGTERM"])
def test_every_handled_signal_cleans_up_and_exits_128_plus_n(video, tmp_path, name):
    signum = getattr(signal, name)
    out = tmp_path / "run"
    out.mkdir()
    (out / "o.gif").write_bytes(b"keep me")
    p = subprocess.Popen(
        [sys.executable, "-m", "gifquant", str(video), "o.gif", "-y", "-q"],
        cwd=out,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 300  # a guard against a hang, however loaded the machine
    while not any(n.endswith(".part") for n in os.listdir(out)):  # under way
        assert p.poll() is None and time.monotonic() < deadline, "run ended before the signal"
        time.sleep(0.01)
    p.send_signal(signum)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 128 + signum
    assert err.decode() == f"gifquant: interrupted ({name}); no output written\n"
    assert os.listdir(out) == ["o.gif"] and (out / "o.gif").read_bytes() == b"keep me"


def test_a_second_signal_during_the_clean_up_changes_nothing(video, tmp_path):
    # SIGINT then SIGTERM 3 ms later used to break the clean-up ("release unlocked lock").
    failures = []
    for i, delay in enumerate((0.3, 0.5, 0.7, 0.9, 1.1, 1.3)):
        work = tmp_path / f"run{i}"
        work.mkdir()
        out = ("o.gif", "o.webm", "o.mp4")[i % 3]
        p = subprocess.Popen(
            [sys.executable, "-m", "gifquant", str(video), out, "-q"],
            cwd=work,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        _wait_for_handlers(p)
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        time.sleep(0.003)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        if p.returncode != 130 or err.count(b"\n") != 1 or os.listdir(work):
            failures.append((delay, p.returncode, err[-300:]))
    assert failures == []


def test_a_signal_after_the_run_changes_nothing(video, tmp_path):
    # Once the output is in place and the summary printed, a signal is too late to stop
    # anything: exit 0, no "no output written" line, no traceback from the interpreter's exit.
    for i, name in enumerate(("SIGINT", "SIGTERM", "SIGHUP")):
        work = tmp_path / f"run{i}"
        work.mkdir()
        p = subprocess.Popen(
            [sys.executable, "-m", "gifquant", str(video), "o.gif", "--frames", "20"],
            cwd=work,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        line = p.stderr.readline()  # the summary: the run is done
        p.send_signal(getattr(signal, name))
        rest = p.stderr.read()
        p.wait(timeout=30)
        assert b"20 frames" in line
        assert p.returncode == 0 and rest == b"", (p.returncode, rest)
        assert os.listdir(work) == ["o.gif"]
