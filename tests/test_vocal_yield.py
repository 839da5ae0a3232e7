"""The vocal's share given back to the pair where the whole mix is decisive for median filtering."""

import numpy as np
import pytest

from conftest import stem_blocks
from mixin.hpss import decisiveness, hpss_split
from mixin.redraw import KEEP_FROM_DB, KEEP_TO_DB, YIELD_FROM, YIELD_TO, stream_redraw, yield_share, yield_vocal

SOURCES = ("harmonic", "percussive", "vocal")
RATE = 44100


def _sines_and_clicks(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    clicks = np.zeros_like(t)
    clicks[:: RATE // 4] = 1.0
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 660 * t) + clicks).astype(np.float32)


def test_decisiveness_is_the_shared_mask_splits():
    rng = np.random.default_rng(5)
    stereo = np.stack((_sines_and_clicks(3), 0.5 * _sines_and_clicks(3) + 0.01 * rng.normal(size=3 * RATE)))
    assert decisiveness(stereo, RATE) == hpss_split(stereo, RATE, shared_mask=True, decisiveness=True)[1]
    assert decisiveness(rng.normal(size=(2, RATE)), RATE) < 0.5 < 0.95 < decisiveness(stereo, RATE)


def test_yield_share_rises_with_decisiveness_and_falls_with_the_vocals_level():
    assert yield_share(0.0) == yield_share(YIELD_FROM) == 0.0
    assert yield_share((YIELD_FROM + YIELD_TO) / 2) == pytest.approx(0.5)
    assert yield_share(YIELD_TO) == yield_share(1.0) == yield_share(1.0, KEEP_FROM_DB) == 1.0
    assert yield_share(1.0, (KEEP_FROM_DB + KEEP_TO_DB) / 2) == pytest.approx(0.5)
    assert yield_share(1.0, KEEP_TO_DB) == yield_share(1.0, 0.0) == 0.0  # a voice, however decisive the mix


def test_yield_vocal_moves_the_vocal_into_the_pair_as_harmonic_only_where_decisive_and_quiet():
    signal = np.stack((_sines_and_clicks(3),) * 2)[None]  # (1, channels, samples), decisiveness > 0.95
    noise = np.random.default_rng(6).normal(size=signal.shape).astype(np.float32)
    for mix, part, gives in ((signal, 0.2, True), (noise, 0.2, False), (signal, 0.8, False)):  # vocal -14, -14, -1.9 dB
        vocal = np.float32(part) * mix
        pair, harmonic = mix - vocal, 0.5 * (mix - vocal)
        new_pair, new_harmonic, new_vocal, split = yield_vocal(pair, harmonic, vocal, RATE)
        np.testing.assert_allclose(new_pair + new_vocal, mix, atol=1e-6)  # nothing lost
        np.testing.assert_allclose(new_harmonic - harmonic, new_pair - pair, atol=1e-6)  # given as harmonic
        if gives:  # all of it: the new pair is the mix, and median filtering's split of it comes along
            assert not np.any(new_vocal)
            median, decided = hpss_split(new_pair, RATE, shared_mask=True, decisiveness=True)
            np.testing.assert_array_equal(split[0], median)
            assert split[1] == decided > YIELD_TO
        else:
            assert new_vocal is vocal and new_pair is pair and new_harmonic is harmonic and split is None


@pytest.mark.slow
def test_streamed_yield_empties_the_vocal_of_decisive_music_and_keeps_the_sum():
    """Sines and clicks for 10 s, then noise for 10 s (the vocal model's part of each: a fifth):
    the vocal is given back in the decisive stretch only, gliding over the chunks' cross-fades,
    and the stems still sum to the mix; off, the vocal passes unchanged."""
    signal = _sines_and_clicks(10)
    noise = 0.3 * np.random.default_rng(7).normal(size=signal.size).astype(np.float32)
    mix = np.repeat(np.concatenate((signal, noise))[:, None], 2, axis=1)
    vocal = 0.2 * mix
    stems = np.stack((0.4 * mix, 0.4 * mix, vocal)).astype(np.float32)
    out = np.concatenate(list(stream_redraw(stem_blocks(stems, 30000), SOURCES, RATE, vocal_yield=True)), axis=1)
    assert out.shape == stems.shape
    np.testing.assert_allclose(out.sum(axis=0), mix, atol=1e-5)
    assert not np.any(out[2, : 5 * RATE])  # the first chunk: all given back
    np.testing.assert_allclose(out[2, 13 * RATE :], vocal[13 * RATE :], atol=1e-6)  # noise: kept
    off = np.concatenate(list(stream_redraw(stem_blocks(stems, 30000), SOURCES, RATE, hpss_weight=0.5)), axis=1)
    np.testing.assert_array_equal(off[2], vocal)


def test_config_vocal_yield_is_checked_and_reaches_the_separator(tmp_path):
    from mixin.errors import MixinError
    from mixin.registry import ModelConfig
    from mixin.separators import Separator

    (tmp_path / "config.json").write_text('{"vocal_yield": 1}')
    with pytest.raises(MixinError, match="vocal_yield must be true or false, not 1"):
        ModelConfig.load(tmp_path)
    (tmp_path / "config.json").write_text('{"vocal_yield": true}')
    assert ModelConfig.load(tmp_path).vocal_yield is True
    models = {s: None for s in SOURCES}
    assert Separator(models, vocal_yield=True).vocal_yield is True
    assert Separator({"harmonic": None, "percussive": None}, vocal_yield=True).vocal_yield is False  # no vocal
    assert Separator(models, mode="single", vocal_yield=True).vocal_yield is False  # no pair to give it to


def test_vocal_yield_flag_overrides_the_config():
    """``--vocal-yield off`` keeps the shipped CDAEs' vocal where the config would give it back (the
    synthetic example is decisive throughout); a value other than on/off is refused."""
    from conftest import cli_separator, example_audio

    audio, rate = example_audio(8.0)
    default, off = cli_separator(), cli_separator("--vocal-yield", "off")
    assert default.vocal_yield and not off.vocal_yield
    assert cli_separator("--vocal-yield", "on").vocal_yield
    given, kept = default.separate(audio, rate), off.separate(audio, rate)
    np.testing.assert_allclose(sum(kept.values()), audio, atol=1e-4)
    energy = {name: float(np.sum(stems["vocal"] ** 2)) for name, stems in (("given", given), ("kept", kept))}
    assert energy["kept"] > 1e-3 * float(np.sum(audio**2)) and energy["given"] < 0.1 * energy["kept"], energy
    with pytest.raises(SystemExit):
        cli_separator("--vocal-yield", "maybe")
