"""gifquant batch: inputs mapped to outputs, a pool and a Dask LocalCluster, records, resuming."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import CORPUS, corpus_file, moving_clip, write_gif

import gifquant
from gifquant._cli import main
from gifquant._run.batch import plan

K = 8
CORPUS_GIFS = ("newtonscradle.gif", "people-detection.gif")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """in/ with generated GIFs (some in sub/), the corpus GIFs when present and a broken GIF;
    and each good input's single-file ``convert`` output, to compare the batch's with."""
    root = tmp_path_factory.mktemp("batch")
    src = root / "in"
    (src / "sub").mkdir(parents=True)
    names = ["a.gif", "b.gif", "sub/c.gif", "sub/d.gif"]
    for i, name in enumerate(names):
        write_gif(src / name, moving_clip(8 + i, 30 + 4 * i, 44, seed=i))
    for name in CORPUS_GIFS:
        if (CORPUS / name).exists():
            shutil.copy(CORPUS / name, src / name)
            names.append(name)
    (src / "broken.gif").write_bytes((src / "a.gif").read_bytes()[:300])
    single = root / "single"
    refs = {}
    for name in names:
        out = single / name
        out.parent.mkdir(parents=True, exist_ok=True)
        gifquant.convert(src / name, out, k=K)
        refs[name] = out
    return root, refs


def _same_as_single(out: Path, refs: dict[str, Path]) -> None:
    for name, ref in refs.items():
        assert (out / name).read_bytes() == ref.read_bytes(), name


def test_pool_batch_reports_the_broken_file_and_resumes(tree, tmp_path, capsys):
    root, refs = tree
    out, summary = tmp_path / "out", tmp_path / "batch.json"
    argv = ["batch", str(root / "in" / "**" / "*.gif"), "--out-dir", str(out), "-k", str(K)]
    assert main([*argv, "--jobs", "2", "--summary", str(summary)]) == 1
    err = capsys.readouterr().err.splitlines()
    failed = [line for line in err if "error:" in line]
    assert len(failed) == 1 and "broken.gif" in failed[0] and "truncated" in failed[0]
    assert f"{len(refs)} done, 0 skipped, 1 failed" in err[-1]
    _same_as_single(out, refs)
    assert (out / "sub" / "c.gif").exists()  # mapped relative to the glob's base
    assert not list(out.rglob(".*.part")) and not (out / "broken.gif").exists()

    data = json.loads(summary.read_text())
    assert (data["done"], data["skipped"], data["failed"]) == (len(refs), 0, 1)
    assert data["settings"]["k"] == K
    by_src = {Path(r["src"]).name: r for r in data["records"]}
    broken = by_src.pop("broken.gif")
    assert broken["status"] == "failed" and broken["exit_code"] == 2 and broken["error"]
    assert all(r["status"] == "done" and r["frames"] > 0 for r in by_src.values())
    assert all(r["bytes_out"] == os.path.getsize(r["dst"]) for r in by_src.values())

    # Resumed: what is done is skipped (left as it was), the broken file fails again.
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.gif")}
    # (its own summary: an existing one is replaced only with -y, as any output)
    summary = tmp_path / "resumed.json"
    assert main([*argv, "--jobs", "1", "--summary", str(summary), "-q"]) == 1
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.gif")} == stamps
    data = json.loads(summary.read_text())
    assert (data["done"], data["skipped"], data["failed"]) == (0, len(refs), 1)
    # -y converts again, with the same bytes.
    good = [str(root / "in" / name) for name in refs]
    assert main(["batch", *good[:2], "--out-dir", str(tmp_path / "flat"), "-k", str(K)]) == 0
    assert main(["batch", *good[:2], "--out-dir", str(tmp_path / "flat"), "-k", "8", "-y"]) == 0
    for name in list(refs)[:2]:
        assert (tmp_path / "flat" / Path(name).name).read_bytes() == refs[name].read_bytes()


def test_corpus_gifs_in_the_batch_match_single_runs(tree, tmp_path):
    for name in CORPUS_GIFS:
        corpus_file(name)
    root, refs = tree
    report = gifquant.batch(
        [str(root / "in" / n) for n in CORPUS_GIFS], tmp_path, k=K, jobs=2, stats=True
    )
    assert report.ok and report.done == len(CORPUS_GIFS)
    for r in report.records:
        assert Path(r.dst).read_bytes() == refs[Path(r.src).name].read_bytes()
        assert r.stats["colours_on_screen"] <= K


def test_dask_local_cluster(tree, tmp_path):
    distributed = pytest.importorskip("distributed")
    root, refs = tree
    records = []
    with (
        distributed.LocalCluster(
            processes=True, n_workers=2, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        report = gifquant.batch(
            str(root / "in"), tmp_path, k=K, client=client, on_record=records.append
        )
        assert (report.done, report.failed) == (len(refs), 1)
        bad = [r for r in report.records if r.status == "failed"]
        assert Path(bad[0].src).name == "broken.gif" and "truncated" in bad[0].error
        assert sorted(r.src for r in records) == sorted(r.src for r in report.records)
        _same_as_single(tmp_path, refs)
        again = gifquant.batch(str(root / "in"), tmp_path, k=K, client=client)
        assert (again.done, again.skipped, again.failed) == (0, len(refs), 1)


def test_dask_local_cluster_started_by_the_batch(tree, tmp_path):
    # The batch converts files itself while its cluster starts, then hands the rest over.
    pytest.importorskip("distributed")
    root, refs = tree
    report = gifquant.batch(str(root / "in"), tmp_path, k=K, jobs=2, client="local")
    assert (report.done, report.failed) == (len(refs), 1)
    _same_as_single(tmp_path, refs)
    assert not list(tmp_path.rglob(".*.part"))


def test_collisions_are_refused_before_anything_runs(tree, tmp_path, capsys):
    root, _ = tree
    (tmp_path / "in").mkdir()
    shutil.copy(root / "in" / "a.gif", tmp_path / "in" / "x.gif")
    shutil.copy(root / "in" / "b.gif", tmp_path / "in" / "x.png")
    out = tmp_path / "out"
    assert main(["batch", str(tmp_path / "in"), "--out-dir", str(out), "-f", "gif"]) == 2
    assert "would both be written to" in capsys.readouterr().err
    assert not out.exists()
    # The output of one input must not be another input.
    with pytest.raises(gifquant.GifquantError, match="is an input"):
        gifquant.batch(str(tmp_path / "in" / "x.gif"), tmp_path / "in")


def test_outputs_mirror_the_inputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("in/a.gif", "in/sub/b.gif", "in/sub/deep/c.mp4", "in/notes.md", "in/.hid.gif"):
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_bytes(b"x")

    def mapped(paths, fmt=None):
        return [(j.src, j.dst) for j in plan(paths, "out", fmt)]

    assert mapped(["in/**/*.gif"]) == [
        ("in/a.gif", "out/a.gif"),
        ("in/sub/b.gif", "out/sub/b.gif"),
    ]
    assert mapped(["in/sub/*/*.mp4"], "gif") == [("in/sub/deep/c.mp4", "out/deep/c.gif")]
    assert mapped(["in"]) == [  # a folder: walked, media files only, not hidden ones
        ("in/a.gif", "out/a.gif"),
        ("in/sub/b.gif", "out/sub/b.gif"),
        ("in/sub/deep/c.mp4", "out/sub/deep/c.mp4"),
    ]
    Path("list.txt").write_text("# converted later\nin/sub/b.gif\n\nin/sub/deep/c.mp4\n")
    assert mapped(["list.txt"], "webm") == [
        ("in/sub/b.gif", "out/b.webm"),
        ("in/sub/deep/c.mp4", "out/deep/c.webm"),
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("in/a.gif\nin/sub/b.gif\n"))
    assert mapped(["-"]) == [("in/a.gif", "out/a.gif"), ("in/sub/b.gif", "out/sub/b.gif")]
    with pytest.raises(gifquant.GifquantError, match="no files match"):
        plan(["in/*.webp"], "out", None)


def test_stdin_list_through_the_command(tree, tmp_path, monkeypatch, capsys):
    root, refs = tree
    names = ["a.gif", "sub/c.gif"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{root / 'in' / n}\n" for n in names)))
    out = tmp_path / "out"
    assert main(["batch", "-", "--out-dir", str(out), "-k", str(K), "--jobs", "1"]) == 0
    assert "2 done, 0 skipped, 0 failed" in capsys.readouterr().err
    _same_as_single(out, {n: refs[n] for n in names})


def test_usage_errors(tmp_path, capsys):
    assert main(["batch", "x.gif"]) == 2  # --out-dir is required
    assert main(["batch", "x.gif", "--out-dir", str(tmp_path), "--jobs", "0"]) == 2
    assert main(["batch", "x.gif", "--out-dir", str(tmp_path), "--compare", "c.gif"]) == 2
    assert main(["batch", "x.gif", "--out-dir", str(tmp_path), "--out"]) == 2  # no abbrev
    bad_summary = ["--summary", str(tmp_path / "no" / "s.json")]
    assert main(["batch", "x.gif", "--out-dir", str(tmp_path / "o"), *bad_summary]) == 2
    assert not (tmp_path / "o").exists()
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 5 and all(line.startswith("gifquant: error: ") for line in err)
    with pytest.raises(TypeError, match="compare"):
        gifquant.batch("x.gif", tmp_path, compare="c.gif")
    with pytest.raises(ValueError):
        gifquant.batch("x.gif", tmp_path, k=0)


def test_ctrl_c_stops_the_workers_and_leaves_no_part_files(tree, tmp_path):
    root, _ = tree
    out = tmp_path / "out"
    slow = ["--n-init", "100", "--max-iter", "1000", "--tol", "0", "--scale", "640:-1"]
    cmd = [sys.executable, "-m", "gifquant", "batch", str(root / "in"), "--out-dir", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--jobs", "2", *slow],
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    # Waits for events, not for times (a loaded machine is slow to start the pool); the
    # long deadlines only stop a hang.
    while not list(out.rglob(".*.part")):
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal does: the whole process group
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "interrupted (SIGINT)" in err and "Traceback" not in err
    assert not list(out.rglob(".*.part"))
    deadline = time.monotonic() + 300
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_alive(proc.pid)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group is still running (zombies waiting to be reaped by
    init do not count)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def test_a_worker_that_dies_loses_only_its_file_which_is_retried(tree, tmp_path):
    root, refs = tree
    out = tmp_path / "out"
    names = ["a.gif", "b.gif", "sub/c.gif"]
    result = {}
    slow = dict(n_init=100, max_iter=1000, tol=0.0)  # time to catch a worker at work
    runner = threading.Thread(
        target=lambda: result.update(
            report=gifquant.batch([str(root / "in" / n) for n in names], out, jobs=2, k=K, **slow)
        )
    )
    runner.start()
    while not list(out.rglob(".*.part")):  # a worker is at work (however long start-up takes)
        assert runner.is_alive()
        time.sleep(0.01)
    workers = _pool_workers()
    assert workers
    os.kill(workers[0], signal.SIGKILL)
    runner.join(900)  # only a guard against a hang: the slow settings take long under load
    report = result["report"]
    assert report.ok and report.done == len(names)
    assert any(r.attempts == 2 for r in report.records)
    assert not list(out.rglob(".*.part"))
    for n in names:
        assert (out / Path(n).name).read_bytes() == _single(root / "in" / n, tmp_path, **slow)


def _single(src: Path, tmp_path: Path, **settings) -> bytes:
    dst = tmp_path / "single" / src.name
    dst.parent.mkdir(exist_ok=True)
    gifquant.convert(src, dst, k=K, overwrite=True, **settings)
    return dst.read_bytes()


def _pool_workers() -> list[int]:
    """The pool's worker processes: children of this process's forkserver."""
    me = str(os.getpid())
    servers, workers = set(), []
    for entry in sorted(Path("/proc").iterdir(), key=lambda e: e.name):
        if not entry.name.isdigit():
            continue
        try:
            ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == me and b"forkserver" in cmd:
            servers.add(entry.name)
        elif ppid in servers or (ppid != me and b"forkserver" in cmd):
            workers.append((ppid, int(entry.name)))
    return [pid for ppid, pid in workers if ppid in servers]


def test_summary_never_replaces_an_input_an_output_or_a_folder(tmp_path, capsys):

    src = write_gif(tmp_path / "a.gif", moving_clip(2, 16, 16))
    keep = src.read_bytes()
    out = tmp_path / "out"
    (tmp_path / "d.json").mkdir()
    for summary, words in [
        (src, "is an input"),
        (out / "a.gif", "inside --out-dir"),
        (tmp_path / "d.json", "is a directory"),
    ]:
        assert (
            main(["batch", str(src), "--out-dir", str(out), "-y", "--summary", str(summary)]) == 2
        )
        assert words in capsys.readouterr().err
    assert src.read_bytes() == keep and not out.exists()


@pytest.mark.parametrize("setting", [{"lossy": -1}, {"matte": "nope"}, {"loop": 99999}])
def test_bad_output_controls_are_refused_before_the_batch_runs(tmp_path, setting):
    src = write_gif(tmp_path / "a.gif", moving_clip(2, 16, 16))
    with pytest.raises(ValueError):
        gifquant.batch(str(src), str(tmp_path / "out"), **setting)
    assert not (tmp_path / "out").exists()


def test_a_client_that_is_not_one_is_a_type_error(tmp_path):
    src = write_gif(tmp_path / "a.gif", moving_clip(2, 16, 16))
    with pytest.raises(TypeError, match="client"):
        gifquant.batch(str(src), str(tmp_path / "out"), client=123)
