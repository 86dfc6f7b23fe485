"""What the command line's subcommands share: the parser that fails in one line, the
argument types with their ranges, the colour-picking options, the output check and ``say``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import textwrap

from .._core.options import STRENGTH_WORDS
from .._errors import GifquantError
from .._io.atomic import is_special
from .._io.matte import parse_colour
from .._io.resize import parse_scale
from .._io.streams import check_paths
from .._run.settings import parse_size

# The flag that sets each setting the library's messages name by its keyword
# (GifquantError.for_command_line); tests/test_docs.py checks each is a flag of a command.
FLAGS = {
    "k": "-k",
    "format": "-f",
    "ss": "--ss",
    "t": "--t",
    "scale": "--scale",
    "loop": "--loop",
    "matte": "--matte",
    "lossy": "--lossy",
    "max_size": "--max-size",
    "max_pixels": "--max-pixels",
    "max_clip_pixels": "--max-clip-pixels",
    "compare": "--compare",
    "panels": "--panels",
    "palette_from": "--palette-from",
    "transfer": "--transfer",
    "out_dir": "--out-dir",
    "client": "--dask",
    "panel_width": "--panel-width",
    "modes": "--modes",
    "metrics": "--metric",
    "spaces": "--space",
    "representatives": "--representative",
    "plot3d": "--plot3d",
    "denoise": "--denoise",
    "deband": "--deband",
}


def message(exc: GifquantError) -> str:
    """A library error as the command line says it: settings named by their flags."""
    return exc.for_command_line(FLAGS)


# Spellings of -k that k-means tutorials and other tools use.
K_SPELLINGS = ("--clusters", "--n-clusters", "-c", "--k", "--n-colors", "--n-colours", "-K")


class Parser(argparse.ArgumentParser):
    """A command's parser: no abbreviated flags, and a mistake said in one line (exit 2), an
    unknown flag with the closest flag there is. ``stray``: what to say of an argument too
    many (where its outputs go)."""

    def __init__(self, prog: str, description: str, *, epilog=None, stray=None) -> None:
        super().__init__(
            prog=prog,
            description=textwrap.fill(description, 79),
            epilog=epilog,
            allow_abbrev=False,
            formatter_class=_Formatter,
        )
        self.stray = stray

    def error(self, message: str) -> None:  # one line, exit 2, like argparse but without usage
        unknown = message.removeprefix("unrecognized arguments: ")
        if unknown != message:
            message += self.hint(unknown.split())
        raise GifquantError(message)

    def hint(self, unknown: list[str]) -> str:
        """What to say of arguments the parser does not know: the flag closest to the first
        unknown flag, or ``stray``."""
        flags = [a.split("=", 1)[0] for a in unknown if a.startswith("-") and a != "-"]
        known = list(self._option_string_actions)
        if flags and flags[0] in K_SPELLINGS and "-k" in known:
            return " (did you mean -k? it sets the number of colours, e.g. -k 4)"
        if flags:
            import difflib  # here: only a mistyped flag needs it

            close = difflib.get_close_matches(flags[0], known, n=1, cutoff=0.6)
            return f" (did you mean {close[0]}?)" if close else f" (see {self.prog} --help)"
        return f"; {self.stray}" if self.stray else ""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's, as wide as ``shutil.get_terminal_size`` says, without shutil: argparse makes
    a formatter for each option it adds, and shutil (with bz2 and lzma) was 2 ms of the
    start-up of every run, which never prints the help."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns() - 2)


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: $COLUMNS, else stdout's terminal's, else 80."""
    with contextlib.suppress(KeyError, ValueError):
        if (columns := int(os.environ["COLUMNS"])) > 0:
            return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


# Ranges of the numeric options (also in --help and the README).
MAX_DE = 100.0  # CIE76 dE thresholds
MAX_DITHER = 8.0
MAX_FPS = 100  # a GIF delay is whole centiseconds
MAX_FRAMES = 10**9
MAX_SEED = 2**32 - 1
MAX_BUDGET = 10**12  # pixels
MAX_ENHANCE = 4.0


def positive_int(lo: int, hi: int | None = None):
    def parse(text: str) -> int:
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number in {rng}") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{v} is outside {rng}")
        return v

    return parse


def number(lo: float, hi: float, *, below_hi: bool = False):
    """A finite number in lo..hi (or lo <= x < hi with ``below_hi``)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (lo <= v < hi if below_hi else lo <= v <= hi):  # NaN and inf fail too
            rng = f"at least {lo:g} and less than {hi:g}" if below_hi else f"{lo:g}..{hi:g}"
            raise argparse.ArgumentTypeError(f"{text} is outside {rng}")
        return v

    return parse


def strength(hi: float):
    """``auto``, ``off`` or a strength 0..hi, as a float (``auto`` 1.0, ``off`` 0.0)."""
    in_range = number(0, hi)

    def parse(text: str) -> float:
        word = text.strip().lower()
        if word in STRENGTH_WORDS:
            return STRENGTH_WORDS[word]
        try:
            return in_range(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not auto, off or a strength 0..{hi:g}"
            ) from None

    return parse


def scene_threshold(text: str) -> float | None:
    if text.lower() in ("off", "none"):
        return None
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'off'") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"{text} is outside (0, 1]")
    return v


def time_value(positive: bool):
    """Seconds in ffmpeg's syntax: ``[[HH:]MM:]SS[.frac]`` or a number with s/ms/us."""

    def parse(text: str) -> float:
        t = text.strip()
        try:
            if ":" in t:
                parts = t.split(":")
                if len(parts) > 3 or any(p == "" for p in parts):
                    raise ValueError
                v = 0.0
                for p in parts:
                    v = v * 60 + float(p)
            else:
                unit = 1.0
                for suffix, mul in (("ms", 1e-3), ("us", 1e-6), ("s", 1.0)):
                    if t.endswith(suffix):
                        t, unit = t[: -len(suffix)], mul
                        break
                v = float(t) * unit
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a time (seconds, or [HH:]MM:SS[.frac])"
            ) from None
        if not (v >= 0 and v < 1e9) or (positive and v == 0):
            rng = "0 < T < 1e+09" if positive else "0..1e+09"
            raise argparse.ArgumentTypeError(f"{text} is outside {rng} seconds")
        return v

    return parse


def rate(text: str) -> float:
    """A frame rate: a number or a fraction like 30000/1001."""
    try:
        if "/" in text:
            num, den = text.split("/")
            v = float(num) / float(den)
        else:
            v = float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a frame rate (e.g. 12 or 30000/1001)"
        ) from None
    if not 0.01 <= v <= MAX_FPS:
        raise argparse.ArgumentTypeError(f"{text} is outside 0.01..{MAX_FPS} frames per second")
    return v


def scale_value(text: str) -> tuple[int, int]:
    try:
        return parse_scale(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def colour_value(text: str) -> tuple[int, int, int]:
    try:
        return parse_colour(text)
    except GifquantError as exc:
        raise argparse.ArgumentTypeError(message(exc).removeprefix("--matte: ")) from None


def size_value(text: str) -> int:
    try:
        return parse_size(text)
    except GifquantError as exc:
        raise argparse.ArgumentTypeError(message(exc).removeprefix("--max-size: ")) from None


def colour_settings(args: argparse.Namespace) -> dict:
    """The options of ``add_colour_options`` as ``QuantizeOptions`` fields."""
    return dict(
        enhance=args.enhance,
        min_saturation=args.min_saturation,
        representative=args.representative,
    )


def check_output(inp: str, out: str, fmt: str, args: argparse.Namespace) -> None:
    """Refuse a bad output path; for an existing one follow -y / -n, or ask like ffmpeg."""
    check_paths(inp, out, fmt)  # the input, a folder, a missing or read-only folder
    may_replace(out, args, stdin_free=inp != "-")


def may_replace(out: str, args: argparse.Namespace, *, stdin_free: bool) -> None:
    """For an existing output follow -y / -n, or ask like ffmpeg when stdin is a terminal
    (and not an input: ``stdin_free``)."""
    if out == "-" or not os.path.lexists(out) or args.overwrite:
        return
    if args.no_overwrite:  # as ffmpeg's -n: a device or FIFO that exists is refused too
        raise GifquantError(f"{out}: already exists; not overwriting (-n)")
    if is_special(out):
        return  # written into, not replaced: nothing to ask
    if not stdin_free or sys.stdin is None or not sys.stdin.isatty() or sys.stderr is None:
        raise GifquantError(f"{out}: already exists (use -y to overwrite)")
    say(f"File '{out}' already exists. Overwrite? [y/N] ", prefix="", end="")
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise GifquantError(f"{out}: already exists; not overwriting")


def say(text: str, *, prefix: str = "gifquant: ", end: str = "\n") -> None:
    """One line on stderr (nothing when stderr is closed)."""
    if sys.stderr is not None:
        with contextlib.suppress(Exception):
            print(f"{prefix}{text}", file=sys.stderr, end=end, flush=True)
