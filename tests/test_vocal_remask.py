"""The vocal redrawn as a mask of the mix on an STFT finer than the models' bands."""

import numpy as np
import pytest

from conftest import stem_blocks
from mixin.redraw import remask_vocal, stream_redraw

SOURCES = ("harmonic", "percussive", "vocal")
RATE = 44100


def _sine(freq: float, seconds: float, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.repeat(np.sin(2 * np.pi * freq * t)[None], channels, axis=0).astype(np.float32)


def _level(audio: np.ndarray, freq: float) -> float:
    """Amplitude of a sine at ``freq`` in (channels, samples) audio, by projection."""
    t = np.arange(audio.shape[-1]) / RATE
    basis = np.exp(-2j * np.pi * freq * t)
    return float(np.abs(audio @ basis).mean() * 2 / audio.shape[-1])


def test_remask_sheds_what_the_mix_does_not_hold_and_keeps_the_sum():
    """A vocal estimate holding its voice (1 kHz) and a tone the mix lacks (3 kHz, which the pair
    holds negated: the stems still sum to the mix) keeps the voice and loses the tone; what it
    sheds joins the pair, half of it counted harmonic."""
    voice, guitar, stray = _sine(1000, 2), 0.5 * _sine(440, 2), 0.3 * _sine(3000, 2)
    vocal = voice + stray
    pair = guitar - stray
    harmonic = 0.5 * pair
    new_pair, new_harmonic, new_vocal = remask_vocal(pair, harmonic, vocal, RATE)
    assert new_vocal.shape == vocal.shape and new_vocal.dtype == np.float32
    np.testing.assert_allclose(new_pair + new_vocal, pair + vocal, atol=1e-6)
    np.testing.assert_allclose(new_harmonic - harmonic, 0.5 * (new_pair - pair), atol=1e-6)
    assert _level(vocal, 3000) == pytest.approx(0.3, rel=1e-2)
    assert _level(new_vocal, 3000) < 1e-3  # the mix holds nothing there
    assert _level(new_vocal, 1000) == pytest.approx(1.0, rel=1e-2)
    assert _level(new_vocal, 440) < 1e-3


def test_a_vocal_within_the_mix_is_left_as_it_is():
    """Nothing to shed: the whole mix as vocal, a silent vocal, and a vocal that is exactly one of
    two parts apart in frequency come back as they were."""
    mix = _sine(1000, 1) + 0.5 * _sine(440, 1)
    zero = np.zeros_like(mix)
    _, _, whole = remask_vocal(zero, zero, mix, RATE)
    np.testing.assert_allclose(whole, mix, atol=1e-5)
    _, _, silent = remask_vocal(mix, mix, zero, RATE)
    assert not np.any(silent)
    part = _sine(1000, 1)
    _, _, kept = remask_vocal(mix - part, zero, part, RATE)
    assert np.sqrt(np.mean((kept - part)[:, 4096:-4096] ** 2)) < 0.01  # away from the edges' frames


@pytest.mark.slow
def test_streamed_remask_keeps_the_sum_and_off_passes_the_vocal():
    """Through the streamed redraw (6-s chunks, cross-faded): the tone the mix lacks leaves the
    vocal everywhere, the stems still sum to the mix; off, the vocal passes unchanged."""
    voice, guitar, stray = _sine(1000, 14, 1).T, 0.5 * _sine(440, 14, 1).T, 0.3 * _sine(3000, 14, 1).T
    stems = np.stack((0.5 * (guitar - stray), 0.5 * (guitar - stray), voice + stray)).astype(np.float32)
    out = np.concatenate(list(stream_redraw(stem_blocks(stems, 30000), SOURCES, RATE, vocal_remask=True)), axis=1)
    assert out.shape == stems.shape
    np.testing.assert_allclose(out.sum(axis=0), stems.sum(axis=0), atol=1e-5)
    for second in range(0, 14, 3):
        window = out[2, second * RATE : (second + 1) * RATE].T
        assert _level(window, 3000) < 2e-3 and _level(window, 1000) == pytest.approx(1.0, rel=2e-2), second
    off = np.concatenate(list(stream_redraw(stem_blocks(stems, 30000), SOURCES, RATE, mwf_iterations=1)), axis=1)
    np.testing.assert_array_equal(off[2], stems[2])


def test_config_and_flag_reach_the_separator(tmp_path):
    """``vocal_remask`` in config.json must be a boolean; the separator applies it only where there
    is a vocal and a pair to give to; ``--vocal-remask`` overrides the shipped config's on."""
    from conftest import cli_separator
    from mixin.errors import MixinError
    from mixin.registry import ModelConfig
    from mixin.separators import Separator

    (tmp_path / "config.json").write_text('{"vocal_remask": "yes"}')
    with pytest.raises(MixinError, match="vocal_remask must be true or false, not 'yes'"):
        ModelConfig.load(tmp_path)
    models = {s: None for s in SOURCES}
    assert Separator(models, vocal_remask=True).vocal_remask is True
    assert Separator({"harmonic": None, "percussive": None}, vocal_remask=True).vocal_remask is False
    assert Separator(models, mode="single", vocal_remask=True).vocal_remask is False
    assert cli_separator().vocal_remask is True
    assert cli_separator("--vocal-remask", "off").vocal_remask is False
    with pytest.raises(SystemExit):
        cli_separator("--vocal-remask", "maybe")
