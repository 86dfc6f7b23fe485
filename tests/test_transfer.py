"""Fixed palettes (--palette-from) and palette transfer (--transfer), issue 16."""

from __future__ import annotations

import itertools
import json
import time

import numpy as np
import pytest
from conftest import corpus_file, measure, moving_clip, read_gif, write_gif
from PIL import Image

import gifquant
from gifquant._cli import main
from gifquant._core.colour import rgb_to_lab
from gifquant._core.transfer import MAX_STRETCH, PaletteMap, match_palettes, min_cost_matching
from gifquant._pictures.files import load_palette

FIXED = np.array(
    [[0, 0, 0], [255, 255, 255], [200, 30, 40], [30, 60, 200], [240, 220, 40]], np.uint8
)


def run(*argv) -> int:
    return main([str(a) for a in argv])


def shown_colours(path) -> np.ndarray:
    """Every colour any frame of a GIF shows (opaque pixels), (n, 3)."""
    frames, _, _ = read_gif(path)
    px = np.concatenate([f[f[..., 3] > 0][:, :3] for f in frames])
    return np.unique(px, axis=0)


def subset(colours: np.ndarray, palette: np.ndarray) -> bool:
    return {tuple(c) for c in colours.tolist()} <= {tuple(c) for c in palette.tolist()}


@pytest.fixture
def clip(tmp_path):
    return write_gif(tmp_path / "clip.gif", moving_clip())


# --- fixed palettes -----------------------------------------------------------------------


@pytest.mark.parametrize("dither", ["none", "floyd-steinberg", "bayer"])
def test_a_fixed_palette_puts_only_its_colours_on_screen(clip, tmp_path, dither):
    hexfile = tmp_path / "five.hex"
    lines = "".join(f"#{r:02x}{g:02x}{b:02x}\n" for r, g, b in FIXED)
    hexfile.write_text("; five colours\n" + lines)
    out = tmp_path / "out.gif"
    assert run(clip, out, "--palette-from", hexfile, "--dither", dither, "-q") == 0
    shown = shown_colours(out)
    assert subset(shown, FIXED)
    assert len(shown) >= 3  # the clip's blocks do not all fall to one colour


@pytest.mark.parametrize("fmt", ["gpl", "json", "hex"])
def test_palette_files_that_gifquant_palette_writes_are_read_back(clip, tmp_path, fmt):
    other = write_gif(tmp_path / "other.gif", moving_clip(seed=3))
    pal = tmp_path / f"pal.{fmt}"
    assert run("palette", other, "-k", 6, "--format", fmt, "-o", pal, "-q") == 0
    expected = gifquant.palette(other, k=6).overall.colours
    out = tmp_path / "out.gif"
    assert run(clip, out, "--palette-from", pal, "-q") == 0
    assert subset(shown_colours(out), expected)


def test_a_palette_from_an_image_is_its_palette_of_k_colours(clip, tmp_path):
    other = write_gif(tmp_path / "other.gif", moving_clip(seed=5))
    out = tmp_path / "out.gif"
    assert run(clip, out, "--palette-from", other, "-k", 4, "-q") == 0
    shown = shown_colours(out)
    assert subset(shown, gifquant.palette(other, k=4).overall.colours)
    assert 2 <= len(shown) <= 4


def test_fixed_palette_from_python_keeps_transparency(tmp_path):
    frames = moving_clip(n=4)
    alpha = [np.ones(f.shape[:2], bool) for f in frames]
    for a in alpha:
        a[:8, :8] = False
    src = write_gif(tmp_path / "t.gif", frames, alpha=alpha)
    out = tmp_path / "out.gif"
    gifquant.convert(src, out, palette_from=FIXED[:3])
    decoded, _, _ = read_gif(out)
    assert all((f[:8, :8, 3] == 0).all() and (f[8:, 8:, 3] == 255).all() for f in decoded)
    assert subset(shown_colours(out), FIXED[:3])
    with pytest.raises(TypeError, match="palette_from or palette"):
        gifquant.convert(src, out, overwrite=True, palette_from=FIXED, palette=FIXED)
    full = np.stack(np.meshgrid(np.arange(16) * 17, np.arange(16) * 17, [0]), -1).reshape(-1, 3)
    with pytest.raises(ValueError, match="256 colours leaves no index"):
        gifquant.convert(src, out, overwrite=True, palette_from=full)


def test_quantize_with_a_fixed_palette_is_exactly_those_colours():
    frames = np.stack(moving_clip(n=3))
    out = gifquant.quantize(frames, palette=FIXED, dither="floyd-steinberg")
    assert subset(np.unique(out.reshape(-1, 3), axis=0), FIXED)
    with pytest.raises(ValueError, match="0 to 255"):
        gifquant.QuantizeOptions(palette=[(0, 0, 256)])
    with pytest.raises(TypeError):
        gifquant.QuantizeOptions(palette="#ffffff")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.hex", "#ffffff\nnot a colour\n", "line 2: not a #rrggbb colour"),
        ("bad.gpl", "GIMP Palette\n300 0 0 red\n", "line 2: a colour value over 255"),
        ("bad.json", "{oops", "not valid JSON"),
        ("empty.hex", "\n", "holds no colours"),
        ("many.hex", "".join(f"#{i:06x}\n" for i in range(300)), "at most 256"),
        ("bools.json", "[[true, false, true]]", "entry 0: not a '#rrggbb' colour"),
        ("inf.json", '[{"colour": "#ff0000", "share": Infinity}]', "share must be a finite"),
        ("bigint.json", '[{"colour": "#ff0000", "share": 1' + "0" * 400 + "}]", "share must be"),
        ("deep.json", "[" * 100000 + "]" * 100000, "not valid JSON"),
        ("big.gpl", "GIMP Palette\n255 0 0 red " + "9" * 400 + "%\n", "line 2: a share too"),
        ("list.hex", "#264653, #2a9d8f, #e9c46a\n", "line 1: more than one colour"),
    ],
)
def test_a_bad_palette_file_is_one_line_and_exit_2(clip, tmp_path, capsys, name, text, message):
    (tmp_path / name).write_text(text)
    out = tmp_path / "out.gif"
    assert run(clip, out, "--palette-from", tmp_path / name) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "--palette-from" in err and "\n" not in err
    assert not out.exists()


def test_a_missing_palette_or_transfer_file_is_exit_2(clip, tmp_path, capsys):
    for option in ("--palette-from", "--transfer"):
        assert run(clip, tmp_path / "o.gif", option, tmp_path / "none.gif") == 2
        err = capsys.readouterr().err
        assert "none.gif" in err and "Traceback" not in err


def test_a_missing_palette_file_or_stdin_is_exit_2_and_still_a_file_not_found(
    clip, tmp_path, capsys
):
    out = tmp_path / "o.gif"
    for name in ("none.hex", "none.json", "none.gpl"):
        assert run(clip, out, "--palette-from", tmp_path / name) == 2
        err = capsys.readouterr().err
        assert f"--palette-from: {tmp_path / name}: no such file" in err
        with pytest.raises(FileNotFoundError):
            gifquant.convert(clip, out, transfer=tmp_path / name)
    assert run(clip, out, "--transfer", "-") == 2
    assert "--transfer reads a file, not stdin" in capsys.readouterr().err
    assert not out.exists()


def test_palette_files_with_a_byte_order_mark_huge_shares_or_repeated_colours(tmp_path):
    gpl = tmp_path / "bom.gpl"
    gpl.write_bytes("\ufeffGIMP Palette\n255 0 0 red 30%\n0 0 255 blue 10%\n".encode())
    read = load_palette(gpl, 8, option="--transfer")
    assert read.colours.tolist() == [[255, 0, 0], [0, 0, 255]]
    assert np.allclose(read.shares, [0.75, 0.25])
    huge = tmp_path / "huge.json"
    huge.write_text(
        '[{"colour": "#ff0000", "share": 1e308}, {"colour": "#0000ff", "share": 1e308}]'
    )
    assert np.allclose(load_palette(huge, 8, option="--transfer").shares, [0.5, 0.5])
    # 257 lines, 256 colours: a colour listed twice is one entry
    lines = [f"#{i:06x}" for i in range(256)] + ["#000000"]
    (tmp_path / "dup.hex").write_text("\n".join(lines))
    assert len(load_palette(tmp_path / "dup.hex", 8, option="--palette-from").colours) == 256


def test_no_colours_from_a_clear_image_and_no_index_for_transparency_are_exit_2(
    clip, tmp_path, capsys
):
    clear = tmp_path / "clear.png"
    Image.fromarray(np.zeros((8, 8, 4), np.uint8), "RGBA").save(clear)
    out = tmp_path / "out.gif"
    for option in ("--palette-from", "--transfer"):
        assert run(clip, out, option, clear) == 2
        assert "every pixel is transparent" in capsys.readouterr().err
    frames = moving_clip(n=3)
    alpha = [np.ones(f.shape[:2], bool) for f in frames]
    alpha[1][:4, :4] = False  # see-through pixels in the second frame only
    src = write_gif(tmp_path / "t.gif", frames, alpha=alpha)
    (tmp_path / "full.hex").write_text("".join(f"#{i * 65793:06x}\n" for i in range(256)))
    assert run(src, out, "--palette-from", tmp_path / "full.hex") == 2
    err = capsys.readouterr().err
    assert "256 colours leaves no index" in err and "internal" not in err
    assert not out.exists()


def test_panels_of_other_k_are_refused_with_a_fixed_palette(clip, tmp_path, capsys):
    hexfile = tmp_path / "three.hex"
    hexfile.write_text("#ff0000\n#00ff00\n#0000ff\n")
    out, cmp = tmp_path / "out.gif", tmp_path / "cmp.gif"
    argv = (clip, out, "--palette-from", hexfile, "--compare", cmp, "--panels", "k=4,k=8")
    assert run(*argv) == 2
    assert "a fixed palette has its own colours" in capsys.readouterr().err
    assert not out.exists() and not cmp.exists()


def test_max_size_with_a_fixed_palette_or_a_transfer(clip, tmp_path):
    other = write_gif(tmp_path / "other.gif", moving_clip(seed=3))
    out = tmp_path / "out.gif"
    report = gifquant.convert(clip, out, palette_from=FIXED[:3], max_size="1M")
    assert report.chosen.k == 3  # the palette's own k, not a searched one
    assert subset(shown_colours(out), FIXED[:3])
    report = gifquant.convert(clip, out, overwrite=True, transfer=other, max_size="1M", lossy=0)
    chosen = report.chosen
    plain = tmp_path / "plain.gif"
    size = f"{chosen.width}:{chosen.height}"
    gifquant.convert(clip, plain, transfer=other, k=chosen.k, scale=size, fps=chosen.fps)
    # the other clip's palette is read with its shares, as without --max-size
    assert all(
        np.array_equal(a, b) for a, b in zip(read_gif(out)[0], read_gif(plain)[0], strict=True)
    )


# --- transfer: the matching ---------------------------------------------------------------


def test_min_cost_matching_is_optimal():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 6))
        m = int(rng.integers(n, 7))
        cost = rng.random((n, m))
        got = min_cost_matching(cost)
        assert len(set(got.tolist())) == n
        best = min(
            sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n)
        )
        assert cost[np.arange(n), got].sum() == pytest.approx(best)


def test_matching_respects_lightness_and_shares():
    lab = np.array([[20.0, 0, 0], [50, 10, 0], [80, 0, 10]])
    target = np.array([[30.0, 40, 0], [60, 0, 40], [90, -20, 0]])
    # Lightness and shares agree: dark to dark, most common to most common.
    got = match_palettes(lab, np.array([0.6, 0.3, 0.1]), target, np.array([0.5, 0.3, 0.2]))
    assert got.tolist() == [0, 1, 2]
    # Two source colours of the same lightness: the one covering more of the picture goes to
    # the target colour covering more ("same rank" by lightness alone could not tell them).
    lab2 = np.array([[50.0, 0, 0], [50.0, 30, 0]])
    t2 = np.array([[48.0, 0, 0], [52.0, 0, 0]])
    assert match_palettes(lab2, np.array([0.1, 0.9]), t2, np.array([0.8, 0.2])).tolist() == [1, 0]


# --- transfer: end to end -----------------------------------------------------------------


def bands(colours, shares, h=48, w=64, gradient=0.0) -> np.ndarray:
    """Horizontal bands of ``colours`` (top to bottom), as tall as their ``shares``; with
    ``gradient``, each band shades by that many levels from left to right."""
    img = np.zeros((h, w, 3), np.float32)
    edges = np.round(np.cumsum([0, *shares]) * h).astype(int)
    for c, a, b in zip(colours, edges, edges[1:], strict=False):
        img[a:b] = c
    img += np.linspace(-gradient / 2, gradient / 2, w)[None, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)


SOURCE_BANDS = [(40, 40, 60), (120, 110, 100), (220, 210, 200)]  # dark, mid, light
TARGET_BANDS = [(90, 20, 30), (40, 150, 60), (250, 240, 120)]  # dark red, green, pale yellow


def band_clip(n=8):
    frames = []
    base = bands(SOURCE_BANDS, [0.5, 0.3, 0.2], gradient=30)
    for t in range(n):
        f = base.copy()
        f[20:26, 4 + 6 * t : 10 + 6 * t] = (200, 40, 160)  # a small object moving across
        frames.append(f)
    return frames


def test_transfer_keeps_lightness_order_shares_and_shading(tmp_path):
    src = write_gif(tmp_path / "src.gif", band_clip())
    target = tmp_path / "target.png"
    Image.fromarray(bands(TARGET_BANDS, [0.45, 0.35, 0.2])).save(target)
    out = tmp_path / "out.gif"
    rc = run(src, out, "--transfer", target, "--transfer-colours", 4, "-k", 16, "-q")
    assert rc == 0
    frame = read_gif(out)[0][0][..., :3]
    rows = {"dark": frame[2:20, 20:40], "mid": frame[26:36, 20:40], "light": frame[40:46, 20:40]}
    mean = {name: rgb_to_lab(r.reshape(-1, 3)).mean(0) for name, r in rows.items()}
    # Lightness order kept, and each band went towards the target band of its rank in both
    # lightness and share: nearer it than any other, a good part of the way. (The targets are
    # 2.7 times as far apart as the bands: the map stretches them 1.5 times at most.)
    assert mean["dark"][0] < mean["mid"][0] < mean["light"][0]
    targets = rgb_to_lab(np.array(TARGET_BANDS, np.uint8))
    sources = rgb_to_lab(np.array(SOURCE_BANDS, np.uint8))
    for i, name in enumerate(("dark", "mid", "light")):
        miss = np.linalg.norm(mean[name] - targets, axis=1)
        assert miss.argmin() == i, name
        assert miss[i] < 0.75 * np.linalg.norm(sources[i] - targets[i]), name
    # Shading survives: the dark band still shades from left to right.
    dark = rgb_to_lab(frame[10, 2:62])[:, 0]
    assert dark[-1] - dark[0] > 5


def test_the_map_does_not_stretch_the_steps_between_colours():
    """Colours close in the clip stay close: the anchors' targets are pulled within
    MAX_STRETCH of their distance (a grey clip onto a vivid palette), and a colour between two
    anchors moves smoothly, with no jump at the border (the step from one colour to the next is
    never much more than MAX_STRETCH times its size)."""
    greys = np.array([[40, 40, 40], [60, 60, 60], [80, 80, 80], [100, 100, 100]], np.uint8)
    vivid = np.array([[120, 0, 40], [0, 200, 60], [20, 40, 255], [250, 240, 30]], np.uint8)
    pmap = PaletteMap(vivid, n_anchors=4)
    shown = pmap.apply(greys, np.array([4, 3, 2, 1]), cut=True)
    a, b = rgb_to_lab(greys).astype(float), rgb_to_lab(shown).astype(float)
    i, j = np.triu_indices(4, 1)
    stretch = np.linalg.norm(b[i] - b[j], axis=1) / np.linalg.norm(a[i] - a[j], axis=1)
    assert stretch.max() <= MAX_STRETCH + 0.1
    # A ramp of greys between the anchors: steps of one level never jump.
    ramp = np.repeat(np.arange(30, 111, dtype=np.uint8)[:, None], 3, axis=1)
    before = rgb_to_lab(ramp).astype(float)
    after = pmap.apply(ramp, np.ones(len(ramp)), cut=False).astype(float)
    after = rgb_to_lab(after.astype(np.uint8)).astype(float)
    steps = np.linalg.norm(np.diff(after, axis=0), axis=1)
    assert steps.max() <= 2 * MAX_STRETCH * np.linalg.norm(np.diff(before, axis=0), axis=1).max()


def test_transfer_moves_the_mean_colour_towards_the_other_clip_and_does_not_flicker(tmp_path):
    source = moving_clip(n=12)
    src = write_gif(tmp_path / "src.gif", source)
    other_frames = [np.roll(f[..., ::-1], 7, axis=1) // 2 + 100 for f in moving_clip(seed=9)]
    other = write_gif(tmp_path / "other.gif", other_frames)
    seeded, moved = tmp_path / "seeded.gif", tmp_path / "moved.gif"
    assert run(src, seeded, "-k", 8, "-q") == 0
    assert run(src, moved, "-k", 8, "--transfer", other, "-q") == 0

    def mean_lab(frames):
        return rgb_to_lab(np.concatenate([f[..., :3].reshape(-1, 3) for f in frames])).mean(0)

    goal = mean_lab(other_frames)
    before = np.linalg.norm(mean_lab(source) - goal)
    after = np.linalg.norm(mean_lab(read_gif(moved)[0]) - goal)
    assert after < 0.5 * before
    assert measure(source, moved).flicker <= measure(source, seeded).flicker + 1e-9


def test_transfer_from_python_and_a_palette_file(tmp_path):
    src = write_gif(tmp_path / "src.gif", band_clip(n=4))
    pal = tmp_path / "pal.json"
    pal.write_text(json.dumps({"overall": [{"colour": "#5a141e", "share": 0.5}, "#28963c"]}))
    out = tmp_path / "out.gif"
    report = gifquant.convert(src, out, transfer=pal, k=8)
    assert report.frames == 4
    with pytest.raises(ValueError, match="transfer_colours"):
        gifquant.convert(src, out, overwrite=True, transfer=pal, transfer_colours=0)


def test_batch_reads_the_other_palette_once_and_matches_single_runs(tmp_path):
    ins = tmp_path / "in"
    ins.mkdir()
    for i in range(3):
        write_gif(ins / f"c{i}.gif", moving_clip(n=5, seed=i))
    other = write_gif(tmp_path / "other.gif", moving_clip(n=5, seed=11))
    report = gifquant.batch(ins, tmp_path / "out", jobs=2, transfer=other, k=8)
    assert [r.status for r in report.records] == ["done"] * 3
    for i in range(3):
        single = tmp_path / f"single{i}.gif"
        gifquant.convert(ins / f"c{i}.gif", single, transfer=other, k=8)
        assert (tmp_path / "out" / f"c{i}.gif").read_bytes() == single.read_bytes()
    assert report.settings["transfer"] == other


def test_corpus_transfer_is_as_still_as_the_seeded_quantizer(tmp_path):
    src = corpus_file("people-detection.gif")
    other = corpus_file("classroom.gif")
    source = [f[..., :3] for f in read_gif(src)[0]]
    seeded, moved = tmp_path / "seeded.gif", tmp_path / "moved.gif"
    # The transfer's own stillness: the source as it is (the denoiser off in both).
    gifquant.convert(src, seeded, k=16, denoise="off")
    gifquant.convert(src, moved, k=16, transfer=other, denoise="off")
    assert measure(source, moved).flicker <= measure(source, seeded).flicker + 0.01
    fixed = tmp_path / "fixed.gif"
    gifquant.convert(src, fixed, palette_from=other, k=8)
    assert subset(shown_colours(fixed), gifquant.palette(other, k=8).overall.colours)


def test_a_fixed_palette_and_a_transfer_are_refused_together(clip, tmp_path, capsys):
    hexfile = tmp_path / "one.hex"
    hexfile.write_text("#ff8000\n")
    out = tmp_path / "out.gif"
    assert run(clip, out, "--palette-from", hexfile, "--transfer", hexfile) == 2
    assert "not allowed with" in capsys.readouterr().err
    with pytest.raises(ValueError, match="cannot be combined"):
        gifquant.convert(clip, out, palette_from=hexfile, transfer=hexfile)
    with pytest.raises(ValueError, match="cannot be combined"):
        gifquant.QuantizeOptions(palette=FIXED, transfer=FIXED)
    assert not out.exists()


def test_transfer_onto_one_colour_and_to_video(clip, tmp_path):
    hexfile = tmp_path / "one.hex"
    hexfile.write_text("#ff8000\n")
    out = tmp_path / "out.gif"
    assert run(clip, out, "--transfer", hexfile, "-k", 4, "-q") == 0
    frames = read_gif(out)[0]
    lab = rgb_to_lab(np.concatenate([f[..., :3].reshape(-1, 3) for f in frames]))
    orange = rgb_to_lab(np.array([255, 128, 0], np.uint8))
    # One anchor: every entry moved by the same vector, so the picture's mean lands near orange
    # (the offsets of the most saturated entries are clipped to the gamut) and its contrast
    # (the entries' offsets) is kept.
    assert np.linalg.norm(lab.mean(0) - orange) < 20
    assert lab[:, 0].std() > 5
    mp4 = tmp_path / "out.mp4"
    report = gifquant.convert(clip, mp4, transfer=hexfile, k=8)
    assert report.frames == len(frames) and mp4.stat().st_size > 0


def test_a_palette_file_that_never_ends_is_refused(clip, tmp_path, capsys):
    endless = tmp_path / "zero.hex"
    endless.symlink_to("/dev/zero")
    assert run(clip, tmp_path / "o.gif", "--palette-from", endless) == 2
    assert "not a palette of 256 colours" in capsys.readouterr().err


# --- reading the other clip: progress and time ------------------------------------------


def test_reading_the_other_clip_shows_progress_and_counts_in_the_time(clip, tmp_path):
    """The other clip's frames are told to ``on_palette_progress`` before the first frame of
    the input, and ``report.seconds`` is the wall time of the whole run, reading included."""
    other = write_gif(tmp_path / "other.gif", moving_clip(n=6, seed=3))
    told: list = []

    def slow_reading(done, total):  # each frame of the other clip takes 0.1 s to read
        told.append(("other", done, total))
        time.sleep(0.1)

    for setting in ("transfer", "palette_from"):
        told.clear()
        started = time.perf_counter()
        report = gifquant.convert(
            clip,
            tmp_path / f"{setting}.gif",
            k=4,
            on_palette_progress=slow_reading,
            on_progress=lambda done, total: told.append(("input", done, total)),
            **{setting: other},
        )
        wall = time.perf_counter() - started
        assert told[:6] == [("other", i, 6) for i in range(1, 7)]
        assert told[6:] == [("input", i, 12) for i in range(1, 13)]
        assert 0.6 <= report.seconds <= wall
    report = gifquant.convert(
        clip, tmp_path / "size.gif", transfer=other, max_size="1M", on_palette_progress=slow_reading
    )
    assert report.seconds >= 0.6


def test_the_command_shows_a_bar_while_it_reads_the_other_clip(clip, tmp_path, capsys):
    other = write_gif(tmp_path / "other.gif", moving_clip(n=6, seed=3))
    assert run(clip, tmp_path / "o.gif", "--transfer", other, "--progress") == 0
    err = capsys.readouterr().err
    assert "reading other.gif" in err and "/6 " in err and "/12 " in err
    assert run(clip, tmp_path / "o.gif", "-y", "--palette-from", other, "--progress", "-q") == 0
    assert capsys.readouterr() == ("", "")
    # Not a terminal and not asked for: no bar, just the summary line.
    assert run(clip, tmp_path / "o.gif", "-y", "--palette-from", other) == 0
    assert "reading" not in capsys.readouterr().err
