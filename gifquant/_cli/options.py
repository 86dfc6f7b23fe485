"""Every option of every command, once: the flags and type of each, a line each
(``OPTIONS``), their help texts (``HELP``), and the sections of the help that list them
(``SECTIONS``). A command takes options by name (``COMMANDS``, ``command_parser``), with what
differs for it (a list of values for ``compare``'s rows, a help of its own); a new option is a
row in ``OPTIONS``, its help in ``HELP`` and its name in the commands that take it. An
option that sets a setting has the settings' default (``option_keywords``): each default is
written once, in ``_run.settings`` or ``QuantizeOptions``."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field

from .._core.colour import SPACES
from .._core.dither import DITHERS
from .._core.kmeans import INITS, METRICS
from .._core.options import DEFAULT_K
from .._core.representative import REPRESENTATIVES
from .._io.streams import DEFAULT_MAX_CLIP_PIXELS, DEFAULT_MAX_PIXELS, OUTPUT_FORMATS
from .._run.settings import LOOP_MAX, LOSSY_MAX, MAX_SPEED, Settings
from .._version import __version__
from .args import (
    MAX_BUDGET,
    MAX_DE,
    MAX_DITHER,
    MAX_ENHANCE,
    MAX_FRAMES,
    MAX_SEED,
    Parser,
    colour_value,
    number,
    positive_int,
    rate,
    scale_value,
    scene_threshold,
    size_value,
    strength,
    time_value,
)


@dataclass(frozen=True)
class Option:
    """One option: its flags, ``add_argument``'s keywords and, for options that exclude each
    other, a tag they share."""

    flags: tuple[str, ...]
    keywords: dict = field(default_factory=dict)
    exclusive: str | None = None


def option(*flags: str, exclusive: str | None = None, **keywords) -> Option:
    return Option(flags, keywords, exclusive)


# Each setting's default, by its keyword (``Settings.from_keywords``').
SETTING_DEFAULTS = Settings().keywords()


def strength_option(flag: str, most: float) -> Option:
    """A strength: auto (1.0, the default), off (0.0) or a number 0..``most``."""
    return option(flag, type=strength(most), metavar="auto|off|S")


OPTIONS: dict[str, Option] = {
    # -k and --lossy default to None, not the settings': --max-size searches them when not given
    "k": option("-k", "--colours", "--colors", dest="k", type=positive_int(1, 256), default=None),
    "seeded": option(
        "--seeded", exclusive="mode", dest="seeded", action="store_true", default=True
    ),
    "random": option("--random", exclusive="mode", dest="seeded", action="store_false"),
    "metric": option("--metric", choices=METRICS),
    "space": option("--space", choices=SPACES),
    "init": option("--init", choices=INITS),
    "n_init": option("--n-init", type=positive_int(1, 100)),
    "max_iter": option("--max-iter", type=positive_int(1, 10000)),
    "tol": option("--tol", type=number(0, MAX_DE)),
    "seed": option("--seed", type=positive_int(0, MAX_SEED)),
    "palette_hysteresis": option("--palette-hysteresis", type=number(0, MAX_DE), metavar="DE"),
    "palette_memory": option("--palette-memory", type=number(0, 1, below_hi=True), metavar="M"),
    "scene_threshold": option("--scene-threshold", type=scene_threshold, metavar="T"),
    "no_delta": option("--no-delta", dest="delta", action="store_false"),
    "merge_duplicates": option("--merge-duplicates", action="store_true"),
    "dither": option("--dither", choices=DITHERS),
    "dither_strength": option("--dither-strength", type=number(0, MAX_DITHER)),
    "denoise": strength_option("--denoise", 8),
    "deband": strength_option("--deband", 4),
    "enhance": option("--enhance", type=number(0, MAX_ENHANCE), metavar="F"),
    "min_saturation": option("--min-saturation", type=number(0, 1), metavar="S"),
    "representative": option("--representative", choices=REPRESENTATIVES),
    "palette_from": option("--palette-from", exclusive="other", metavar="FILE"),
    "transfer": option("--transfer", exclusive="other", metavar="FILE"),
    "transfer_colours": option("--transfer-colours", metavar="N", type=positive_int(1, 256)),
    "format": option("-f", "--format", dest="format"),
    "ss": option("--ss", type=time_value(False), metavar="T"),
    "t": option("--t", type=time_value(True), metavar="T"),
    "frames": option("--frames", type=positive_int(1, MAX_FRAMES), metavar="N"),
    "speed": option("--speed", type=number(0.01, MAX_SPEED), metavar="F"),
    "fps": option("--fps", type=rate, metavar="F"),
    "scale": option("--scale", type=scale_value, metavar="W:H"),
    "loop": option("--loop", type=positive_int(-1, LOOP_MAX), metavar="N"),
    "matte": option("--matte", type=colour_value, metavar="COLOUR"),
    "alpha_threshold": option("--alpha-threshold", type=positive_int(0, 255), metavar="A"),
    "lossy": option("--lossy", type=positive_int(0, LOSSY_MAX), default=None, metavar="N"),
    "max_size": option("--max-size", type=size_value, metavar="SIZE"),
    "compare": option("--compare", metavar="PATH"),
    "panels": option("--panels"),
    "max_pixels": option("--max-pixels", type=positive_int(1, MAX_BUDGET)),
    "max_clip_pixels": option("--max-clip-pixels", type=positive_int(0, MAX_BUDGET)),
    "overwrite": option("-y", "--overwrite", exclusive="overwrite", action="store_true"),
    "no_overwrite": option("-n", "--no-overwrite", exclusive="overwrite", action="store_true"),
    "quiet": option("-q", "--quiet", action="store_true"),
    "stats": option("--stats", action="store_true"),
    "progress": option("--progress", action="store_true"),
    # batch's own
    "inputs": option("inputs", nargs="+", metavar="INPUT"),
    "out_dir": option("--out-dir", required=True, metavar="DIR"),
    "jobs": option("--jobs", "-j", type=positive_int(1, 4096), default=None, metavar="N"),
    "dask": option("--dask", metavar="ADDRESS"),
    "summary": option("--summary", metavar="FILE.json"),
    # compare's own
    "modes": option("--modes", nargs="+", choices=("random", "seeded"), default=None),
    "panel_width": option("--panel-width", type=int, default=None, metavar="W"),
    "no_source": option("--no-source", dest="source", action="store_false"),
    # palette's own
    "text_format": option("--format", dest="fmt", choices=("json", "gpl", "hex"), default=None),
    "text_output": option("-o", "--output"),
    "swatch": option("--swatch", metavar="PNG"),
    "swatch_size": option("--swatch-size", default="600x80", metavar="WxH"),
    "timeline": option("--timeline", metavar="PNG"),
    "timeline_px": option("--timeline-px", type=positive_int(1, 64), default=4, metavar="N"),
    "replaced": option("--replaced", metavar="OUT"),
    "plot3d": option("--plot3d", metavar="FILE"),
    # the main command's own
    "report": option("--report", metavar="FILE.json"),
    "version": option("--version", action="version", version=f"gifquant {__version__}"),
}


# Each option's help text, by name (``%(default)s``: the default the parser shows).
HELP = {
    "k": (
        f"palette entries per frame, 1..256 (default {DEFAULT_K}, every command's; with "
        "--max-size, the most the search may use, else 256)"
    ),
    "seeded": "start each frame from the previous frame's centroids (default)",
    "random": "re-initialise every frame: the flickering baseline",
    "metric": "euclidean: k-means; manhattan: L1 k-medians (default %(default)s)",
    "space": "colour space the clustering runs in (default %(default)s)",
    "init": "initialisation of the first frame (and of every frame with --random)",
    "n_init": "restarts of an initialisation, the lowest inertia wins (default %(default)s)",
    "max_iter": "Lloyd iterations per frame at most (default %(default)s)",
    "tol": "stop when no centroid moves more than this (colour-space units, 0..100)",
    "seed": "random seed: the same seed gives the same output (default %(default)s)",
    "palette_hysteresis": (
        "a palette entry's colour changes only once its centroid moved more than this "
        "(CIE76 dE, 0..100), or its cluster's spread if that is less (0 = off; default "
        "%(default)s)"
    ),
    "palette_memory": (
        "mini-batch k-means: how much of each centre's pixel mass carries over to the "
        "next frame (0..0.999), so the palette follows a change over about 1/(1-M) frames; "
        "0 = a full k-means on every frame, seeded from the last (default %(default)s)"
    ),
    "scene_threshold": (
        "colour-histogram distance (0..1) that counts as a scene cut and "
        "re-initialises the palette; 'off' to never (default %(default)s)"
    ),
    "no_delta": (
        "write every GIF frame in full (default: only what changed, the rest "
        "transparent; full frames also mean at most K colours on screen)"
    ),
    "merge_duplicates": (
        "fold a frame that changes nothing into the previous frame's delay (the frame count drops)"
    ),
    "dither": (
        "none (default), bayer or blue-noise (ordered, fixed in screen space), "
        "floyd-steinberg (error diffusion on changed pixels only)"
    ),
    "dither_strength": (
        f"dither amplitude 0..{MAX_DITHER:g}, 1.0 = one palette step (default %(default)s)"
    ),
    "denoise": (
        "hold camera noise in the source still before quantizing (fewer bytes, no "
        "shimmer on still surfaces): auto (default) measures each clip's noise and leaves a "
        "clip with none untouched; off; or a strength S, 0..8, that scales the thresholds "
        "(1 = auto's, 2 = twice the measured noise)"
    ),
    "deband": (
        "keep smooth gradients free of bands: palette entries weighted to where errors "
        "show, and a fine still dither between close entries of smooth areas only; auto "
        "(default), off, or a strength S, 0..4"
    ),
    "enhance": (
        "scale each colour's saturation around its grey level before clustering, as "
        f"PIL's ImageEnhance.Color: 0 grey, 1 unchanged (default), up to {MAX_ENHANCE:g}; "
        "the output shows the enhanced colours"
    ),
    "min_saturation": (
        "leave colours of HSV saturation below S (0..1) out of the fit, so the palette "
        "holds the salient colours; every pixel is still drawn with its nearest entry "
        "(default 0: fit every colour)"
    ),
    "representative": (
        "an entry's colour: its cluster's mean (default) or mode, its most common colour "
        "(a colour the frame holds)"
    ),
    "palette_from": (
        "quantize to a fixed palette instead of clustering: a .gpl, .json or .hex palette "
        "file (as 'gifquant palette' writes them), or an image or clip (its palette of -k "
        "colours); the output shows only those colours"
    ),
    "transfer": (
        "move the colours onto another image's or clip's palette (or a palette file's) "
        "before quantizing: clusters matched on lightness and share, shading kept"
    ),
    "transfer_colours": (
        "colours of the --transfer palette taken from an image or clip, and clusters "
        "the clip is matched in, 1..256 (default %(default)s)"
    ),
    "format": f"output format ({', '.join(OUTPUT_FORMATS)}); default from the extension",
    "ss": "start at T seconds",
    "t": "keep T seconds",
    "frames": "write at most N frames (1..10^9)",
    "speed": (
        "play F times as fast, 0.01..100 (0.5: half speed): every frame is kept and shown "
        "1/F as long; --ss and --t are the source's times, --fps the output's rate"
    ),
    "fps": "resample to F frames per second, 0.01..100 (frames dropped or repeated, timing kept)",
    "scale": "resize; -1 for one side keeps the aspect ratio (e.g. 480:-1)",
    "loop": (
        "GIF/APNG loop count: 0 forever, -1 play once, N plays N+1 times (ffmpeg's "
        "-loop); default: the input GIF's, forever for video"
    ),
    "matte": (
        "composite transparent and semi-transparent pixels over this colour (a name or "
        "#rrggbb; default white); mp4, webm and y4m always are, GIF and PNG keep pixels under "
        "--alpha-threshold transparent"
    ),
    "alpha_threshold": (
        "pixels with alpha below A (0..255) are transparent in GIF and PNG output "
        "(default %(default)s, as ffmpeg's paletteuse)"
    ),
    "lossy": (
        f"GIF: gifsicle's lossy LZW compression, 0..{LOSSY_MAX} (20-80 typical: "
        "smaller files, some grain); needs pip install 'gifquant[lossy]'"
    ),
    "max_size": (
        "GIF: keep the output under SIZE bytes (K, M, G = powers of 1024, e.g. 10M), "
        "searching k, lossy, scale and fps on a probe of the clip"
    ),
    "compare": (
        "also write a side-by-side comparison animation, in the format its extension "
        "names (.gif, .mp4, .webm, .y4m, .png)"
    ),
    "panels": (
        "comparison panels, comma-separated: random, seeded, original, k=N, "
        "metric=M, space=S (default random,seeded)"
    ),
    "max_pixels": f"refuse frames larger than this many pixels (default {DEFAULT_MAX_PIXELS})",
    "max_clip_pixels": (
        "refuse clips that decode to more pixels than this in all, 0 for no limit "
        f"(default {DEFAULT_MAX_CLIP_PIXELS} for GIFs and images, where a few bytes can claim "
        "that many; no limit for video, whose length is its own)"
    ),
    "overwrite": "overwrite existing outputs",
    "no_overwrite": (
        "never overwrite an existing output, and do not ask (without -y or -n gifquant "
        "asks when stdin is a terminal and refuses otherwise)"
    ),
    "quiet": "print nothing but errors",
    "stats": (
        "measure the output against the source and print its mean dE and flicker (and "
        "each comparison panel's); costs about as much CPU as the quantizing"
    ),
    "progress": "show the progress bar even when stderr is not a terminal",
    "inputs": (
        "a glob (quoted; ** recursive), a folder (walked recursively), a list file "
        "(.txt, one path a line; - reads the list from stdin) or a file"
    ),
    "out_dir": "the folder the outputs go to",
    "jobs": f"worker processes (default: the cores, {os.cpu_count()})",
    "dask": (
        "run on a Dask cluster: its scheduler's address (tcp://host:8786), or 'local' "
        "for a LocalCluster of --jobs processes (needs gifquant[dask])"
    ),
    "summary": (
        "write the totals and a record per file (settings, figures, error) as JSON (- for stdout)"
    ),
    "modes": "timeline rows for these modes, side by side (e.g. random seeded)",
    "panel_width": "scale a wider source down to W pixels a panel (default 320)",
    "no_source": "leave the source panel out",
    "text_format": "text form (default: from -o's extension, else json)",
    "text_output": "write the text here instead of stdout",
    "swatch": (
        "a bar, each colour as wide as its share (- for stdout, with -o FILE: one output "
        "may go to stdout)"
    ),
    "swatch_size": "(default %(default)s)",
    "timeline": "one column per frame, its palette stacked by share (- for stdout, as --swatch)",
    "timeline_px": "timeline pixels per frame, 1..64 (default %(default)s)",
    "replaced": (
        "the input with each pixel replaced by its palette colour (any output "
        "format: .png, .gif, .mp4, ...)"
    ),
    "plot3d": (
        "sampled pixels in --space's space coloured by cluster: .html (plotly, "
        "gifquant[plot]) or .png (a 3-D view with ticks)"
    ),
    "report": (
        "also write a record per frame (dE, flicker, incoherence, colours on screen, "
        "palette with shares, drift, scene cut, bytes) and a summary as JSON"
    ),
}


# The sections of a command's help that list options other than its own, and the options
# each lists (those a command takes).
SECTIONS = {
    "colour picking": "enhance min_saturation representative",
    "palettes of other files": "palette_from transfer transfer_colours",
    "cutting and resampling (ffmpeg's meanings)": "ss t frames speed fps scale",
    "loop, matte, lossy compression, size target": "loop matte alpha_threshold lossy max_size",
}
SECTION_OF = {name: title for title, names in SECTIONS.items() for name in names.split()}

# The options that say how a file is converted, the main command's and batch's (which
# applies them to each file), and those that say how a run goes.
FILE_OPTIONS = (
    "k seeded random metric space init n_init max_iter tol seed palette_hysteresis "
    "palette_memory scene_threshold no_delta merge_duplicates dither dither_strength denoise "
    "deband enhance min_saturation representative palette_from transfer transfer_colours format "
    "ss t frames speed fps scale loop matte alpha_threshold lossy max_size"
)
RUN_OPTIONS = "max_pixels max_clip_pixels overwrite no_overwrite quiet stats progress"


@dataclass(frozen=True)
class Command:
    """A command's parser: its name and description, its positional arguments (name: help)
    and the ``OPTIONS`` it takes (names, in the order of its help)."""

    prog: str
    description: str
    positionals: dict[str, str]
    options: str
    stray: str | None = None  # said of an argument too many


# The subcommands, a line each: in the main command's help and an unknown command's error.
SUBCOMMANDS = {
    "batch": ("INPUT... --out-dir DIR", "many files, in worker processes or on a Dask cluster"),
    "compare": ("IN OUT [-k K...]", "an animated grid of settings side by side"),
    "palette": ("IN [-k K]", "a clip's palette, as text and pictures"),
}
COMMAND_LIST = "commands (each with its own --help):\n" + "\n".join(
    f"  gifquant {name} {args:<23} {what}" for name, (args, what) in SUBCOMMANDS.items()
)

COMMANDS = {
    "main": Command(
        "gifquant",
        "Re-encode an animated GIF, image or video with K colours per frame, seeding each "
        "frame's k-means from the previous one so the colours do not flicker.",
        {
            "input": "input GIF, image or video, or - for stdin (y4m or GIF)",
            "output": "output file, or - for stdout (needs -f)",
        },
        f"{FILE_OPTIONS} compare panels {RUN_OPTIONS} report version",
    ),
    "batch": Command(
        "gifquant batch",
        "Re-encode many files with the main command's options, in worker processes or on a "
        "Dask cluster; outputs mirror the input tree under --out-dir, and those that exist are "
        "skipped (unless -y), so a stopped batch resumes.",
        {},
        f"inputs out_dir jobs dask summary {FILE_OPTIONS} {RUN_OPTIONS} version",
    ),
    "compare": Command(
        "gifquant compare",
        "An animated grid: the source and every product of k values (columns) and modes, "
        "metrics, colour spaces and representatives (rows), each panel labelled with its "
        "setting and its measured dE, flicker (fl) and colours on screen (c).",
        {"input": "GIF, image or video", "output": "the grid: .gif, .mp4, .webm, .y4m, .png"},
        "k modes metric space representative denoise deband enhance min_saturation panel_width "
        "no_source ss t frames format overwrite no_overwrite quiet",
    ),
    "palette": Command(
        "gifquant palette",
        "The palette of an image or a clip: each frame's colours and the whole clip's, with "
        "their shares; as JSON, GIMP .gpl or hex lines, and as pictures.",
        {"input": "GIF, image or video file"},
        "k seeded random space metric enhance min_saturation representative ss t frames "
        "text_format text_output swatch swatch_size timeline timeline_px modes replaced plot3d "
        "overwrite no_overwrite quiet",
        stray="palette takes one input: write its text with -o FILE, its picture with "
        "--swatch PNG (or --timeline, --replaced, --plot3d)",
    ),
}


def command_parser(command: str, **changes: dict) -> Parser:
    """The parser of ``command`` (a key of ``COMMANDS``): its positional arguments, then its
    ``OPTIONS``, each in its help section (``SECTIONS``) and with the others of its exclusive tag;
    ``changes``: by option name, the ``add_argument`` keywords that differ for this command."""
    spec = COMMANDS[command]
    epilog = COMMAND_LIST if command == "main" else None
    p = Parser(spec.prog, spec.description, epilog=epilog, stray=spec.stray)
    for name, text in spec.positionals.items():
        p.add_argument(name, help=text)
    sections: dict[str | None, argparse._ActionsContainer] = {None: p}
    exclusive: dict[str, argparse._ActionsContainer] = {}
    for name in spec.options.split():
        opt, section = OPTIONS[name], SECTION_OF.get(name)
        if section not in sections:
            sections[section] = p.add_argument_group(section)
        where = sections[section]
        if opt.exclusive is not None:
            if opt.exclusive not in exclusive:
                exclusive[opt.exclusive] = where.add_mutually_exclusive_group()
            where = exclusive[opt.exclusive]
        where.add_argument(*opt.flags, **option_keywords(name, changes.get(name)))
    return p


def option_keywords(name: str, changes: dict | None = None) -> dict:
    """``add_argument``'s keywords of option ``name`` (a key of ``OPTIONS``): the table's, then
    ``changes``, and its ``HELP`` unless ``changes`` has one; an option that takes a setting's
    value and names no default of its own has the setting's (``SETTING_DEFAULTS``)."""
    keywords = {**OPTIONS[name].keywords, **(changes or {})}
    if name in HELP:
        keywords.setdefault("help", HELP[name])
    dest = keywords.get("dest", name)
    if "default" not in keywords and "action" not in keywords and dest in SETTING_DEFAULTS:
        keywords["default"] = SETTING_DEFAULTS[dest]
    return keywords
