"""--create-hdf5: split by track, shapes, attributes, streaming writes, refusals."""

import errno
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from mixin.data.hdf5 import create_hdf5, hdf5_path, open_checked, split_tracks
from mixin.data.stems import prepare_stems
from mixin.data.synth import write_musdb_track
from mixin.errors import MixinError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("prep")
    for i in range(5):
        write_musdb_track(root / "stems" / f"song{i}", 2.2, seed=i)
    prepare_stems([root / "stems"], root / "data", segment_duration=1.1, augment=1, seed=0)
    return root / "data"


def test_split_is_by_track_deterministic_and_80_10_10():
    names = [f"t{i}" for i in range(20)]
    a = split_tracks(names, seed=1)
    assert a == split_tracks(reversed(names), seed=1)
    assert sorted(a.values()).count("train") == 16
    assert sorted(a.values()).count("validation") == 2 and sorted(a.values()).count("test") == 2
    assert split_tracks(names, seed=2) != a
    small = split_tracks(["a", "b", "c"], seed=0)
    assert sorted(small.values()) == ["test", "train", "validation"]
    with pytest.raises(MixinError, match="at least 3"):
        split_tracks(["a", "b"], seed=0)


@pytest.mark.slow
def test_hdf5_files_shapes_attrs_and_no_leak(prepared):
    counts = create_hdf5(prepared, seed=7)
    manifest = json.loads((prepared / "segments.json").read_text())
    for source in ("harmonic", "percussive", "vocal"):
        with h5py.File(hdf5_path(prepared, source), "r") as h5:
            assert h5.attrs["source"] == source and h5.attrs["seed"] == 7
            assert (h5.attrs["sample_rate"], h5.attrs["chunk_size"], h5.attrs["bands"]) == (44100, 44032, 96)
            splits = json.loads(h5.attrs["split_tracks"])
            tracks = [t for ts in splits.values() for t in ts]
            assert len(tracks) == len(set(tracks))  # no song in two splits
            for split in ("train", "validation", "test"):
                x, y = h5[f"data-x-{split}"], h5[f"data-y-{split}"]
                assert x.shape == y.shape == (counts[source][split], 96, 1948, 1)
                assert x.dtype == np.float32 and x.chunks == (1, 96, 1948, 1) and x.compression == "lzf"
                assert x.shape[0] > 0 and np.abs(x[0]).max() > 0  # no dummy all-zero first row
            # Each chunk's x is the mix, its y the source: y never exceeds x by much in energy.
            x0, y0 = h5["data-x-train"][0], h5["data-y-train"][0]
            assert 0 < np.sum(y0**2) < 4 * np.sum(x0**2)
    # Vocal trains on vocal mixes only: half the segments of the others.
    assert sum(counts["vocal"].values()) * 2 == sum(counts["harmonic"].values())
    remixes = [s for s in manifest["segments"] if len(s["tracks"]) > 1]
    assert remixes  # the augmentation swapped sources across tracks


def test_existing_files_need_force(prepared):
    create_hdf5(prepared, ["vocal"], seed=7, force=True)
    before = hdf5_path(prepared, "vocal").stat().st_mtime_ns
    with pytest.raises(MixinError, match="already exists"):
        create_hdf5(prepared, ["vocal"], seed=7)
    assert hdf5_path(prepared, "vocal").stat().st_mtime_ns == before


def test_full_disk_mid_write_leaves_nothing(prepared, monkeypatch):
    target = hdf5_path(prepared, "percussive")
    target.unlink(missing_ok=True)
    calls = {"n": 0}
    original = h5py.Dataset.__setitem__

    def failing(self, key, value):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, key, value)

    monkeypatch.setattr(h5py.Dataset, "__setitem__", failing)
    with pytest.raises(MixinError, match=r"data_percussive.hdf5: cannot write \(No space left on device\)"):
        create_hdf5(prepared, ["percussive"])
    assert not target.exists()
    assert not list(prepared.glob(".data_percussive*"))


def test_open_checked_refuses_other_settings(tmp_path, prepared):
    with pytest.raises(MixinError, match="not found: run --create-hdf5 first"):
        open_checked(tmp_path / "data_vocal.hdf5", "vocal")
    bad = tmp_path / "data_vocal.hdf5"
    with h5py.File(bad, "w") as h5:
        h5.attrs.update(
            {
                "format_version": 1,
                "source": "vocal",
                "sample_rate": 22050,
                "chunk_size": 44032,
                "bands": 96,
                "frames": 1948,
            }
        )
    with pytest.raises(MixinError, match=r"other settings or by another version: sample_rate 22050 \(need 44100\)"):
        open_checked(bad, "vocal")
    with pytest.raises(MixinError, match="source vocal \\(need harmonic\\)"):
        open_checked(hdf5_path(prepared, "vocal"), "harmonic")
    junk = tmp_path / "junk.hdf5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(MixinError, match="not a readable HDF5 file"):
        open_checked(junk, "vocal")


def test_missing_manifest(tmp_path):
    with pytest.raises(MixinError, match="segments.json: not found: run --prepare-stems first"):
        create_hdf5(tmp_path)


def test_a_recording_never_straddles_the_split(tmp_path):
    """A MIR-1K voice sung in a rendered track and its clip (scripts/build_pretrained.sh's stage 1:
    --render-stems --voices, link-songs, both prepared), or two renders of one MIDI song (--tracks
    past the split's songs), were split apart: each folder was keyed on its own."""
    import soundfile as sf

    renders, clips = tmp_path / "renders", tmp_path / "clips"
    for i, song in enumerate("abcdea"):  # the last track renders song a again
        folder = renders / f"train-{i:04d}-{song}"
        write_musdb_track(folder, 1.1, seed=i)
        (folder / "render.txt").write_text(f"song {song}.mid\nsoundfont x.sf2\nvoices abjones_{i + 1}_01.wav\n")
    clips.mkdir()
    for name in ("abjones_1_01", "abjones_1_02", "amy_2_01"):
        sf.write(clips / f"{name}.wav", np.full((44100, 2), 0.1, np.float32), 16000)
    prepare_stems([renders, clips], tmp_path / "data", segment_duration=1.1)
    manifest = json.loads((tmp_path / "data" / "segments.json").read_text())
    assert manifest["recordings"]["train-0000-a"] == ["midi:a", "voice:abjones_1"]
    group = ("train-0000-a", "train-0005-a", "clips/abjones_1")
    names = [t for s in manifest["segments"] for t in s["tracks"]]
    for seed in range(40):
        assignment = split_tracks(names, seed, recordings=manifest["recordings"])
        assert len({assignment[t] for t in group}) == 1, seed
    assert len({split_tracks(names, seed, recordings=manifest["recordings"])[group[0]] for seed in range(40)}) == 3
    create_hdf5(tmp_path / "data", ["vocal"], seed=3)
    with h5py.File(hdf5_path(tmp_path / "data", "vocal"), "r") as h5:
        sides = json.loads(h5.attrs["split_tracks"])
    assert [sorted(set(group) & set(tracks)) for tracks in sides.values()].count(sorted(group)) == 1
    with pytest.raises(MixinError, match=r"5 track\(s\) in 2 group\(s\) sharing recordings: at least 3"):
        split_tracks("vwxyz", 0, recordings={"v": ["r1"], "w": ["r1"], "x": ["r2"], "y": ["r2"], "z": ["r1"]})


def test_every_file_is_checked_usable_before_any_is_written(tmp_path):
    """With one sung track of three, --create-hdf5 wrote the harmonic and percussive files and then
    failed on the vocal (a re-run: "already exists"), or wrote a vocal file without validation
    chunks, which --train refused after training the other two models."""
    for i in range(3):
        write_musdb_track(tmp_path / "stems" / f"song{i}", 1.1, seed=40 + i)
        if i:
            (tmp_path / "stems" / f"song{i}" / "vocals.wav").unlink()
    data = tmp_path / "data"
    prepare_stems([tmp_path / "stems"], data, segment_duration=1.1)
    sides = {seed: split_tracks([f"song{i}" for i in range(3)], seed)["song0"] for seed in range(20)}
    for side, missing in (("train", "validation"), ("validation", "training"), ("test", "training or validation")):
        seed = next(s for s, where in sides.items() if where == side)
        with pytest.raises(MixinError, match=f"data: no {missing} segments hold a vocal stem .*--seed {seed}"):
            create_hdf5(data, seed=seed)
        assert not [p.name for p in data.iterdir() if "hdf5" in p.name]  # nothing written, no temporary left
    counts = create_hdf5(data, ["harmonic", "percussive"], seed=0)
    assert all(c["train"] and c["validation"] for c in counts.values())
