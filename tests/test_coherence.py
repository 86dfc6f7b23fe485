"""Coherence (issue 12), measured on the written GIF as a decoder composites it: what is on
screen after a frame is that frame's palette, so every pixel of a colour shows the same entry
(incoherence <= 0.002), no frame shows more than K colours, no frame is dropped, and the seeded
palette flickers less than a fresh one per frame. Also the writer's colour-table rules."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (
    SAMPLES,
    assert_decoders_agree,
    corpus_file,
    gif_blocks,
    measure,
    read_gif,
    write_apng,
    write_gif,
)

from gifquant._cli import main
from gifquant._core.colour import delta_e, rgb_to_lab
from gifquant._core.frames import QuantizedFrame
from gifquant._core.metrics import JND_DE
from gifquant._io.gif.write import OPENING_FRAMES, GifWriter

MAX_INCOHERENCE = 0.002
H, W = 32, 48
YY, XX = np.mgrid[0:H, 0:W]
LEFT = np.s_[:, : W // 4]  # the flat area of the colour-change clips


def gradient() -> np.ndarray:
    """A smooth (H, W, 3) float gradient, about 1500 colours."""
    return np.stack([40 + 170 * XX / W, 60 + 120 * YY / H, 200 - 140 * XX / W], -1)


def to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def moving_shape(n: int = 12) -> list[np.ndarray]:
    """(a) A still gradient with a yellow box moving across it."""
    frames = []
    for t in range(n):
        img = gradient()
        x = 2 + t * (W - 14) // (n - 1)
        img[10:22, x : x + 10] = (250, 220, 30)
        frames.append(to_uint8(img))
    return frames


def flat_area(colours, area=LEFT) -> list[np.ndarray]:
    """A still gradient beside a flat ``area`` of one colour a frame (``colours``: RGB, one a
    frame)."""
    frames = []
    for c in colours:
        img = gradient()
        img[area] = c
        frames.append(to_uint8(img))
    return frames


def flat_step() -> list[np.ndarray]:
    """(b) The flat area turns from red to green halfway through 12 frames."""
    return flat_area([(200, 60, 60)] * 6 + [(60, 200, 90)] * 6)


def flat_fade(n: int, area, start, end) -> list[np.ndarray]:
    """The flat area goes from ``start`` to ``end`` in ``n`` even steps."""
    return flat_area(np.linspace(start, end, n), area)


def camera(n: int = 12, sigma: float = 2.0) -> list[np.ndarray]:
    """(c) A gradient under fresh Gaussian noise of ``sigma`` levels every frame."""
    rng = np.random.default_rng(1)
    return [to_uint8(gradient() + rng.normal(0, sigma, (H, W, 3))) for _ in range(n)]


def convert(src, out, *args) -> list[np.ndarray]:
    """Run gifquant and decode what it wrote (RGBA frames)."""
    assert main([str(src), str(out), "-q", *map(str, args)]) == 0
    return read_gif(out)[0]


def de(a, b) -> float:
    return float(delta_e(rgb_to_lab(np.asarray(a, np.uint8)), rgb_to_lab(np.asarray(b, np.uint8))))


def area_colours(frame: np.ndarray, area) -> np.ndarray:
    """The distinct RGB colours a frame shows in ``area``, (n, 3)."""
    return np.unique(frame[area][..., :3].reshape(-1, 3), axis=0)


# name: (source file made in a folder, how many times less seeded must flicker than random)
CLIPS = {
    "shapes-sample": (lambda d: SAMPLES / "shapes.gif", 10),
    "moving-shape": (lambda d: write_apng(d / "a.png", moving_shape()), 10),
    # Frames repeat within each half of the clip, which APNG would merge: a GIF source.
    "flat-colour-change": (lambda d: write_gif(d / "b.gif", flat_step()), 1),
    "camera-noise": (lambda d: write_apng(d / "c.png", camera()), 1),
}


@pytest.mark.parametrize("name", CLIPS)
def test_defaults_are_coherent_within_k_colours(name, tmp_path):
    src = CLIPS[name][0](tmp_path)
    source = read_gif(src)[0]
    out = convert(src, tmp_path / "s.gif", "-k", 4)
    assert len(out) == len(source)
    m = measure(source, out)
    assert m.incoherence <= MAX_INCOHERENCE
    assert len(m.frame_colours) == len(source) and max(m.frame_colours) <= 4


@pytest.mark.parametrize("name", list(CLIPS))
def test_seeded_flickers_less_than_random(name, tmp_path):
    make, ratio = CLIPS[name]
    src = make(tmp_path)
    source = read_gif(src)[0]
    seeded = convert(src, tmp_path / "s.gif", "-k", 4)
    rnd = convert(src, tmp_path / "r.gif", "-k", 4, "--random")
    assert len(seeded) == len(rnd) == len(source)
    ms, mr = measure(source, seeded), measure(source, rnd)
    assert ms.flicker * ratio < mr.flicker, (ms.flicker, mr.flicker)


@pytest.mark.parametrize("k", [4, 16])
def test_a_flat_area_that_changes_colour_shows_the_new_colour_everywhere(k, tmp_path):
    # The area's entry must move: every pixel of the area follows it, none stays behind.
    src = write_gif(tmp_path / "s.gif", flat_step())
    source = read_gif(src)[0]
    out = convert(src, tmp_path / "o.gif", "-k", k)
    for i, (s, g) in enumerate(zip(source, out, strict=True)):
        shown = area_colours(g, LEFT)
        assert len(shown) == 1, f"frame {i}: the flat area shows {len(shown)} colours"
        if i >= 6:
            assert de(shown[0], s[0, 0, :3]) < JND_DE, f"frame {i}"
    assert measure(source, out).incoherence <= MAX_INCOHERENCE


def test_a_slowly_fading_flat_area_is_shown_in_its_own_colour(tmp_path):
    half = np.s_[:, : W // 2]
    frames = flat_fade(30, half, (100, 120, 60), (158, 120, 60))
    src = write_apng(tmp_path / "s.png", frames)
    out = convert(src, tmp_path / "o.gif", "-k", 16)
    worst = 0.0
    for s, g in zip(frames, out, strict=True):
        shown = area_colours(g, half)
        assert len(shown) == 1  # holds: one entry for the whole area
        worst = max(worst, de(shown[0], s[0, 0]))
    assert worst < JND_DE, worst


def test_a_fast_fade_does_not_flicker_the_still_background_more_than_random(tmp_path):
    frames = flat_fade(12, np.s_[:, : W // 2], (200, 60, 60), (60, 200, 90))
    src = write_apng(tmp_path / "s.png", frames)
    seeded = convert(src, tmp_path / "s.gif", "-k", 8)
    rnd = convert(src, tmp_path / "r.gif", "-k", 8, "--random")
    ms, mr = measure(frames, seeded), measure(frames, rnd)
    assert ms.incoherence <= MAX_INCOHERENCE and ms.colours_max <= 8  # these hold
    assert ms.flicker < mr.flicker, (ms.flicker, mr.flicker)


def test_a_repeated_frame_is_written_unless_merged(tmp_path):
    frames = moving_shape(8)
    frames.insert(4, frames[3])
    src = write_gif(tmp_path / "s.gif", frames, duration=0.1)  # our writer keeps the repeat
    source = read_gif(src)[0]
    kept_path, merged_path = tmp_path / "k.gif", tmp_path / "m.gif"
    kept = convert(src, kept_path, "-k", 4)
    assert len(kept) == 9
    np.testing.assert_array_equal(kept[4], kept[3])
    repeat = gif_blocks(kept_path)[4]
    assert repeat["w"] * repeat["h"] == 1 and repeat["transparent"] is not None  # draws nothing
    assert measure(source, kept).incoherence <= MAX_INCOHERENCE

    merged = convert(src, merged_path, "-k", 4, "--merge-duplicates")
    assert len(merged) == 8
    for a, b in zip(merged, kept[:4] + kept[5:], strict=True):
        np.testing.assert_array_equal(a, b)
    durations = read_gif(merged_path)[1]
    assert durations[3] == 200 and sum(durations) == sum(read_gif(kept_path)[1]) == 900


def test_k256_on_a_smooth_gradient_is_close_to_lossless(tmp_path):
    base = np.stack([70 + 50 * XX / W, 90 + 40 * YY / H, 140 + 20 * np.sin(XX / 7 + YY / 5)], -1)
    frames = []
    for t in range(8):
        img = base.copy()
        img[4:12, 3 + 4 * t : 11 + 4 * t] = (255, 255, 255)
        frames.append(to_uint8(img))
    assert len(area_colours(frames[0], np.s_[:, :])) > 1000
    src = write_apng(tmp_path / "s.png", frames)
    out = convert(src, tmp_path / "o.gif", "-k", 256)
    m = measure(frames, out)
    assert len(out) == 8 and m.colours_max <= 256
    assert m.incoherence <= MAX_INCOHERENCE
    assert m.mean_de < JND_DE / 2, m.mean_de


def palette_256() -> np.ndarray:
    """256 distinct colours, (256, 3) uint8."""
    rng = np.random.default_rng(7)
    return np.unique(rng.integers(0, 256, (400, 3), dtype=np.uint8), axis=0)[:256]


# A 32x32 frame drawing each of 256 entries four times.
EVERY_ENTRY = (np.arange(32 * 32) % 256).reshape(32, 32).astype(np.uint8)


def test_writer_with_all_256_entries_drawn_writes_every_frame_exactly(tmp_path):
    # No index is left for "unchanged" or for a spare: each frame must still decode to exactly
    # palette[indices], through the global table and through a local one.
    pal_a = palette_256()
    pal_b = pal_a.copy()
    pal_b[::16] = 255 - pal_b[::16]  # 16 colours the global table lacks
    assert len(np.unique(np.concatenate([pal_a, pal_b]), axis=0)) == 272
    idx0 = EVERY_ENTRY
    idx1 = idx0.copy()
    idx1[:8] = np.roll(idx0[:8], 1, axis=1)  # the top quarter changes, with all 256 entries
    idx2 = np.roll(idx0, 3, axis=1)
    shown = [(idx0, pal_a), (idx1, pal_a), (idx2, pal_b), (idx0, pal_a), (idx0, pal_a)]
    path = tmp_path / "w.gif"
    with open(path, "wb") as f:
        w = GifWriter(f, 32, 32)
        before = None
        for idx, pal in shown:
            rgb = pal[idx]
            changed = None if before is None else np.any(rgb != before, -1)
            w.write(QuantizedFrame(idx, pal, None, 0.1, changed=changed))
            before = rgb
        w.close()
    got = read_gif(path)[0]
    assert len(got) == len(shown)
    for i, (g, (idx, pal)) in enumerate(zip(got, shown, strict=True)):
        np.testing.assert_array_equal(g[..., :3], pal[idx], err_msg=f"frame {i}")
        assert (g[..., 3] == 255).all()
    blocks = gif_blocks(path)
    assert [b["local_table"] for b in blocks[:4]] == [False, False, True, False]
    assert blocks[1]["h"] == 8  # still only the rectangle that changed
    assert_decoders_agree(path)


def test_a_delta_frame_over_a_full_global_table_carries_no_table(tmp_path):
    # The global table holds the colours drawn, and entries the frame does not draw, one of
    # which serves as its transparent index.
    pal, idx0 = palette_256(), EVERY_ENTRY
    idx1 = idx0.copy()
    idx1[10, 2] = idx1[13, 5] = 5  # two pixels of one colour: a 4x4 delta, mostly unchanged
    path = tmp_path / "w.gif"
    with open(path, "wb") as f:
        w = GifWriter(f, 32, 32)
        w.write(QuantizedFrame(idx0, pal, None, 0.1))
        w.write(QuantizedFrame(idx1, pal, None, 0.1, changed=idx1 != idx0))
        w.close()
    got = read_gif(path)[0]
    np.testing.assert_array_equal(got[1][..., :3], pal[idx1])
    delta = gif_blocks(path)[1]
    assert delta["w"] * delta["h"] <= 16 and delta["transparent"] is not None
    assert not delta["local_table"]


def two_scenes(colours, n: int, x0: int) -> list[np.ndarray]:
    """Three flat areas of ``colours[:3]`` and a square of ``colours[3]`` moving right from
    ``x0``."""
    frames = []
    for t in range(n):
        img = np.empty((H, W, 3), np.uint8)
        img[:, : W // 2], img[:, W // 2 :], img[: H // 2] = colours[0], colours[1], colours[2]
        img[20:26, x0 + 3 * t : x0 + 3 * t + 6] = colours[3]
        frames.append(img)
    return frames


def test_a_palette_that_returns_is_written_with_the_global_table(tmp_path):
    a = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (240, 240, 240)]
    b = [(120, 60, 10), (10, 120, 160), (90, 10, 90), (20, 20, 20)]
    # Scene a lasts the opening frames, from whose colours the global table is chosen.
    assert OPENING_FRAMES % 4 == 0
    opening = two_scenes(a, 4, 4) * (OPENING_FRAMES // 4)
    frames = opening + two_scenes(b, 4, 4) + two_scenes(a, 4, 16)
    src = write_gif(tmp_path / "s.gif", frames)
    out = tmp_path / "o.gif"
    got = convert(src, out, "-k", 4)
    for f, g in zip(frames, got, strict=True):
        np.testing.assert_array_equal(g[..., :3], f)  # 4 colours a scene: lossless
    blocks = gif_blocks(out)
    n = OPENING_FRAMES
    assert [b["local_table"] for b in blocks] == [False] * n + [True] * 4 + [False] * 4
    assert all(b["w"] * b["h"] < H * W / 4 for b in blocks[n + 5 :])  # delta frames, too
    # A delta frame of the second scene draws 2 colours: its table holds them and the
    # see-through entry (4 entries, the smallest table for 3), not the scene's 4 colours.
    for blk, f, g in zip(
        blocks[n + 1 : n + 4], frames[n : n + 3], frames[n + 1 : n + 4], strict=True
    ):
        drawn = np.unique(g[np.any(f != g, -1)], axis=0)
        assert len(drawn) == 2 and len(blk["table"]) == 4
        assert {tuple(c) for c in drawn} <= {tuple(c) for c in blk["table"]}
    assert_decoders_agree(out)


@pytest.mark.parametrize("name", ["newtonscradle.gif", "people-detection.gif"])
def test_corpus_at_16_colours_is_coherent(name, tmp_path):
    # These GIFs carry their video's noise: by default it is held (within the noise) and
    # smooth areas are dithered a step, so a still colour may be shown a JND from its peers,
    # never two; with both off the mapping is a plain one.
    src = corpus_file(name)
    source = read_gif(src)[0]
    out = convert(src, tmp_path / "o.gif", "-k", 16)
    assert len(out) == len(source)
    m = measure(source, out)
    assert m.ghosts <= MAX_INCOHERENCE and m.colours_max <= 16
    plain = convert(src, tmp_path / "p.gif", "-k", 16, "--denoise", "off", "--deband", "off")
    plain = measure(source, plain)
    assert plain.incoherence <= MAX_INCOHERENCE and plain.colours_max <= 16


@pytest.mark.parametrize("name", ["newtonscradle.gif", "people-detection.gif"])
def test_corpus_seeded_flickers_ten_times_less_than_random_at_4_colours(name, tmp_path):
    src = corpus_file(name)
    source = read_gif(src)[0]
    ms = measure(source, convert(src, tmp_path / "s.gif", "-k", 4))
    mr = measure(source, convert(src, tmp_path / "r.gif", "-k", 4, "--random"))
    assert ms.flicker * 10 <= mr.flicker, (ms.flicker, mr.flicker)
    assert ms.mean_de <= mr.mean_de * 1.05, (ms.mean_de, mr.mean_de)


def test_a_sticker_frame_holds_only_its_visible_pixels(tmp_path):
    # A disc moving over a see-through canvas: each frame clears itself after it is shown, so
    # the next one needs only the rectangle of its own visible pixels.
    frames, alpha = [], []
    y, x = np.mgrid[0:H, 0:W]
    for t in range(6):
        disc = (y - 16) ** 2 + (x - 10 - 5 * t) ** 2 < 36
        rgb = np.zeros((H, W, 3), np.uint8)
        rgb[disc] = (220, 40, 40)
        frames.append(rgb)
        alpha.append(disc)
    src = write_gif(tmp_path / "s.gif", frames, alpha=alpha)
    out = tmp_path / "o.gif"
    assert main([str(src), str(out), "-k", "4", "-q"]) == 0
    got = read_gif(out)[0]
    for rgb, a, g in zip(frames, alpha, got, strict=True):
        assert (g[..., 3] > 0).tolist() == a.tolist()
        assert (g[a][:, :3] == rgb[a]).all()
    for block in gif_blocks(out):
        assert block["w"] * block["h"] <= 13 * 13
