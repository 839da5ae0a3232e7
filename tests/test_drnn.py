"""The DRNN (Huang et al. 2014): architecture, masking, discriminative loss, separator, training."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixin import drnn
from mixin.errors import MixinError
from mixin.registry import CDAE_CHAIN_KEYS, ModelConfig


def test_architecture_and_masking_sums_to_mixture():
    from mixin.backend import keras_module

    keras_module().utils.set_random_seed(0)  # untrained weights: unseeded, a rare draw misses the tolerance
    model = drnn.build_drnn()
    assert model.input_shape == (None, None, 3 * 513) and model.output_shape == (None, None, 1026)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Dense") == 4 and kinds.count("SimpleRNN") == 1
    assert model.get_layer("hidden2_recurrent").units == 1000
    # 1539*1000+1000 + (1000*1000*2+1000) + 1000*1000+1000 + 2*(1000*513+513)
    assert model.count_params() == 5_569_026
    x = np.random.default_rng(0).random((2, 7, 1539)).astype(np.float32)
    y = np.asarray(model(x))
    np.testing.assert_allclose(y[..., :513] + y[..., 513:], x[..., 513:1026], rtol=1e-5, atol=1e-7)
    assert (y >= 0).all()


def test_context_frames():
    mag = np.arange(4 * 513, dtype=np.float32).reshape(4, 513)
    ctx = drnn.with_context(mag)
    assert ctx.shape == (4, 1539)
    np.testing.assert_array_equal(ctx[1], np.concatenate([mag[0], mag[1], mag[2]]))
    np.testing.assert_array_equal(ctx[0, :513], mag[0])  # edge repeats the first frame


def test_discriminative_loss_by_hand():
    s1, s2 = np.full((1, 513), 1.0), np.full((1, 513), 3.0)
    y1, y2 = np.full((1, 513), 2.0), np.full((1, 513), 2.5)
    loss = drnn.discriminative_loss(0.05)
    got = float(
        np.asarray(
            loss(np.concatenate([s1, s2], -1).astype("float32"), np.concatenate([y1, y2], -1).astype("float32"))
        )[0]
    )
    # (2-1)^2 - .05 (2-3)^2 + (2.5-3)^2 - .05 (2.5-1)^2 = 1 - .05 + .25 - .1125
    assert got == pytest.approx(1.0875, rel=1e-6)


def test_stft_round_trip():
    x = np.random.default_rng(1).standard_normal(16000).astype(np.float32)
    np.testing.assert_allclose(drnn.istft(drnn.stft(x), len(x)), x, atol=1e-5)


def write_clips(directory: Path, songs: int = 5, seconds: float = 1.0, rate: int = 16000) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    t = np.arange(int(seconds * rate)) / rate
    for s in range(songs):
        voice = 0.2 * np.sin(2 * np.pi * (300 + 40 * s) * t) * (np.sin(2 * np.pi * 2 * t) > 0)
        music = 0.1 * rng.standard_normal(len(t))
        sf.write(str(directory / f"singer_{s + 1}_01.wav"), np.stack([music, voice], 1), rate, subtype="FLOAT")
    return directory


@pytest.mark.slow
def test_train_save_load_and_separate(tmp_path, capsys):
    from mixin.cli.separate import main as xtract
    from mixin.registry import load_separator
    from mixin.training.drnn import train_drnn

    clips = write_clips(tmp_path / "clips")
    r = train_drnn(
        [clips], tmp_path / "model", tmp_path / "log", epochs=2, batch_size=4, frames=8, hidden=32, verbose=0
    )
    assert r["epochs"] == 2 and r["validation_clips"] == 1 and np.isfinite(r["GNSDR"])
    assert {"GNSDR", "GSIR", "GSAR"} <= set(r)
    sep = load_separator(tmp_path / "model")
    assert sep.sources == ("vocal", "accompaniment") and sep.trained
    mix = np.random.default_rng(3).standard_normal((22050 * 2, 2)).astype(np.float32) * 0.1
    stems = sep.separate(mix, 22050)
    assert stems["vocal"].shape == mix.shape
    np.testing.assert_allclose(stems["vocal"] + stems["accompaniment"], mix, atol=1e-4)
    song = tmp_path / "song.wav"
    sf.write(str(song), mix, 22050, subtype="FLOAT")
    assert xtract([str(song), "--pretrained-model-dir", str(tmp_path / "model"), "--quiet"]) == 0
    for s in ("vocal", "accompaniment"):
        info = sf.info(str(tmp_path / f"song_{s}.wav"))
        assert (info.samplerate, info.channels, info.frames) == (22050, 2, len(mix))
    model = str(tmp_path / "model")
    assert xtract([str(song), "--pretrained-model-dir", model, "--instrumental", "--quiet"]) == 2  # usage errors
    assert "--instrumental applies to the cdae architecture only, not to a drnn" in capsys.readouterr().err
    assert (
        xtract([str(song), "--pretrained-model-dir", model, "--mask-power", "2", "--mwf-iterations", "1", "--quiet"])
        == 2
    )
    assert "--mask-power, --mwf-iterations apply to the cdae architecture only" in capsys.readouterr().err
    for flag, value in (
        ("--vocal-yield", "off"),
        ("--vocal-remask", "off"),
        ("--voice-hears", "mix"),
        ("--vocal-two-stage", "0"),
        ("--vocal-hears", "mix"),
        ("--mwf-vocal", "off"),
        ("--crossfade", "0"),  # the DRNN's cross-fade is its own
        ("--batch-size", "4"),
    ):  # "off" and 0 are given too
        assert xtract([str(song), "--pretrained-model-dir", model, flag, value, "--quiet"]) == 2
        assert f"{flag} applies to the cdae architecture only" in capsys.readouterr().err


def test_no_clips(tmp_path):
    from mixin.training.drnn import load_clips

    (tmp_path / "empty").mkdir()
    with pytest.raises(MixinError, match="no usable train clips"):
        load_clips([tmp_path / "empty"], "train")


def test_separation_feeds_training_length_sequences():
    """Long inputs go through as SEQUENCE-frame sequences (a ReLU recurrence run far past its
    training length can overflow), and come back in order and unpadded."""
    seen = []

    def fake(x, training=False):
        seen.append(x.shape)
        return np.concatenate([x[..., :513], x[..., 513:1026]], axis=-1)

    feats = np.random.default_rng(4).random((2, 250, 1539)).astype(np.float32)
    out = drnn.run_sequences(fake, feats)
    assert seen == [(6, drnn.SEQUENCE, 1539)]
    np.testing.assert_array_equal(out[..., :513], feats[..., :513])
    assert out.shape == (2, 250, 1026)


def test_compressed_input_and_dropout_build_save_and_export(tmp_path):
    """--compress / --dropout: the hidden layers see magnitudes ** power, the mask still scales
    the mixture's own magnitudes; dropout acts in training only; the ONNX export follows."""
    import keras

    from mixin.backend import onnxruntime_module
    from mixin.training.export import drnn_to_onnx

    keras.utils.set_random_seed(0)
    model = drnn.build_drnn(32, compress=0.5, dropout=0.2)
    names = [layer.name for layer in model.layers]
    assert names[:3] == ["mix_context", "compress", "hidden1"] and "dropout2" in names
    x = np.abs(np.random.default_rng(0).standard_normal((2, 20, 1539))).astype(np.float32)
    y = np.asarray(model(x, training=False))
    np.testing.assert_allclose(np.asarray(model(x, training=False)), y)  # no dropout at inference
    np.testing.assert_allclose(y[..., : drnn.BINS] + y[..., drnn.BINS :], x[..., drnn.BINS : 2 * drnn.BINS], rtol=1e-4)
    compress = model.get_layer("compress")
    np.testing.assert_allclose(np.asarray(compress(x)), np.sqrt(x), rtol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects=drnn.custom_objects(), compile=False)
    assert loaded.get_layer("compress").power == 0.5
    np.testing.assert_allclose(np.asarray(loaded(x)), y, rtol=1e-6, atol=1e-7)
    got = onnxruntime_module().InferenceSession(drnn_to_onnx(model).SerializeToString()).run(None, {"input": x})[0]
    # untrained random weights: the ReLU recurrence amplifies float32 round-off (9e-6 uncompressed)
    assert np.abs(got - y).max() <= 5e-5 * np.abs(y).max()


def test_input_gain_brings_each_piece_to_the_level():
    rng = np.random.default_rng(5)
    pieces = rng.standard_normal((3, 16000)).astype(np.float32) * np.array([[0.01], [0.1], [1.0]], np.float32)
    gain = drnn.input_gain(pieces, 0.1)
    assert gain.shape == (3, 1, 1)
    rms = np.sqrt(np.mean(np.square(pieces * gain[:, 0]), axis=-1))
    np.testing.assert_allclose(rms, 0.1, rtol=1e-4)
    silence = drnn.input_gain(np.zeros((1, 100), np.float32), 0.1)
    assert silence[0, 0, 0] == pytest.approx(0.1 / drnn.INPUT_FLOOR)  # bounded: silence is not raised to a song
    np.testing.assert_array_equal(drnn.input_gain(pieces, None), np.ones((3, 1, 1), np.float32))


def test_input_gain_ignores_the_zeros_that_pad_a_last_piece():
    """A track's last piece is zero-padded to the piece's length; its gain is the one of the audio
    it holds (a piece a quarter full would otherwise be heard 6 dB too loud)."""
    rng = np.random.default_rng(6)
    audio = (rng.standard_normal(4000) * 0.05).astype(np.float32)
    padded = np.zeros((1, 16000), np.float32)
    padded[0, :4000] = audio
    np.testing.assert_allclose(drnn.input_gain(padded, 0.1), drnn.input_gain(audio[None], 0.1), rtol=1e-5)
    assert drnn.input_gain(padded, 0.1)[0, 0, 0] == pytest.approx(0.1 / 0.05, rel=0.05)


def level_dependent_model(x, training=False):
    """A stand-in DRNN whose vocal mask depends on the level it hears, as a ReLU network with
    biases does: loud bins count as voice."""
    mag = x[..., 513:1026]
    voice = mag * (mag / (mag + 1.0))
    return np.concatenate([voice, mag - voice], axis=-1)


@pytest.mark.parametrize("mono", [False, True])
def test_normalised_input_makes_the_drnn_deaf_to_the_records_level(mono):
    """With an ``input_level`` each piece is heard at that level and the stems scale with the input;
    without one a quieter record is separated otherwise."""
    from mixin.separators import DRNNSeparator

    rng = np.random.default_rng(6)
    audio = (0.1 * rng.standard_normal((48000, 2))).astype(np.float32)
    normalised = DRNNSeparator(level_dependent_model, mono=mono, input_level=0.1)
    loud, quiet = normalised.separate(audio, 16000), normalised.separate(0.05 * audio, 16000)
    np.testing.assert_allclose(quiet["vocal"] / 0.05, loud["vocal"], atol=1e-4 * np.abs(loud["vocal"]).max())
    assert np.abs(loud["vocal"]).max() > 0.05 * np.abs(audio).max()
    plain = DRNNSeparator(level_dependent_model, mono=mono)
    loud, quiet = plain.separate(audio, 16000), plain.separate(0.05 * audio, 16000)
    assert np.abs(quiet["vocal"] / 0.05 - loud["vocal"]).max() > 0.1 * np.abs(loud["vocal"]).max()


def test_shipped_drnn_hears_every_record_at_its_training_level():
    """pretrained-models/drnn hears each piece at its training mixtures' RMS: a record 26 dB quieter
    or 12 dB louder gives the same stems, scaled."""
    from conftest import assert_deaf_to_level, example_audio
    from mixin.registry import load_separator

    audio, rate = example_audio(4)
    sep = load_separator(Path(__file__).resolve().parents[1] / "pretrained-models" / "drnn")
    assert sep.input_level == 0.07
    assert_deaf_to_level(sep, audio, rate, 1e-4)


def test_drnn_config_json_leaves_out_the_cdae_chain(tmp_path):
    """A DRNN's config.json names what a DRNN uses, and loads back the same; a CDAE's keeps every key."""
    config = ModelConfig.for_arch("drnn", input="normalised", input_level=0.1, notes="n")
    config.save(tmp_path)
    written = json.loads((tmp_path / "config.json").read_text())
    assert set(written) == {
        "arch",
        "sources",
        "sample_rate",
        "chunk_size",
        "bands",
        "trained",
        "input",
        "input_level",
        "notes",
    }
    assert ModelConfig.load(tmp_path) == config
    (tmp_path / "cdae").mkdir()
    ModelConfig().save(tmp_path / "cdae")
    assert set(CDAE_CHAIN_KEYS) <= set(json.loads((tmp_path / "cdae" / "config.json").read_text()))


def test_a_folder_of_stems_is_no_clip_folder(tmp_path, capsys):
    """--train --arch drnn --stem-dirs stems/song0 read bass.wav, vocals.wav ... as MIR-1K clips
    (left accompaniment, right voice) and reported GNSDR -223 dB with exit 0."""
    from mixin.cli.train import main
    from mixin.data.synth import write_musdb_track

    write_musdb_track(tmp_path / "stems" / "song0", 1.0, seed=1)
    write_clips(tmp_path / "clips", songs=1)
    out = ["--model-dir", str(tmp_path / "m"), "--log-dir", str(tmp_path / "l"), "-q"]
    for stems, error in (
        (tmp_path / "stems" / "song0", f"{tmp_path / 'stems' / 'song0' / 'bass.wav'}: is not named like a MIR-1K"),
        (tmp_path / "stems", f"{tmp_path / 'stems'}: holds folders, not MIR-1K-style clips (singer_song_clip.wav)"),
    ):
        assert main(["--train", "--arch", "drnn", "--stem-dirs", str(tmp_path / "clips"), str(stems), *out]) == 1
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {error}")
    assert not (tmp_path / "m").exists() and not (tmp_path / "l").exists()


def test_drnn_loader_refuses_unknown_keywords(model_dir):
    """``load_separator(drnn, foo=1)`` returned a DRNNSeparator, a typo such as ``backnd="onnx"`` lost
    without a word; now a TypeError as Python gives it, and as the CDAE loader gives."""
    from mixin.registry import load_separator

    drnn_dir = Path(__file__).resolve().parents[1] / "pretrained-models" / "drnn"
    for name in ("foo", "backnd"):
        with pytest.raises(TypeError) as refused:
            load_separator(drnn_dir, **{name: 1})
        assert str(refused.value) == f"DRNNSeparator.from_config() got an unexpected keyword argument {name!r}"
    with pytest.raises(TypeError) as refused:
        load_separator(model_dir, foo=1)
    assert str(refused.value) == "Separator.from_config() got an unexpected keyword argument 'foo'"
    assert load_separator(drnn_dir, backend="onnx", mono=True).sources == ("vocal", "accompaniment")
