"""gifquant as a Python library: convert a file, quantize frames in memory, show the result."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from conftest import moving_clip, read_gif, write_gif
from PIL import Image

import gifquant
from gifquant._core.denoise import LOOKAHEAD
from gifquant._run.arrays import quantize
from gifquant._run.convert import convert
from gifquant._run.display import Animation


@pytest.fixture
def clip() -> np.ndarray:
    """(12, 40, 56, 4) uint8 RGBA, opaque, a moving picture."""
    rgb = np.stack(moving_clip())[..., :3]
    return np.concatenate([rgb, np.full(rgb.shape[:3] + (1,), 255, np.uint8)], axis=-1)


def colours(frame: np.ndarray) -> int:
    return len(np.unique(frame.reshape(-1, frame.shape[-1]), axis=0))


# --- quantize: what goes in, what comes out ----------------------------------------------


@pytest.mark.parametrize("channels", [3, 4])
def test_a_clip_array_comes_back_in_its_shape_with_k_colours(clip, channels):
    frames = np.ascontiguousarray(clip[..., :channels])
    out = quantize(frames, k=4)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert max(colours(f[..., :3]) for f in out) <= 4


def test_one_frame_comes_back_as_one_frame(clip):
    out = quantize(clip[0, ..., :3], k=2)
    assert out.shape == (40, 56, 3) and colours(out) <= 2


def test_an_iterable_streams_one_frame_out_per_frame_in(clip):
    seen = []

    def frames():
        for f in clip:
            seen.append(1)
            yield f[..., :3]

    it = quantize(frames(), k=4)
    first = next(it)
    # Lazily: the first frame out once the denoiser's look-ahead has read its few frames.
    assert first.shape == (40, 56, 3) and len(seen) == LOOKAHEAD
    next(it)
    assert len(seen) == LOOKAHEAD + 1  # then one in for one out
    rest = list(it)
    assert len(rest) == 10 and max(colours(f) for f in rest) <= 4


def test_bgr_is_said_not_guessed(clip):
    rgb = np.ascontiguousarray(clip[..., :3])
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    a = quantize(rgb, k=4)
    b = quantize(bgr, k=4, bgr=True)
    np.testing.assert_array_equal(a, b[..., ::-1])


def test_alpha_comes_back_as_0_or_255():
    rgba = np.zeros((3, 10, 10, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :5, :, 3] = 255
    out = quantize(rgba, k=2)
    assert set(np.unique(out[..., 3])) == {0, 255}
    np.testing.assert_array_equal(out[..., 3] == 255, rgba[..., 3] == 255)


def test_seeded_is_steadier_than_random(clip):
    from conftest import measure

    seeded = quantize(clip, k=4)
    rnd = quantize(clip, k=4, seeded=False)

    def flicker(out):
        return measure(list(clip), [f for f in out]).flicker

    assert flicker(seeded) < flicker(rnd)


def test_paths_bytes_files_and_pil_images_are_read(clip, tmp_path):
    path = write_gif(tmp_path / "c.gif", list(clip[..., :3]))
    by_path = list(quantize(path, k=4))
    by_str = list(quantize(str(path), k=4))
    by_bytes = list(quantize(path.read_bytes(), k=4))
    with open(path, "rb") as f:
        by_file = list(quantize(f, k=4))
    with Image.open(path) as im:
        by_pil = list(quantize(im, k=4))
    assert len(by_path) == 12 and by_path[0].shape == (40, 56, 4)
    for other in (by_str, by_bytes, by_file, by_pil):
        np.testing.assert_array_equal(np.stack(other), np.stack(by_path))
    assert list(tmp_path.iterdir()) == [path]  # the spooled copies are gone


@pytest.mark.parametrize(
    "frames, error, words",
    [
        (np.zeros((2, 8, 8, 3), np.float32), TypeError, "astype(np.uint8)"),
        (np.zeros((2, 8, 8, 3), np.uint16), TypeError, "uint8"),
        (np.zeros((8, 8), np.uint8), ValueError, "(N, H, W, 3 or 4)"),
        (np.zeros((2, 8, 8), np.uint8), ValueError, "(N, H, W, 3 or 4)"),
        (np.zeros((0, 8, 8, 3), np.uint8), ValueError, "empty"),
        (42, TypeError, "frames must be"),
        ([np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)], ValueError, "one size"),
        ([np.zeros((8, 8, 3), np.uint8), "x"], TypeError, "frame 1"),
    ],
)
def test_bad_frames_say_what_was_expected(frames, error, words):
    with pytest.raises(error, match=re.escape(words)):
        out = quantize(frames, k=4)
        if not isinstance(out, np.ndarray):
            list(out)


def test_bad_settings_and_missing_paths(clip, tmp_path):
    with pytest.raises(ValueError, match="k must be between 1 and 256"):
        quantize(clip, k=300)
    with pytest.raises(ValueError, match="metric"):
        quantize(clip, metric="cosine")
    with pytest.raises(TypeError):
        quantize(clip, colours=4)
    with pytest.raises(FileNotFoundError):
        quantize(tmp_path / "missing.gif")
    with pytest.raises(ValueError, match="durations"):
        quantize(clip, durations=[0.1, 0.2])


def test_nothing_is_printed(clip, tmp_path, capsys):
    quantize(clip, k=4)
    list(quantize(list(clip), k=4))
    convert(write_gif(tmp_path / "c.gif", list(clip[..., :3])), tmp_path / "o.gif", stats=True)
    assert capsys.readouterr() == ("", "")


# --- the animation ------------------------------------------------------------------------


def test_an_animation_plays_inline_as_its_gif(clip):
    anim = quantize(clip, k=4, durations=0.05, as_animation=True)
    assert isinstance(anim, Animation) and len(anim) == 12
    assert anim.frames.shape == (12, 40, 56, 4) and anim.durations == [0.05] * 12
    html = anim._repr_html_()
    data = base64.b64decode(re.search(r"data:image/gif;base64,([A-Za-z0-9+/=]+)", html).group(1))
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "GIF" and im.n_frames == 12 and im.info["duration"] == 50
        im.seek(5)
        np.testing.assert_array_equal(np.asarray(im.convert("RGBA")), anim.frames[5])
    bundle = anim._repr_mimebundle_()
    assert bundle["image/png"][:8] == b"\x89PNG\r\n\x1a\n"


def test_a_large_animation_says_so_instead_of_inlining(clip, monkeypatch):
    from gifquant._run import display

    monkeypatch.setattr(display, "INLINE_LIMIT", 100)
    html = quantize(clip, k=4, as_animation=True)._repr_html_()
    assert "data:image/gif" not in html and "save it" in html.lower()


def test_an_animation_saves_a_gif(clip, tmp_path):
    anim = quantize(clip, k=4, as_animation=True)
    anim.save(tmp_path / "a.gif")
    frames, durations, loop = read_gif(tmp_path / "a.gif")
    assert len(frames) == 12 and durations == [100] * 12 and loop == 0


# --- convert ------------------------------------------------------------------------------


def test_convert_reports_what_it_measured(clip, tmp_path):
    src = write_gif(tmp_path / "c.gif", list(clip[..., :3]))
    plain = convert(src, tmp_path / "o.gif", k=4)
    assert plain.frames == 12 and plain.bytes == (tmp_path / "o.gif").stat().st_size
    assert plain.dE is None and plain.flicker is None and plain.seconds > 0
    measured = convert(src, tmp_path / "o.gif", k=4, stats=True, overwrite=True)
    assert 0 < measured.dE < 40 and measured.colours_on_screen <= 4
    assert measured.incoherence == 0 and measured.flicker >= 0


def test_convert_refuses_what_the_cli_refuses(clip, tmp_path):
    src = write_gif(tmp_path / "c.gif", list(clip[..., :3]))
    with pytest.raises(FileNotFoundError):
        convert(tmp_path / "missing.gif", tmp_path / "o.gif")
    (tmp_path / "o.gif").write_bytes(b"x")
    with pytest.raises(ValueError, match="already exists"):
        convert(src, tmp_path / "o.gif", overwrite=False)
    with pytest.raises(ValueError, match="input"):
        convert(src, src, overwrite=True)
    with pytest.raises(ValueError, match="k must be"):
        convert(src, tmp_path / "p.gif", k=0)
    with pytest.raises(TypeError):
        convert(src, tmp_path / "p.gif", colours=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.gif", "o.gif"]


def test_library_calls_overwrite_by_default_as_imageio_does(clip, tmp_path):
    # A notebook cell run twice must not fail; the input is still never overwritten.
    src = write_gif(tmp_path / "c.gif", list(clip[..., :3]))
    out, grid = tmp_path / "o.gif", tmp_path / "grid.gif"
    out.write_bytes(b"old")
    grid.write_bytes(b"old")
    for _ in range(2):
        assert convert(src, out, k=4).bytes == out.stat().st_size > 3
        gifquant.compare(src, grid, k=2, modes=("seeded",))
        assert grid.stat().st_size > 3
    before = (tmp_path / "c.gif").read_bytes()
    with pytest.raises(ValueError, match="input"):
        convert(src, src)
    assert (tmp_path / "c.gif").read_bytes() == before
    with pytest.raises(ValueError, match="already exists"):
        gifquant.compare(src, grid, k=2, overwrite=False)
    # batch still skips what exists, so a stopped batch resumes
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "c.gif").write_bytes(b"old")
    report = gifquant.batch(str(src), tmp_path / "out", k=4, jobs=1)
    assert report.skipped == 1 and (tmp_path / "out" / "c.gif").read_bytes() == b"old"


def test_convert_with_a_comparison_measures_each_panel(clip, tmp_path):
    src = write_gif(tmp_path / "c.gif", list(clip[..., :3]))
    rep = convert(
        src, tmp_path / "o.gif", k=4, compare=tmp_path / "cmp.gif", panels="k=2,k=4", stats=True
    )
    assert set(rep.panels) == {"k=2", "k=4"}
    assert rep.panels["k=2"].colours_on_screen <= 2
    assert len(read_gif(tmp_path / "cmp.gif")[0]) == 12


def test_the_notebook_demo_runs_its_checks(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    html = tmp_path / "anim.html"
    p = subprocess.run(
        [sys.executable, str(root / "scripts" / "notebook_demo.py"), "--html", str(html)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert "all checks hold" in p.stdout and "data:image/gif;base64," in html.read_text()


def test_the_docstring_examples_hold():
    import doctest

    import gifquant

    finder = doctest.DocTestFinder()
    for obj, least in ((gifquant.quantize, 6), (gifquant.palette, 2)):
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        for test in finder.find(obj, obj.__name__, globs={}):
            runner.run(test)
        result = runner.summarize(verbose=False)
        assert result.attempted >= least and result.failed == 0, obj.__name__


# --- in a notebook ------------------------------------------------------------------------


def test_a_report_shows_in_a_notebook_as_a_small_table(clip, tmp_path):
    src = write_gif(tmp_path / "c.gif", list(clip[..., :3]))
    plain = convert(src, tmp_path / "o.gif", k=4)._repr_html_()
    assert plain.startswith("<table>") and "<th" in plain
    assert ">frames</th>" in plain and ">12</td>" in plain and "measured" not in plain
    report = convert(src, tmp_path / "o.gif", k=4, records=True, compare=tmp_path / "c2.gif")
    shown = report._repr_html_()
    assert f"dE {report.dE:.2f}" in shown and "panel seeded" in shown and "panel random" in shown
    # Compact: the per-frame records and settings are not spelled out (repr() holds them).
    assert len(shown) < 2000 < len(repr(report))


def test_a_palette_shows_in_a_notebook_as_a_swatch_with_hex_codes_and_shares():
    frames = np.zeros((1, 4, 4, 3), np.uint8)
    frames[0, :, :1] = (255, 128, 0)
    report = gifquant.palette(frames, k=2)
    shown = report.overall._repr_html_()
    assert "array(" not in shown
    assert "background:#ff8000" in shown and "#ff8000 25.0%" in shown and "#000000 75.0%" in shown
    assert "flex:0.250000" in shown  # the bar's segment as wide as its share
    whole = report._repr_html_()
    assert report.overall._repr_html_() in whole and "data:image/png;base64," in whole
