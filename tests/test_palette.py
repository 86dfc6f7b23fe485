"""gifquant palette: a clip's palettes as numbers, text forms and pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import moving_clip, read_gif, write_gif
from PIL import Image

import gifquant
from gifquant._cli import main
from gifquant._core.colour import rgb_to_lab
from gifquant._pictures.draw import split
from gifquant._pictures.palette import plot_coordinates


def run(*argv) -> int:
    return main([str(a) for a in argv])


@pytest.fixture
def bands() -> np.ndarray:
    """4 frames of 4 flat bands: 50%, 25%, 15%, 10% of the pixels."""
    frame = np.zeros((20, 40, 3), np.uint8)
    frame[:, :20] = (200, 30, 30)
    frame[:, 20:30] = (30, 200, 30)
    frame[:, 30:36] = (30, 30, 200)
    frame[:, 36:] = (240, 240, 240)
    return np.stack([frame] * 4)


def test_palettes_hold_each_colour_with_its_share(bands):
    rep = gifquant.palette(bands, k=4)
    assert len(rep.frames) == 4
    for p in (rep.overall, *rep.frames):
        assert p.hex == ["#c81e1e", "#1ec81e", "#1e1ec8", "#f0f0f0"]
        np.testing.assert_allclose(p.shares, [0.5, 0.25, 0.15, 0.1])


def test_text_forms(bands):
    rep = gifquant.palette(bands, k=4)
    doc = json.loads(rep.to_json())
    assert doc["overall"][0] == {"colour": "#c81e1e", "share": 0.5}
    assert len(doc["frames"]) == 4 and doc["frames"][3]["index"] == 3
    assert abs(sum(c["share"] for c in doc["overall"]) - 1) < 1e-6
    assert rep.to_hex() == "#c81e1e\n#1ec81e\n#1e1ec8\n#f0f0f0\n"
    gpl = rep.to_gpl().splitlines()
    assert gpl[0] == "GIMP Palette" and gpl[4].split()[:4] == ["200", "30", "30", "#c81e1e"]


@pytest.mark.parametrize("width", [600, 97, 13])
def test_swatch_segments_are_as_wide_as_their_shares(bands, width):
    rep = gifquant.palette(bands, k=4)
    im = np.asarray(rep.swatch(width, 10))
    assert im.shape == (10, width, 3)
    row = [tuple(c) for c in im[5]]
    for colour, share in zip(rep.overall.colours.tolist(), rep.overall.shares, strict=True):
        assert abs(row.count(tuple(colour)) - share * width) <= 1


def test_split_adds_up_and_stays_within_one():
    rng = np.random.default_rng(0)
    for _ in range(200):
        shares = rng.random(rng.integers(1, 12))
        total = int(rng.integers(1, 500))
        parts = split(total, shares)
        assert parts.sum() == total
        assert np.all(np.abs(parts - total * shares / shares.sum()) < 1)


def test_timeline_is_a_column_per_frame_and_still_where_the_palette_is(tmp_path):
    clip = np.stack(moving_clip(10))[..., :3]
    seeded = gifquant.palette(clip, k=4).timeline(px=3, height=50)
    rnd = gifquant.palette(clip, k=4, seeded=False).timeline(px=3, height=50)
    assert seeded.size == (30, 50) and rnd.size == (30, 50)

    def column_changes(im) -> int:
        a = np.asarray(im)[:, ::3]
        return int(np.any(a[:, 1:] != a[:, :-1], axis=-1).sum())

    assert column_changes(seeded) < column_changes(rnd)


def test_the_command_writes_every_form(tmp_path, capsys):
    src = write_gif(tmp_path / "c.gif", moving_clip(6, 24, 32))
    out = tmp_path / "p.gpl"
    assert (
        run(
            "palette",
            src,
            "-k",
            "5",
            "-o",
            out,
            "--swatch",
            tmp_path / "s.png",
            "--timeline",
            tmp_path / "t.png",
            "--modes",
            "random",
            "seeded",
            "--replaced",
            tmp_path / "r.gif",
            "--plot3d",
            tmp_path / "p.png",
            "--swatch-size",
            "300x20",
            "--timeline-px",
            "2",
        )
        == 0
    )
    assert out.read_text().startswith("GIMP Palette")
    assert Image.open(tmp_path / "s.png").size == (300, 20)
    t = Image.open(tmp_path / "t.png")
    assert t.width >= 12 and t.height > 2 * 120  # two labelled rows of 6 frames x 2 px
    frames, _, _ = read_gif(tmp_path / "r.gif")
    assert len(frames) == 6
    assert max(len(np.unique(f[..., :3].reshape(-1, 3), axis=0)) for f in frames) <= 5
    assert Image.open(tmp_path / "p.png").size == (480, 480)
    assert "6 frames, k=5" in capsys.readouterr().err
    assert run("palette", src, "--format", "hex", "-q") == 0
    assert len(capsys.readouterr().out.splitlines()) == 16  # k=16 by default, every command's


def test_plot3d_html_is_an_interactive_page(tmp_path):
    pytest.importorskip("plotly")
    src = write_gif(tmp_path / "c.gif", moving_clip(3, 16, 16))
    assert run("palette", src, "--plot3d", tmp_path / "p.html", "-q") == 0
    html = (tmp_path / "p.html").read_text()
    assert "scatter3d" in html and "#" in html


def test_plot3d_is_in_the_space_asked_for(tmp_path):
    """``--space rgb`` plots R, G, B (the default CIELAB's a*, b*, L*): the interactive page's
    axes and points, and the PNG view (a 3-D box, not three projections)."""
    pytest.importorskip("plotly")
    src = write_gif(tmp_path / "c.gif", moving_clip(3, 16, 16))
    report = gifquant.palette(src, k=3, space="rgb")
    assert report.space == "rgb"
    rgb = report.samples[:, 0]
    assert np.array_equal(plot_coordinates(rgb, "rgb"), rgb)
    assert np.allclose(plot_coordinates(rgb, "lab"), rgb_to_lab(rgb)[:, [1, 2, 0]])
    pages = {}
    for space in ("rgb", "lab"):
        assert run("palette", src, "--space", space, "--plot3d", tmp_path / f"{space}.html") == 0
        pages[space] = (tmp_path / f"{space}.html").read_text()
        assert run("palette", src, "--space", space, "--plot3d", tmp_path / f"{space}.png") == 0
    assert '"title":{"text":"R"}' in pages["rgb"].replace(" ", "")
    assert '"title":{"text":"L*"}' in pages["lab"].replace(" ", "")
    views = {s: np.asarray(Image.open(tmp_path / f"{s}.png")) for s in ("rgb", "lab")}
    assert views["rgb"].shape == (480, 480, 3) and not np.array_equal(views["rgb"], views["lab"])


def test_refusals_are_one_line(tmp_path, capsys):
    src = write_gif(tmp_path / "c.gif", moving_clip(3, 16, 16))
    (tmp_path / "s.png").write_bytes(b"x")
    for argv, words in [
        (["palette", tmp_path / "missing.gif"], "no such file"),
        (["palette", src, "-k", "0"], "1..256"),
        (["palette", src, "--swatch", tmp_path / "s.png"], "already exists"),
        (["palette", src, "--plot3d", tmp_path / "p.svg"], ".html"),
        (["palette", src, "--swatch-size", "10"], "WxH"),
        (["palette", src, "--pal", "x"], "unrecognized"),
    ]:
        assert run(*argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, err
    assert (tmp_path / "s.png").read_bytes() == b"x"


def test_a_file_named_palette_is_reached_as_dot_slash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_gif(tmp_path / "palette", moving_clip(3, 16, 16))
    assert run("./palette", "o.gif", "-q") == 0 and (tmp_path / "o.gif").exists()


# --- --report ------------------------------------------------------------------------------


def test_the_report_holds_a_record_per_frame_that_agrees_with_the_meter(tmp_path):
    from conftest import measure

    clip = moving_clip(8, 24, 32)
    src = write_gif(tmp_path / "c.gif", clip)
    out, rep = tmp_path / "o.gif", tmp_path / "r.json"
    assert run(src, out, "-k", "4", "--report", rep, "-q") == 0
    doc = json.loads(rep.read_text())
    assert set(doc) == {"settings", "frames", "summary"}
    assert doc["settings"]["k"] == 4 and doc["settings"]["format"] == "gif"
    frames, summary = doc["frames"], doc["summary"]
    keys = {"index", "dE", "flicker", "incoherence", "colours_on_screen", "palette", "drift"}
    keys |= {"ghosts", "dE_p99", "held", "unchanged"}
    assert all(set(f) == keys | {"cut", "bytes"} for f in frames)
    assert [f["index"] for f in frames] == list(range(8)) and summary["frames"] == 8
    meter = measure(read_gif(src)[0], out)  # the metrics module on the files
    np.testing.assert_allclose([f["dE"] for f in frames], meter.frame_de, rtol=1e-5, atol=1e-6)
    assert summary["dE"] == pytest.approx(np.mean([f["dE"] for f in frames]))
    assert summary["flicker"] == pytest.approx(meter.flicker, abs=1e-6)
    assert frames[0]["flicker"] is None and frames[0]["drift"] is None
    assert max(f["colours_on_screen"] for f in frames) == summary["colours_on_screen"] <= 4
    for f in frames:
        assert abs(sum(c["share"] for c in f["palette"]) - 1) < 1e-4 and len(f["palette"]) <= 4
    # Every frame's bytes, plus the header and trailer, are the file.
    assert sum(f["bytes"] for f in frames) < out.stat().st_size == summary["bytes"]


def test_the_report_is_refused_where_the_output_is(tmp_path, capsys):
    src = write_gif(tmp_path / "c.gif", moving_clip(3, 16, 16))
    assert run(src, tmp_path / "o.gif", "--report", tmp_path / "o.gif") == 2
    assert "--report needs its own file path" in capsys.readouterr().err


# --- gifquant compare ----------------------------------------------------------------------


def test_compare_draws_a_labelled_grid_in_lockstep_with_the_source(tmp_path):
    from gifquant._pictures.panels import GAP, _label_mask, cell_width, label_height

    clip = moving_clip(6, 24, 32)
    src = write_gif(tmp_path / "c.gif", clip)
    out = tmp_path / "grid.gif"
    rep = gifquant.compare(src, out, k=[2, 4, 10], modes=["random", "seeded"])
    assert list(rep.panels) == [f"{m} k={k}" for m in ("random", "seeded") for k in (2, 4, 10)]
    frames, durations, _ = read_gif(out)
    _, src_durations, _ = read_gif(src)
    assert len(frames) == 6 and durations == src_durations
    bar = label_height(24, 2)
    cw = cell_width(32)  # a 32-pixel panel in the middle of a cell its label can be read in
    assert cw > 32 and frames[0].shape[:2] == (2 * (bar + 24) + GAP, 4 * cw + 3 * GAP)
    s = rep.panels["seeded k=2"]
    text = f"seeded k=2\ndE {s.dE:.1f}  fl {s.flicker:.2f}  {s.colours_on_screen}c"
    y, x = bar + 24 + GAP, 1 * (cw + GAP)  # row 2, column 2
    white = np.all(frames[0][y : y + bar, x : x + cw, :3] == 255, axis=-1)
    np.testing.assert_array_equal(white, _label_mask(text, cw, bar))
    for row in range(2):  # each k panel shows at most k colours
        for col, k in enumerate((2, 4, 10), start=1):
            y0, x0 = row * (bar + 24 + GAP) + bar, col * (cw + GAP) + (cw - 32) // 2
            panel = frames[3][y0 : y0 + 24, x0 : x0 + 32, :3]
            assert len(np.unique(panel.reshape(-1, 3), axis=0)) <= k
    assert rep.panels["seeded k=4"].flicker < rep.panels["random k=4"].flicker


def test_compare_from_the_command_line_any_format_and_its_refusals(tmp_path, capsys):
    from gifquant._pictures.panels import cell_width

    src = write_gif(tmp_path / "c.gif", moving_clip(4, 24, 32))
    assert (
        run(
            "compare",
            src,
            tmp_path / "g.mp4",
            "-k",
            "4",
            "--metric",
            "euclidean",
            "manhattan",
            "--modes",
            "seeded",
        )
        == 0
    )
    assert (tmp_path / "g.mp4").read_bytes()[4:8] == b"ftyp"
    err = capsys.readouterr().err
    assert "seeded k=4 euclidean" in err and "seeded k=4 manhattan" in err
    assert run("compare", src, tmp_path / "g.mp4", "-k", "4") == 2  # exists
    assert run("compare", src, tmp_path / "h.gif", "-k", "128", "200") == 2
    assert "fewer or smaller k" in capsys.readouterr().err
    assert run("compare", src, tmp_path / "h.gif", "--modes", "sideways") == 2
    wide = write_gif(tmp_path / "w.gif", moving_clip(2, 100, 800))
    assert run("compare", wide, tmp_path / "w2.gif", "-q", "--panel-width", "100") == 0
    # source, k=16: panels of 100 pixels, in cells their labels can be read in
    assert read_gif(tmp_path / "w2.gif")[0][0].shape[1] == 2 * cell_width(100) + 2


# --- found by a hostile run ------------------------------------------------------------------


def test_palette_options_are_checked_and_a_transparent_input_writes_nothing(tmp_path, capsys):
    src = write_gif(tmp_path / "c.gif", moving_clip(2, 16, 16))
    assert run("palette", src, "--space", "xyz") == 2
    assert run("palette", src, "--metric", "chebyshev") == 2
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(clear)
    capsys.readouterr()
    assert (
        run("palette", clear, "--swatch", tmp_path / "s.png", "--plot3d", tmp_path / "p.png") == 2
    )
    captured = capsys.readouterr()
    assert "no opaque pixels" in captured.err and captured.out == ""
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "p.png").exists()


def test_compare_refuses_stdin_with_a_true_reason(tmp_path, capsys):
    assert run("compare", "-", tmp_path / "g.gif") == 2
    assert "reads a file, not stdin" in capsys.readouterr().err


def test_broken_bytes_are_a_value_error_not_a_missing_file():
    with pytest.raises(ValueError) as info:
        list(gifquant.quantize(b"GIF89a junk", k=4))
    assert not isinstance(info.value, FileNotFoundError)


def test_a_grid_too_large_is_refused_before_encoding(tmp_path, capsys):
    wide = tmp_path / "wide.png"
    Image.new("RGB", (5000, 4), (10, 20, 30)).save(wide)
    assert (
        run("compare", wide, tmp_path / "g.mp4", "-k", "1", "2", "3", "--panel-width", "4096") == 2
    )
    assert "too large" in capsys.readouterr().err and not (tmp_path / "g.mp4").exists()
