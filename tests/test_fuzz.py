"""Mutated GIFs (byte-wise and block by block), PNG, APNG, WebP and TIFF files through
main([...]): each converts with every frame the input holds or fails cleanly, never a traceback,
a hang or a leftover file. Seeded, so a failure reproduces; ``scripts/fuzz.py`` runs longer
campaigns."""

from __future__ import annotations

import importlib.util
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import read_gif

from gifquant._cli import main

_spec = importlib.util.spec_from_file_location(
    "gifquant_fuzz", Path(__file__).resolve().parents[1] / "scripts" / "fuzz.py"
)
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)

N_MUTATIONS = 1000
SECONDS_PER_RUN = 20


class Hang(BaseException):
    """Raised by the alarm: a run took longer than SECONDS_PER_RUN."""


def _alarm(signum, frame):
    raise Hang


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
def test_mutated_gifs_convert_or_fail_cleanly(tmp_path, capsys):
    rng = np.random.default_rng(2024)
    seeds = fuzz.seed_files()
    old = signal.signal(signal.SIGALRM, _alarm)
    outcomes = {"convert": 0, "clean": 0}
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    try:
        for i in range(N_MUTATIONS):
            name, base, suffix = seeds[int(rng.integers(0, len(seeds)))]
            data, how = fuzz.mutate_any(name, base, suffix, rng)
            folder = tmp_path / str(i)
            folder.mkdir()
            src, out = folder / f"in.{suffix}", folder / "out.gif"
            src.write_bytes(data)
            where = f"run {i}: {name} {how}"
            signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_RUN)
            try:
                rc = main([str(src), str(out), "-k", "4", "-q", *fuzz.LIMITS])
            except Hang:
                pytest.fail(f"{where}: no answer within {SECONDS_PER_RUN} s")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            err = capsys.readouterr().err.strip()
            left = sorted(os.listdir(folder))
            if rc == 0:
                assert left == sorted([src.name, "out.gif"]), where
                want = fuzz.count_frames(data)
                assert len(read_gif(out)[0]) >= (want or 1), f"{where}: frames lost"
                outcomes["convert"] += 1
            else:
                assert rc == 2, f"{where}: exit {rc}: {err}"
                assert err.startswith("gifquant: error:"), f"{where}: {err}"
                assert len(err.splitlines()) == 1, f"{where}: {err}"
                assert left == [src.name], where
                outcomes["clean"] += 1
    finally:
        signal.signal(signal.SIGALRM, old)
    if fds is not None:  # every reader and writer closed its file, whatever happened
        assert len(os.listdir("/proc/self/fd")) == fds
    # The mutations must exercise both ways out, or the test proves little.
    assert outcomes["convert"] >= 5 and outcomes["clean"] >= 5, outcomes
