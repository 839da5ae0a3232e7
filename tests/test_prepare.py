"""--prepare-stems: name rules, layouts, segments and their two mixes, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixin.data.stems import discover, prepare_stems, source_of
from mixin.data.synth import write_musdb_track
from mixin.errors import MixinError


def test_name_rules_follow_mixin():
    assert source_of("drums") == "percussive"
    assert source_of("Drum_Overheads") == "percussive"
    assert source_of("vocals") == "vocal"
    assert source_of("lead_vocal") == "vocal"
    assert source_of("mixture") is None
    assert source_of("bass") == source_of("other") == source_of("guitar") == "harmonic"


def make_clip(path: Path, seconds: float, rate: int = 16000, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lr = 0.1 * rng.standard_normal((int(seconds * rate), 2)).astype(np.float32)
    sf.write(str(path), lr, rate, subtype="PCM_16")
    return path


def test_discover_layouts(tmp_path):
    multi = tmp_path / "musdb"
    for i in range(2):
        write_musdb_track(multi / f"song{i}", 1.0, seed=i)
    tracks = discover([multi])
    assert [t.name for t in tracks] == ["song0", "song1"]
    assert tracks[0].sources == ("harmonic", "percussive", "vocal")
    assert sorted(p.name for p in tracks[0].stems["harmonic"]) == ["bass.wav", "other.wav"]
    single = discover([multi / "song1"])
    assert len(single) == 1 and single[0].name == "song1"
    clips = tmp_path / "mir"
    clips.mkdir()
    for i in range(3):
        make_clip(clips / f"abjones_1_0{i}.wav", 1.2, seed=i)
    mir = discover([clips])
    assert len(mir) == 3 and all(t.clip is not None and t.sources == ("vocal",) for t in mir)
    assert [t.name for t in discover([multi, clips], track_limit=3)] == ["song0", "song1", "mir/abjones_1_00"]
    # A folder given twice, or as a track and inside its parent, counts once: it used to double its song.
    with pytest.warns(UserWarning, match="given twice in the stem directories, used once") as caught:
        again = discover([multi, multi / "song1", clips, Path(str(clips) + "/")])
    assert [t.name for t in again] == ["song0", "song1", *(t.name for t in mir)]
    assert len(caught) == 4  # song1, and each of the three clips


def test_segments_two_mixes_and_lengths(tmp_path):
    write_musdb_track(tmp_path / "stems" / "a", 2.5, seed=1)
    segs = prepare_stems([tmp_path / "stems"], tmp_path / "data", segment_duration=1.1)
    # 2.5 s -> segments of 1.1, 1.1 and 0.3 s; the last is shorter than a chunk and dropped.
    assert len(segs) == 4
    assert sorted(s.id for s in segs) == [
        "t0000-s0000-a0-nov",
        "t0000-s0000-a0-v",
        "t0000-s0001-a0-nov",
        "t0000-s0001-a0-v",
    ]
    v = tmp_path / "data" / "t0000-s0000-a0-v"
    nov = tmp_path / "data" / "t0000-s0000-a0-nov"
    assert sorted(p.name for p in v.iterdir()) == ["harmonic.wav", "mix.wav", "percussive.wav", "vocal.wav"]
    assert sorted(p.name for p in nov.iterdir()) == ["harmonic.wav", "mix.wav", "percussive.wav"]
    h, rate = sf.read(str(v / "harmonic.wav"))
    assert rate == 44100 and h.ndim == 1 and len(h) == int(1.1 * 44100)
    mix_v = sf.read(str(v / "mix.wav"))[0]
    mix_nov = sf.read(str(nov / "mix.wav"))[0]
    vocal = sf.read(str(v / "vocal.wav"))[0]
    np.testing.assert_allclose(mix_v - mix_nov, vocal, atol=1e-5)
    # Stems are the mono mix-down of the originals (drums -> percussive).
    drums, _ = sf.read(str(tmp_path / "stems" / "a" / "drums.wav"))
    np.testing.assert_allclose(sf.read(str(v / "percussive.wav"))[0], drums[: len(h)].mean(axis=1), atol=1e-6)
    manifest = json.loads((tmp_path / "data" / "segments.json").read_text())
    assert {s["track"] for s in manifest["segments"]} == {"a"}


def test_offset_and_limit_select_segments(tmp_path):
    write_musdb_track(tmp_path / "stems" / "a", 5.0, seed=1)
    segs = prepare_stems(
        [tmp_path / "stems"], tmp_path / "data", segment_duration=1.0, segment_offset=1, segment_limit=3
    )
    assert sorted({s.id.split("-")[1] for s in segs}) == ["s0001", "s0002"]


def test_mir1k_clips_give_vocal_pairs_resampled(tmp_path):
    clips = tmp_path / "mir"
    clips.mkdir()
    make_clip(clips / "amy_1_01.flac", 2.0)
    segs = prepare_stems([clips], tmp_path / "data", segment_duration=30)
    assert [(s.sources, s.vocal_mix) for s in segs] == [(["vocal"], True)]
    folder = tmp_path / "data" / segs[0].id
    assert sorted(p.name for p in folder.iterdir()) == ["mix.wav", "vocal.wav"]
    vocal, rate = sf.read(str(folder / "vocal.wav"))
    assert rate == 44100 and abs(len(vocal) - 2 * 44100) <= 1


def test_clips_of_one_song_are_split_together(tmp_path):
    """The HDF5 split assigns whole tracks (a segment's ``tracks``): a MIR-1K clip counts as its
    song, so amy_1_01 and amy_1_02 can no longer land in training and validation apart."""
    from mixin.data.hdf5 import split_tracks

    clips = tmp_path / "mir"
    clips.mkdir()
    for song in (1, 2, 3):
        for clip in (1, 2):
            make_clip(clips / f"amy_{song}_{clip:02d}.flac", 1.5)
    segs = prepare_stems([clips], tmp_path / "data", segment_duration=30)
    assert sorted({s.track for s in segs}) == [f"mir/amy_{song}_{clip:02d}" for song in (1, 2, 3) for clip in (1, 2)]
    assert sorted({t for s in segs for t in s.tracks}) == ["mir/amy_1", "mir/amy_2", "mir/amy_3"]
    assignment = split_tracks((t for s in segs for t in s.tracks), seed=0)
    assert sorted(assignment.values()) == ["test", "train", "validation"]


def test_track_lacking_a_source_trains_only_what_it_has(tmp_path):
    track = tmp_path / "stems" / "novocal"
    write_musdb_track(track, 1.5, seed=2)
    (track / "vocals.wav").unlink()
    segs = prepare_stems([tmp_path / "stems"], tmp_path / "data", segment_duration=1.5)
    assert [(s.sources, s.vocal_mix) for s in segs] == [(["harmonic", "percussive"], False)]


def test_different_lengths_and_rates_warn_and_trim(tmp_path):
    track = tmp_path / "stems" / "odd"
    write_musdb_track(track, 2.0, seed=3)
    drums, _ = sf.read(str(track / "drums.wav"))
    sf.write(str(track / "drums.wav"), drums[: int(1.5 * 44100), 0], 44100)  # shorter, mono
    bass, _ = sf.read(str(track / "bass.wav"))
    sf.write(str(track / "bass.wav"), bass[::2], 22050)  # another rate
    with pytest.warns(UserWarning) as caught:
        segs = prepare_stems([tmp_path / "stems"], tmp_path / "data", segment_duration=10)
    messages = [str(w.message) for w in caught]
    assert any("differ in length" in m for m in messages)
    assert any("different rates [22050, 44100]" in m for m in messages)
    files = {p.name: sf.info(str(p)) for p in (tmp_path / "data" / segs[0].id).iterdir()}
    assert {i.frames for i in files.values()} == {int(1.5 * 44100)}


def test_augment_shifts_voice_and_counts(tmp_path):
    clips = tmp_path / "mir"
    clips.mkdir()
    make_clip(clips / "x_1.wav", 3.0, seed=5)
    segs = prepare_stems([clips], tmp_path / "data", augment=2, seed=1)
    assert len(segs) == 3
    base = sf.read(str(tmp_path / "data" / "t0000-s0000-a0-v" / "vocal.wav"))[0]
    shifted = sf.read(str(tmp_path / "data" / "t0000-s0000-a1-v" / "vocal.wav"))[0]
    shift = int(10000 * 44100 / 16000)
    ratio = shifted / np.where(np.abs(np.roll(base, shift)) > 1e-3, np.roll(base, shift), np.nan)
    gains = ratio[np.isfinite(ratio)]
    assert np.allclose(gains, gains[0], rtol=1e-3)  # the same voice, rolled and scaled


def test_remix_records_borrowed_track(tmp_path):
    for i in range(3):
        write_musdb_track(tmp_path / "stems" / f"s{i}", 1.2, seed=i)
    segs = prepare_stems([tmp_path / "stems"], tmp_path / "data", augment=1, seed=3)
    augmented = [s for s in segs if "-a1-" in s.id and s.track != "s0"]
    assert augmented and all(len(s.tracks) == 2 and s.tracks[0] == s.track != s.tracks[1] for s in augmented)


def test_bad_inputs(tmp_path):
    with pytest.raises(MixinError, match="stem directory not found"):
        prepare_stems([tmp_path / "missing"], tmp_path / "data")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MixinError, match="no audio files or track folders"):
        prepare_stems([empty], tmp_path / "data")
    only_mix = tmp_path / "onlymix" / "song"
    write_musdb_track(only_mix, 1.2)
    for name in ("drums", "bass", "other", "vocals"):
        (only_mix / f"{name}.wav").unlink()
    with pytest.raises(MixinError, match="no segments prepared: song: no usable stems"):
        prepare_stems([only_mix.parent], tmp_path / "data")
    assert not (tmp_path / "data" / "segments.json").exists()


def test_corrupt_stem_skips_that_track_only(tmp_path):
    write_musdb_track(tmp_path / "stems" / "good", 1.2, seed=1)
    bad = tmp_path / "stems" / "bad"
    write_musdb_track(bad, 1.2, seed=2)
    (bad / "bass.wav").write_bytes(b"RIFF nonsense")
    with pytest.warns(UserWarning, match=r"skipped .*bass.wav: cannot read audio"):
        segs = prepare_stems([tmp_path / "stems"], tmp_path / "data")
    assert {s.track for s in segs} == {"good"}


def test_existing_segments_kept_without_force(tmp_path):
    write_musdb_track(tmp_path / "stems" / "a", 1.2, seed=1)
    prepare_stems([tmp_path / "stems"], tmp_path / "data")
    before = sorted(p.name for p in (tmp_path / "data").iterdir())
    with pytest.raises(MixinError, match="already holds prepared segments"):
        prepare_stems([tmp_path / "stems"], tmp_path / "data", segment_duration=0.5)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == before
    prepare_stems([tmp_path / "stems"], tmp_path / "data", force=True)
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.startswith(".")]


def test_only_prepared_segments_are_replaced(tmp_path):
    """A data directory that also holds folders of the user's own (here: the stem folder itself,
    with a mix.wav): before, every folder holding a mix.wav was removed with the old segments."""
    from mixin.data.stems import MANIFEST

    data = tmp_path / "data"
    write_musdb_track(data / "mine", 2.5, seed=1)
    sf.write(str(data / "mine" / "mix.wav"), np.zeros((100, 2), np.float32), 44100)
    prepare_stems([data / "mine"], data)
    prepare_stems([data / "mine"], data, segment_duration=1.1, force=True)
    segments = json.loads((data / MANIFEST).read_text())["segments"]
    assert (data / "mine" / "mix.wav").exists() and (data / "mine" / "drums.wav").exists()
    assert {p.name for p in data.iterdir() if p.is_dir()} == {"mine"} | {s["id"] for s in segments}


def test_stray_segment_folders_and_odd_manifests_are_one_line_errors(tmp_path):
    """Segment folders that no segments.json names (an interrupted run's, or segments.json gone
    or damaged, even with --force) ended in OSError "Directory not empty" at the last rename; a
    segments.json of the wrong shape ({} or [1, 2]) in a KeyError or TypeError of --create-hdf5."""
    from mixin.data.hdf5 import create_hdf5

    write_musdb_track(tmp_path / "stems" / "a", 1.2, seed=1)
    data = tmp_path / "data"
    prepare_stems([tmp_path / "stems"], data)
    (data / "segments.json").unlink()
    before = sorted(p.name for p in data.iterdir())
    stray = r"t0000-s0000-a0-nov: a segment folder that no segments.json names \(left by an interrupted run"
    with pytest.raises(MixinError, match=stray):
        prepare_stems([tmp_path / "stems"], data)
    (data / "segments.json").write_text("{damaged")
    with pytest.raises(MixinError, match=stray):
        prepare_stems([tmp_path / "stems"], data, force=True)
    assert sorted(p.name for p in data.iterdir()) == sorted([*before, "segments.json"])  # nothing touched
    for text, problem in (
        ("{}", "no list of segments"),
        ("[1, 2]", "no list of segments"),
        ('{"segments": [1]}', "segment 0 is not an object"),
        ('{"segments": [{"id": "../x", "sources": [], "tracks": ["a"]}]}', "segment 0 has no segment folder name"),
        ('{"segments": [{"id": "t0000-s0000-a0-v", "sources": ["vocal"]}]}', "segment t0000-s0000-a0-v lacks"),
        ('{"segments": [], "recordings": {"a": "b"}}', "recordings is not a map"),
    ):
        (data / "segments.json").write_text(text)
        with pytest.raises(
            MixinError, match=rf"segments.json: invalid manifest \({problem}.*run --prepare-stems --force"
        ):
            create_hdf5(data)


def test_a_failed_move_into_place_keeps_the_old_segments(tmp_path, monkeypatch):
    """--force's last moves: one failing left the old segments removed and part of the new set in place."""
    import os

    from mixin.data import stems as stems_module
    from mixin.data.stems import MANIFEST

    write_musdb_track(tmp_path / "stems" / "a", 2.5, seed=1)
    data = tmp_path / "data"
    prepare_stems([tmp_path / "stems"], data, segment_duration=2.5)
    before = {p.name: p.stat().st_mtime_ns for p in data.iterdir()}
    manifest = (data / MANIFEST).read_text()
    real_replace, moved_in = os.replace, []

    def failing_replace(src, dst):
        if Path(src).parent.name.endswith(".part"):
            moved_in.append(dst)
            if len(moved_in) == 2:
                raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(stems_module.os, "replace", failing_replace)
    with pytest.raises(MixinError, match=r"cannot put in place \(No space left on device\)"):
        prepare_stems([tmp_path / "stems"], data, segment_duration=1.25, force=True)
    assert len(moved_in) == 2
    assert {p.name: p.stat().st_mtime_ns for p in data.iterdir()} == before  # the old set, whole
    assert (data / MANIFEST).read_text() == manifest
    monkeypatch.setattr(stems_module.os, "replace", real_replace)
    segs = prepare_stems([tmp_path / "stems"], data, segment_duration=1.25, force=True)
    assert {p.name for p in data.iterdir()} == {MANIFEST} | {s.id for s in segs}
