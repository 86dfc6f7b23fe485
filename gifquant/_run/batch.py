"""Convert many files: ``batch`` maps inputs to outputs and runs ``convert`` on each, in a pool
of long-lived worker processes or on a Dask cluster.

Inputs are globs (``**`` recursive), folders (walked recursively), list files (``.txt``, one
path a line; ``-`` reads the list from stdin) or single files. Each output mirrors its input's
path under ``out_dir``, relative to the glob's base (the folders before the first wildcard),
the folder given, or the deepest folder that holds every entry of a list. Two inputs that would
be written to one output are refused before anything runs; an output that exists is skipped
unless ``overwrite``, so a killed batch resumes where it stopped. A file's frames stay in one
worker, which runs ``convert`` one frame at a time (its cores are busy with other files) and
sends back a small ``FileRecord``; a failing file never stops the others. Never prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import glob
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.spawn as _spawn
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .. import _signals as signals
from .._errors import GifquantError, SettingError
from .._io.atomic import process_alive, remove_dead_temps, scratch_folder
from .._io.image import own_process
from .._io.streams import OUTPUT_FORMATS
from .convert import convert
from .once import Stats, read_palettes
from .settings import KEYWORDS, Settings

# What a folder walk picks up: the inputs gifquant reads, by extension.
INPUT_EXTENSIONS = frozenset(
    (".gif", ".png", ".apng", ".jpg", ".jpeg", ".webp", ".y4m")
    + (".mp4", ".m4v", ".webm", ".mov", ".mkv", ".avi", ".mpg", ".mpeg", ".ts", ".flv")
)
# An argument naming an existing file with one of these is a list of inputs.
LIST_EXTENSIONS = (".txt", ".lst", ".list")
# ``convert``'s keywords that are the batch's own business, not a per-file setting.
_NOT_SETTINGS = frozenset(
    {
        "src",
        "dst",
        "format",
        "overwrite",
        "compare",
        "panels",
        "threads",
        "on_progress",
        "on_frame",
        "early",
    }
)


@dataclass(frozen=True)
class FileRecord:
    """What happened to one input of a batch.

    src, dst : the paths; status : ``"done"``, ``"skipped"`` (the output existed) or
    ``"failed"``; error : the one-line reason of a failure (None otherwise); exit_code : the
    code the main command would have given for this file (0, 1 or 2); attempts : runs started
    (2 when a worker died under the first); frames, seconds, bytes_in, bytes_out : figures of a
    converted file (bytes_in for every record whose input could be read); cpu_seconds : the CPU
    time its worker process spent on it; stats : dE, flicker, incoherence and
    colours_on_screen with ``stats=True``; cuts : scene cuts found; in_batch : converted by
    the batch's own process (while its ``LocalCluster`` started), not by a worker
    """

    src: str
    dst: str
    status: str
    error: str | None = None
    exit_code: int = 0
    attempts: int = 1
    frames: int | None = None
    seconds: float | None = None
    bytes_in: int | None = None
    bytes_out: int | None = None
    cpu_seconds: float | None = None
    stats: dict[str, float] | None = None
    cuts: tuple[int, ...] = ()
    in_batch: bool = False
    # The failure itself, for a caller that names settings its own way (the command line's
    # flags: GifquantError.for_command_line); not in as_dict.
    failure: GifquantError | None = dataclasses.field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        """The record as plain JSON values."""
        d = dataclasses.asdict(dataclasses.replace(self, failure=None))
        del d["failure"]
        d["cuts"] = list(self.cuts)
        return d


@dataclass(frozen=True)
class BatchReport:
    """What ``batch`` did: a ``FileRecord`` per input in input order, the wall time of the
    whole batch (``seconds``) and the per-file settings it ran with."""

    records: tuple[FileRecord, ...]
    seconds: float
    settings: Settings = dataclasses.field(default_factory=dict)

    def _count(self, status: str) -> int:
        return sum(r.status == status for r in self.records)

    @property
    def done(self) -> int:
        """Files converted."""
        return self._count("done")

    @property
    def skipped(self) -> int:
        """Files whose output already existed."""
        return self._count("skipped")

    @property
    def failed(self) -> int:
        """Files that could not be converted."""
        return self._count("failed")

    @property
    def ok(self) -> bool:
        """Whether no file failed."""
        return self.failed == 0

    @property
    def bytes_in(self) -> int:
        """Input bytes of the converted files."""
        return sum(r.bytes_in or 0 for r in self.records if r.status == "done")

    @property
    def bytes_out(self) -> int:
        """Output bytes of the converted files."""
        return sum(r.bytes_out or 0 for r in self.records if r.status == "done")

    @property
    def files_per_second(self) -> float:
        """Converted files per second of the batch's wall time."""
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        """The report as plain JSON values (what ``--summary`` writes)."""
        return {
            "done": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "seconds": self.seconds,
            "files_per_second": self.files_per_second,
            "settings": {k: _json_value(v) for k, v in self.settings.items()},
            "records": [r.as_dict() for r in self.records],
        }


@dataclass(frozen=True)
class _Job:
    index: int
    src: str
    dst: str


def batch(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    settings: Settings | None = None,
    *,
    format: str | None = None,
    overwrite: bool = False,
    jobs: int | None = None,
    client=None,
    on_record: Callable[[FileRecord], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    **keywords,
) -> BatchReport:
    """Convert every file ``paths`` names into ``out_dir``, mirroring the input tree.

    Parameters
    ----------
    paths : a glob, folder, list file (``.txt``; ``"-"`` for stdin) or file, or several
    out_dir : the folder the outputs go to (made if missing)
    format : output format for every file; default the input's own when gifquant writes it
        (``gif``, ``mp4``, ``webm``, ``y4m``, ``png``), else ``gif``
    overwrite : convert again a file whose output exists (default: skip it)
    jobs : worker processes of the local pool (default: the CPU count)
    client : run the files on a Dask cluster instead: a ``dask.distributed.Client``, a
        scheduler address (``"tcp://host:8786"``), or ``"local"`` for a ``LocalCluster`` of
        ``jobs`` worker processes; its workers must see the same paths (a shared filesystem)
    on_record : called in this process with each ``FileRecord`` as it comes in
    on_start : called once with the number of inputs, before any is converted
    settings, **keywords : ``convert``'s settings for each file, a ``Settings`` and keywords
        (``k``, ``seeded``, ``dither``, ``fps``, ``scale``, ``stats``, ...; not ``compare``)

    Returns
    -------
    BatchReport

    Raises
    ------
    GifquantError (a ValueError) : no inputs, a glob that matches nothing, two inputs that
        map to one output, an input that would be overwritten; raised before any file runs
    TypeError, ValueError : a bad setting
    """
    started = time.perf_counter()
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out_dir = os.fspath(out_dir)
    settings = _check_settings(settings, keywords)
    fmt = _check_run(format, jobs, client)
    jobs_list = plan(paths, out_dir, fmt)
    _make_folder(out_dir)
    if on_start is not None:
        on_start(len(jobs_list))

    records: dict[int, FileRecord] = {}

    def take(job: _Job, record: FileRecord) -> None:
        records[job.index] = record
        if on_record is not None:
            on_record(record)

    # What killed runs left (a batch killed outright, its workers with it); not a live one's.
    remove_dead_temps([job.dst for job in jobs_list])
    if client is not None and not isinstance(client, str) and not hasattr(client, "submit"):
        raise TypeError(
            "client must be a dask.distributed.Client, a scheduler address or 'local', "
            f"not {type(client).__name__}"
        )
    todo = []
    for job in jobs_list:
        if not overwrite and os.path.lexists(job.dst):
            take(job, FileRecord(job.src, job.dst, "skipped", attempts=0))
        else:
            todo.append(job)
    if todo:
        _run_jobs(todo, settings, client, jobs, take)
    return BatchReport(
        records=tuple(records[j.index] for j in jobs_list),
        seconds=time.perf_counter() - started,
        settings={"format": fmt, **_summary_settings(settings)},
    )


def _check_run(format: str | None, jobs: int | None, client) -> str | None:
    """``batch``'s own arguments checked: the output format (lower case) or None."""
    fmt = None if format is None else format.lower()
    if fmt is not None and fmt not in OUTPUT_FORMATS:
        raise SettingError(
            "unknown output format {value!r} ({format}): choose from {formats}",
            value=format,
            formats=", ".join(OUTPUT_FORMATS),
        )
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError("jobs must be a whole number >= 1")
    if isinstance(client, str) and client != "local":
        _check_address(client)  # before the output folder is made
    return fmt


def _make_folder(out_dir: str) -> None:
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise SettingError("{path}: not a folder ({out_dir})", path=out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise SettingError(
            "{path}: cannot make the folder ({out_dir}): {why}", path=out_dir, why=exc.strerror
        ) from None


def _run_jobs(todo: list[_Job], settings: Settings, client, jobs: int | None, take) -> None:
    """Convert the files of ``todo`` in the pool or on the cluster, each record to ``take``."""
    # Another file's palette is read once here, not by every worker for every file.
    run_settings = read_palettes(settings)
    try:
        if client is not None:
            _run_dask(client, todo, run_settings, take, jobs)
        else:
            _run_pool(todo, run_settings, jobs or os.cpu_count() or 1, take)
    finally:
        # A worker killed under a file (its retry done elsewhere) left its temporary file.
        remove_dead_temps([job.dst for job in todo])


# --------------------------------------------------------------------------------------------
# inputs and outputs


def plan(paths: Iterable[str | os.PathLike], out_dir: str, fmt: str | None) -> list[_Job]:
    """Every input with its output: expanded, mapped under ``out_dir``, checked for
    collisions (nothing has run yet)."""
    out_real = os.path.realpath(out_dir)
    pairs: list[tuple[str, str]] = []  # (src, path relative to out_dir, before the extension)
    for arg in paths:
        pairs.extend(_expand(os.fspath(arg), out_real))
    if not pairs:
        raise GifquantError("no input files")
    jobs: list[_Job] = []
    seen: dict[str, str] = {}  # output (normalised) -> input
    inputs = {os.path.normcase(os.path.realpath(src)) for src, _ in pairs}
    for src, rel in pairs:
        dst = os.path.join(out_dir, os.path.splitext(rel)[0] + "." + _extension(src, fmt))
        key = os.path.normcase(os.path.abspath(dst))
        if key in seen:
            if os.path.realpath(seen[key]) == os.path.realpath(src):
                continue  # the same file named twice
            raise GifquantError(
                f"{seen[key]} and {src} would both be written to {dst}; "
                "convert them in separate batches"
            )
        if os.path.normcase(os.path.realpath(dst)) in inputs:
            raise GifquantError(f"{src}: its output {dst} is an input of this batch")
        seen[key] = src
        jobs.append(_Job(len(jobs), src, dst))
    return jobs


def _extension(src: str, fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    ext = os.path.splitext(src)[1].lower().lstrip(".")
    return ext if ext in OUTPUT_FORMATS else "gif"


def _expand(arg: str, out_real: str) -> Iterator[tuple[str, str]]:
    """(input, its path relative to the output folder) for one argument."""
    if "\0" in arg:
        raise GifquantError(f"{arg!r}: a path cannot hold a NUL byte")
    if arg == "-":
        yield from _listed(sys.stdin, "stdin")
    elif glob.has_magic(arg):
        yield from _matched(arg, out_real)
    elif os.path.isdir(arg):
        yield from _in_folder(arg, out_real)
    elif os.path.isfile(arg) and arg.lower().endswith(LIST_EXTENSIONS):
        yield from _list_file(arg)
    else:
        # A single file; one that is missing is that file's failure, not the batch's.
        yield arg, os.path.basename(arg)


def _matched(pattern: str, out_real: str) -> Iterator[tuple[str, str]]:
    """The files a wildcard pattern matches (none in the output folder), relative to the
    folders before its first wildcard."""
    base = _glob_base(pattern)
    found = sorted(m for m in _glob(pattern) if os.path.isfile(m) and not _inside(m, out_real))
    if not found:
        raise GifquantError(f"{pattern}: no files match")
    for m in found:
        yield m, os.path.relpath(m, base)


def _in_folder(folder: str, out_real: str) -> Iterator[tuple[str, str]]:
    """The GIF, image and video files under ``folder`` (not hidden, not in the output
    folder), relative to it."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and not _inside(os.path.join(root, d), out_real)
        )
        found.extend(
            os.path.join(root, f)
            for f in sorted(files)
            if not f.startswith(".") and os.path.splitext(f)[1].lower() in INPUT_EXTENSIONS
        )
    if not found:
        raise GifquantError(f"{folder}: no GIF, image or video files in this folder")
    for m in found:
        yield m, os.path.relpath(m, folder)


def _list_file(path: str) -> Iterator[tuple[str, str]]:
    """The entries of a list file (see ``_listed``)."""
    try:
        with open(path, encoding="utf-8") as f:
            yield from _listed(f, path)
    except UnicodeDecodeError:
        raise GifquantError(f"{path}: a list file must be UTF-8 text") from None


def _listed(lines: Iterable[str], name: str) -> Iterator[tuple[str, str]]:
    """A list's entries (one path a line; blank lines and ``#`` comments skipped), relative to
    the deepest folder holding them all."""
    entries = [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]
    if any("\0" in e for e in entries):
        raise GifquantError(f"{name}: an entry holds a NUL byte; a path cannot")
    if not entries:
        raise GifquantError(f"{name}: the list names no files")
    common = os.path.commonpath([os.path.dirname(os.path.abspath(e)) for e in entries])
    for e in entries:
        yield e, os.path.relpath(os.path.abspath(e), common)


def _glob(pattern: str) -> list[str]:
    """``glob.glob(pattern, recursive=True)``, but a ``**`` does not descend into a folder the
    walk is already inside (a symlink to an ancestor or to itself), where glob's walk would
    loop until names grow too long."""
    parts = pattern.replace(os.sep, "/").split("/")
    if "**" not in parts:
        return glob.glob(pattern, recursive=True)
    found: list[str] = []
    _glob_walk("/" if parts[0] == "" else "", [p for p in parts if p], (), found)
    return list(dict.fromkeys(found))  # (a ** after a ** finds a file twice)


def _glob_walk(path: str, parts: list[str], above: tuple[str, ...], found: list[str]) -> None:
    """The matches of ``parts`` under the folder ``path`` into ``found``; ``above``: the real
    paths of the folders walked down through to ``path``."""
    if not parts:
        found.append(path)
        return
    part, rest = parts[0], parts[1:]
    here = (*above, os.path.realpath(path or "."))
    if not glob.has_magic(part):
        if os.path.lexists(os.path.join(path, part)):
            _glob_walk(os.path.join(path, part), rest, here, found)
        return
    try:
        names = sorted(os.listdir(path or "."))
    except OSError:
        return
    if part == "**":
        _glob_walk(path, rest, above, found)  # ** matches no folder too
        _glob_descend(path, names, parts, here, found)
        return
    for name in fnmatch.filter(names, part):
        if not name.startswith(".") or part.startswith("."):
            _glob_walk(os.path.join(path, name), rest, here, found)


def _glob_descend(
    path: str, names: list[str], parts: list[str], here: tuple[str, ...], found: list[str]
) -> None:
    """A ``**`` (``parts[0]``) at ``path`` matching one folder or more: on down through each
    of ``names`` (a folder already walked through is a loop), or a file when the ``**`` ends
    the pattern."""
    for name in names:
        sub = os.path.join(path, name)
        if name.startswith("."):
            continue
        if os.path.isdir(sub):
            if os.path.realpath(sub) not in here:  # else a loop
                _glob_walk(sub, parts, here, found)
        elif len(parts) == 1:  # a trailing ** matches files too
            found.append(sub)


def _glob_base(pattern: str) -> str:
    """The folders of ``pattern`` before its first wildcard (``in/**/*.gif`` -> ``in``)."""
    parts = pattern.replace(os.sep, "/").split("/")
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    if not fixed:
        return "."
    return "/".join(fixed) or "/"


def _inside(path: str, folder_real: str) -> bool:
    real = os.path.realpath(path)
    return real == folder_real or real.startswith(folder_real.rstrip(os.sep) + os.sep)


def _check_settings(settings: Settings | None, keywords: dict) -> Settings:
    """The per-file settings, checked once here rather than failing on every file."""
    for name in keywords:
        if name in _NOT_SETTINGS or name not in KEYWORDS:
            raise TypeError(f"batch() got an unexpected setting {name!r}")
    settings = (settings or Settings()).replace(**keywords)
    if settings.write.compare is not None:
        raise TypeError("batch() got an unexpected setting 'compare'")
    return settings


def _summary_settings(settings: Settings) -> dict:
    """The settings a batch ran with, as the summary lists them (each file's own format and
    overwriting are the batch's)."""
    out = settings.keywords()
    for name in ("format", "overwrite", "compare", "panels", "records", "threads"):
        del out[name]
    return out


def _json_value(v):
    return list(v) if isinstance(v, tuple) else v


# --------------------------------------------------------------------------------------------
# one file, in a worker


def convert_one(src: str, dst: str, settings: Settings, attempt: int = 1) -> FileRecord:
    """Convert one file as a batch worker does (one frame at a time), catching its failure
    into the record. Runs in a worker process; a signal there still stops it."""
    global _busy
    _busy = True
    try:
        return _convert_one(src, dst, settings, attempt)
    finally:
        _busy = False


def _convert_one(src: str, dst: str, settings: Settings, attempt: int) -> FileRecord:
    cpu = time.process_time()
    try:
        bytes_in = os.path.getsize(src)
    except OSError:
        bytes_in = None
    try:
        folder = os.path.dirname(dst)
        if folder:
            os.makedirs(folder, exist_ok=True)
        report = convert(
            src,
            dst,
            settings,
            overwrite=True,  # the batch decided: missing, or asked to overwrite
            threads=False,
            on_frame=_check_signal,
        )
    except Exception as exc:  # noqa: BLE001 - every failure is this file's record
        message, code = _describe(exc)
        failure = exc if isinstance(exc, GifquantError) else None
        return FileRecord(
            src, dst, "failed", message, code, attempt, bytes_in=bytes_in, failure=failure
        )
    stats = None
    if report.dE is not None:
        stats = {f.name: getattr(report, f.name) for f in dataclasses.fields(Stats)}
    return FileRecord(
        src,
        dst,
        "done",
        attempts=attempt,
        frames=report.frames,
        seconds=report.seconds,
        bytes_in=bytes_in,
        bytes_out=report.bytes,
        cpu_seconds=time.process_time() - cpu,
        stats=stats,
        cuts=report.cuts,
    )


def _check_signal(i: int) -> None:
    signals.check()  # a signal whose exception was lost in C code


def _describe(exc: Exception) -> tuple[str, int]:
    """The one line and exit code the main command gives for ``exc``."""
    if isinstance(exc, GifquantError):
        return str(exc), exc.exit_code
    if isinstance(exc, FileNotFoundError):
        return f"{exc.filename}: no such file", 2
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}", 1
    if isinstance(exc, MemoryError):
        return "out of memory", 1
    if isinstance(exc, (ValueError, TypeError)):
        return str(exc), 2
    return f"internal error: {type(exc).__name__}: {exc}", 1


def _died(job: _Job, attempt: int, why: str) -> FileRecord:
    return FileRecord(job.src, job.dst, "failed", f"worker died: {why}", 1, attempt)


# --------------------------------------------------------------------------------------------
# the local pool


def _init_worker(pids, batch: int, mp_temp: str | None) -> None:
    """A pool worker: Ctrl-C at the terminal reaches the whole process group, but only the
    batch decides to stop (it sends each worker SIGTERM, which unwinds ``convert`` through its
    clean-up: no ``.part`` file, no ffmpeg left). Its process id goes to ``pids`` (a
    SimpleQueue), for the batch to find it by. It watches the batch (process ``batch``): see
    ``_watch_batch``."""
    pids.put(os.getpid())
    own_process()  # GIFs may be decoded as palette indices (see _io/image.py)
    sys.stderr = _QuietAfterSignal(sys.stderr)
    signals.install()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import threading

    watch = threading.Thread(
        target=_watch_batch, args=(batch, mp_temp), name="gifquant-watch", daemon=True
    )
    watch.start()


class _QuietAfterSignal:
    """A worker's stderr that says nothing once a signal has stopped it: a traceback of its
    shutdown (multiprocessing prints one for any exception there) is nothing the user can act
    on; the batch says what happened."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if signals.received() is not None:
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _worker_excepthook(kind, exc, tb) -> None:
    """The forkserver's and so its workers' excepthook: a worker that fails to start because
    the batch is going away (its semaphore, pipe or socket gone, a signal) says nothing, and
    anything else is one line, not a traceback."""
    if issubclass(kind, (FileNotFoundError, EOFError, ConnectionError, KeyboardInterrupt)):
        return
    with contextlib.suppress(Exception):
        print(f"gifquant: worker: internal error: {kind.__name__}: {exc}", file=sys.stderr)


def _preloaded_by_forkserver() -> bool:
    """Whether this module is being imported as the forkserver's preload (not by the batch)."""
    forkserver = sys.modules.get("multiprocessing.forkserver")
    frame = sys._getframe()
    while forkserver is not None and frame is not None:
        if frame.f_code is forkserver.main.__code__:
            return True
        frame = frame.f_back
    return False


# Windows has no forkserver: spawn's processes there (see ``_context``), which import main.
_ForkServer = getattr(
    multiprocessing.context, "ForkServerContext", multiprocessing.context.SpawnContext
)


class GifquantWorker(_ForkServer.Process):
    """A pool worker process: its name ("GifquantWorker-N") tells the forkserver not to import
    the user's ``__main__`` into it (``_main_left_alone``)."""


class _WorkerContext(_ForkServer):
    Process = GifquantWorker


def _main_left_alone(fixup: Callable[[str], None]) -> Callable[[str], None]:
    """``multiprocessing.spawn``'s step that runs the parent's main script (as
    ``__mp_main__``) in a new process, skipped in gifquant's workers: all they run is
    gifquant's, and a script's top-level calls (the docs' examples, a notebook saved as a
    script) would run again in each. The server's other processes are left as they were."""

    def unless_ours(main: str) -> None:
        if not multiprocessing.current_process().name.startswith(GifquantWorker.__name__):
            fixup(main)

    return unless_ours


def _load_first_use() -> None:
    """Import what a worker's first file imports on first use (numpy.random, numpy.ma, the
    Pillow plugins of ``Image.open``: about 25 ms a worker), once in the server it forks from,
    which does so while the batch imports the command line."""
    import numpy.ma  # noqa: F401 - np.unique(axis=0), the first fit
    import numpy.random  # noqa: F401
    from PIL import Image

    Image.preinit()


if _preloaded_by_forkserver():
    sys.excepthook = _worker_excepthook
    _spawn._fixup_main_from_path = _main_left_alone(_spawn._fixup_main_from_path)
    _spawn._fixup_main_from_name = _main_left_alone(_spawn._fixup_main_from_name)
    _load_first_use()


_busy = False  # in a pool worker: a file is being converted


def _watch_batch(batch: int, mp_temp: str | None) -> None:
    """In a pool worker, whose parent is the forkserver: wait for the batch to end, and if it
    ended without stopping the pool (killed outright), stop the file in progress (SIGTERM: its
    clean-up runs) and exit. Otherwise the workers would idle for ever, and with them the
    forkserver and resource tracker, holding the batch's stderr open; the last one out removes
    the batch's multiprocessing folder (``mp_temp``, pymp-*)."""
    import select

    try:
        fd = os.pidfd_open(batch)
    except (AttributeError, OSError):  # not Linux 5.3+: look every second
        fd = None
    while process_alive(batch):
        if fd is not None:
            select.select([fd], [], [])
        else:
            time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _busy and time.monotonic() < deadline:
        time.sleep(0.05)
    if mp_temp is not None and os.path.basename(mp_temp).startswith("pymp-"):
        import shutil

        shutil.rmtree(mp_temp, ignore_errors=True)
    os._exit(128 + signal.SIGTERM)


def _mp_temp() -> str | None:
    """The folder multiprocessing made for this process (pymp-*: the forkserver's socket),
    if it made one."""
    return multiprocessing.current_process()._config.get("tempdir")


def _context():
    """Workers forked from a server that has imported gifquant once (forkserver), else
    started afresh (spawn); never a fork of this process and its threads."""
    try:
        multiprocessing.get_context("forkserver")
    except ValueError:  # pragma: no cover - no forkserver (Windows)
        return multiprocessing.get_context("spawn")
    ctx = _WorkerContext()
    ctx.set_forkserver_preload(["gifquant._run.batch"])
    return ctx


def _run_pool(
    todo: list[_Job], settings: Settings, n_jobs: int, take: Callable[[_Job, FileRecord], None]
) -> None:
    from concurrent.futures import FIRST_COMPLETED, wait

    n_jobs = min(n_jobs, len(todo))
    queue = deque((job, 1) for job in todo)
    running: dict = {}  # future -> (job, attempt)
    pool = pids = None
    try:
        while queue or running:
            if pool is None:
                pool, pids = _start_pool(n_jobs)
            # As many in flight as workers: a worker that dies takes only its own file.
            while queue and len(running) < n_jobs:
                job, attempt = queue.popleft()
                fut = pool.submit(convert_one, job.src, job.dst, settings, attempt)
                running[fut] = (job, attempt)
            finished, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
            signals.check()
            lost = _take_finished(finished, running, queue, take)
            if lost:
                # The other files in flight were lost with the pool: run them again too.
                lost += [job for job, _ in running.values()]
                queue.extendleft(running.values())
                running.clear()
                pool.shutdown(wait=True)
                pool = None
                for job in lost:  # a worker killed outright leaves its temporary file
                    _remove_temp_files(job.dst)
        if pool is not None:
            pool.shutdown(wait=True)
            pool = None
    finally:
        if pool is not None:
            _stop(pool, pids, [job for job, _ in running.values()])


def _start_pool(n_jobs: int):
    """A pool of ``n_jobs`` workers, and the queue each worker puts its process id on as it
    starts."""
    from concurrent.futures import ProcessPoolExecutor

    ctx = _context()
    pids = ctx.SimpleQueue()
    pool = ProcessPoolExecutor(
        n_jobs, mp_context=ctx, initializer=_init_worker, initargs=(pids, os.getpid(), _mp_temp())
    )
    return pool, pids


def _take_finished(
    finished: set, running: dict, queue: deque, take: Callable[[_Job, FileRecord], None]
) -> list[_Job]:
    """Each finished file's record to ``take`` (out of ``running``); the files whose worker
    died, which took the pool with it (each goes back on ``queue`` once, then is taken as
    failed)."""
    from concurrent.futures.process import BrokenProcessPool

    lost = []
    for fut in finished:
        job, attempt = running.pop(fut)
        try:
            take(job, fut.result())
        except BrokenProcessPool:
            lost.append(job)
            if attempt == 1:
                queue.appendleft((job, 2))
            else:
                take(job, _died(job, attempt, "its process ended"))
    return lost


def _stop(pool, pids, in_flight: list[_Job]) -> None:
    """Stop the pool now (an interrupt or an error in this process): each worker is sent
    SIGTERM, unwinds its file and exits; one that does not within seconds is killed."""
    workers = []
    with contextlib.suppress(Exception):
        while not pids.empty():
            workers.append(pids.get())
    for pid in workers:
        _signal(pid, signal.SIGTERM)
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + 10
    for pid in workers:
        # The forkserver, their parent, reaps them: a process id that is gone has exited.
        while _signal(pid, 0) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _signal(pid, 0):
            _signal(pid, signal.SIGKILL)
    for job in in_flight:  # a worker killed before it could clean up leaves its temp file
        _remove_temp_files(job.dst)


def _size_of(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _signal(pid: int, signum: int) -> bool:
    """Send ``signum`` to ``pid`` (0: none, only look); whether the process was there."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # there, but not ours to signal
    return True


def _remove_temp_files(dst: str) -> None:
    """The temporary files of ``dst`` left by workers that were killed (see
    ``remove_dead_temps``: those of a live process, another batch's, stay)."""
    remove_dead_temps([dst])


# --------------------------------------------------------------------------------------------
# a Dask cluster


def _run_dask(client, todo: list[_Job], settings: Settings, take, jobs: int | None) -> None:
    """Run ``todo`` on a Dask cluster: ``client`` is a ``Client``, a scheduler address, or
    ``"local"`` for a ``LocalCluster`` of ``jobs`` worker processes (started and stopped
    here)."""
    unfinished = {job.index: job for job in todo}

    def done(job: _Job, record: FileRecord) -> None:
        unfinished.pop(job.index, None)
        take(job, record)

    owned = isinstance(client, str)
    try:
        with contextlib.ExitStack() as stack:
            if client == "local":
                # The cluster starts (about a second) in a thread while this process
                # converts files itself, smallest first, on the core the start leaves idle;
                # once up, the thread hands the cluster every file not taken here.
                # Its workers' scratch space (dask-scratch-space/*.lock) goes with the batch;
                # the pid in its name lets a later batch remove it if this one is killed.
                _remove_dead_scratch()
                scratch = stack.enter_context(scratch_folder(f"{_SCRATCH}{os.getpid()}-"))
                starting = stack.enter_context(_LocalStart(jobs, todo, settings, scratch))
                while (job := starting.take()) is not None:
                    record = convert_one(job.src, job.dst, settings)
                    done(job, dataclasses.replace(record, in_batch=True))
                    signals.check()
                client = stack.enter_context(starting.client())
                tasks, submitted = starting.tasks, starting.submitted
            else:
                if owned:
                    client = stack.enter_context(_connect(client, jobs))
                tasks = _Tasks(client, settings)
                submitted = [tasks.submit(job) for job in todo]
            if submitted:
                _collect(tasks, submitted, done)
    finally:
        if owned and client is not None and unfinished:
            # Stopped halfway: the cluster's workers were stopped with it, perhaps before
            # their clean-up ran.
            for job in unfinished.values():
                _remove_temp_files(job.dst)


_SCRATCH = "gifquant-dask-"


def _remove_dead_scratch() -> None:
    """Remove the scratch folders of ``--dask local`` batches that were killed (their pid,
    in the name, is gone)."""
    import shutil
    import tempfile

    folder = tempfile.gettempdir()
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            pid = name[len(_SCRATCH) :].split("-")[0]
            if name.startswith(_SCRATCH) and pid.isdigit() and not process_alive(int(pid)):
                shutil.rmtree(os.path.join(folder, name), ignore_errors=True)


def _connect(address: str, jobs: int | None):
    """A client of the scheduler at ``address``, closed on leaving."""
    Client = _distributed().Client
    try:
        return _closing(Client(address, timeout="10s"), None)
    except OSError as exc:
        raise SettingError(
            "{client} {address}: cannot reach the scheduler ({exc})",
            exit_code=1,
            address=address,
            exc=exc,
        ) from None


def _check_address(address: str) -> None:
    """Refuse a scheduler address that is not one (a user's mistake, not a failure to reach
    it): no scheme known to Dask, or no host and port where its scheme needs them."""
    _distributed()
    from distributed.comm.addressing import get_address_host_port, parse_address
    from distributed.comm.registry import get_backend

    try:
        scheme, _ = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls", "ws", "wss"):
            get_address_host_port(address)
    except (ValueError, TypeError) as exc:
        raise SettingError(
            "{client} {address}: not a scheduler address ({exc}); give tcp://HOST:PORT or local",
            address=address,
            exc=exc,
        ) from None


def _distributed():
    try:
        import distributed
    except ImportError:
        raise SettingError(
            "{client} needs dask.distributed: pip install 'gifquant[dask]'", exit_code=1
        ) from None
    return distributed


class _LocalStart:
    """A ``LocalCluster`` of ``jobs`` worker processes started in a thread for the files
    ``todo``: until it is up, ``take`` gives files for this process to convert; once up, the
    thread submits the others (``tasks``, ``submitted``). ``client`` waits for it and gives
    its client, closed with the cluster on leaving; leaving without ``client`` (a failing or
    stopped batch) waits for the start to finish and closes what it started."""

    def __init__(
        self, jobs: int | None, todo: list[_Job], settings: Settings, scratch: str
    ) -> None:
        import importlib.util
        import multiprocessing.forkserver
        import threading

        if importlib.util.find_spec("distributed") is None:
            _distributed()  # its error now, before any file is converted
        self._jobs = jobs or os.cpu_count() or 1
        self._todo = todo
        self._settings = settings
        self._lock = threading.Lock()
        self._taken_here: set[int] = set()
        self._handed = False  # the cluster has the files not taken here
        self.tasks: _Tasks | None = None
        self.submitted: list = []
        # Small files first here: a file in progress when the cluster is up is done here.
        self._smallest = deque(sorted(todo, key=lambda job: _size_of(job.src)))
        self._result: tuple | None = None
        self._error: BaseException | None = None
        self._taken = False
        # No statistical profiler in the workers: it samples every 10 ms for a dashboard
        # nobody looks at here (about a tenth of a small-file batch's time).
        self._config: dict = {
            "distributed.worker.profile.enabled": False,
            "temporary-directory": scratch,
        }
        with contextlib.suppress(ValueError):  # no forkserver (Windows): Dask's default
            ctx = multiprocessing.get_context("forkserver")
            # Its processes fork from a server that imports distributed and gifquant once
            # (about a second less start-up than spawning each afresh) while this process
            # works, and that ignores Ctrl-C at the terminal, as pool workers do (the batch
            # stops them): started here, in the main thread, with SIGINT ignored to inherit.
            ctx.set_forkserver_preload(["distributed", "gifquant._run.batch"])
            with _sigint_ignored():
                multiprocessing.forkserver.ensure_running()
            self._config["distributed.worker.multiprocessing-method"] = "forkserver"
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._start, name="gifquant-dask", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            import dask
            from distributed import LocalCluster

            with dask.config.set(self._config):
                cluster = LocalCluster(
                    n_workers=self._jobs,
                    threads_per_worker=1,  # one file per process: its frames stay together
                    processes=True,
                    dashboard_address=":0",  # any free port: never "already in use"
                    silence_logs=logging.CRITICAL,  # not its chatter when stopped or closing
                )
            try:
                from distributed import Client

                self._result = (Client(cluster), cluster)
                # Its workers are this batch's own processes (a worker that restarts reads
                # GIFs as colours: the same frames, a little slower).
                self._result[0].run(own_process)
            except BaseException:
                cluster.close()
                raise
            with self._lock:
                self._handed = True
                rest = [job for job in self._todo if job.index not in self._taken_here]
            self.tasks = _Tasks(self._result[0], self._settings)
            self.submitted = [self.tasks.submit(job) for job in rest]
        except BaseException as exc:  # noqa: BLE001 - raised in the batch's thread
            self._error = exc
        finally:
            with self._lock:
                self._handed = True
            self._done.set()

    def take(self) -> _Job | None:
        """The next file for this process to convert; None once the cluster has the rest."""
        with self._lock:
            if not self._smallest or self._handed:
                return None
            job = self._smallest.popleft()
            self._taken_here.add(job.index)
            return job

    def client(self):
        """Wait for the cluster; a context manager giving its client."""
        while not self._done.wait(0.1):
            signals.check()
        if self._error is not None:
            if isinstance(self._error, OSError):
                raise SettingError(
                    "{client} local: cannot start a cluster ({exc})", exit_code=1, exc=self._error
                ) from None
            raise self._error
        self._taken = True
        return _closing(*self._result)

    def __enter__(self) -> _LocalStart:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._taken:
            return  # the client's context closes them
        self._done.wait(60)
        if self._result is not None:
            with _closing(*self._result):
                pass


@contextlib.contextmanager
def _sigint_ignored():
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def _closing(client, cluster):
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


class _Tasks:
    """Files sent to a Dask client as tasks, each future's (job, attempt) until collected."""

    def __init__(self, client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.futures: dict = {}

    def submit(self, job: _Job, attempt: int = 1):
        fut = self.client.submit(
            convert_one,
            job.src,
            job.dst,
            self.settings,
            attempt,
            pure=False,
            key=f"gifquant-{job.index}-{attempt}-{os.getpid()}-{time.time_ns()}",
        )
        self.futures[fut] = (job, attempt)
        return fut


def _collect(tasks: _Tasks, submitted: list, take) -> None:
    from distributed import as_completed

    futures = tasks.futures
    pending = as_completed(submitted)
    try:
        for fut in pending:
            job, attempt = futures.pop(fut)
            try:
                record = fut.result()
            except Exception as exc:  # noqa: BLE001 - the worker (not the file) failed
                if attempt == 1:
                    pending.add(tasks.submit(job, 2))
                    continue
                record = _died(job, attempt, f"{type(exc).__name__}: {exc}")
            take(job, record)
            signals.check()
    finally:
        if futures:
            with contextlib.suppress(Exception):
                tasks.client.cancel(list(futures))
