"""The pytest suite runs ./test_e2e.py: the whole cycle through the real command lines."""

import os
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


def _e2e_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("mixin_e2e_script", ROOT / "test_e2e.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_e2e_separates_a_stem_folder_without_a_mixture(tmp_path):
    """STEM_DIR of stem folders without mixture.wav trained, then died on a LibsndfileError
    opening sorted(STEM_DIR)[0]/mixture.wav (a stray file there broke it too)."""
    import numpy as np
    import soundfile as sf

    from mixin.data.synth import write_musdb_track

    stems = tmp_path / "stems"
    for i in range(3):
        write_musdb_track(stems / f"song{i}", 1.0, seed=i)
        (stems / f"song{i}" / "mixture.wav").unlink()
    (stems / "0-notes.txt").write_text("not a track")
    mix, rate = _e2e_module().separation_input(stems)
    names = ("bass", "drums", "other", "vocals")
    parts = [sf.read(str(stems / "song0" / f"{n}.wav"), dtype="float32")[0] for n in names]
    assert rate == 44100
    np.testing.assert_allclose(mix, sum(parts), atol=1e-6)


def test_e2e_refuses_a_stem_dir_without_a_usable_track_before_any_work(tmp_path):
    stems = tmp_path / "stems"
    (stems / "song0").mkdir(parents=True)
    (stems / "song0" / "drums.wav").write_bytes(b"junk")
    (stems / "stray.txt").write_text("not a track")
    (tmp_path / "run" / "model").mkdir(parents=True)
    out = subprocess.run(
        [sys.executable, str(ROOT / "test_e2e.py"), "--delete"],
        cwd=tmp_path / "run",
        env={**os.environ, "STEM_DIR": str(stems)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    failed = [line for line in out.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 1, out.stdout
    assert failed[0].startswith(f"[MiXiN e2e test] FAILED: {stems}: no track to separate at the end (song0: ")
    assert f"{stems / 'song0' / 'drums.wav'}: cannot read audio" in failed[0]
    assert (tmp_path / "run" / "model").is_dir()  # not deleted: nothing was done
