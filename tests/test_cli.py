"""End to end through main([...]) on small generated clips."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import SAMPLES, measure, moving_clip, read_gif, write_gif
from PIL import Image, ImageSequence

from gifquant._cli import main
from gifquant._core.metrics import QualityMeter
from gifquant._pictures.panels import cell_width


def run(*argv: str) -> int:
    return main([str(a) for a in argv])


def clip_metrics(src_gif, out_gif) -> QualityMeter:
    return measure(read_gif(src_gif)[0], out_gif)


def painted_colours_per_frame(path) -> list[int]:
    """Distinct colours among the pixels each frame paints (those that differ from the last)."""
    frames, _, _ = read_gif(path)
    out = [len(np.unique(frames[0][..., :3].reshape(-1, 3), axis=0))]
    for prev, cur in zip(frames, frames[1:], strict=False):
        changed = np.any(prev != cur, -1)
        out.append(len(np.unique(cur[changed][:, :3], axis=0)))
    return out


def colours_per_frame(path) -> list[int]:
    frames, _, _ = read_gif(path)
    return [len(np.unique(f[..., :3].reshape(-1, 3), axis=0)) for f in frames]


def test_seeded_run_keeps_frames_timing_and_k(clip_gif, tmp_path, capsys):
    out = tmp_path / "out.gif"
    assert run(clip_gif, out, "-k", "4", "--seeded", "--stats") == 0
    frames, durs, loop = read_gif(out)
    assert len(frames) == 12 and durs == [50] * 12 and loop == 0
    # Each frame paints with at most 4 colours (pixels that did not change keep theirs) ...
    assert max(painted_colours_per_frame(out)) <= 4
    # ... and with full frames, at most 4 colours are on screen.
    full = tmp_path / "full.gif"
    assert run(clip_gif, full, "-k", "4", "--no-delta", "-q") == 0
    assert max(colours_per_frame(full)) <= 4
    err = capsys.readouterr().err
    assert "12 frames" in err and "flicker" in err


def test_seeded_flickers_far_less_than_random(clip_gif, tmp_path):
    seeded, rnd = tmp_path / "s.gif", tmp_path / "r.gif"
    assert run(clip_gif, seeded, "-k", "4", "--seeded", "-q") == 0
    assert run(clip_gif, rnd, "-k", "4", "--random", "-q") == 0
    ms, mr = clip_metrics(clip_gif, seeded), clip_metrics(clip_gif, rnd)
    assert ms.flicker * 10 <= mr.flicker
    assert ms.mean_de <= mr.mean_de * 1.05


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
@pytest.mark.parametrize("space", ["rgb", "lab", "oklab"])
def test_metrics_and_spaces(clip_gif, tmp_path, metric, space):
    out = tmp_path / "o.gif"
    assert (
        run(clip_gif, out, "-k", "6", "--metric", metric, "--space", space, "-q", "--no-delta") == 0
    )
    assert len(read_gif(out)[0]) == 12
    assert max(colours_per_frame(out)) <= 6
    coarse = tmp_path / "c.gif"
    assert run(clip_gif, coarse, "-k", "2", "--metric", metric, "--space", space, "-q") == 0
    assert clip_metrics(clip_gif, out).mean_de < clip_metrics(clip_gif, coarse).mean_de


def test_manhattan_differs_from_euclidean(clip_gif, tmp_path):
    a, b = tmp_path / "a.gif", tmp_path / "b.gif"
    run(clip_gif, a, "-k", "5", "-q")
    run(clip_gif, b, "-k", "5", "--metric", "manhattan", "-q")
    assert a.read_bytes() != b.read_bytes()


@pytest.mark.parametrize("init", ["kmeans++", "random", "farthest"])
def test_init_options_and_seed_determinism(clip_gif, tmp_path, init):
    a, b = tmp_path / "a.gif", tmp_path / "b.gif"
    args = [
        "-k",
        "5",
        "--init",
        init,
        "--n-init",
        "2",
        "--max-iter",
        "20",
        "--tol",
        "0.01",
        "--seed",
        "3",
        "-q",
    ]
    assert run(clip_gif, a, *args) == 0
    assert run(clip_gif, b, *args) == 0
    assert a.read_bytes() == b.read_bytes()


def test_k_larger_than_colours_is_lossless(tmp_path):
    frames = [np.zeros((8, 8, 3), np.uint8) + c for c in (10, 200)]
    for f in frames:
        f[:4] = (255, 0, 0)
    src = write_gif(tmp_path / "few.gif", frames)
    out = tmp_path / "o.gif"
    assert run(src, out, "-k", "256", "-q") == 0
    got, _, _ = read_gif(out)
    for a, b in zip(frames, got, strict=True):
        np.testing.assert_array_equal(a, b[..., :3])


def test_transparency_is_kept(tmp_path):
    frames = moving_clip(4)
    alpha = []
    for _ in frames:
        a = np.ones(frames[0].shape[:2], bool)
        a[:10, :10] = False
        alpha.append(a)
    src = write_gif(tmp_path / "t.gif", frames, alpha=alpha)
    out = tmp_path / "o.gif"
    assert run(src, out, "-k", "4", "-q") == 0
    got, _, _ = read_gif(out)
    for g in got:
        assert (g[:10, :10, 3] == 0).all() and (g[10:, 10:, 3] == 255).all()
        assert len(np.unique(g[g[..., 3] > 0][:, :3], axis=0)) <= 4


def test_still_png_is_a_one_frame_clip(tmp_path):
    png = tmp_path / "still.png"
    Image.fromarray(moving_clip(1)[0]).save(png)
    out = tmp_path / "o.gif"
    assert run(png, out, "-k", "3", "-q") == 0
    frames, _, _ = read_gif(out)
    assert len(frames) == 1 and colours_per_frame(out)[0] <= 3


def test_compare_writes_labelled_panels(clip_gif, tmp_path, capsys):
    out, cmp = tmp_path / "o.gif", tmp_path / "cmp.gif"
    assert (
        run(
            clip_gif,
            out,
            "-k",
            "4",
            "--stats",
            "--compare",
            cmp,
            "--panels",
            "random,seeded,original",
        )
        == 0
    )
    frames, durs, _ = read_gif(cmp)
    assert len(frames) == 12 and durs == [50] * 12
    h, w = 40, 56
    cw = cell_width(w)  # each panel in the middle of a cell wide enough for its label
    assert frames[0].shape[1] == 3 * cw + 2 * 2 and frames[0].shape[0] > h
    # The seeded panel equals the main output.
    main_frames, _, _ = read_gif(out)
    top = frames[0].shape[0] - h
    left = cw + 2 + (cw - w) // 2
    np.testing.assert_array_equal(frames[5][top:, left : left + w], main_frames[5])
    # The label bar holds white text on black.
    bar = frames[0][:top, :w, :3]
    assert (bar == 255).all(-1).any() and (bar == 0).all(-1).any()
    err = capsys.readouterr().err
    assert "compare random" in err and "compare seeded" in err


def test_compare_several_k(clip_gif, tmp_path):
    out, cmp = tmp_path / "o.gif", tmp_path / "cmp.gif"
    assert (
        run(clip_gif, out, "-q", "--compare", cmp, "--panels", "k=2,k=4,k=8,metric=manhattan") == 0
    )
    frames, _, _ = read_gif(cmp)
    assert frames[0].shape[1] == 4 * cell_width(56) + 3 * 2


@pytest.mark.parametrize(
    "argv, text",
    [
        (["-k", "0"], "outside 1..256"),
        (["-k", "257"], "outside 1..256"),
        (["-k", "x"], "not a whole number"),
        (["--metric", "cosine"], "invalid choice"),
        (["--space", "hsv"], "invalid choice"),
        (["--seeded", "--random"], "not allowed with"),
        (["-f", "bmp"], "unknown output format"),
        (["--compare", "c.gif", "--panels", "seeded"], "at least two panels"),
        (["--compare", "c.gif", "--panels", "k=200,k=200"], "do not fit"),
        (["--palette-memory", "1"], "less than 1"),
        (["--palette-memory", "-0.5"], "--palette-memory"),
    ],
)
def test_bad_options_exit_2_with_one_line(clip_gif, tmp_path, capsys, argv, text):
    os.chdir(tmp_path)
    assert run(clip_gif, tmp_path / "o.gif", *argv) == 2
    err = capsys.readouterr().err.strip()
    assert text in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o.gif").exists()


@pytest.mark.parametrize("content", [b"", b"hello, I am text", bytes(range(256)) * 4])
def test_bad_input_exit_2(tmp_path, capsys, content):
    bad = tmp_path / "bad.gif"
    bad.write_bytes(content)
    assert run(bad, tmp_path / "o.gif") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gifquant: error:") and len(err.splitlines()) == 1
    assert os.listdir(tmp_path) == ["bad.gif"]


def test_missing_input(tmp_path, capsys):
    assert run(tmp_path / "nope.gif", tmp_path / "o.gif") == 2
    assert "no such file" in capsys.readouterr().err


def test_existing_output_needs_y_and_input_is_never_overwritten(clip_gif, tmp_path, capsys):
    out = tmp_path / "o.gif"
    out.write_bytes(b"keep me")
    assert run(clip_gif, out, "-q") == 2
    assert out.read_bytes() == b"keep me"
    assert "-y" in capsys.readouterr().err
    before = clip_gif.read_bytes()
    assert run(clip_gif, clip_gif, "-y") == 2
    link = tmp_path / "link.gif"
    link.symlink_to(clip_gif)
    assert run(clip_gif, link, "-y") == 2
    assert run(clip_gif, tmp_path / "." / "clip.gif", "-y") == 2
    assert clip_gif.read_bytes() == before
    assert run(clip_gif, out, "-q", "-y") == 0 and out.read_bytes() != b"keep me"


def test_failed_run_leaves_no_partial_file(tmp_path):
    frames = moving_clip(4)
    good = write_gif(tmp_path / "good.gif", frames)
    data = good.read_bytes()
    broken = tmp_path / "broken.gif"
    broken.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "o.gif"
    rc = run(broken, out, "-q")
    assert rc == 2
    assert sorted(os.listdir(tmp_path)) == ["broken.gif", "good.gif"]


def test_output_folder_missing(clip_gif, tmp_path, capsys):
    assert run(clip_gif, tmp_path / "nodir" / "o.gif") == 2
    assert "does not exist" in capsys.readouterr().err


def test_quiet_prints_nothing(clip_gif, tmp_path, capsys):
    assert run(clip_gif, tmp_path / "o.gif", "-q") == 0
    assert capsys.readouterr() == ("", "")


def test_progress_bar_on_request(clip_gif, tmp_path, capsys):
    assert run(clip_gif, tmp_path / "o.gif", "--progress") == 0
    assert "frame" in capsys.readouterr().err


def test_python_m_and_version(clip_gif, tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "gifquant", "--version"], capture_output=True, text=True
    )
    assert r.returncode == 0 and r.stdout.startswith("gifquant ")
    r = subprocess.run(
        [sys.executable, "-m", "gifquant", str(clip_gif), str(tmp_path / "o.gif"), "-k", "3"],
        capture_output=True,
        text=True,
    )
    # Without --stats the summary names no quality figures (they are not measured).
    assert r.returncode == 0 and "12 frames" in r.stderr and "flicker" not in r.stderr


def test_bundled_sample_converts(tmp_path):
    out = tmp_path / "o.gif"
    assert run(SAMPLES / "shapes.gif", out, "-k", "4", "--seeded", "-q") == 0
    assert len(read_gif(out)[0]) == len(read_gif(SAMPLES / "shapes.gif")[0])


def test_gif_writer_global_table_covers_most_opening_frames_when_not_all_fit(tmp_path):
    # The opening frames draw 300 colours: the first frame 200, each other one the same 100
    # others. The global table holds as many frames' colours as fit (the 15 others'), so
    # only the first frame carries a table of its own (before: every frame but the first).
    from conftest import gif_blocks

    from gifquant._core.frames import QuantizedFrame
    from gifquant._io.gif.write import OPENING_FRAMES, GifWriter

    rng = np.random.default_rng(3)
    colours = rng.choice(1 << 24, 300, replace=False).astype(np.uint32)
    rgb = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], -1).astype(np.uint8)
    first = (np.arange(256) % 200).reshape(16, 16).astype(np.uint8)
    other = (np.arange(256) % 100).reshape(16, 16).astype(np.uint8)
    frames = [(first, rgb[:200])] + [(other, rgb[200:])] * (OPENING_FRAMES + 4)
    path = tmp_path / "w.gif"
    with open(path, "wb") as f:
        w = GifWriter(f, 16, 16, loop=0)
        for idx, pal in frames:
            w.write(QuantizedFrame(idx, pal, None, 0.1))
        w.close()
    assert [b["local_table"] for b in gif_blocks(path)] == [True] + [False] * (len(frames) - 1)
    got, _, _ = read_gif(path)
    assert len(got) == len(frames)
    for shown, (idx, pal) in zip(got, frames, strict=True):
        np.testing.assert_array_equal(shown[..., :3], pal[idx])
    with Image.open(path) as im:  # a second decoder agrees
        for shown, frame in zip(got, ImageSequence.Iterator(im), strict=True):
            np.testing.assert_array_equal(np.asarray(frame.convert("RGB")), shown[..., :3])


def test_gif_writer_uses_the_global_table_whenever_it_holds_the_colours_drawn(tmp_path):
    from conftest import gif_blocks

    from gifquant._core.frames import QuantizedFrame
    from gifquant._io.gif.write import OPENING_FRAMES, GifWriter

    pal = np.array([[0, 0, 0], [255, 0, 0], [0, 0, 255]], np.uint8)
    reordered = pal[::-1].copy()  # the same colours under other indices
    # A new colour (green) and one the frame does not draw (white).
    new = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [255, 255, 255]], np.uint8)
    idx = np.array([[0, 1], [2, 1]], np.uint8)
    # The global table holds the colours of the opening frames; then come the others.
    palettes = (pal,) * OPENING_FRAMES + (reordered, new, pal)
    path = tmp_path / "w.gif"
    with open(path, "wb") as f:
        w = GifWriter(f, 2, 2, loop=None)
        for p in palettes:
            w.write(QuantizedFrame(idx, p, None, 0.1))
        w.close()
    blocks = gif_blocks(path)
    n = OPENING_FRAMES
    assert [b["local_table"] for b in blocks] == [False] * (n + 1) + [True, False]
    # The frame that needs a table carries only the colours it draws (padded to 4 entries).
    table = blocks[n + 1]["table"]
    assert len(table) == 4
    assert {tuple(c) for c in table[:3]} == {(0, 0, 0), (255, 0, 0), (0, 255, 0)}
    assert (255, 255, 255) not in {tuple(c) for c in table}
    frames, durs, loop = read_gif(path)
    assert loop is None and durs == [100] * len(palettes)
    for got, p in zip(frames, palettes, strict=True):
        np.testing.assert_array_equal(got[..., :3], p[idx])
