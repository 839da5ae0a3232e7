"""The vocal redrawn as a mask of the mix on an STFT finer than the models' bands."""

import numpy as np
import pytest

from conftest import stem_blocks
from mixin.hpss import two_stage_vocal
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


def _song(seconds: float = 4) -> dict[str, np.ndarray]:
    """A steady tone, a voice-like tone (5.5-Hz vibrato of +-2 semitones around 1 kHz) and decaying
    noise bursts (clicks), mono."""
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 1000 * 2 ** (np.sin(2 * np.pi * 5.5 * t) * 2 / 12)
    clicks = np.zeros_like(t)
    clicks[:: RATE // 4] = 1.0
    burst = np.exp(-np.arange(200) / 20.0) * np.random.default_rng(0).standard_normal(200)
    return {
        "steady": 0.5 * np.sin(2 * np.pi * 440 * t),
        "voice": 0.5 * np.sin(2 * np.pi * np.cumsum(f0) / RATE),
        "clicks": np.convolve(clicks, burst, "same"),
    }


def _share(estimate: np.ndarray, part: np.ndarray) -> float:
    """Least-squares coefficient of ``part`` in ``estimate``."""
    return float(estimate @ part / (part @ part))


def test_two_stage_vocal_takes_the_unsteady_tone_not_the_steady_one_or_the_clicks():
    """Median filtering on a long window puts the vibrato tone with the clicks (neither is steady
    there); on a short window the vibrato tone is steady and the clicks are not."""
    parts = _song()
    mix = np.stack([sum(parts.values())] * 2).astype(np.float32)
    vocal = two_stage_vocal(mix, RATE)
    assert vocal.shape == mix.shape and vocal.dtype == np.float32
    np.testing.assert_array_equal(vocal[0], vocal[1])  # one mask for both channels
    assert _share(vocal[0], parts["voice"]) > 0.3
    assert abs(_share(vocal[0], parts["steady"])) < 0.03
    assert abs(_share(vocal[0], parts["clicks"])) < 0.03


def test_remask_with_the_two_stage_opinion_is_their_geometric_mean():
    """With the two-stage share at 1 the models' vocal no longer matters where it holds something
    (it holds the whole mix here, or half of it: mask 1 or 1/2 to the power 0). At 1/2 a bin keeps
    the geometric mean of both masks: a models' vocal of half of everything keeps most of the voice
    (sqrt(1/2 x its two-stage mask)) and sheds the steady tone and the clicks, which it kept at
    share 0; the sum holds and half of what is shed counts harmonic, as without the opinion; a share
    outside [0, 1] is an error. (The models' percussive stem is empty throughout: the opinion
    hears the rest, next test.)"""
    parts = _song(3)
    mix = np.stack([sum(parts.values())] * 2).astype(np.float32)
    zero = np.zeros_like(mix)
    _, _, alone = remask_vocal(zero, zero, mix, RATE, two_stage=1.0)
    _, _, from_half = remask_vocal(0.5 * mix, 0.5 * mix, 0.5 * mix, RATE, two_stage=1.0)
    np.testing.assert_allclose(from_half, alone, atol=1e-5)
    assert _share(alone[0], parts["voice"]) > 0.3 and abs(_share(alone[0], parts["steady"])) < 0.03
    pair, harmonic, between = remask_vocal(0.5 * mix, 0.5 * mix, 0.5 * mix, RATE, two_stage=0.5)
    np.testing.assert_allclose(pair + between, mix, atol=1e-5)
    np.testing.assert_allclose(harmonic - 0.5 * mix, 0.5 * (pair - 0.5 * mix), atol=1e-5)
    _, _, models_only = remask_vocal(0.5 * mix, 0.5 * mix, 0.5 * mix, RATE, two_stage=0.0)
    assert 0.35 < _share(between[0], parts["voice"]) < 0.5
    for name in ("steady", "clicks"):
        assert _share(models_only[0], parts[name]) > 0.4 and abs(_share(between[0], parts[name])) < 0.05, name
    with pytest.raises(ValueError, match="two_stage must be in"):
        remask_vocal(zero, zero, mix, RATE, two_stage=1.5)


def test_two_stage_opinion_does_not_hear_the_models_percussive_stem():
    """The opinion is worked out on the mix less the models' percussive stem: a voice the models
    put there is no voice to it (share 1: the vocal keeps none of it), while the same voice in
    their harmonic stem is heard and kept."""
    parts = _song(3)
    stereo = {name: np.stack([part] * 2).astype(np.float32) for name, part in parts.items()}
    steady, voice, clicks = stereo["steady"], stereo["voice"], stereo["clicks"]
    _, _, unheard = remask_vocal(steady + voice, steady, clicks, RATE, two_stage=1.0)
    _, _, heard = remask_vocal(steady + voice, steady + voice, clicks, RATE, two_stage=1.0)
    assert abs(_share(unheard[0], parts["voice"])) < 0.03
    assert _share(heard[0], parts["voice"]) > 0.3


@pytest.mark.slow
def test_streamed_remask_keeps_the_sum_and_off_passes_the_vocal():
    """Through the streamed redraw (6-s chunks, cross-faded): the tone the mix lacks leaves the
    vocal everywhere, the stems still sum to the mix; off, the vocal passes unchanged; with the
    two-stage opinion the steady 1-kHz "voice", which median filtering calls no voice, leaves it too."""
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
    # the two-stage opinion reaches the streamed remask: it holds the steady 1-kHz tone no vocal
    both = stream_redraw(stem_blocks(stems, 30000), SOURCES, RATE, vocal_remask=True, vocal_two_stage=0.5)
    both = np.concatenate(list(both), axis=1)
    np.testing.assert_allclose(both.sum(axis=0), stems.sum(axis=0), atol=1e-5)
    assert _level(both[2, 5 * RATE : 6 * RATE].T, 1000) < 0.1


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


def test_two_stage_share_in_config_and_flags(tmp_path):
    """``vocal_two_stage`` in config.json must be a number in [0, 1]; the separator applies it only
    with the remask; ``--vocal-two-stage`` overrides the shipped config's share, ``--vocal-remask
    off`` turns it off with the remask, and asking for both is an error."""
    import json

    from conftest import cli_separator
    from mixin.errors import MixinError
    from mixin.registry import ModelConfig, default_model_dir
    from mixin.separators import Separator

    for bad in ("true", "1.5", '"half"'):
        (tmp_path / "config.json").write_text(f'{{"vocal_two_stage": {bad}}}')
        with pytest.raises(MixinError, match="vocal_two_stage must be a number in \\[0, 1\\]"):
            ModelConfig.load(tmp_path)
    models = {s: None for s in SOURCES}
    assert Separator(models, vocal_remask=True, vocal_two_stage=0.3).vocal_two_stage == 0.3
    assert Separator(models, vocal_remask=False, vocal_two_stage=0.3).vocal_two_stage == 0.0
    with pytest.raises(ValueError, match="vocal_two_stage must be in"):
        Separator(models, vocal_remask=True, vocal_two_stage=2.0)
    shipped = json.loads((default_model_dir() / "config.json").read_text())["vocal_two_stage"]
    assert shipped > 0 and cli_separator().vocal_two_stage == shipped
    assert cli_separator("--vocal-two-stage", "0.25").vocal_two_stage == 0.25
    assert cli_separator("--vocal-remask", "off").vocal_two_stage == 0.0
    with pytest.raises(MixinError, match="not with --vocal-remask off"):
        cli_separator("--vocal-remask", "off", "--vocal-two-stage", "0.25")
    with pytest.raises(SystemExit):
        cli_separator("--vocal-two-stage", "2")
