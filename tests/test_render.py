"""--render-stems: a tiny generated MIDI song split by channel and rendered with TimGM6mb."""

from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from mixin.data.mir1k import split_for
from mixin.data.render import font_split, part_of, recordings_of, render_stems, split_midi
from mixin.errors import MixinError

TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")  # scripts/install_render_deps.sh installs it


def tiny_song(path: Path) -> Path:
    """Two bars: a piano chord (channel 1), a bass line (program 33, channel 2), drums (channel 10)."""
    mid = mido.MidiFile(ticks_per_beat=480)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)])
    mid.tracks.append(meta)
    for ch, program, notes in ((0, 0, [60, 64, 67]), (1, 33, [36]), (9, 0, [36, 42])):
        tr = mido.MidiTrack([mido.Message("program_change", channel=ch, program=program, time=0)])
        for _ in range(8):
            for n in notes:
                tr.append(mido.Message("note_on", channel=ch, note=n, velocity=100, time=0))
            for i, n in enumerate(notes):
                tr.append(mido.Message("note_off", channel=ch, note=n, velocity=0, time=480 if i == 0 else 0))
        mid.tracks.append(tr)
    mid.save(str(path))
    return path


def test_parts_by_channel_and_program():
    assert part_of(9, 0) == "drums"
    assert part_of(0, 33) == "bass" and part_of(3, 39) == "bass"
    assert part_of(0, 0) == "other" and part_of(0, 40) == "other"


def test_split_midi_keeps_notes_in_their_part(tmp_path):
    parts = split_midi(tiny_song(tmp_path / "s.mid"), tmp_path, transpose=2)
    assert sorted(parts) == ["bass", "drums", "other"]
    notes = {
        name: sorted({m.note for t in mido.MidiFile(str(p)).tracks for m in t if m.type == "note_on" and m.velocity})
        for name, p in parts.items()
    }
    assert notes == {"other": [62, 66, 69], "bass": [38], "drums": [36, 42]}  # drums not transposed


def test_validation_material_is_disjoint():
    items = list(range(12))
    train, val = split_for(items, "train"), split_for(items, "validation")
    assert not set(train) & set(val) and sorted(train + val) == items and val == [4, 9]


def test_font_split(tmp_path):
    fonts = []
    for name, size in (("big.sf2", 300), ("small.sf2", 10), ("mid.sf3", 100)):
        p = tmp_path / name
        p.write_bytes(b"x" * size)
        fonts.append(p)
    assert font_split(fonts, "validation") == [tmp_path / "small.sf2"]
    assert sorted(font_split(fonts, "train")) == sorted([tmp_path / "big.sf2", tmp_path / "mid.sf3"])


def test_render_tiny_song_with_smallest_soundfont(tmp_path):
    song = tiny_song(tmp_path / "song.mid")
    voices = tmp_path / "voices"
    voices.mkdir()
    sf.write(str(voices / "singer_1_01.wav"), 0.1 * np.ones((16000, 2), dtype=np.float32), 16000)
    out = render_stems(tmp_path / "out", 1, songs=[song], soundfonts=[TIMGM], voice_dir=voices, split="train")
    assert len(out) == 1
    folder = out[0]
    names = sorted(p.name for p in folder.glob("*.wav"))
    assert names == ["bass.wav", "drums.wav", "mixture.wav", "other.wav", "vocals.wav"]
    stems = {n: sf.read(str(folder / n), dtype="float32") for n in names}
    assert {r for _, r in stems.values()} == {44100}
    assert len({len(a) for a, _ in stems.values()}) == 1 and len(stems["mixture.wav"][0]) > 3 * 44100
    for n in ("bass.wav", "drums.wav", "other.wav"):
        assert np.sqrt(np.mean(stems[n][0] ** 2)) > 1e-3, n  # every part sounds
    total = sum(stems[n][0] for n in names if n != "mixture.wav")
    np.testing.assert_allclose(total, stems["mixture.wav"][0], atol=1e-5)
    assert "soundfont TimGM6mb.sf2" in (folder / "render.txt").read_text()
    assert recordings_of(folder) == ["midi:song", "voice:singer_1"]  # what the split keeps together
    with pytest.raises(MixinError, match="already exists"):
        render_stems(tmp_path / "out", 1, songs=[song], soundfonts=[TIMGM], split="train")


def test_link_songs_keeps_whole_songs_on_one_side(tmp_path):
    from mixin.data.mir1k import link_songs

    src = tmp_path / "src"
    src.mkdir()
    for song in range(1, 11):
        for clip in (1, 2):
            (src / f"amy_{song}_0{clip}.wav").write_bytes(b"")
    n_train = link_songs(src, tmp_path / "train", "train")
    n_val = link_songs(src, tmp_path / "val", "validation")
    assert (n_train, n_val) == (16, 4)
    train = {p.name.rsplit("_", 1)[0] for p in (tmp_path / "train").iterdir()}
    val = {p.name.rsplit("_", 1)[0] for p in (tmp_path / "val").iterdir()}
    assert not train & val and len(val) == 2


def test_drum_kit_fonts_are_kept_apart(tmp_path):
    from mixin.data.render import DRUM_KIT_GLOB, find_soundfonts

    for name in ("GM.sf2", "Kit_LV2.sf2", "Other.sf3"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in find_soundfonts([tmp_path])] == ["GM.sf2", "Other.sf3"]
    assert [p.name for p in find_soundfonts([tmp_path], pattern=DRUM_KIT_GLOB)] == ["Kit_LV2.sf2"]


def test_drums_move_to_a_melodic_channel(tmp_path):
    import mido

    from mixin.data.render import drums_on_melodic_channel

    song = tiny_song(tmp_path / "song.mid")
    parts = split_midi(song, tmp_path)
    out = drums_on_melodic_channel(parts["drums"], tmp_path / "kit.mid")
    messages = [m for t in mido.MidiFile(str(out)).tracks for m in t if hasattr(m, "channel")]
    notes = [m for m in messages if m.type == "note_on"]
    assert notes and {m.channel for m in notes} == {0}
    assert not [m for m in messages if m.channel == 9]  # nothing left on the percussion channel


def test_produce_places_and_treats_a_part():
    from mixin.data.render import produce

    rng = np.random.default_rng(0)
    audio = (0.1 * np.sin(2 * np.pi * 220 * np.arange(44100) / 44100)).astype(np.float32)
    out = produce("other", audio, rng)
    assert out.shape == (44100, 2) and out.dtype == np.float32
    assert np.sqrt(np.mean(out**2) * 2) == pytest.approx(np.sqrt(np.mean(audio**2)), rel=1e-3)  # level kept
