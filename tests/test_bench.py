"""Smoke test of scripts/bench.py's decode and metric helpers (no timing, no big clips)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import moving_clip, write_gif

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("gifquant_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def few_colour_clip(n: int) -> list[np.ndarray]:
    """Colour blocks and a moving square: few colours, so the GIF holds them exactly."""
    base = np.zeros((24, 32, 3), np.uint8)
    base[:, :16] = (200, 40, 40)
    base[:, 16:] = (30, 90, 180)
    frames = []
    for t in range(n):
        f = base.copy()
        f[8:14, 2 + 4 * t : 8 + 4 * t] = (250, 240, 30)
        frames.append(f)
    return frames


def test_gif_against_itself_has_no_error_and_no_flicker(bench, tmp_path):
    gif = write_gif(tmp_path / "clip.gif", few_colour_clip(6))
    source = ((rgba[..., :3], None) for rgba in bench.iter_pillow_rgba(gif))
    output = (rgba[..., :3] for rgba in bench.iter_pillow_rgba(gif))
    q = bench.measure_frames(source, output)
    assert (q.de, q.flicker) == (0.0, 0.0)
    assert q.frames == q.source_frames == 6


def test_output_blinking_over_a_still_source_is_flicker(bench, tmp_path):
    gif = write_gif(tmp_path / "clip.gif", few_colour_clip(4))
    source = [(rgba[..., :3], None) for rgba in bench.iter_pillow_rgba(gif)]
    output = [s if i % 2 else s // 2 for i, (s, _) in enumerate(source)]
    q = bench.measure_frames(iter(source), iter(output))
    assert q.de > 0 and q.flicker > 1.0


def test_a_missing_output_frame_is_counted(bench, tmp_path):
    gif = write_gif(tmp_path / "clip.gif", moving_clip(n=5))
    source = ((rgba[..., :3], None) for rgba in bench.iter_pillow_rgba(gif))
    output = (rgba[..., :3] for i, rgba in enumerate(bench.iter_pillow_rgba(gif)) if i < 4)
    q = bench.measure_frames(source, output)
    assert (q.frames, q.source_frames) == (4, 5)


def test_stage_times_cover_every_frame_and_put_the_quantizer_back(bench, tmp_path):
    import subprocess

    import imageio_ffmpeg

    from gifquant._io.gif import write as gif

    clip = tmp_path / "clip.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i"]
        + ["testsrc2=s=64x48:r=10", "-frames:v", "6", "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )
    before = gif.encode_frame
    times, n = bench.stage_times(clip, k=4)
    assert n == 6 and gif.encode_frame is before
    assert set(times) == set(bench.STAGE_WHERE)
    for stage, per_frame in times.items():
        assert len(per_frame) == 6 and all(t >= 0 for t in per_frame), stage
    assert sum(times["fit"]) > 0 and sum(times["encode"]) > 0


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_memory_bench_counts_processes_started_from_threads():
    # ffmpeg is started from a worker thread: the memory section must still add its RSS.
    import subprocess

    spec = importlib.util.spec_from_file_location(
        "gifquant_bench_memory", BENCH.parent / "bench_memory.py"
    )
    mem = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mem)
    # 'up' once the child exists (not after a sleep a loaded machine may outlast); the child
    # lives until stdin closes.
    code = (
        "import subprocess, sys, threading\n"
        "started = []\n"
        "t = threading.Thread(target=lambda: started.append(subprocess.Popen(['sleep', '600'])))\n"
        "t.start(); t.join(); print('up', flush=True)\n"
        "sys.stdin.read(); started[0].kill(); started[0].wait()\n"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert p.stdout.readline().strip() == "up"
        kids = mem._children(p.pid)
        assert len(kids) == 1
        assert mem._tree_rss_kib(p.pid) > mem._rss_kib(p.pid)
    finally:
        p.stdin.close()
        p.wait()


def test_gif_against_itself_is_coherent_and_counts_its_colours(bench, tmp_path):
    gif = write_gif(tmp_path / "clip.gif", few_colour_clip(4))
    source = ((rgba[..., :3], None) for rgba in bench.iter_pillow_rgba(gif))
    output = (rgba[..., :3] for rgba in bench.iter_pillow_rgba(gif))
    q = bench.measure_frames(source, output)
    assert (q.incoherence, q.colours_max, q.source_transparent) == (0.0, 3, False)


def quality_run(bench, **quality) -> object:
    q = bench.Quality(de=1.0, flicker=0.01, frames=5, source_frames=5)
    for name, value in quality.items():
        setattr(q, name, value)
    return bench.Run("gifquant", bytes=100, quality=q)


def test_verdict_fails_incoherence_and_colours_beyond_k(bench):
    def check(**quality) -> str:
        return bench.verdict(quality_run(bench, **quality), [], None, None, k=16)[0]

    assert check(incoherence=0.001, colours_max=16).startswith("PASS")
    assert check(incoherence=0.003).startswith("FAIL(incoherence)")
    assert check(colours_max=17).startswith("FAIL(colours)")
    assert check(colours_max=17, source_transparent=True).startswith("PASS")
    assert check(colours_max=18, source_transparent=True).startswith("FAIL(colours)")


def test_run_rows_fill_the_headers(bench):
    assert len(bench.run_row("c", quality_run(bench))) == len(bench.RUN_HEADERS)
    assert len(bench.run_row("c", bench.Run("x", ok=False, error="e"))) == len(bench.RUN_HEADERS)
    r = quality_run(bench)
    r.judge = {"dE": 1.0, "flicker": 0.0, "incoherence": 0.0, "colours_max": 3, "frames": "5/5"}
    lines = bench.judge_lines([("c", r)])
    assert len(lines) == 4 and lines[1].split() == bench.JUDGE_HEADERS


def test_the_judge_scores_a_gif_against_itself(bench, tmp_path):
    if not bench.JUDGE.exists():
        pytest.skip("../shared/tools/judge.py not present")
    judge_python = Path("/work/judgevenv/bin/python")
    python = str(judge_python) if judge_python.exists() else sys.executable
    gif = write_gif(tmp_path / "clip.gif", few_colour_clip(4))
    scores = bench.judge_scores(python, gif, gif)
    if "error" in scores and "ModuleNotFoundError" in scores["error"]:
        pytest.skip(f"no judge interpreter: {scores['error']}")
    assert scores["dE"] == 0.0 and scores["incoherence"] == 0.0 and scores["colours_max"] == 3
    assert "error" in bench.judge_scores(python, gif, tmp_path / "missing.gif")
