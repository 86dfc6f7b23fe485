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


def test_stage_clock_sees_the_pipeline_and_puts_it_back(bench, tmp_path):
    from gifquant import cli, quantize

    gif = write_gif(tmp_path / "clip.gif", moving_clip(n=4))
    before = quantize.TemporalQuantizer.quantize
    clock = bench.StageClock()
    with bench.instrument(clock) as found:
        assert cli.main([str(gif), str(tmp_path / "out.gif"), "-k", "4", "-q"]) == 0
    assert quantize.TemporalQuantizer.quantize is before
    for stage in ("decode", "fit", "encode"):
        assert found[stage] and clock.calls.get(stage, 0) > 0
