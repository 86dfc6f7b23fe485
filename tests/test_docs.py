"""The user docs hold what the code does: every option in the command reference, links that
resolve, a quick start of two commands."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from gifquant._cli import batch, compare, convert, palette

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
USER_DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *DOCS]
NOT_IN_BATCH = "(not in `batch`)"


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings}


def _tables() -> dict[str, dict[str, str]]:
    """Each command's section of docs/cli.md: the flags of its option table, with their row."""
    text = (ROOT / "docs" / "cli.md").read_text()
    tables: dict[str, dict[str, str]] = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title, body = section.split("\n", 1)
        m = re.fullmatch(r"`gifquant (\w+)?.*`", title.strip())
        if not m:
            continue
        rows = {}
        for line in body.split("\n"):
            if line.startswith("| `-"):
                first = line.split(" | ")[0]
                for flag in re.findall(r"`(-[-\w]*)`", first):
                    rows[flag] = line
        tables[m.group(1) if m.group(1) in ("batch", "compare", "palette") else "main"] = rows
    return tables


def test_command_reference_lists_every_option_of_every_command():
    tables = _tables()
    main = convert.build_parser()
    assert set(tables["main"]) == _flags(main)
    assert set(tables["compare"]) == _flags(compare.build_parser())
    assert set(tables["palette"]) == _flags(palette.build_parser())
    # batch's table holds its own options; the main command's rows not marked as missing from
    # batch are the rest.
    shared = {f for f, row in tables["main"].items() if NOT_IN_BATCH not in row}
    assert set(tables["batch"]) | shared == _flags(batch.build_batch_parser())


def test_command_reference_defaults_agree_with_the_parsers():
    """Where a row names a default, it is the parser's (k's default is written once)."""
    tables = _tables()
    parsers = {
        "main": convert.build_parser(),
        "compare": compare.build_parser(),
        "palette": palette.build_parser(),
    }
    checked = 0
    for name, parser in parsers.items():
        for action in parser._actions:
            for flag in action.option_strings:
                m = re.search(r"\(default (-?[\d.]+)[;)]", tables[name].get(flag, ""))
                if m and action.default is not None and not isinstance(action.default, list):
                    assert float(m.group(1)) == float(action.default), (name, flag)
                    checked += 1
    assert checked >= 10


def test_quick_start_is_two_commands_install_and_test():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, flags=re.S).group(1)
    lines = [line for line in block.split("\n") if line.strip()]
    assert len(lines) == 2
    assert "pip install" in lines[0] and "gifquant samples/" in lines[0]
    assert "pytest" in lines[1]
    assert "python -m pytest -q" in (ROOT / ".ci" / "run").read_text()


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().split("\n")) <= 150


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda p: p.name)
def test_links_resolve(doc):
    text = doc.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        assert dest.exists(), f"{doc.name}: {target}"
        if anchor and dest.suffix == ".md":
            assert anchor in _anchors(dest.read_text()), f"{doc.name}: {target}"


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda p: p.name)
def test_user_docs_name_no_paths_outside_the_project(doc):
    assert "../shared" not in doc.read_text()


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for heading in re.findall(r"^#+ (.*)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


# --- the Python examples run as written ----------------------------------------------------

EXAMPLE_INPUTS = ("in.gif", "a.gif", "c.gif", "in/one.gif", "in/sub/two.gif")
EXAMPLE_VIDEOS = ("b.mp4", "clip.mp4")


def _python_blocks() -> list[tuple[str, str]]:
    blocks = []
    for path in USER_DOCS:
        for i, m in enumerate(re.finditer(r"```python\n(.*?)```", path.read_text(), flags=re.S)):
            blocks.append((f"{path.name}-{i}", m.group(1)))
    return blocks


@pytest.fixture(scope="module")
def example_files(tmp_path_factory) -> Path:
    """The files the examples name, made from ``samples/shapes.gif`` (a short clip)."""
    import shutil

    from gifquant._run.convert import convert

    folder = tmp_path_factory.mktemp("examples")
    for name in EXAMPLE_INPUTS:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "samples" / "shapes.gif", folder / name)
    pytest.importorskip("imageio_ffmpeg")
    for name in EXAMPLE_VIDEOS:
        convert(ROOT / "samples" / "shapes.gif", folder / name, k=16, frames=8)
    return folder


@pytest.mark.parametrize("name, code", _python_blocks(), ids=[n for n, _ in _python_blocks()])
def test_python_examples_run_once_as_scripts(name, code, example_files, tmp_path):
    """Each ```python block of the README and docs, saved as a script and run in a folder of
    the files it names, runs without error and runs once: a batch's worker processes do not
    run the user's script again (they would append to ``runs.log`` once each)."""
    import shutil
    import subprocess
    import sys

    work = tmp_path / "work"
    shutil.copytree(example_files, work)
    script = work / "example.py"
    script.write_text('with open("runs.log", "a") as _log:\n    _log.write("ran\\n")\n' + code)
    res = subprocess.run(
        [sys.executable, str(script)], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert (work / "runs.log").read_text() == "ran\n", name
