"""The pytest suite runs ./test_e2e.py: the whole cycle through the real command lines."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the whole train-and-separate cycle in subprocesses

ROOT = Path(__file__).resolve().parents[1]


def test_e2e_full_cycle(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "test_e2e.py")], cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout.strip().endswith("[MiXiN e2e test] finished!")
    for d in ("data", "model", "logdir"):
        assert (tmp_path / d).is_dir()


def test_e2e_refuses_existing_work_dirs(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "keep.txt").write_text("mine")
    out = subprocess.run(
        [sys.executable, str(ROOT / "test_e2e.py")], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 1 and "refusing to overwrite existing model" in out.stdout
    assert (tmp_path / "model" / "keep.txt").read_text() == "mine"


def test_e2e_refuses_too_few_tracks_to_split_before_any_work(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "test_e2e.py"), "--tracks", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2 and "--tracks: must be a whole number >= 3, got 2" in out.stderr
    assert list(tmp_path.iterdir()) == []
