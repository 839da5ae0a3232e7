"""--make-song-clips (mixin.data.song_clips): real multitracks -> MIR-1K-style clips for the DRNN."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixin.cli.train import main as train_main
from mixin.data.song_clips import CLIP_S, RATE, make_song_clips
from mixin.errors import MixinError
from mixin.training.drnn import load_clips


def tone(seconds: float, freq: float, rate: int = 44100, amp: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_song(folder: Path, seconds: float, voice_from: float | None) -> None:
    """A track folder: drums and bass (44.1 kHz stereo); vocals silent before ``voice_from`` s."""
    folder.mkdir(parents=True)
    stereo = lambda x: np.stack([x, x], axis=1)  # noqa: E731
    sf.write(folder / "drums.wav", stereo(tone(seconds, 300.0)), 44100)
    sf.write(folder / "bass.wav", stereo(tone(seconds, 110.0)), 44100)
    sf.write(folder / "mixture.wav", stereo(tone(seconds, 50.0)), 44100)  # skipped: rebuilt from stems
    if voice_from is not None:
        voice = tone(seconds, 440.0)
        voice[: int(voice_from * 44100)] = 0
        sf.write(folder / "vocals.wav", stereo(voice), 44100)


def write_voices(folder: Path) -> None:
    folder.mkdir()
    for name, seconds in (("abjones_1_01", 5.0), ("amy_2_01", 7.0)):
        clip = np.stack([tone(seconds, 220.0, RATE), tone(seconds, 660.0, RATE)], axis=1)
        sf.write(folder / f"{name}.flac", clip, RATE)


def test_sung_tracks_are_cut_and_voices_paired_with_real_accompaniment(tmp_path):
    songs = tmp_path / "songs"
    write_song(songs / "Sung Song", 4 * CLIP_S, voice_from=CLIP_S)  # the first clip has no voice
    write_song(songs / "Instrumental", 20.0, voice_from=None)
    write_voices(tmp_path / "voices")
    out = tmp_path / "clips"
    assert make_song_clips([songs], tmp_path / "voices", out, paired=5) == (3, 5, 0)
    names = sorted(p.name for p in out.iterdir())
    paired = paired_names(out, "mixreal")
    assert [n.split("+")[1] for n in paired] == [f"mixreal{k:03d}_01.flac" for k in range(5)]
    assert sorted(set(names) - set(paired)) == [
        "real_sungsong_01.flac",
        "real_sungsong_02.flac",
        "real_sungsong_03.flac",
    ]
    audio, rate = sf.read(out / "real_sungsong_02.flac")
    assert rate == RATE and audio.shape == (int(CLIP_S * RATE), 2)
    phase = 2 * int(CLIP_S * RATE)  # the tones' phase at the start of clip 2
    t = (np.arange(int(CLIP_S * RATE)) + phase) / RATE
    expected_music = 0.2 * np.sin(2 * np.pi * 300 * t) + 0.2 * np.sin(2 * np.pi * 110 * t)  # drums + bass
    expected_voice = 0.2 * np.sin(2 * np.pi * 440 * t)
    core = slice(1000, -1000)  # away from the resampler's edges
    assert np.max(np.abs(audio[core, 0] - expected_music[core])) < 2e-3
    assert np.max(np.abs(audio[core, 1] - expected_voice[core])) < 2e-3
    for name in paired:  # a whole MIR-1K voice over a stretch of one track's accompaniment, named by its song
        clip, _ = sf.read(out / name)
        assert len(clip) == {"abjones_1": 5, "amy_2": 7}[name.split("+")[0]] * RATE
        assert abs(np.sqrt(np.mean(clip[:, 1] ** 2)) - 0.2 / np.sqrt(2)) < 1e-2  # the 660-Hz voice
        spectrum = np.abs(np.fft.rfft(clip[:, 0]))
        assert np.argmax(spectrum) * RATE / len(clip) in (110.0, 300.0)  # real accompaniment, not MIR-1K's
    again = tmp_path / "again"
    make_song_clips([songs], tmp_path / "voices", again, paired=5)
    for name in names:  # deterministic
        np.testing.assert_array_equal(sf.read(out / name)[0], sf.read(again / name)[0])
    # the DRNN trainer reads them beside MIR-1K's clips
    clips = load_clips([out, tmp_path / "voices"], "all")
    assert len(clips) == 10


def paired_names(folder: Path, kind: str) -> list[str]:
    """The clips of voices over other music (``kind`` mixreal or mixloop), in the order they were made."""
    return sorted((p.name for p in folder.glob(f"*+{kind}*")), key=lambda n: n.split("+")[1])


def tone_db(clip: np.ndarray, freq: float) -> float:
    """The energy (dB) of one tone in a clip, read off its spectrum."""
    spectrum = np.abs(np.fft.rfft(clip)) ** 2
    k = round(freq * len(clip) / RATE)
    return 10 * np.log10(spectrum[k - 3 : k + 4].sum())


def test_drum_level_rebalances_every_clip_and_loops_carry_voices(tmp_path):
    songs = tmp_path / "songs"
    write_song(songs / "Sung Song", 3 * CLIP_S, voice_from=0.0)  # drums 300 Hz and bass 110 Hz at one level
    write_voices(tmp_path / "voices")
    loop = tmp_path / "loop.wav"
    sf.write(loop, tone(1.5, 1000.0, amp=0.5), 44100)
    out, plain = tmp_path / "clips", tmp_path / "plain"
    assert make_song_clips(
        [songs], tmp_path / "voices", out, paired=4, drum_level=(-3.0, -3.0), loops=[loop], loop_clips=3
    ) == (3, 4, 3)
    make_song_clips([songs], tmp_path / "voices", plain, paired=4)
    assert paired_names(out, "mixreal") == paired_names(plain, "mixreal")  # the same voices
    for name in [f"real_sungsong_{k:02d}.flac" for k in range(3)] + paired_names(out, "mixreal"):
        music = sf.read(out / name)[0][:, 0]
        assert abs(tone_db(music, 300.0) - tone_db(music, 110.0) - (-3.0)) < 0.2, name  # drums at -3 dB
        level = tone_db(sf.read(plain / name)[0][:, 0], 300.0) - tone_db(sf.read(plain / name)[0][:, 0], 110.0)
        assert abs(level) < 0.2, name  # without drum_level: the stems' own balance (equal tones)
        np.testing.assert_array_equal(sf.read(out / name)[0][:, 1], sf.read(plain / name)[0][:, 1])  # same voices
    assert len(paired_names(out, "mixloop")) == 3
    for name in paired_names(out, "mixloop"):  # a voice over the loop alone: nothing else in the accompaniment
        clip, _ = sf.read(out / name)
        assert len(clip) in (5 * RATE, 7 * RATE)
        assert np.argmax(np.abs(np.fft.rfft(clip[:, 0]))) * RATE / len(clip) == pytest.approx(1000.0, abs=1.0)
        assert abs(np.sqrt(np.mean(clip[:, 1] ** 2)) - 0.2 / np.sqrt(2)) < 1e-2
    loud = tmp_path / "loud"  # drums far up: the clip is scaled down whole rather than clipped
    make_song_clips([songs], None, loud, paired=0, drum_level=(12.0, 12.0))
    clip = sf.read(loud / "real_sungsong_01.flac")[0]
    assert np.max(np.abs(clip)) < 1.0 and abs(tone_db(clip[:, 0], 300.0) - tone_db(clip[:, 0], 110.0) - 12.0) < 0.2


def test_errors_name_the_problem(tmp_path):
    songs = tmp_path / "songs"
    write_song(songs / "Song", 10.0, voice_from=0.0)
    with pytest.raises(MixinError, match="paired clips need --voices"):
        make_song_clips([songs], None, tmp_path / "out", paired=3)
    assert not (tmp_path / "out").exists()  # checked before any clip is cut
    assert make_song_clips([songs], None, tmp_path / "out", paired=0) == (1, 0, 0)
    with pytest.raises(MixinError, match="need loop files"):
        make_song_clips([songs], tmp_path / "voices", tmp_path / "out", paired=0, loop_clips=2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MixinError, match="no MIR-1K-style clips"):
        make_song_clips([songs], tmp_path / "empty", tmp_path / "out", paired=3)
    with pytest.raises(MixinError, match="stem directory not found"):
        make_song_clips([tmp_path / "missing"], None, tmp_path / "out", paired=0)


def test_cli_step(tmp_path, capsys):
    write_song(tmp_path / "songs" / "Song", 10.0, voice_from=0.0)
    write_voices(tmp_path / "voices")
    out = tmp_path / "clips"
    argv = [
        "--make-song-clips",
        str(out),
        "--songs",
        str(tmp_path / "songs"),
        "--voices",
        str(tmp_path / "voices"),
        "--paired",
        "2",
    ]
    assert train_main(argv) == 0
    assert (
        "1 clips cut from sung tracks, 2 voices over real accompaniment, 0 over drum loops" in capsys.readouterr().out
    )
    assert len(list(out.glob("*.flac"))) == 3
    loop = tmp_path / "loop.wav"
    sf.write(loop, tone(2.0, 1000.0), 44100)
    assert train_main(argv + ["--drum-level", "-3", "-3", "--loops", str(loop), "--loop-clips", "2"]) == 1
    assert f"error: {out}: already holds clips (use --force to replace them)" in capsys.readouterr().err
    assert train_main(argv + ["--drum-level", "-3", "-3", "--loops", str(loop), "--loop-clips", "2", "--force"]) == 0
    assert "2 over drum loops" in capsys.readouterr().out
    assert len(list(out.glob("*+mixloop*.flac"))) == 2
    with pytest.raises(SystemExit) as exc:
        train_main(argv + ["--loop-clips", "2"])
    assert exc.value.code == 2 and "--loop-clips needs --loops" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        train_main(["--make-song-clips", str(out), "--songs", str(tmp_path / "songs")])
    assert exc.value.code == 2
    assert "--make-song-clips needs --voices (or --paired 0 and --loop-clips 0)" in capsys.readouterr().err


def test_clips_made_from_a_voice_split_with_its_song_and_singer(tmp_path):
    """Paired clips were named mixreal_NNN_01 (singer "mixreal", a song of their own): with
    --val-singer amy the DRNN trained on amy's voice that it validated on, and by default on
    voices of songs held out in the MIR-1K folder."""
    from mixin.data.mir1k import split_paths

    write_song(tmp_path / "songs" / "Song", 20.0, voice_from=None)
    voices = tmp_path / "voices"
    voices.mkdir()
    for k, name in enumerate(("abjones_1_01", "abjones_2_01", "abjones_3_01", "abjones_4_01", "amy_5_01")):
        clip = np.stack([tone(1.0 + 0.25 * k, 220.0, RATE), tone(1.0 + 0.25 * k, 660.0, RATE)], axis=1)
        sf.write(voices / f"{name}.flac", clip, RATE)
    out = tmp_path / "clips"
    make_song_clips([tmp_path / "songs"], voices, out, paired=12)
    seconds = {p.name: sf.info(p).duration for p in out.iterdir()}
    for dirs in ([voices, out], [out, voices]):
        train = split_paths(dirs, "train", val_singer="amy")
        validation = split_paths(dirs, "validation", val_singer="amy")
        assert {sf.info(p).duration for p in train if p.parent == out} <= {1.0, 1.25, 1.5, 1.75}
        assert {p.name for p in validation} == {"amy_5_01.flac"} | {n for n, s in seconds.items() if s == 2.0}
        # every fifth MIR-1K song (amy_5) validates, and so do the clips carrying its voice
        train, validation = split_paths(dirs, "train"), split_paths(dirs, "validation")
        assert {p.name for p in validation} == {p.name for p in validation if p.name.startswith("amy_5")}
        assert len(validation) > 1 and not any(p.name.startswith("amy_5") for p in train)


def test_a_run_never_mixes_with_the_clips_of_another(tmp_path, monkeypatch):
    """Clips were written in place over any of the same names: a second run overwrote the first's
    without --force, and one making fewer clips left a folder of two runs' clips."""
    import mixin.data.song_clips as song_clips

    write_song(tmp_path / "songs" / "Song", 10.0, voice_from=0.0)
    write_voices(tmp_path / "voices")
    out = tmp_path / "clips"
    make = lambda **kw: make_song_clips([tmp_path / "songs"], tmp_path / "voices", out, **kw)  # noqa: E731
    make(paired=3)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(MixinError, match=r"clips: already holds clips \(use --force to replace them\)"):
        make(paired=1, seed=5)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    written = []

    def fail_on_the_second(path, *args):  # a full disk halfway through
        written.append(path)
        if len(written) == 2:
            raise MixinError(path, "cannot write")
        return original(path, *args)

    original = song_clips._write
    monkeypatch.setattr(song_clips, "_write", fail_on_the_second)
    with pytest.raises(MixinError, match="cannot write"):
        make(paired=1, seed=5, force=True)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the earlier run's clips, whole
    assert make(paired=1, force=True) == (1, 1, 0)
    assert len(list(out.iterdir())) == 2  # the new run's two clips, none of the earlier run's beside them
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clips", "songs", "voices"]  # no staging left
    (out / "notes.txt").write_text("mine")
    with pytest.raises(MixinError, match="notes.txt: is not a clip: --force replaces a folder of clips"):
        make(paired=1, force=True)
    assert (out / "notes.txt").read_text() == "mine"
