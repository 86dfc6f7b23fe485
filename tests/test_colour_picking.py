"""Colour picking: --enhance (saturation before clustering), --min-saturation (salient colours
fitted) and --representative mode (entries are colours the picture holds)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_file, moving_clip, read_gif, write_gif
from PIL import Image, ImageEnhance

import gifquant
from gifquant._cli import main
from gifquant._cli.batch import build_batch_parser
from gifquant._core.colour import enhance_colours, hsv_saturation, pack_rgb, rgb_to_lab
from gifquant._core.representative import cluster_modes
from gifquant._core.temporal import QuantizeOptions, TemporalQuantizer
from gifquant._run.settings import Settings


def run(*argv) -> int:
    return main([str(a) for a in argv])


def chroma(frames) -> float:
    """Mean CIELAB chroma of every pixel of RGB(A) frames."""
    lab = rgb_to_lab(np.stack([np.asarray(f)[..., :3] for f in frames]))
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def grey_with_objects(n: int = 8, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """A big grey wall with grain (most of the pixels) and three small flat objects, red,
    green and blue, moving across it."""
    rng = np.random.default_rng(3)
    wall = np.clip(
        128 + rng.normal(0, 12, (h, w, 1)) + np.linspace(-40, 40, w)[None, :, None], 0, 255
    )
    wall = np.repeat(wall, 3, axis=2).astype(np.uint8)
    frames = []
    for t in range(n):
        f = wall.copy()
        for row, colour in ((8, (220, 30, 30)), (22, (30, 190, 40)), (36, (40, 60, 220))):
            x = 4 + 5 * t
            f[row : row + 6, x : x + 6] = colour
        frames.append(f)
    return frames


def palettes(frames, **options) -> list[np.ndarray]:
    """Each frame's palette (k, 3) uint8, whole frames."""
    q = TemporalQuantizer(QuantizeOptions(delta=False, **options))
    return [
        q.quantize(np.dstack([f, np.full(f.shape[:2], 255, np.uint8)])).frame.palette
        for f in frames
    ]


# --- enhance -----------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [0.0, 0.4, 1.0, 1.6, 4.0])
def test_enhance_matches_pils_image_enhance_color(factor):
    img = np.random.default_rng(7).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    ref = np.asarray(ImageEnhance.Color(Image.fromarray(img)).enhance(factor)).astype(int)
    assert np.abs(enhance_colours(img, factor).astype(int) - ref).max() <= 1


def test_enhanced_output_of_a_random_image_is_pils_enhanced_image():
    # 144 pixels, k=256: every colour gets its own entry, so the output is the enhanced image.
    img = np.random.default_rng(8).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    ref = np.asarray(ImageEnhance.Color(Image.fromarray(img)).enhance(1.6)).astype(int)
    out = gifquant.quantize(img, k=256, enhance=1.6)
    assert np.abs(out.astype(int) - ref).max() <= 1


def test_enhance_raises_the_outputs_chroma_and_zero_makes_it_grey(tmp_path):
    src = write_gif(tmp_path / "in.gif", moving_clip())
    chromas = {}
    for factor in ("1", "1.6", "0"):
        out = tmp_path / f"out{factor}.gif"
        assert run(src, out, "-k", 8, "--enhance", factor, "-q") == 0
        frames = read_gif(out)[0]
        chromas[factor] = chroma(frames)
        if factor == "0":
            rgb = np.stack(frames)[..., :3].astype(int)
            assert (rgb.max(-1) - rgb.min(-1)).max() <= 1  # R = G = B, give or take rounding
    assert chromas["1.6"] > chromas["1"] + 5
    assert chromas["0"] < 1


def test_enhance_on_a_corpus_clip_raises_chroma():
    src = corpus_file("people-detection.gif")
    frames = [f[..., :3] for f in read_gif(src)[0][:4]]
    plain = gifquant.quantize(np.stack(frames), k=16)
    enhanced = gifquant.quantize(np.stack(frames), k=16, enhance=1.6)
    assert chroma(enhanced) > 1.2 * chroma(plain)


# --- min-saturation ----------------------------------------------------------------------------


def test_min_saturation_moves_the_palette_to_the_salient_colours():
    frames = grey_with_objects()
    plain = gifquant.palette(np.stack(frames), k=4)
    salient = gifquant.palette(np.stack(frames), k=4, min_saturation=0.4)
    for a, b in zip(plain.frames, salient.frames, strict=True):
        assert hsv_saturation(b.colours).mean() > hsv_saturation(a.colours).mean() + 0.2
    assert (
        hsv_saturation(salient.overall.colours).mean()
        > hsv_saturation(plain.overall.colours).mean()
    )
    # The objects are held exactly: red, green and blue are each an entry.
    for colour in ("#dc1e1e", "#1ebe28", "#283cdc"):
        assert colour in salient.overall.hex


def test_min_saturation_leaves_spare_entries_to_the_rest():
    # Three salient colours and k=8: the five spare entries draw the grey wall, which stays grey.
    frames = grey_with_objects()
    out = gifquant.quantize(np.stack(frames), k=8, min_saturation=0.4)
    wall = np.ones(frames[0].shape[:2], bool)
    wall[:, :] = np.stack(frames)[0].std(-1) == 0  # grey pixels of the first frame
    assert hsv_saturation(out[0][wall]).max() < 0.1
    assert len(np.unique(out[0].reshape(-1, 3), axis=0)) == 8


def room() -> np.ndarray:
    """A still: a grey wall with a white window in a dark frame, a brown floor in two shades and
    a small blue object on it, with a little noise."""
    img = np.zeros((60, 80, 3), np.int16)
    img[:] = (128, 126, 124)
    img[5:25, 10:30] = (246, 248, 250)
    img[3:5, 8:32] = img[25:27, 8:32] = (34, 32, 32)
    img[40:] = (150, 95, 55)
    img[48:, :40] = (110, 70, 40)
    img[44:52, 50:58] = (60, 170, 235)
    img += np.random.default_rng(0).integers(-3, 4, img.shape, dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("k, representative", [(4, "mean"), (4, "mode"), (5, "mean"), (5, "mode")])
def test_min_saturation_never_paints_a_neutral_area_with_a_salient_colour(k, representative):
    """The window, its frame and the wall stay grey or white (they were painted the floor's
    brown, the window as grey as the wall); from k=5 the window stays lighter than the wall.
    The blue object keeps its colour."""
    src = room()
    out = gifquant.quantize(src, k=k, min_saturation=0.3, representative=representative)
    wall, window, frame = out[30:38, 40:70], out[8:22, 13:27], out[3:5, 8:32]
    for area in (wall, window, frame):
        assert hsv_saturation(area.reshape(-1, 3)).max() < 0.1
    if k >= 5:
        assert window.mean() > wall.mean() + 80
    assert np.abs(out[46, 54].astype(int) - (60, 170, 235)).max() <= 6


def test_min_saturation_keeps_a_rare_salient_colour_in_the_overall_palette():
    """A clip of greys and browns in many shades, a small blue object in two frames: with
    min_saturation the whole clip's palette holds a blue (the salient colours and the
    neutral ones are clustered apart; the blue was merged into a grey)."""
    shade = np.linspace(-50, 50, 80)[None, :, None]
    frames = []
    for t in range(6):
        f = room().astype(float) + shade * (1 + t / 5)
        if t >= 2:
            f[44:52, 50:58] = f[44:52, 40:48]  # the object leaves
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    overall = gifquant.palette(np.stack(frames), k=6, min_saturation=0.3).overall
    assert any(b > r + 100 and b > g for r, g, b in overall.colours.tolist()), overall.hex


def test_min_saturation_falls_back_to_every_colour_in_a_grey_frame():
    grey = [np.repeat(f[..., :1], 3, axis=2) for f in moving_clip(4)]
    np.testing.assert_array_equal(
        gifquant.quantize(np.stack(grey), k=6, min_saturation=0.5),
        gifquant.quantize(np.stack(grey), k=6),
    )


# --- representative mode -----------------------------------------------------------------------


def test_cluster_modes_count_coarse_bins_then_exact_colours():
    colours = np.array(
        [[10, 10, 10], [200, 0, 0], [201, 0, 0], [203, 0, 0], [90, 90, 250], [91, 90, 250]],
        np.uint8,
    )
    weights = np.array([3, 1, 2, 1, 5, 5], float)
    labels = np.array([0, 0, 0, 0, 1, 1])
    modes, present = cluster_modes(colours, weights, labels, 3)
    # Cluster 0: the single most common colour is dark grey (3 pixels), but the reds share a
    # bin of 4 pixels, and (201, 0, 0) is the most common red. Cluster 1: a tie, the smaller.
    assert modes[:2].tolist() == [[201, 0, 0], [90, 90, 250]]
    assert present.tolist() == [True, True, False]


def _check_entries_occur(frames, pals, enhance: float = 1.0) -> int:
    """Every entry set in a frame (all of them in the first, then those whose colour changed)
    is a colour of that frame's source (enhanced). Returns how many entries were set."""
    set_count = 0
    last = None
    for f, pal in zip(frames, pals, strict=True):
        src = f if enhance == 1 else enhance_colours(f, enhance)
        present = set(pack_rgb(src).tolist())
        new = (
            np.ones(len(pal), bool)
            if last is None or len(last) != len(pal)
            else (pal != last).any(1)
        )
        set_count += int(new.sum())
        assert set(pack_rgb(pal[new]).tolist()) <= present
        last = pal
    return set_count


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"palette_hysteresis": 0.0},
        {"palette_memory": 0.0},
        {"enhance": 1.5, "min_saturation": 0.3},
        {"space": "oklab", "metric": "manhattan"},
    ],
)
def test_mode_entries_are_colours_of_the_frame_where_they_were_set(options):
    frames = moving_clip(10)
    pals = palettes(frames, k=6, representative="mode", **options)
    assert _check_entries_occur(frames, pals, options.get("enhance", 1.0)) > 6


def test_mode_entries_occur_in_a_corpus_clip():
    frames = [f[..., :3] for f in read_gif(corpus_file("classroom.gif"))[0][:8]]
    pals = palettes(frames, k=16, representative="mode")
    assert _check_entries_occur(frames, pals) >= 16


def test_mode_palette_from_the_command_is_colours_of_the_clip(tmp_path, capsys):
    frames = moving_clip(6)
    src = write_gif(tmp_path / "in.gif", frames)
    decoded = read_gif(src)[0]
    held = set(pack_rgb(np.stack(decoded)[..., :3]).tolist())
    assert run("palette", src, "-k", 5, "--representative", "mode", "--format", "hex", "-q") == 0
    hexes = capsys.readouterr().out.split()
    assert len(hexes) == 5
    assert {int(h[1:], 16) for h in hexes} <= held


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, error",
    [
        ({"enhance": 4.5}, ValueError),
        ({"enhance": float("nan")}, ValueError),
        ({"enhance": -1}, ValueError),
        ({"enhance": "2"}, TypeError),
        ({"min_saturation": 1.01}, ValueError),
        ({"min_saturation": float("nan")}, ValueError),
        ({"representative": "median"}, ValueError),
    ],
)
def test_bad_settings_are_refused(bad, error, tmp_path):
    with pytest.raises(error):
        QuantizeOptions(**bad)
    src = write_gif(tmp_path / "in.gif", moving_clip(2))
    with pytest.raises(error):
        gifquant.convert(src, tmp_path / "out.gif", **bad)


@pytest.mark.parametrize(
    "argv",
    [
        ["--enhance", "4.5"],
        ["--enhance", "nan"],
        ["--enhance", "x"],
        ["--min-saturation", "-0.1"],
        ["--min-saturation", "nan"],
        ["--representative", "median"],
    ],
)
def test_bad_values_on_the_command_line_are_one_line_and_exit_2(argv, tmp_path, capsys):
    src = write_gif(tmp_path / "in.gif", moving_clip(2))
    for cmd in (
        [src, tmp_path / "out.gif"],
        ["palette", src],
        ["batch", src, "--out-dir", tmp_path / "o"],
    ):
        assert run(*cmd, *argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and argv[0] in err
    assert not (tmp_path / "out.gif").exists()


def test_batch_passes_the_colour_options_on(tmp_path):
    args = build_batch_parser().parse_args(
        ["x.gif", "--out-dir", str(tmp_path), "--enhance", "2", "--min-saturation", "0.25"]
        + ["--representative", "mode"]
    )
    quant = Settings.from_arguments(args).quantize
    assert (quant.enhance, quant.min_saturation, quant.representative) == (2.0, 0.25, "mode")


def test_compare_rows_of_representatives(tmp_path, capsys):
    src = write_gif(tmp_path / "in.gif", moving_clip(3))
    grid = tmp_path / "grid.gif"
    assert (
        run("compare", src, grid, "-k", 4, "--modes", "seeded", "--representative", "mean", "mode")
        == 0
    )
    err = capsys.readouterr().err
    assert "seeded k=4 mean:" in err and "seeded k=4 mode:" in err
    assert grid.exists()
