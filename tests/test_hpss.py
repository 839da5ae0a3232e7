"""Median-filtering HPSS: the whole-track baseline and the streamed blend into the CDAE stems."""

import numpy as np
import pytest

from conftest import stem_blocks
from mixin.data.synth import synth_stems
from mixin.hpss import DECISIVE_FROM, DECISIVE_TO, adaptive_weight, hpss_split, n_fft_for
from mixin.redraw import stream_redraw

SOURCES = ("harmonic", "percussive", "vocal")


def test_n_fft_keeps_the_duration_of_4096_points_at_44k():
    assert (
        n_fft_for(44100) == 4096 and n_fft_for(22050) == 2048 and n_fft_for(16000) == 2048 and n_fft_for(8000) == 1024
    )


@pytest.mark.parametrize("overlaps", [4, 2])
def test_hpss_split_puts_sines_in_harmonic_and_clicks_in_percussive(overlaps):
    """Also at half the frames (the two-stage vocal's), where the time median spans 9 frames."""
    rate = 22050
    t = np.arange(3 * rate) / rate
    sine = 0.3 * np.sin(2 * np.pi * 440 * t)
    clicks = np.zeros_like(t)
    clicks[:: rate // 4] = 1.0
    harmonic = hpss_split((sine + clicks)[None], rate, overlaps=overlaps)[0]
    percussive = sine + clicks - harmonic
    inner = slice(rate // 2, -rate // 2)
    assert harmonic.shape == sine.shape
    assert np.sum((harmonic - sine)[inner] ** 2) < 0.05 * np.sum(sine[inner] ** 2)
    assert np.sum((percussive - clicks)[inner] ** 2) < 0.2 * np.sum(clicks[inner] ** 2)


def test_shared_mask_is_the_channels_mean_mask():
    rate = 22050
    rng = np.random.default_rng(1)
    t = np.arange(2 * rate) / rate
    left = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.normal(size=t.size)
    # Proportional channels: the mean magnitude gives each channel its own mask.
    both = np.stack((left, 0.5 * left))
    np.testing.assert_allclose(hpss_split(both, rate, shared_mask=True), hpss_split(both, rate), atol=1e-5)
    # Clicks alone in one channel, a sine in the other: on its own mask the clicks' channel has no
    # harmonic part at all; on the shared one the sine's bins pass some of the clicks as harmonic.
    clicks = np.zeros_like(t)
    clicks[:: rate // 4] = 1.0
    x = np.stack((left, clicks))
    own, shared = hpss_split(x, rate), hpss_split(x, rate, shared_mask=True)
    assert np.sum(own[1] ** 2) < 1e-6 * np.sum(clicks**2) < 1e-3 * np.sum(clicks**2) < np.sum(shared[1] ** 2)
    np.testing.assert_allclose(shared[0], own[0], atol=0.05)


@pytest.mark.parametrize("weight", [0.0, 0.4, 1.0])
@pytest.mark.slow
def test_streamed_blend_keeps_vocal_and_sums(weight):
    rate = 44100
    parts = synth_stems(30.0, rate, 2, seed=3)
    stems = np.stack([parts[s] for s in SOURCES]).astype(np.float32)  # (3, n, 2)
    out = np.concatenate(list(stream_redraw(stem_blocks(stems, 30000), SOURCES, rate, weight)), axis=1)
    assert out.shape == stems.shape
    np.testing.assert_array_equal(out[2], stems[2])
    np.testing.assert_allclose(out.sum(axis=0), stems.sum(axis=0), atol=1e-5)
    if weight == 0:
        np.testing.assert_allclose(out, stems, atol=1e-6)
    if weight == 1:
        # Streamed in 6-s chunks with 1-s cross-fades, yet close to the whole-track filter.
        rest = stems[0] + stems[1]
        whole = hpss_split(rest.T, rate, shared_mask=True).T
        err = np.sum((out[0] - whole) ** 2) / np.sum(whole**2)
        assert err < 1e-3, err


def test_decisiveness_is_high_for_sines_and_clicks_and_low_for_noise():
    rate = 22050
    t = np.arange(3 * rate) / rate
    clicks = np.zeros_like(t)
    clicks[:: rate // 4] = 1.0
    clean = 0.3 * np.sin(2 * np.pi * 440 * t) + clicks
    noise = np.random.default_rng(0).normal(size=t.size)
    harmonic, decided = hpss_split(clean[None], rate, decisiveness=True)
    np.testing.assert_array_equal(harmonic, hpss_split(clean[None], rate))  # the split itself unchanged
    assert decided > 0.95
    assert hpss_split(noise[None], rate, decisiveness=True)[1] < 0.5  # neither: the masks hover at 1/2
    assert hpss_split(np.zeros((1, rate)), rate, decisiveness=True)[1] == 0.0


def test_adaptive_weight_rises_from_the_weight_to_one():
    assert adaptive_weight(0.5, 0.0) == adaptive_weight(0.5, DECISIVE_FROM) == 0.5
    assert adaptive_weight(0.5, (DECISIVE_FROM + DECISIVE_TO) / 2) == pytest.approx(0.75)
    assert adaptive_weight(0.5, DECISIVE_TO) == adaptive_weight(0.2, 1.0) == 1.0


@pytest.mark.slow
def test_adaptive_blend_follows_median_filtering_where_it_is_decisive():
    """Sines and clicks (decisive): the harmonic stem becomes median filtering's, whatever the
    CDAEs said; noise (not decisive): the fixed share. Stems still sum to the mix."""
    rate = 44100
    t = np.arange(20 * rate) / rate
    clicks = np.zeros_like(t)
    clicks[:: rate // 4] = 1.0
    noise = 0.3 * np.random.default_rng(2).normal(size=t.size)
    for signal, decisive in ((0.3 * np.sin(2 * np.pi * 440 * t) + clicks, True), (noise, False)):
        pair = np.stack((signal, signal), axis=1).astype(np.float32)
        ours = 0.5 * pair  # the CDAEs' harmonic: half of everything
        stems = np.stack((ours, pair - ours, 0.1 * pair)).astype(np.float32)
        fixed = np.concatenate(list(stream_redraw(stem_blocks(stems, 30000), SOURCES, rate, 0.5)), axis=1)
        adaptive = np.concatenate(
            list(stream_redraw(stem_blocks(stems, 30000), SOURCES, rate, 0.5, hpss_adaptive=True)), axis=1
        )
        np.testing.assert_allclose(adaptive.sum(axis=0), stems.sum(axis=0), atol=1e-5)
        np.testing.assert_array_equal(adaptive[2], stems[2])
        median = hpss_split(pair.T, rate, shared_mask=True).T
        inner = slice(rate, -rate)
        if decisive:
            err = np.sum((adaptive[0] - median)[inner] ** 2) / np.sum(median[inner] ** 2)
            assert err < 1e-3, err
            assert np.sum((fixed[0] - median)[inner] ** 2) > 100 * np.sum((adaptive[0] - median)[inner] ** 2)
        else:
            np.testing.assert_allclose(adaptive, fixed, atol=1e-6)


@pytest.mark.parametrize("axis", [-1, -2])
def test_running_median_equals_scipy_reflect(axis):
    import scipy.ndimage

    from mixin.hpss import median_filter

    values = np.abs(np.random.default_rng(4).normal(size=(2, 40, 33))).astype(np.float32)
    size = [1, 1, 1]
    size[axis] = 17
    np.testing.assert_array_equal(
        median_filter(values, 17, axis), scipy.ndimage.median_filter(values, size=size, mode="reflect")
    )


def test_config_hpss_settings_are_checked(tmp_path):
    from mixin.errors import MixinError
    from mixin.registry import ModelConfig

    (tmp_path / "config.json").write_text('{"hpss_adaptive": "yes"}')
    with pytest.raises(MixinError, match="hpss_adaptive must be true or false, not 'yes'"):
        ModelConfig.load(tmp_path)
    (tmp_path / "config.json").write_text('{"hpss_weight": 1.5}')
    with pytest.raises(MixinError, match=r"hpss_weight must be a number in \[0, 1\], not 1.5"):
        ModelConfig.load(tmp_path)
    (tmp_path / "config.json").write_text('{"hpss_weight": 0.5, "hpss_adaptive": true}')
    assert ModelConfig.load(tmp_path).hpss_adaptive is True
