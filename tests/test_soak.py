"""The soak script runs end to end on a tiny clip and reports flat peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_soak_passes_and_reports_peaks():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "soak.py"), "--quick", "--seconds", "4"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "frames sent: 100 of 100" in lines
    for mark in ("10%", "50%", "100%"):
        assert any(line.startswith(f"peak RSS at {mark}: ") for line in lines), r.stdout
    assert "exit code: 0" in lines
    assert lines[-1] == "PASS"
