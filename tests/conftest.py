"""Shared fixtures: small model directories and audio files made on the spot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixin.constants import CDAE_SOURCES


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """Three seeded, untrained CDAEs in a model directory with its config."""
    from mixin.backend import keras_module
    from mixin.cdae import build_cdae
    from mixin.registry import ModelConfig

    keras = keras_module()
    directory = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(1234)
    for source in CDAE_SOURCES:
        build_cdae(name=f"cdae_{source}").save(directory / f"model_{source}.h5")
    ModelConfig(trained=False).save(directory)
    return directory


@pytest.fixture(scope="session")
def separator(model_dir):
    from mixin.separators import Separator

    return Separator.from_pretrained(model_dir)


def write_audio(path: Path, audio: np.ndarray, sample_rate: int = 44100, **kwargs) -> Path:
    sf.write(str(path), audio, sample_rate, **kwargs)
    return path


def noise(seconds: float, sample_rate: int = 44100, channels: int = 2, seed: int = 0, scale: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal((int(seconds * sample_rate), channels))).astype(np.float32)


def tones(seconds: float, sample_rate: int = 44100, channels: int = 2) -> np.ndarray:
    """Sines well below Nyquist: survive resampling round trips (white noise loses its band edge)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    freqs = [110.0, 440.0, 1234.0, 0.3 * sample_rate]
    x = sum(0.1 * np.sin(2 * np.pi * f * t + i) for i, f in enumerate(freqs))
    return np.stack([x * (1 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32)


def stem_blocks(stems: np.ndarray, size: int):
    """(sources, n, channels) stems as a stream of blocks of ``size`` samples, as a separator yields them."""
    for i in range(0, stems.shape[1], size):
        yield stems[:, i : i + size]


def example_audio(seconds: float) -> tuple[np.ndarray, int]:
    """The first ``seconds`` of examples/example.flac and its rate."""
    audio, rate = sf.read(str(Path(__file__).resolve().parents[1] / "examples" / "example.flac"), dtype="float32")
    return audio[: int(seconds * rate)], rate


def assert_deaf_to_level(sep, audio: np.ndarray, rate: int, bound: float) -> None:
    """``sep`` gives ``audio`` 26 dB quieter and 12 dB louder the same stems, scaled: each stem's
    error is under ``bound`` of its energy."""
    reference = sep.separate(audio, rate)
    for gain in (0.05, 4.0):
        out = sep.separate(gain * audio, rate)
        for name, stem in reference.items():
            error = np.sum(np.square(out[name] / gain - stem)) / np.sum(np.square(stem))
            assert error < bound, (gain, name, error)


def cli_separator(*flags: str):
    """The separator the CLI's model flags build from the shipped models, the helper DRNN off (for
    speed) and ``flags`` on top; a bad flag value is argparse's usage error (SystemExit)."""
    import argparse

    from mixin.cli.common import add_model_options, load_separator_from

    p = argparse.ArgumentParser()
    add_model_options(p, "models")
    models = Path(__file__).resolve().parents[1] / "pretrained-models"
    shipped = ["--pretrained-model-dir", str(models), "--voice-weight", "0"]
    return load_separator_from(p.parse_args([*shipped, *flags]))
