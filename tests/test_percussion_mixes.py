"""Evaluation mixes assembled from multitrack folders: percussion under real instruments, loud drums."""

import shutil

import numpy as np
import pytest
import soundfile as sf

from mixin.data.percussion_mixes import make_loud_drum_songs, make_percussion_mixes
from mixin.data.synth import write_musdb_track
from mixin.errors import MixinError


def test_mixes_are_pitched_stems_over_other_drums(tmp_path):
    for i in range(3):
        write_musdb_track(tmp_path / "songs" / f"song{i}", 1.5, seed=i)
    loop = tmp_path / "loop.wav"
    sf.write(str(loop), (0.2 * np.random.default_rng(0).normal(size=(11025, 1))).astype(np.float32), 22050)
    made = make_percussion_mixes(tmp_path / "songs", tmp_path / "out", [loop])
    assert len(made) == 4  # each song under another's drums, the first also under the loop
    for folder in made:
        names = sorted(p.name for p in folder.iterdir())
        assert names == ["drums.wav", "harmonic.wav", "mixture.wav"]
        audio = {n: sf.read(str(folder / n), dtype="float32")[0] for n in names}
        np.testing.assert_allclose(audio["harmonic.wav"] + audio["drums.wav"], audio["mixture.wav"], atol=1e-6)
        assert np.abs(audio["mixture.wav"]).max() == pytest.approx(0.9, abs=1e-4)
    # The pitched part is the song's bass + other, never its vocals or drums.
    bass, _ = sf.read(str(tmp_path / "songs" / "song0" / "bass.wav"), dtype="float32")
    other, _ = sf.read(str(tmp_path / "songs" / "song0" / "other.wav"), dtype="float32")
    got, _ = sf.read(str(made[0] / "harmonic.wav"), dtype="float32")
    scale = np.dot(got.ravel(), (bass + other).ravel()) / np.dot((bass + other).ravel(), (bass + other).ravel())
    np.testing.assert_allclose(got, scale * (bass + other), atol=1e-5)
    with pytest.raises(MixinError, match="already holds percussion mixes .*: --force replaces the set"):
        make_percussion_mixes(tmp_path / "songs", tmp_path / "out", [loop])


def test_percussion_level_is_drawn_and_a_silent_loop_makes_no_mix(tmp_path):
    from mixin.data.percussion_mixes import LEVEL_DB

    for i in range(2):
        write_musdb_track(tmp_path / "songs" / f"song{i}", 1.5, seed=i)
    silent, loud = tmp_path / "silent.wav", tmp_path / "loud.wav"
    sf.write(str(silent), np.zeros((22050, 1), np.float32), 22050)
    sf.write(str(loud), (0.5 * np.random.default_rng(1).normal(size=(22050, 2))).astype(np.float32), 22050)
    with pytest.warns(UserWarning, match="silent: no mix made with it"):
        made = make_percussion_mixes(tmp_path / "songs", tmp_path / "out", [silent, loud])
    assert [p.name.split(" + ")[1] for p in made] == ["drums of song1", "drums of song0", "loud"]
    for folder in made:
        drums, _ = sf.read(str(folder / "drums.wav"), dtype="float64")
        pitched, _ = sf.read(str(folder / "harmonic.wav"), dtype="float64")
        level = 10 * np.log10(np.sum(drums**2) / np.sum(pitched**2))
        assert LEVEL_DB[0] - 1e-6 <= level <= LEVEL_DB[1] + 1e-6, (folder.name, level)


def test_loud_drum_songs_set_the_drums_level_and_keep_the_rest(tmp_path):
    for i in range(2):
        write_musdb_track(tmp_path / "songs" / f"song{i}", 1.0, seed=i)
    sf.write(str(tmp_path / "songs" / "notes.txt"), np.zeros((10, 1)), 8000, format="WAV")  # not a folder
    made = make_loud_drum_songs(tmp_path / "songs", tmp_path / "out", drums_db=-3.0)
    assert [p.name for p in made] == ["song0", "song1"]
    for folder in made:
        audio = {p.stem: sf.read(str(p), dtype="float32")[0] for p in folder.iterdir()}
        assert sorted(audio) == ["bass", "drums", "mixture", "other", "vocals"]
        rest = audio["bass"] + audio["other"] + audio["vocals"]
        ratio_db = 10 * np.log10(np.sum(audio["drums"].astype(np.float64) ** 2) / np.sum(rest.astype(np.float64) ** 2))
        assert ratio_db == pytest.approx(-3.0, abs=0.01)
        np.testing.assert_allclose(rest + audio["drums"], audio["mixture"], atol=1e-6)
        assert np.abs(audio["mixture"]).max() == pytest.approx(0.9, abs=1e-4)
        # Everything but the drums keeps its shape: one common scale.
        source = {
            n: sf.read(str(tmp_path / "songs" / folder.name / f"{n}.wav"), dtype="float32")[0]
            for n in ("bass", "vocals")
        }
        scale = float(np.max(np.abs(audio["bass"])) / np.max(np.abs(source["bass"])))
        np.testing.assert_allclose(audio["vocals"], scale * source["vocals"], atol=1e-5)
    with pytest.raises(MixinError, match="already exists"):
        make_loud_drum_songs(tmp_path / "songs", tmp_path / "out")
    with pytest.raises(MixinError, match="no track folder with drums"):
        make_loud_drum_songs(tmp_path / "out" / "song0", tmp_path / "out2")


def test_loud_drum_songs_force_replaces_each_song_whole(tmp_path):
    """--force rewrote a song's files in place, so a stem of the earlier set stayed beside the new
    ones (and was scored with them); a song folder of another set is named in a warning."""
    for i in range(2):
        write_musdb_track(tmp_path / "songs" / f"song{i}", 1.0, seed=i)
    out = tmp_path / "out"
    make_loud_drum_songs(tmp_path / "songs", out)
    shutil.copy(out / "song0" / "bass.wav", out / "song0" / "piano.wav")  # a stem the new set does not have
    shutil.copytree(out / "song1", out / "older song")
    with pytest.warns(UserWarning, match=r"also holds older song, not songs of .*: scored with this set unless"):
        made = make_loud_drum_songs(tmp_path / "songs", out, force=True)
    assert [p.name for p in made] == ["song0", "song1"]
    assert sorted(p.name for p in (out / "song0").iterdir()) == [
        "bass.wav",
        "drums.wav",
        "mixture.wav",
        "other.wav",
        "vocals.wav",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["older song", "song0", "song1"]  # no staging left


def test_eval_cli_writes_loud_drum_songs(tmp_path, capsys):
    from mixin.cli.evaluate import main

    write_musdb_track(tmp_path / "songs" / "song0", 1.0, seed=3)
    assert main([str(tmp_path / "songs"), "--make-loud-drums", str(tmp_path / "out"), "--drums-db", "-6"]) == 0
    assert "wrote 1 songs into" in capsys.readouterr().out
    drums, _ = sf.read(str(tmp_path / "out" / "song0" / "drums.wav"), dtype="float64")
    mix, _ = sf.read(str(tmp_path / "out" / "song0" / "mixture.wav"), dtype="float64")
    assert 10 * np.log10(np.sum(drums**2) / np.sum((mix - drums) ** 2)) == pytest.approx(-6.0, abs=0.01)
    code = main(
        [
            str(tmp_path / "songs"),
            "--make-loud-drums",
            str(tmp_path / "o2"),
            "--make-percussion-mixes",
            str(tmp_path / "o3"),
        ]
    )
    assert code == 2 and "one at a time" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()
    assert main([str(tmp_path / "songs"), "--make-loud-drums", str(tmp_path / "out"), "--drums-db", "-9"]) == 1
    assert "already exists (use --force to overwrite)" in capsys.readouterr().err
    assert (
        main([str(tmp_path / "songs"), "--make-loud-drums", str(tmp_path / "out"), "--drums-db", "-9", "--force"]) == 0
    )
    drums, _ = sf.read(str(tmp_path / "out" / "song0" / "drums.wav"), dtype="float64")
    mix, _ = sf.read(str(tmp_path / "out" / "song0" / "mixture.wav"), dtype="float64")
    assert 10 * np.log10(np.sum(drums**2) / np.sum((mix - drums) ** 2)) == pytest.approx(-9.0, abs=0.01)
    assert (
        main(
            [
                str(tmp_path / "songs"),
                "--make-loud-drums",
                str(tmp_path / "o4"),
                "--stem-db",
                "vocals=2",
                "--stem-db",
                "bass=-1",
            ]
        )
        == 0
    )
    assert "drums at -3 dB of the rest, vocals +2 dB, bass -1 dB" in capsys.readouterr().out
    assert main([str(tmp_path / "songs"), "--make-loud-drums", str(tmp_path / "o5"), "--stem-db", "vocals"]) == 2
    assert "--stem-db: 'vocals' is not NAME=DB" in capsys.readouterr().err
    assert main([str(tmp_path / "songs"), "--make-loud-drums", str(tmp_path / "o5"), "--stem-db", "vocals=nan"]) == 2
    assert "--stem-db: 'vocals=nan' is not NAME=DB" in capsys.readouterr().err
    assert main([str(tmp_path / "songs"), "--stem-db", "vocals=2"]) == 2
    assert "--stem-db: for --make-loud-drums only" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # before, NaN audio was written
        main([str(tmp_path / "songs"), "--make-loud-drums", str(tmp_path / "o5"), "--drums-db", "nan"])
    assert exit_.value.code == 2 and "--drums-db: must be a finite number, got nan" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "songs"), "--cores", "0"])
    assert exit_.value.code == 2 and "--cores: must be a whole number >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "o5").exists()


@pytest.mark.parametrize("make", [make_loud_drum_songs, make_percussion_mixes])
def test_the_songs_read_are_never_rewritten(tmp_path, make):
    """``eval_mixin.py songs --make-loud-drums songs --force`` used to rewrite the stems in place."""
    write_musdb_track(tmp_path / "songs" / "song0", 1.0, seed=3)
    write_musdb_track(tmp_path / "songs" / "song1", 1.0, seed=4)
    before = (tmp_path / "songs" / "song0" / "drums.wav").read_bytes()
    with pytest.raises(MixinError, match="is the folder the songs are read from: give another output folder"):
        make(tmp_path / "songs", tmp_path / "songs" / ".." / "songs", force=True)
    assert (tmp_path / "songs" / "song0" / "drums.wav").read_bytes() == before


def test_loud_drum_songs_move_named_stems_first_and_refuse_unknown_ones(tmp_path):
    write_musdb_track(tmp_path / "songs" / "song0", 1.0, seed=4)
    plain = make_loud_drum_songs(tmp_path / "songs", tmp_path / "plain", drums_db=-3.0)[0]
    moved = make_loud_drum_songs(tmp_path / "songs", tmp_path / "moved", drums_db=-3.0, stem_db={"vocals": 6.0})[0]
    a = {p.stem: sf.read(str(p), dtype="float64")[0] for p in plain.iterdir()}
    b = {p.stem: sf.read(str(p), dtype="float64")[0] for p in moved.iterdir()}
    energy = lambda x: float(np.sum(x**2))  # noqa: E731
    # The vocals rose 6 dB against the bass; the drums sit at -3 dB of the re-balanced rest.
    shift = 10 * np.log10(energy(b["vocals"]) / energy(b["bass"])) - 10 * np.log10(
        energy(a["vocals"]) / energy(a["bass"])
    )
    assert shift == pytest.approx(6.0, abs=0.01)
    rest = b["bass"] + b["other"] + b["vocals"]
    assert 10 * np.log10(energy(b["drums"]) / energy(rest)) == pytest.approx(-3.0, abs=0.01)
    np.testing.assert_allclose(rest + b["drums"], b["mixture"], atol=1e-6)
    with pytest.raises(MixinError, match="no song has a stem named voice"):
        make_loud_drum_songs(tmp_path / "songs", tmp_path / "x", stem_db={"voice": 3.0})
    with pytest.raises(MixinError, match="a drum stem"):
        make_loud_drum_songs(tmp_path / "songs", tmp_path / "y", stem_db={"drums": 3.0})
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_loud_drum_songs_spread_in_stereo(tmp_path, capsys):
    from mixin.cli.evaluate import main
    from mixin.data.percussion_mixes import SPREAD_PAN

    write_musdb_track(tmp_path / "songs" / "song0", 1.5, seed=4)
    assert main([str(tmp_path / "songs"), "--make-loud-drums", str(tmp_path / "out"), "--spread"]) == 0
    assert "(drums at -3 dB of the rest, spread in stereo)" in capsys.readouterr().out
    audio = {
        n: sf.read(str(tmp_path / "out" / "song0" / f"{n}.wav"), dtype="float64")[0]
        for n in ("bass", "drums", "mixture", "other", "vocals")
    }
    stems = audio["bass"] + audio["drums"] + audio["other"] + audio["vocals"]
    np.testing.assert_allclose(stems, audio["mixture"], atol=1e-6)
    rest = audio["mixture"] - audio["drums"]
    assert 10 * np.log10(np.sum(audio["drums"] ** 2) / np.sum(rest**2)) == pytest.approx(-3.0, abs=0.01)
    # The bass stays dry in the middle; the other pitched stem sits left (constant-power pan), with reverb.
    np.testing.assert_allclose(audio["bass"][:, 0], audio["bass"][:, 1], atol=1e-7)
    angle = (1 - SPREAD_PAN) * np.pi / 4
    left, right = np.sum(audio["other"][:, 0] ** 2), np.sum(audio["other"][:, 1] ** 2)
    assert 10 * np.log10(left / right) == pytest.approx(20 * np.log10(np.cos(angle) / np.sin(angle)), abs=1.5)
    # The reverb decorrelates the channels of the voice and the drums, which sit in the middle.
    for name in ("vocals", "drums"):
        left, right = audio[name][:, 0], audio[name][:, 1]
        assert 0.5 < np.dot(left, right) / np.sqrt(np.dot(left, left) * np.dot(right, right)) < 0.999
        assert 10 * np.log10(np.sum(left**2) / np.sum(right**2)) == pytest.approx(0.0, abs=1.0)
    # The same stems, the same result.
    assert main([str(tmp_path / "songs"), "--make-loud-drums", str(tmp_path / "out"), "--spread", "--force"]) == 0
    again, _ = sf.read(str(tmp_path / "out" / "song0" / "mixture.wav"), dtype="float64")
    np.testing.assert_array_equal(again, audio["mixture"])
    assert main([str(tmp_path / "songs"), "--spread"]) == 2
    assert "--spread: for --make-loud-drums only" in capsys.readouterr().err


def test_song_i_takes_loop_i_and_a_loop_left_over_is_warned_about(tmp_path):
    """Three loops and two songs made four mixes: the third loop was never used, without a word
    (README and --help said every song went under every loop)."""
    for i in range(2):
        write_musdb_track(tmp_path / "songs" / f"song{i}", 1.0, seed=i)
    loops = []
    for k in range(3):
        loops.append(tmp_path / f"loop{k}.wav")
        sf.write(str(loops[-1]), (0.3 * np.random.default_rng(k).normal(size=(8000, 1))).astype(np.float32), 22050)
    with pytest.warns(UserWarning, match=r"loop2.wav: not used: loop i goes under song i, and .* holds 2") as caught:
        made = make_percussion_mixes(tmp_path / "songs", tmp_path / "out", loops)
    assert len(caught) == 1
    assert [p.name for p in made] == [
        "00 song0 + drums of song1",
        "01 song0 + loop0",
        "02 song1 + drums of song0",
        "03 song1 + loop1",
    ]


def test_loops_are_checked_before_anything_is_written(tmp_path):
    """An empty loop ended in ZeroDivisionError after folder 00 was written; a silent one was
    skipped without a word."""
    for i in range(2):
        write_musdb_track(tmp_path / "songs" / f"song{i}", 1.0, seed=i)
    empty, junk, silent, loud = (tmp_path / n for n in ("empty.wav", "junk.wav", "silent.wav", "loud.wav"))
    sf.write(str(empty), np.zeros((0, 1), np.float32), 22050)
    junk.write_bytes(b"not audio")
    sf.write(str(silent), np.zeros((4000, 1), np.float32), 22050)
    sf.write(str(loud), (0.3 * np.random.default_rng(0).normal(size=(4000, 1))).astype(np.float32), 22050)
    with pytest.raises(MixinError, match=r"empty.wav: holds no samples"):
        make_percussion_mixes(tmp_path / "songs", tmp_path / "out", [loud, empty])
    with pytest.raises(MixinError, match=r"junk.wav: cannot read audio"):
        make_percussion_mixes(tmp_path / "songs", tmp_path / "out", [junk])
    assert not (tmp_path / "out").exists()
    with pytest.warns(UserWarning, match=r"silent.wav: silent: no mix made with it"):
        made = make_percussion_mixes(tmp_path / "songs", tmp_path / "out", [silent, loud])
    assert [p.name.split(" + ")[1] for p in made] == ["drums of song1", "drums of song0", "loud"]


def test_another_songs_drums_are_resampled_to_the_songs_rate(tmp_path):
    """B's 22.05-kHz drums were laid under A (44.1 kHz) sample for sample: an octave up, twice as fast."""
    write_musdb_track(tmp_path / "songs" / "A", 1.0, sample_rate=44100, seed=0)
    write_musdb_track(tmp_path / "songs" / "B", 1.0, sample_rate=22050, seed=1)
    t = np.arange(22050) / 22050
    beat = np.stack([0.3 * np.sin(2 * np.pi * 1000 * t)] * 2, axis=1).astype(np.float32)  # 1 kHz
    sf.write(str(tmp_path / "songs" / "B" / "drums.wav"), beat, 22050, subtype="FLOAT")
    made = make_percussion_mixes(tmp_path / "songs", tmp_path / "out")
    drums, rate = sf.read(str(made[0] / "drums.wav"), dtype="float64")
    assert made[0].name == "00 A + drums of B" and rate == 44100
    spectrum = np.abs(np.fft.rfft(drums[:, 0]))
    assert np.fft.rfftfreq(len(drums), 1 / rate)[np.argmax(spectrum)] == pytest.approx(1000, abs=2)


def test_force_replaces_the_whole_set_of_mixes(tmp_path):
    """--force rewrote the folders of the new numbering and left an earlier run's others in
    place, which a later eval then scored with the new set."""
    for i in range(3):
        write_musdb_track(tmp_path / "songs" / f"song{i}", 1.0, seed=i)
    loop = tmp_path / "loop.wav"
    sf.write(str(loop), (0.3 * np.random.default_rng(0).normal(size=(8000, 1))).astype(np.float32), 22050)
    out = tmp_path / "out"
    first = make_percussion_mixes(tmp_path / "songs", out, [loop])
    assert len(first) == 4
    (out / "notes").mkdir()  # not a mix folder: left alone
    (out / "notes" / "x.txt").write_text("mine")
    shutil.rmtree(tmp_path / "songs" / "song2")
    second = make_percussion_mixes(tmp_path / "songs", out, force=True)
    assert sorted(p.name for p in out.iterdir()) == sorted([p.name for p in second] + ["notes"])
    assert (out / "notes" / "x.txt").read_text() == "mine"
    (second[0] / "extra.txt").write_text("not a mix's")
    with pytest.raises(MixinError, match="holds extra.txt, not only a mix's files: move it away"):
        make_percussion_mixes(tmp_path / "songs", out, [loop], force=True)
    assert sorted(p.name for p in out.iterdir()) == sorted([p.name for p in second] + ["notes"])  # untouched


def test_a_mix_left_out_says_why(tmp_path):
    """A song with silent pitched stems, or under silent drums, was skipped without a word, and a
    loop that resampled to no samples ended in ZeroDivisionError."""
    for i in range(3):
        write_musdb_track(tmp_path / "songs" / f"song{i}", 1.0, seed=i)
    for name in ("bass.wav", "other.wav"):  # song2's pitched stems silent
        audio, rate = sf.read(str(tmp_path / "songs" / "song2" / name), dtype="float32")
        sf.write(str(tmp_path / "songs" / "song2" / name), np.zeros_like(audio), rate)
    audio, rate = sf.read(str(tmp_path / "songs" / "song1" / "drums.wav"), dtype="float32")
    sf.write(str(tmp_path / "songs" / "song1" / "drums.wav"), np.zeros_like(audio), rate)  # song1's drums silent
    blip = tmp_path / "blip.wav"
    sf.write(str(blip), np.full((1, 1), 0.5, np.float32), 96000)  # 1 sample at 96 kHz: none at 44.1 kHz
    with pytest.warns(UserWarning) as caught:
        made = make_percussion_mixes(tmp_path / "songs", tmp_path / "out", [blip])
    said = sorted(str(w.message) for w in caught)
    assert said == [
        "song0 + blip: no mix made: the percussion is under one sample at 44100 Hz",
        "song0 + drums of song1: no mix made: those drums are silent",
        "song2 + drums of song0: no mix made: the song's pitched stems are silent",
    ]
    assert [p.name for p in made] == ["00 song1 + drums of song2"]
