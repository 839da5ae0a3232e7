"""The multichannel Wiener filter and the streamed harmonic/percussive redraw it drives (with
median filtering's blend before it, in one stage)."""

import numpy as np
import pytest

from conftest import stem_blocks
from mixin.filtering import multichannel_wiener
from mixin.hpss import hpss_split
from mixin.redraw import filter_stems, redraw_pair, stream_redraw
from mixin.transforms import istft, stft

SOURCES = ("harmonic", "percussive", "vocal")
N_FFT, HOP = 1024, 256


def _panned_noises(seconds: float = 3.0, rate: int = 22050, seed: int = 0):
    """Two white noises, the same spectrum, placed apart: A mostly left, B mostly right."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, int(seconds * rate))).astype(np.float32) * 0.1
    source_a = np.stack((a, 0.2 * a))
    source_b = np.stack((0.2 * b, b))
    return source_a, source_b


def _sdr(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2)))


def test_placement_separates_what_magnitude_masks_cannot():
    """Same-spectrum noises: the channel-mean magnitude mask is near 1/2 everywhere, so the
    first estimates are poor; the filter's spatial covariances pull them apart."""
    source_a, source_b = _panned_noises()
    mix = stft(source_a + source_b, N_FFT, HOP)
    first_a = stft(0.6 * source_a + 0.4 * source_b, N_FFT, HOP)  # a poor split, slightly towards A
    refined = multichannel_wiener(mix, np.stack((first_a, mix - first_a)), iterations=1)
    length = source_a.shape[-1]
    before = _sdr(source_a, istft(first_a, N_FFT, HOP, length))
    after = _sdr(source_a, istft(refined[0], N_FFT, HOP, length))
    assert before < 5.0 and after > before + 3.0, (before, after)
    assert _sdr(source_b, istft(refined[1], N_FFT, HOP, length)) > before + 3.0
    np.testing.assert_allclose(refined.sum(axis=0), mix, atol=1e-3 * np.abs(mix).max())


def test_mono_is_the_wiener_mask_of_the_estimates_powers():
    rng = np.random.default_rng(1)
    mix = (rng.normal(size=(1, 65, 40)) + 1j * rng.normal(size=(1, 65, 40))).astype(np.complex64)
    share = rng.uniform(0.1, 0.9, size=(1, 65, 40)).astype(np.float32)
    estimates = np.stack((share * mix, (1 - share) * mix))
    refined = multichannel_wiener(mix, estimates)
    mask = share**2 / (share**2 + (1 - share) ** 2)
    np.testing.assert_allclose(refined[0], mask * mix, rtol=1e-3, atol=1e-3 * np.abs(mix).max())


def test_a_silent_channel_changes_nothing_and_silence_stays_silent():
    """Three channels take the general path; a silent third must leave the stereo answer (the
    closed-form 2x2 path) as it was. A silent mix gives silent, finite estimates."""
    source_a, source_b = _panned_noises(1.0)
    mix = stft(source_a + source_b, N_FFT, HOP)
    first = stft(0.6 * source_a + 0.4 * source_b, N_FFT, HOP)
    estimates = np.stack((first, mix - first))
    stereo = multichannel_wiener(mix, estimates)
    pad = lambda x: np.concatenate((x, np.zeros_like(x[..., :1, :, :])), axis=-3)  # noqa: E731
    three = multichannel_wiener(pad(mix), pad(estimates))
    np.testing.assert_allclose(three[:, :2], stereo, atol=1e-4 * np.abs(stereo).max())
    assert not np.any(three[:, 2])
    silent = multichannel_wiener(np.zeros_like(mix), np.zeros_like(estimates))
    assert np.all(np.isfinite(silent)) and not np.any(silent)


def test_rank_one_placement_stays_finite():
    """A source at one place in every bin (the same signal in both channels) makes the mix
    covariance rank one: the filter must still answer, and sum to the mix."""
    rng = np.random.default_rng(2)
    mono = rng.normal(size=22050).astype(np.float32)
    mix = stft(np.stack((mono, mono)) * 100, N_FFT, HOP)  # loud: single precision alone would cancel
    estimates = np.stack((0.3 * mix, 0.7 * mix))
    refined = multichannel_wiener(mix, estimates)
    assert np.all(np.isfinite(refined))
    # Good to about 1 % there in single precision (mixin.filtering._stereo_step): -40 dB.
    error = np.abs(refined.sum(axis=0) - mix)
    assert error.max() < 0.03 * np.abs(mix).max() and np.sum(error**2) < 1e-4 * np.sum(np.abs(mix) ** 2)


@pytest.mark.slow
def test_streamed_filter_keeps_vocal_sums_and_ignores_block_size():
    rate = 44100
    source_a, source_b = _panned_noises(14.0, rate, seed=3)
    vocal = 0.05 * np.random.default_rng(4).normal(size=source_a.shape).astype(np.float32)
    first = 0.6 * source_a + 0.4 * source_b
    stems = np.stack((first.T, (source_a + source_b - first).T, vocal.T)).astype(np.float32)  # (3, n, 2)

    def run(size: int) -> np.ndarray:
        return np.concatenate(list(stream_redraw(stem_blocks(stems, size), SOURCES, rate, mwf_iterations=1)), axis=1)

    out = run(30000)
    assert out.shape == stems.shape
    np.testing.assert_array_equal(out[2], stems[2])
    np.testing.assert_allclose(out.sum(axis=0), stems.sum(axis=0), atol=1e-5)
    np.testing.assert_allclose(run(44100 * 5 + 7), out, atol=1e-5)
    # The streamed 6-s chunks do what the filter does on the whole: A comes out of the pair.
    assert _sdr(source_a.T, out[0]) > _sdr(source_a.T, stems[0]) + 3.0
    whole = redraw_pair(stems[0].T[None] + stems[1].T[None], stems[0].T[None], rate, mwf_iterations=1)[0].T
    assert _sdr(source_a.T, out[0]) > _sdr(source_a.T, whole) - 1.0


def _three_placed_noises(seconds: float, rate: int, seed: int):
    """Three white noises, the same spectrum, placed apart and each on and off in its own rhythm:
    A mostly left and B mostly right, taking turns each half second; C in the centre, every third."""
    source_a, source_b = _panned_noises(seconds, rate, seed)
    c = np.random.default_rng(seed + 100).normal(size=source_a.shape[-1]).astype(np.float32) * 0.1
    phase = np.sin(2 * np.pi * np.arange(len(c)) / rate)
    centre = np.sin(3 * np.pi * np.arange(len(c)) / rate) > 0
    return source_a * (phase > 0), source_b * (phase <= 0), np.stack((c, c)) * centre


def test_three_placed_sources_are_pulled_apart_and_sum_to_the_mix():
    """``filter_stems`` with two parts: the mix less their sum is a third source; power and
    placement pull all three apart from estimates that each hold a fifth of the others."""
    rate = 22050
    sources = _three_placed_noises(3.0, rate, seed=6)
    mix = sum(sources)
    first = [0.6 * s + 0.2 * (mix - s) for s in sources]
    parts = filter_stems(mix, np.stack((first[0], first[2])), rate, 1)
    assert parts.shape == (2, *mix.shape) and parts.dtype == np.float32
    refined = (parts[0], mix - parts.sum(axis=0), parts[1])
    triples = zip(sources, first, refined, strict=True)
    gains = [_sdr(true, after) - _sdr(true, before) for true, before, after in triples]
    assert min(gains[:2]) > 3.0 and gains[2] > 1.5, gains  # measured +4.6, +4.5 and +2.0 dB (the centre)
    # one part: the pair's filter, as redraw_pair runs it
    pair = sources[0] + sources[1]
    one = filter_stems(pair, first[0][None], rate, 1)[0]
    np.testing.assert_allclose(one, redraw_pair(pair[None], first[0][None], rate, mwf_iterations=1)[0], atol=1e-6)


@pytest.mark.slow
def test_streamed_filter_takes_the_vocal_in_with_mwf_vocal():
    """``mwf_vocal``: the vocal is the third source of the streamed filter, pulled apart from
    the pair by placement; the stems still sum to the mix; without the filter it does nothing."""
    rate = 44100
    source_a, source_b, centre = _three_placed_noises(8.0, rate, seed=7)
    mix = source_a + source_b + centre
    vocal = 0.6 * centre + 0.2 * (source_a + source_b)
    first = 0.6 * source_a + 0.2 * (source_b + centre)
    stems = np.stack((first.T, (mix - first - vocal).T, vocal.T)).astype(np.float32)  # (3, n, 2)

    def run(**options) -> np.ndarray:
        return np.concatenate(list(stream_redraw(stem_blocks(stems, 30000), SOURCES, rate, **options)), axis=1)

    out = run(mwf_iterations=1, mwf_vocal=True)
    np.testing.assert_allclose(out.sum(axis=0), stems.sum(axis=0), atol=1e-5)
    assert _sdr(centre.T, out[2]) > _sdr(centre.T, stems[2]) + 1.5
    assert _sdr(source_a.T, out[0]) > _sdr(source_a.T, stems[0]) + 3.0
    np.testing.assert_allclose(run(mwf_iterations=0, mwf_vocal=True), stems, atol=1e-6)


def test_mwf_vocal_in_config_and_flags(tmp_path):
    """``mwf_vocal`` in config.json must be a boolean; the separator applies it only with the filter
    and a vocal; ``--mwf-vocal`` overrides the shipped config's on; asking for it without the filter
    is an error."""
    from conftest import cli_separator
    from mixin.errors import MixinError
    from mixin.registry import ModelConfig
    from mixin.separators import Separator

    (tmp_path / "config.json").write_text('{"mwf_vocal": 1}')
    with pytest.raises(MixinError, match="mwf_vocal must be true or false, not 1"):
        ModelConfig.load(tmp_path)
    assert ModelConfig().mwf_vocal is False  # a directory without the key: the pair only
    models = {s: None for s in SOURCES}
    assert Separator(models, mwf_iterations=1, mwf_vocal=True).mwf_vocal is True
    assert Separator(models, mwf_iterations=0, mwf_vocal=True).mwf_vocal is False
    assert Separator({"harmonic": None, "percussive": None}, mwf_iterations=1, mwf_vocal=True).mwf_vocal is False
    assert cli_separator().mwf_vocal is True
    assert cli_separator("--mwf-vocal", "off").mwf_vocal is False
    assert cli_separator("--mwf-iterations", "0").mwf_vocal is False
    with pytest.raises(MixinError, match="not with --mwf-iterations 0"):
        cli_separator("--mwf-iterations", "0", "--mwf-vocal", "on")


@pytest.mark.parametrize("adaptive", [False, True])
def test_one_stage_blends_then_filters(adaptive):
    """Median filtering's blend comes first and reaches the result: the filter alone cannot pull
    apart a split that is half of everything (both stems alike in power and placement)."""
    rate = 22050
    t = np.arange(4 * rate) / rate
    clicks = np.zeros_like(t)
    clicks[:: rate // 5] = 1.0
    source_a, source_b = _panned_noises(4.0, rate, seed=5)
    tone = 0.3 * np.sin(2 * np.pi * 330 * t).astype(np.float32)
    harmonic_true = source_a * 0.3 + np.stack((tone, 0.5 * tone))
    percussive_true = np.stack((0.2 * clicks, clicks)).astype(np.float32) + 0.3 * source_b
    pair = (harmonic_true + percussive_true).astype(np.float32)
    ours = (0.5 * pair)[None]  # the CDAEs' harmonic: half of everything
    one = redraw_pair(pair[None], ours, rate, 0.5, adaptive, mwf_iterations=1)
    blended = redraw_pair(pair[None], ours, rate, 0.5, adaptive)
    two = redraw_pair(pair[None], blended, rate, mwf_iterations=1)
    filter_alone = redraw_pair(pair[None], ours, rate, mwf_iterations=1)
    np.testing.assert_allclose(one, two, atol=1e-6)
    np.testing.assert_allclose(filter_alone, ours, atol=1e-3 * np.abs(ours).max())
    assert _sdr(harmonic_true, one[0]) > _sdr(harmonic_true, ours[0]) + 5.0  # measured +11-14 dB
    assert one.shape == pair[None].shape and one.dtype == np.float32
    median = hpss_split(pair, rate, shared_mask=True)
    if not adaptive:  # half the CDAEs', half median filtering's
        np.testing.assert_allclose(blended[0], 0.5 * (ours[0] + median), atol=1e-6)


def test_config_mwf_iterations_is_checked(tmp_path):
    from mixin.errors import MixinError
    from mixin.registry import ModelConfig

    for bad in ('"1"', "-1", "1.5", "true"):
        (tmp_path / "config.json").write_text(f'{{"mwf_iterations": {bad}}}')
        with pytest.raises(MixinError, match="mwf_iterations must be a whole number >= 0"):
            ModelConfig.load(tmp_path)
    (tmp_path / "config.json").write_text('{"mwf_iterations": 2}')
    assert ModelConfig.load(tmp_path).mwf_iterations == 2
    assert ModelConfig().mwf_iterations == 0  # a directory without the key: no filter


@pytest.mark.parametrize("bad", [True, -1, 1.0])
def test_separator_refuses_what_config_refuses(bad):
    from mixin.separators import Separator

    with pytest.raises(ValueError, match="mwf_iterations must be a whole number >= 0"):
        Separator({"harmonic": None, "percussive": None}, mwf_iterations=bad)


def test_shipped_separator_filters_the_pair_then_the_vocal(tmp_path):
    """The shipped config runs the filter last, the vocal in it: against ``mwf_iterations`` 0,
    ``mwf_vocal`` off keeps the vocal and the pair's sum and changes the split; on (shipped) the
    vocal changes too and the stems still sum to the mix; the flags' bad values are refused."""
    import argparse
    from pathlib import Path

    from mixin.cli.common import add_model_options
    from mixin.data.synth import synth_stems
    from mixin.registry import load_separator

    models = Path(__file__).resolve().parents[1] / "pretrained-models"
    parts = synth_stems(8.0, 44100, 2, seed=5)
    audio = sum(parts.values()).astype(np.float32)
    shipped = load_separator(models)
    assert (shipped.mwf_iterations, shipped.mwf_vocal) == (1, True)
    pair_only, without = load_separator(models, mwf_vocal=False), load_separator(models, mwf_iterations=0)
    assert without.mwf_vocal is False  # nothing to share in
    a, b, c = (s.separate(audio, 44100) for s in (pair_only, without, shipped))
    np.testing.assert_allclose(a["vocal"], b["vocal"], atol=1e-6)
    np.testing.assert_allclose(a["harmonic"] + a["percussive"], b["harmonic"] + b["percussive"], atol=1e-5)
    assert np.sum((a["harmonic"] - b["harmonic"]) ** 2) > 1e-4 * np.sum(b["harmonic"] ** 2)
    assert np.sum((c["vocal"] - a["vocal"]) ** 2) > 1e-4 * np.sum(a["vocal"] ** 2)
    np.testing.assert_allclose(sum(c.values()), audio, atol=1e-5)
    instrumental = load_separator(models, instrumental=True)
    assert (instrumental.mwf_iterations, instrumental.mwf_vocal) == (1, False)  # the pair is the whole mix there
    p = argparse.ArgumentParser()
    add_model_options(p, "models")
    assert p.parse_args(["--mwf-iterations", "2"]).mwf_iterations == 2
    for bad in ("-1", "x"):
        with pytest.raises(SystemExit):
            p.parse_args(["--mwf-iterations", bad])
    assert p.parse_args(["--mwf-vocal", "off"]).mwf_vocal == "off"
    with pytest.raises(SystemExit):
        p.parse_args(["--mwf-vocal", "1"])


def test_mwf_power_is_the_generalised_wiener_mask_in_mono():
    """In mono the filter is a mask of the estimates' powers: with ``power`` p it is the generalised
    Wiener mask |S|^p / sum |S|^p (:func:`mixin.filtering.wiener_masks`) where the sources carry
    the same energy over the frames of a bin (the rescaling of ``fractional_psd`` then cancels);
    2 is the classic filter exactly, and a smaller p shares the mix out more softly."""
    from mixin.filtering import wiener_masks

    rng = np.random.default_rng(3)
    mix = (rng.normal(size=(1, 65, 40)) + 1j * rng.normal(size=(1, 65, 40))).astype(np.complex64)
    mix[..., 20:] = mix[..., :20]  # the second half of the frames repeats the first ...
    share = rng.uniform(0.1, 0.9, size=(1, 65, 20)).astype(np.float32)
    share = np.concatenate((share, 1 - share), axis=-1)  # ... with the shares swapped: equal energies
    estimates = np.stack((share * mix, (1 - share) * mix))
    magnitudes = np.abs(estimates[:, 0])
    np.testing.assert_array_equal(multichannel_wiener(mix, estimates, power=2.0), multichannel_wiener(mix, estimates))
    for p in (1.0, 1.5, 3.0):
        refined = multichannel_wiener(mix, estimates, power=p)
        expected = wiener_masks(magnitudes, power=p)[:, None] * mix
        np.testing.assert_allclose(refined, expected, rtol=1e-3, atol=1e-3 * np.abs(mix).max())
    louder = share > 0.5
    soft, classic = (np.abs(multichannel_wiener(mix, estimates, power=p)[0]) for p in (1.0, 2.0))
    assert np.all(soft[louder] < classic[louder]) and np.all(soft[~louder] > classic[~louder])


def test_fractional_psd_holds_large_exponents_at_full_scale():
    """``--mwf-power 24`` on a song at full scale (an exponent of 12 of powers up to 1e6) gave inf
    in float32, then NaN stems; the powers are taken relative to each bin's peak."""
    from mixin.filtering import fractional_psd

    rng = np.random.default_rng(6)
    psd = (rng.uniform(0, 1, size=(3, 5, 40)) * np.logspace(-4, 6, 40)).astype(np.float32)
    psd[1, 2] = 0  # a silent bin stays silent
    for exponent in (0.625, 4.0, 12.0):
        soft = fractional_psd(psd, exponent)
        expected = psd.astype(np.float64) ** exponent
        expected *= psd.sum(-1, keepdims=True) / np.maximum(expected.sum(-1, keepdims=True), 1e-300)
        assert np.all(np.isfinite(soft))
        np.testing.assert_allclose(soft, expected, rtol=1e-4, atol=1e-30)


@pytest.mark.parametrize("power", [0.5, 1.0, 1.5])
def test_soft_filter_stays_finite_at_one_place_and_sums_to_the_mix(power):
    """The rescaled powers keep the diagonal loading in the mix's units: a source at one place
    (rank one) with a power below 2 once gave 0 / 0 here."""
    rng = np.random.default_rng(4)
    mono = rng.normal(size=22050).astype(np.float32)
    mix = stft(np.stack((mono, mono)) * 100, N_FFT, HOP)
    estimates = np.stack((0.3 * mix, 0.7 * mix))
    refined = multichannel_wiener(mix, estimates, power=power)
    assert np.all(np.isfinite(refined))
    error = np.abs(refined.sum(axis=0) - mix)
    assert np.sum(error**2) < 1e-4 * np.sum(np.abs(mix) ** 2)
    silent = multichannel_wiener(np.zeros_like(mix), np.zeros_like(estimates), power=power)
    assert np.all(np.isfinite(silent)) and not np.any(silent)
    with pytest.raises(ValueError, match="power must be positive"):
        multichannel_wiener(mix, estimates, power=0.0)


def test_mwf_power_in_config_separator_and_flags(tmp_path):
    """``mwf_power`` in config.json must be a positive number (2, the classic filter, where absent);
    the separator refuses what the config refuses; ``--mwf-power`` overrides the shipped 1.25 (that
    the power reaches the stems is the next test's)."""
    from conftest import cli_separator
    from mixin.errors import MixinError
    from mixin.registry import ModelConfig
    from mixin.separators import Separator

    for bad in ("0", "-1.5", "true", '"2"'):
        (tmp_path / "config.json").write_text(f'{{"mwf_power": {bad}}}')
        with pytest.raises(MixinError, match="mwf_power must be a positive number"):
            ModelConfig.load(tmp_path)
    assert ModelConfig().mwf_power == 2.0
    for bad in (0, -1.0, True, float("inf")):
        with pytest.raises(ValueError, match="mwf_power must be a positive number"):
            Separator({"harmonic": None, "percussive": None}, mwf_power=bad)
    assert cli_separator().mwf_power == 1.25
    assert cli_separator("--mwf-power", "2").mwf_power == 2.0
    for bad in ("0", "inf", "nan"):
        with pytest.raises(SystemExit):
            cli_separator("--mwf-power", bad)


def test_stream_redraw_passes_mwf_power_on():
    """The streamed redraw filters with the power it is given: 2 is the default's result, 1 another."""
    rate = 22050
    source_a, source_b = _panned_noises(3.0, rate, seed=6)
    stems = np.stack((0.6 * source_a.T + 0.4 * source_b.T, 0.4 * source_a.T + 0.6 * source_b.T))
    sources = ("harmonic", "percussive")

    def run(**options):
        return np.concatenate(
            list(stream_redraw(stem_blocks(stems, 4096), sources, rate, mwf_iterations=1, **options)), axis=1
        )

    default, classic, soft = run(), run(mwf_power=2.0), run(mwf_power=1.0)
    np.testing.assert_array_equal(default, classic)
    np.testing.assert_allclose(soft.sum(axis=0), stems.sum(axis=0), atol=1e-4)
    assert np.sum((soft - classic) ** 2) > 1e-4 * np.sum(classic**2)
