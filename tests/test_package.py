"""Package shape: the pure core stays pure, the exported names are the documented ones."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gifquant

CORE = [
    "_colour",
    "_distinct",
    "_dither",
    "_frames",
    "_kmeans",
    "_metrics",
    "_options",
    "_remap",
    "_representative",
    "_temporal",
    "_transfer",
]
PACKAGE = Path(gifquant.__file__).parent


def test_pure_core_imports_no_io_libraries():
    """The numeric core knows nothing of files, processes, bars or command lines."""
    code = (
        "import sys; "
        + "; ".join(f"import gifquant.{m}" for m in CORE)
        + "; bad = [m for m in ('imageio', 'cv2', 'tqdm', 'PIL', 'argparse', 'subprocess',"
        " 'gifquant._io') if m in sys.modules]; print(','.join(bad))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""


def test_library_imports_no_tqdm():
    """Only the command line draws a bar: the library reports progress through a callback."""
    code = (
        "import sys, gifquant; "
        "[getattr(gifquant, n) for n in gifquant.__all__ if n not in ('__version__', 'main')]; "
        "import gifquant._batch, gifquant._grid, gifquant._palette, gifquant._sizing; "
        "print('tqdm' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"
    graph = _imports()
    library = [m for m in graph if not m.rpartition(".")[2].startswith(("_cli", "_command"))]
    for module in library:  # not even inside a function
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
        assert "tqdm" not in path.read_text(), module


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
    # Once every module is loaded, the public names are exactly __all__: the modules are
    # private (_kmeans, _io, ...), and no module shadows a function of the same name.
    importlib.import_module("gifquant._cli")  # loads the whole package
    assert callable(gifquant.quantize) and callable(gifquant.convert)
    public = {n for n in vars(gifquant) if not n.startswith("_")}
    assert public <= set(gifquant.__all__) and set(gifquant.__all__) <= set(dir(gifquant))


def test_library_errors_name_no_command_line_flags():
    """The library's messages name settings by keyword; only the command line says flags."""
    from gifquant import _cli, _cli_args, _cli_compare, _cli_palette

    parsers = [
        _cli.build_parser(),
        _cli.build_batch_parser(),
        _cli_compare.build_parser(),
        _cli_palette.build_parser(),
    ]
    flags = {o for p in parsers for a in p._actions for o in a.option_strings} - {"-h"}
    assert set(_cli_args.FLAGS.values()) <= flags
    flag = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(flags))) + r")(?![\w-])")
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name.startswith(("_cli", "_command")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                for const in ast.walk(node.exc):
                    if isinstance(const, ast.Constant) and isinstance(const.value, str):
                        text = const.value
                        if m := flag.search(text) or re.search(r"(?<![\w-])(--?)$", text):
                            found.append(f"{path.name}:{node.lineno}: {m.group(1)}")
    assert not found
