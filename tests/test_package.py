"""Package shape: the pure core stays pure, the layers import downwards only, no import
circles, the exported names are the documented ones."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gifquant
import gifquant._core

PACKAGE = Path(gifquant.__file__).parent
CORE = sorted(m.name for m in pkgutil.iter_modules(gifquant._core.__path__))
# Each layer and the package's modules it may import (besides its own): data flows one way.
LAYERS = {
    "gifquant._core": ("gifquant._errors", "gifquant._kernels"),
    # The kernels are the core's compiled loops (the GIF writer's delta frames among them).
    "gifquant._io": ("gifquant._core", "gifquant._errors", "gifquant._kernels"),
}


def test_pure_core_imports_no_io_libraries():
    """The numeric core knows nothing of files, processes, bars or command lines."""
    code = (
        "import sys; "
        + "; ".join(f"import gifquant._core.{m}" for m in CORE)
        + "; bad = [m for m in ('imageio', 'cv2', 'tqdm', 'PIL', 'argparse', 'subprocess',"
        " 'gifquant._io', 'gifquant._run', 'gifquant._pictures', 'gifquant._cli')"
        " if m in sys.modules]; print(','.join(bad))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(CORE) >= 10 and r.stdout.strip() == ""


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_import_downwards_only(layer):
    allowed = (layer, *LAYERS[layer])
    for module, deps in _imports().items():
        if module == layer or module.startswith(layer + "."):
            bad = [d for d in deps if not any(d == a or d.startswith(a + ".") for a in allowed)]
            assert not bad, f"{module} imports {bad}"


def test_only_the_command_imports_the_command_line():
    for module, deps in _imports().items():
        if not _is_command_line(module) and module != "gifquant":
            assert not [d for d in deps if _is_command_line(d)], module


def _is_command_line(module: str) -> bool:
    parts = module.split(".")
    return "_cli" in parts or "_command" in parts or "__main__" in parts


def test_library_imports_no_tqdm():
    """Only the command line draws a bar: the library reports progress through a callback."""
    code = (
        "import sys, gifquant; "
        "[getattr(gifquant, n) for n in gifquant.__all__ if n not in ('__version__', 'main')]; "
        "import gifquant._run.batch, gifquant._run.size, gifquant._pictures.grid; "
        "print('tqdm' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"
    for module in _imports():  # not even inside a function
        if not _is_command_line(module):
            assert "tqdm" not in _path(module).read_text(), module


# Imported where they are used, not at start-up (issue 27): a mistyped command or flag
# (difflib), scratch files (tempfile), folders removed (shutil), the --help text's width
# (argparse's own asks shutil, with bz2 and lzma), comparison labels (Pillow's drawing).
NOT_AT_START = ("difflib", "tempfile", "shutil", "bz2", "lzma", "PIL.ImageDraw", "PIL.ImageFont")


def test_a_gif_run_imports_nothing_it_does_not_use(clip_gif, tmp_path):
    """Start-up: a GIF converted by the command never imports the modules only other runs
    need (child processes: Pillow's own Image.open imports subprocess, so only the command
    line is checked for it)."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['gifquant', {str(clip_gif)!r}, {str(tmp_path / 'out.gif')!r}, '-q', '-y']\n"
        "try:\n"
        "    runpy.run_module('gifquant', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exc:\n"
        "    print(exc.code)\n"
        f"print(','.join(m for m in {NOT_AT_START!r} if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split("\n")[:2] == ["0", ""], r.stdout + r.stderr
    assert (tmp_path / "out.gif").stat().st_size > 0
    code = (
        "import sys, gifquant._cli; from gifquant._cli import convert; convert.build_parser()\n"
        f"print(','.join(m for m in {(*NOT_AT_START, 'subprocess')!r} if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""


def _path(module: str) -> Path:
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    return path if path.exists() else PACKAGE.parent / module.replace(".", "/") / "__init__.py"


def _imports() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports, anywhere in it (inside
    functions too; not under ``if TYPE_CHECKING``, which never runs)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = []
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = [f"{target}.{a.name}" for a in node.names]
                deps |= {m for m in subs if m in modules} or {target}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def test_no_import_cycles():
    graph = _imports()
    assert len(graph) > 30  # the walk found the package
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = path[path.index(module) :] + [module]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for dep in sorted(graph[module]):
            visit(dep, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_exported_names():
    assert set(gifquant.__all__) == {
        "__version__",
        "Animation",
        "BatchReport",
        "FileRecord",
        "ClipInfo",
        "CompareReport",
        "Palette",
        "PaletteReport",
        "ConvertReport",
        "Frame",
        "GifquantError",
        "KMeansResult",
        "QualityMeter",
        "QuantizeOptions",
        "QuantizedFrame",
        "Settings",
        "Stats",
        "TemporalQuantizer",
        "compare",
        "batch",
        "convert",
        "kmeans",
        "main",
        "palette",
        "quantize",
    }
    for name in gifquant.__all__:
        assert getattr(gifquant, name).__doc__ or name == "__version__", name
        # as httpx does: the public names say where to find them, not the private module
        assert name == "__version__" or getattr(gifquant, name).__module__ == "gifquant", name
    # Once every module is loaded, the public names are exactly __all__: the modules are
    # private (_kmeans, _io, ...), and no module shadows a function of the same name.
    importlib.import_module("gifquant._cli")  # loads the whole command line
    assert callable(gifquant.quantize) and callable(gifquant.convert)
    public = {n for n in vars(gifquant) if not n.startswith("_")}
    assert public <= set(gifquant.__all__) and set(gifquant.__all__) <= set(dir(gifquant))


def test_library_errors_name_no_command_line_flags():
    """The library's messages name settings by keyword; only the command line says flags."""
    from gifquant._cli import args, batch, compare, convert, palette

    parsers = [
        convert.build_parser(),
        batch.build_batch_parser(),
        compare.build_parser(),
        palette.build_parser(),
    ]
    flags = {o for p in parsers for a in p._actions for o in a.option_strings} - {"-h"}
    assert set(args.FLAGS.values()) <= flags
    # (gifsicle's own options, "gifsicle --lossy failed", are gifsicle's, not ours)
    flag = re.compile(
        r"(?<![\w-])(?<!gifsicle )(" + "|".join(map(re.escape, sorted(flags))) + r")(?![\w-])"
    )
    found = []
    for path in PACKAGE.rglob("*.py"):
        if _is_command_line(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                for const in ast.walk(node.exc):
                    if isinstance(const, ast.Constant) and isinstance(const.value, str):
                        text = const.value
                        if m := flag.search(text) or re.search(r"(?<![\w-])(--?)$", text):
                            found.append(f"{path.name}:{node.lineno}: {m.group(1)}")
    assert not found
