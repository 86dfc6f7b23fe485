"""Promises the newest surfaces broke under hostile use (issue 25): every output of a run is put
in place together or not at all, user mistakes are exit 2 with one line, palette's outputs
do not collide, --lossy's result is checked, limits are refused before the work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import moving_clip, write_gif

from gifquant._cli import main


def run(*argv) -> int:
    return main([str(a) for a in argv])


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_gif(tmp_path / "clip.gif", moving_clip(6, 24, 32))


def files(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# --- item 1: a failed --report writes no output -------------------------------------------------


@pytest.mark.parametrize("report", ["/dev/full", "/proc/r.json"])
def test_a_failed_report_leaves_the_outputs_untouched(clip, tmp_path, report, capsys):
    if not os.path.exists(os.path.dirname(report) if report.startswith("/proc") else report):
        pytest.skip(f"no {report} here")
    out = tmp_path / "pre.gif"
    out.write_bytes(b"earlier")
    code = run(clip, out, "--compare", tmp_path / "cmp.gif", "--report", report, "-y", "-q")
    assert code in (1, 2)
    assert out.read_bytes() == b"earlier"
    assert files(tmp_path) == ["clip.gif", "pre.gif"]  # no comparison, no .part
    assert capsys.readouterr().err.count("\n") == 1


def test_the_report_and_outputs_appear_together(clip, tmp_path):
    out, report = tmp_path / "o.gif", tmp_path / "r.json"
    assert run(clip, out, "--compare", tmp_path / "c.gif", "--report", report, "-q") == 0
    assert files(tmp_path) == ["c.gif", "clip.gif", "o.gif", "r.json"]
    assert b'"bytes": %d' % out.stat().st_size in report.read_bytes()
