"""Leave-one-singer-out training of the DRNN: the split, the augmentation, resume, --all-clips."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf

from mixin.data import mir1k
from mixin.errors import MixinError
from mixin.evaluation.scoring import voice_metrics
from mixin.registry import ModelConfig
from mixin.training import drnn as drnn_train


def write_singers(directory: Path, singers: dict[str, int], seconds: float = 0.6, rate: int = 16000) -> Path:
    """``singers``: name -> songs; two clips a song, named like MIR-1K (singer_song_clip)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    t = np.arange(int(seconds * rate)) / rate
    for k, (singer, songs) in enumerate(singers.items()):
        for s in range(songs):
            for c in range(2):
                voice = 0.2 * np.sin(2 * np.pi * (200 + 150 * k + 20 * s) * t)
                music = 0.1 * rng.standard_normal(len(t))
                sf.write(
                    str(directory / f"{singer}_{s + 1}_{c + 1:02d}.wav"),
                    np.stack([music, voice], 1),
                    rate,
                    subtype="FLOAT",
                )
    return directory


def test_leave_one_singer_out_split(tmp_path):
    clips = write_singers(tmp_path / "clips", {"abjones": 2, "amy": 6})
    train = mir1k.split_paths([clips], "train", "amy")
    val = mir1k.split_paths([clips], "validation", "amy")
    assert {mir1k.singer_of(p) for p in train} == {"abjones"} and len(train) == 4
    assert {mir1k.singer_of(p) for p in val} == {"amy"} and len(val) == 12
    assert len(mir1k.split_paths([clips], "all")) == 16
    # the song split (default) mixes both singers on both sides, never a song on both sides
    songs = lambda ps: {p.stem.rsplit("_", 1)[0] for p in ps}  # noqa: E731
    assert not songs(mir1k.split_paths([clips], "train")) & songs(mir1k.split_paths([clips], "validation"))
    with pytest.raises(MixinError, match=r"no clips of singer 'bob' \(singers: abjones, amy\)"):
        mir1k.split_paths([clips], "validation", "bob")
    loaded = drnn_train.load_clips([clips], "train", "abjones")
    assert {c.name.split("_")[0] for c in loaded} == {"amy"}


def test_pitch_shift_moves_the_pitch_and_keeps_length_and_level():
    rate, f0 = 16000, 220.0
    t = np.arange(rate) / rate
    voice = (0.1 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)
    up = drnn_train.shift_pitch(voice, 3.0)
    assert up.shape == voice.shape and up.dtype == voice.dtype
    peak = np.argmax(np.abs(np.fft.rfft(up * np.hanning(len(up))))) * rate / len(up)
    assert peak == pytest.approx(f0 * 2 ** (3 / 12), abs=2.0)
    assert np.sqrt(np.mean(up**2)) == pytest.approx(np.sqrt(np.mean(voice**2)), rel=0.02)
    assert drnn_train.shift_pitch(voice, 0.0) is voice


def test_augment_gain_within_bounds():
    voice = np.ones(30000, np.float32)
    rng = np.random.default_rng(0)
    gains = [
        float(drnn_train.augment_voice(voice, rng, drnn_train.Augment(shift=False, gain_db=6.0))[0]) for _ in range(200)
    ]
    db = 20 * np.log10(gains)
    assert db.min() >= -6.0 and db.max() <= 6.0 and db.max() - db.min() > 8.0


def test_remix_pairs_a_voice_with_another_clips_music():
    rng = np.random.default_rng(1)
    clips = [
        drnn_train.Clip(
            f"c{i}",
            rng.standard_normal(8000 + 3000 * i).astype(np.float32),
            rng.standard_normal(8000 + 3000 * i).astype(np.float32),
        )
        for i in range(3)
    ]
    # music that tells where each sample came from: clip k's sample n is 100000 k + n
    labelled = [
        drnn_train.Clip(c.name, (100000 * k + np.arange(len(c.music))).astype(np.float32), c.voice)
        for k, c in enumerate(clips)
    ]
    draw = np.random.default_rng(2)
    drawn = set()
    for _ in range(20):
        m = drnn_train.other_music(labelled, 1, 12000, draw)
        assert m.shape == (12000,) and m.dtype == np.float32
        k, n = np.divmod(m.astype(np.int64), 100000)
        assert len(set(k)) == 1 and k[0] != 1  # one other clip's music, never clip 1's own
        length = len(labelled[k[0]].music)
        np.testing.assert_array_equal(n, (n[0] + np.arange(12000)) % length)  # from an offset, tiled circularly
        drawn.add(int(k[0]))
    assert drawn == {0, 2}
    frames = 8
    plain_x, plain_y = drnn_train.examples(clips, np.random.default_rng(3), frames, drnn_train.Augment(shift=False))
    mixed_x, mixed_y = drnn_train.examples(
        clips, np.random.default_rng(3), frames, drnn_train.Augment(shift=False, remix=1.0)
    )
    assert mixed_x.shape == plain_x.shape and mixed_y.shape == plain_y.shape
    bins = mixed_y.shape[-1] // 2
    np.testing.assert_allclose(mixed_y[..., :bins], plain_y[..., :bins])  # the voices are the clips' own
    assert not np.allclose(mixed_y[..., bins:], plain_y[..., bins:])  # the music is not
    # the input is the mixture of the two targets' signals: its centre frame is not the plain one either
    assert not np.allclose(mixed_x, plain_x)


def test_resume_continues_the_same_run(tmp_path):
    clips = write_singers(tmp_path / "clips", {"a": 1, "b": 1})
    kw = dict(batch_size=2, frames=4, hidden=8, val_singer="b", patience=10, verbose=0)
    with pytest.raises(MixinError, match="nothing to resume"):
        drnn_train.train_drnn([clips], tmp_path / "m0", tmp_path / "l0", epochs=1, resume=True, **kw)
    r1 = drnn_train.train_drnn([clips], tmp_path / "m", tmp_path / "l", epochs=1, learning_rate=2e-3, **kw)
    assert r1["epochs"] == 1 and r1["train_clips"] == 2 and r1["validation_clips"] == 2
    r2 = drnn_train.train_drnn([clips], tmp_path / "m", tmp_path / "l", epochs=3, resume=True, **kw)
    assert r2["epochs"] == 3 and 1 <= r2["best_epoch"] <= 3
    hist = (tmp_path / "l" / "drnn_history.csv").read_text().splitlines()
    assert len(hist) == 4  # header + 3 epochs, the first kept from the first call

    def rate() -> tuple[float, str]:  # the optimizer's rate in the checkpoint, and the one the card notes
        with h5py.File(tmp_path / "l" / drnn_train.LAST_WEIGHTS) as h5:
            kept = float(h5["optimizer/vars/1"][()])  # Adam's variables: iterations, learning rate, moments
        return kept, ModelConfig.load(tmp_path / "m").notes

    kept, notes = rate()
    assert kept == pytest.approx(2e-3) and "Adam 0.002;" in notes  # resumed at the checkpoint's rate
    drnn_train.train_drnn([clips], tmp_path / "m", tmp_path / "l", epochs=4, resume=True, learning_rate=5e-4, **kw)
    kept, notes = rate()
    assert kept == pytest.approx(5e-4) and "Adam 0.0005;" in notes  # a new rate is applied, not only noted


def test_all_clips_trains_on_everything_without_validation(tmp_path):
    from mixin.registry import ModelConfig, load_separator

    clips = write_singers(tmp_path / "clips", {"a": 1, "b": 2})
    tiny = dict(batch_size=2, frames=4, hidden=8, validate=False, verbose=0)  # a few seconds a run
    r = drnn_train.train_drnn([clips], tmp_path / "m", tmp_path / "l", epochs=2, patience=0, **tiny)
    assert r == {"epochs": 2, "train_clips": 6}  # patience does not stop a run without validation
    assert (tmp_path / "m" / "model_drnn.keras").exists()
    assert sorted(p.name for p in (tmp_path / "l").glob("drnn_epoch*.keras")) == [
        "drnn_epoch001.keras",
        "drnn_epoch002.keras",
    ]
    assert "all clips, last epoch kept" in ModelConfig.load(tmp_path / "m").notes
    drnn_train.train_drnn([clips], tmp_path / "w", tmp_path / "lw", epochs=1, weight_decay=1e-3, **tiny)
    assert "AdamW (decay 0.001)" in ModelConfig.load(tmp_path / "w").notes
    assert ModelConfig.load(tmp_path / "w").input == "magnitude"  # heard at its own level unless asked
    drnn_train.train_drnn([clips], tmp_path / "n", tmp_path / "ln", epochs=1, input_level=0.1, **tiny)
    config = ModelConfig.load(tmp_path / "n")
    assert (config.input, config.input_level) == ("normalised", 0.1) and "scaled to RMS 0.1" in config.notes
    assert load_separator(tmp_path / "n").input_level == 0.1
    with pytest.raises(MixinError, match="exclude each other"):
        drnn_train.train_drnn(
            [clips], tmp_path / "m", tmp_path / "l", epochs=1, validate=False, val_singer="a", verbose=0
        )


def test_cli_passes_the_drnn_options(monkeypatch, capsys):
    from mixin.cli import train as train_cli
    from mixin.cli.train import main

    seen = {}

    def fake(dirs, model_dir, log_dir, settings):
        seen.update(vars(settings))
        return {
            "epochs": 3,
            "train_clips": 7,
            "best_epoch": 2,
            "GNSDR": 1.0,
            "GSIR": 2.0,
            "GSAR": 3.0,
            "validation_clips": 4,
        }

    monkeypatch.setattr(drnn_train, "train_drnn", fake)
    monkeypatch.setattr(train_cli, "export_onnx", lambda args: None)  # no model written to export
    argv = [
        "--train",
        "--arch",
        "drnn",
        "--stem-dirs",
        "x",
        "--val-singer",
        "amy",
        "--gamma",
        "0.1",
        "--pitch-shift",
        "2.5",
        "--gain-db",
        "4",
        "--remix",
        "0.5",
        "--weight-decay",
        "1e-4",
        "--dropout",
        "0.1",
        "--compress",
        "0.5",
        "--no-shift",
        "--resume",
        "--input-level",
        "0.1",
        "--quiet",
    ]
    assert main(argv) == 0
    assert seen["val_singer"] == "amy" and seen["validate"] and seen["gamma"] == 0.1 and seen["resume"]
    assert seen["weight_decay"] == 1e-4 and seen["dropout"] == 0.1 and seen["compress"] == 0.5
    assert seen["input_level"] == 0.1
    assert seen["augment"] == drnn_train.Augment(shift=False, pitch=2.5, gain_db=4.0, remix=0.5)
    assert "best 2" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--train", "--arch", "drnn", "--stem-dirs", "x", "--val-singer", "amy", "--all-clips"])
    with pytest.raises(SystemExit):
        main(["--train", "--data-dir", "x", "--remix", "0.5"])  # the CDAEs' training has no such option
    assert "--remix: for --arch drnn only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--train", "--data-dir", "x", "--input-level", "0.1"])
    assert "--input-level: for --arch drnn only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--train", "--arch", "drnn", "--stem-dirs", "x", "--input-level", "0"])
    assert "--input-level: must be positive, got 0" in capsys.readouterr().err


def test_voice_metrics_bss_eval_sources():
    rng = np.random.default_rng(7)
    t = np.arange(16000) / 16000
    voice = np.sin(2 * np.pi * 330 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    music = rng.standard_normal(16000)
    voice, music = voice / np.linalg.norm(voice), music / np.linalg.norm(music)  # a 0 dB mixture
    m = voice_metrics(voice, music, voice + 0.1 * music)
    assert m["sir"] == pytest.approx(20.0, abs=0.5)  # music leaks at -20 dB
    assert m["sdr_mix"] == pytest.approx(0.0, abs=0.5) and m["sdr"] - m["sdr_mix"] > 15
    assert m["sar"] > 40 and m["length"] == 16000
    silent = voice_metrics(voice, music, np.zeros_like(voice))  # scores, very low
    assert silent["sdr"] - silent["sdr_mix"] < -10


def test_resume_refuses_other_clips_or_another_split(tmp_path):
    """Resuming a --val-singer b run with --all-clips trained on b's validation clips and rewrote
    the model's notes: a resumed run now trains on what it was trained on, or not at all."""
    clips = write_singers(tmp_path / "clips", {"a": 1, "b": 1})
    kw = dict(batch_size=2, frames=4, hidden=8, patience=10, verbose=0)
    drnn_train.train_drnn([clips], tmp_path / "m", tmp_path / "l", epochs=1, val_singer="b", **kw)
    notes = ModelConfig.load(tmp_path / "m").notes
    record = tmp_path / "l" / "drnn_data.json"
    for change, differ in (
        (dict(validate=False), "split, train_clips, validation_clips"),
        (dict(val_singer="a"), "split, train_clips, validation_clips"),
    ):
        with pytest.raises(MixinError, match=f"drnn_data.json: the checkpoint was trained on other data \\({differ}"):
            drnn_train.train_drnn([clips], tmp_path / "m", tmp_path / "l", epochs=2, resume=True, **kw, **change)
    (clips / "a_1_02.wav").unlink()
    with pytest.raises(MixinError, match=r"other data \(train_clips differ\): resume it on the data it had"):
        drnn_train.train_drnn([clips], tmp_path / "m", tmp_path / "l", epochs=2, resume=True, val_singer="b", **kw)
    assert ModelConfig.load(tmp_path / "m").notes == notes and len(read_rows(tmp_path / "l")) == 1
    write_singers(tmp_path / "clips", {"a": 1, "b": 1})  # the same clips again
    r = drnn_train.train_drnn([clips], tmp_path / "m", tmp_path / "l", epochs=2, resume=True, val_singer="b", **kw)
    assert r["epochs"] == 2
    record.unlink()  # a run older than the record: resumed with a warning, recorded from then on
    with pytest.warns(UserWarning, match="drnn_data.json: not there .*the data is not checked"):
        drnn_train.train_drnn([clips], tmp_path / "m", tmp_path / "l", epochs=3, resume=True, val_singer="b", **kw)
    assert record.exists()


def read_rows(log_dir: Path) -> list[str]:
    """The epochs in a DRNN run's history."""
    return (log_dir / "drnn_history.csv").read_text().splitlines()[1:]
