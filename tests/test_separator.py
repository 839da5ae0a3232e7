"""The Separator: stems sum to the mix, any rate and channel count, modes, silence."""

import re
from pathlib import Path

import numpy as np
import pytest

from mixin.data.synth import synth_stems
from mixin.errors import MixinError
from mixin.separators import Separator


def test_stems_sum_to_mix_and_keep_shape(separator):
    x = sum(synth_stems(2.5, 44100, 2, seed=1).values())
    stems = separator.separate(x, 44100)
    assert list(stems) == ["harmonic", "percussive", "vocal"]
    for stem in stems.values():
        assert stem.shape == x.shape and stem.dtype == np.float32
    np.testing.assert_allclose(sum(stems.values()), x, atol=1e-5)
    # The tail is separated too (the original left up to 1 s of silence at the end).
    assert np.abs(stems["harmonic"][-2000:]).max() > 1e-4


@pytest.mark.parametrize("channels", [1, 3])
def test_mono_and_multichannel(separator, channels):
    x = np.random.default_rng(channels).standard_normal((30000, channels)).astype(np.float32) * 0.1
    stems = separator.separate(x, 44100)
    assert all(s.shape == (30000, channels) for s in stems.values())
    np.testing.assert_allclose(sum(stems.values()), x, atol=1e-5)


@pytest.mark.parametrize("dtype", ["int16", "int32"])
def test_integer_audio_separated_at_full_scale_and_scaled_back(separator, dtype):
    """As soundfile reads it with ``dtype="int32"``: full scale is 2**31, over the largest sample
    taken as float (int32 audio used to be refused as 160 dB over full scale)."""
    x = sum(synth_stems(1.0, 44100, 2, seed=2).values())
    unit = 2.0 ** (8 * np.dtype(dtype).itemsize - 1)
    ints = np.round(np.clip(x.astype(np.float64), -1, 1 - 1 / unit) * unit).astype(dtype)
    stems = separator.separate(ints, 44100)
    floats = separator.separate(ints / np.float32(unit), 44100)
    for source, stem in stems.items():
        assert stem.dtype == np.float32 and stem.shape == x.shape
        np.testing.assert_allclose(stem / unit, floats[source], atol=1e-6)
    np.testing.assert_allclose(sum(stems.values()) / unit, ints / unit, atol=1e-5)


def test_one_dimensional_input_gives_one_dimensional_stems(separator):
    x = np.zeros(5000, dtype=np.float32)
    x[100] = 1.0
    stems = separator.separate(x, 44100)
    assert all(s.shape == (5000,) for s in stems.values())


def test_other_sample_rate_resampled_and_back(separator):
    # White noise at 16 kHz: resampling loses a sliver at the band edge, which lands in the
    # last stem (taken as input minus the others), so the stems still sum to the input exactly.
    x = np.random.default_rng(5).standard_normal((16000 * 2, 1)).astype(np.float32) * 0.1
    stems = separator.separate(x, 16000)
    assert all(s.shape == x.shape for s in stems.values())
    np.testing.assert_allclose(sum(stems.values()), x, atol=1e-5)


def test_silence_gives_silent_stems(separator):
    stems = separator.separate(np.zeros((50000, 2), dtype=np.float32), 44100)
    for s in stems.values():
        assert np.isfinite(s).all() and np.abs(s).max() == 0


def test_overlap_zero_equals_butt_joined_chunks(separator):
    x = np.random.default_rng(9).standard_normal((44032 * 2, 1)).astype(np.float32) * 0.1
    plain = Separator(separator.models, overlap=0)
    stems = plain.separate(x, 44100)
    direct = plain.separate_chunks(x.reshape(2, 44032, 1).transpose(0, 2, 1))  # (sources, n, ch, chunk)
    np.testing.assert_allclose(stems["vocal"][:, 0], direct[2].reshape(-1), atol=1e-6)


def test_single_model_mode_uses_each_magnitude_with_mix_phase(separator):
    x = np.random.default_rng(3).standard_normal((1, 1, 44032)).astype(np.float32) * 0.1
    single = Separator(separator.models, mode="single")
    out = single.separate_chunks(x)
    coefs = single.transform.forward(x)
    est = single.estimate(np.abs(coefs).reshape(1, 96, 1948))
    # Re-analysing each output gives back (close to) the model's magnitude where the mix has energy.
    again = single.transform.forward(out[:, 0])
    strong = np.abs(coefs[0, 0]) > np.abs(coefs).mean()
    for s in range(3):
        got, want = np.abs(again[s, 0])[strong], est[s, 0][strong]
        assert np.corrcoef(got, want)[0, 1] > 0.9


def test_single_model_at_another_rate_keeps_every_model_output(separator):
    """The mixture-phase stems do not sum to the mix, so no stem may be replaced by 'mix minus
    the others' when resampling (that is only right for the soft-mask mode)."""
    x = np.random.default_rng(6).standard_normal((22050, 1)).astype(np.float32) * 0.1
    single = Separator(separator.models, mode="single")
    stems = single.separate(x, 22050)
    assert all(s.shape == x.shape for s in stems.values())
    err = sum(stems.values()) - x
    assert np.sqrt(np.mean(err**2)) > 0.01 * np.sqrt(np.mean(x**2))
    same_rate = single.separate(x, 44100)  # same models, no resampling: the vocal stem is its own too
    assert np.abs(same_rate["vocal"] - (x - same_rate["harmonic"] - same_rate["percussive"])).max() > 1e-3


def test_instrumental_has_two_sources(model_dir):
    sep = Separator.from_pretrained(model_dir, instrumental=True)
    assert sep.sources == ("harmonic", "percussive")
    x = np.random.default_rng(4).standard_normal((20000, 2)).astype(np.float32) * 0.1
    stems = sep.separate(x, 44100)
    np.testing.assert_allclose(stems["harmonic"] + stems["percussive"], x, atol=1e-5)


def test_nan_input_refused(separator):
    x = np.zeros((1000, 1), dtype=np.float32)
    x[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        separator.separate(x, 44100)


def test_bad_rates_and_channels_first_audio_refused(separator):
    x = np.zeros((4410, 2), dtype=np.float32)
    # before: 0 failed on "overlap", 44100.5 ran, 50 divided by 0; 4 MHz took 34 s and 2.4 GiB, 2**40
    # Hz raised NumPy's ArrayMemoryError
    for rate in (0, 44100.5, True, -8000, 999, 768001, 4_000_000, 2**40, np.int64(2**40)):
        with pytest.raises(ValueError) as refused:
            separator.separate(x, rate)
        assert str(refused.value) == f"sample_rate must be a whole number of Hz from 1000 to 768000, got {rate!r}"
        with pytest.raises(ValueError) as refused:
            separator.stream(iter([x]), rate, 2)
        assert str(refused.value) == f"sample_rate must be a whole number of Hz from 1000 to 768000, got {rate!r}"
    assert separator.separate(x[:1000], 768000)["vocal"].shape == (1000, 2)
    assert separator.separate(x, 22050.0)["vocal"].shape == x.shape
    assert separator.separate(x, np.int64(22050))["vocal"].shape == x.shape
    with pytest.raises(ValueError, match=r"shape \(2, 4410\) has more channels than samples.*audio\.T"):
        separator.separate(x.T, 44100)  # before: 4410 channels of 2 samples
    assert separator.separate(x[:1], 44100)["vocal"].shape == (1, 2)


def test_missing_model_file(model_dir, tmp_path):
    for name in ("config.json", "model_harmonic.h5", "model_percussive.h5"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    with pytest.raises(MixinError, match="model_vocal.h5: model file not found"):
        Separator.from_pretrained(tmp_path)


def test_corrupt_model_file(model_dir, tmp_path):
    for name in ("config.json", "model_harmonic.h5", "model_percussive.h5"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    (tmp_path / "model_vocal.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(MixinError, match="model_vocal.h5: cannot load model"):
        Separator.from_pretrained(tmp_path)


def test_config_with_other_settings_refused(tmp_path):
    (tmp_path / "config.json").write_text('{"arch": "cdae", "sample_rate": 22050}')
    with pytest.raises(MixinError, match="models made for 22050 Hz"):
        Separator.from_pretrained(tmp_path)


def test_mask_power_from_config_or_argument(model_dir, tmp_path, separator):
    assert separator.mask_power == 1.0  # the default (constants.MASK_POWER) for a config without one
    for s in ("harmonic", "percussive", "vocal"):
        (tmp_path / f"model_{s}.h5").symlink_to(model_dir / f"model_{s}.h5")
    (tmp_path / "config.json").write_text('{"arch": "cdae", "mask_power": 2.0}')
    wiener = Separator.from_pretrained(tmp_path)
    assert wiener.mask_power == 2.0
    assert Separator.from_pretrained(tmp_path, mask_power=3.0).mask_power == 3.0
    x = np.random.default_rng(4).standard_normal((1, 1, 44032)).astype(np.float32) * 0.1
    a, b = separator.separate_chunks(x), wiener.separate_chunks(x)
    np.testing.assert_allclose(a.sum(axis=0), x, atol=1e-5)
    np.testing.assert_allclose(b.sum(axis=0), x, atol=1e-5)
    assert np.abs(a - b).max() > 1e-4  # the power changes the split
    (tmp_path / "config.json").write_text('{"arch": "cdae", "mask_power": 0}')
    with pytest.raises(MixinError, match="mask_power must be a positive number, not 0"):
        Separator.from_pretrained(tmp_path)


def test_config_numbers_refuse_bools_and_infinity(tmp_path):
    """Every number of config.json is checked one way: JSON's ``true`` is not the number 1 and an
    infinite power or level is no setting; the separator refuses the same and takes NumPy scalars."""
    from mixin.registry import ModelConfig

    bad = {
        "mask_power": ("true", "Infinity", "0"),
        "input_level": ("true", "1e999", "-0.1"),
        "hpss_weight": ("true", "NaN", "1.5"),
        "vocal_two_stage": ("false", "-Infinity", "-0.5"),
    }
    for key, values in bad.items():
        for value in values:
            (tmp_path / "config.json").write_text(f'{{"{key}": {value}}}')
            with pytest.raises(MixinError, match=f"{key} must be a "):
                ModelConfig.load(tmp_path)
    for helper, message in (
        ('{"model_dir": "d", "weight": true}', "voice_helper weight must be"),
        ('{"model_dir": "d", "weight": 0.5, "gate_db": Infinity}', "voice_helper gate_db must be"),
        ('{"model_dir": "d", "weight": 0.5, "gate_db": true}', "voice_helper gate_db must be"),
    ):
        (tmp_path / "config.json").write_text(f'{{"voice_helper": {helper}}}')
        with pytest.raises(MixinError, match=message):
            ModelConfig.load(tmp_path)
    (tmp_path / "config.json").write_text('{"gains": {"vocal": true}}')
    with pytest.raises(MixinError, match="gains must map sources to positive numbers"):
        ModelConfig.load(tmp_path)
    (tmp_path / "config.json").write_text('{"mask_power": 2, "hpss_weight": 1, "input_level": 0.05}')
    assert ModelConfig.load(tmp_path).hpss_weight == 1
    pair = {"harmonic": None, "percussive": None}
    for option in ("mask_power", "hpss_weight", "vocal_two_stage", "voice_weight"):
        with pytest.raises(ValueError, match=f"{option} must be"):
            Separator(pair, **{option: True})
        with pytest.raises(ValueError, match=f"{option} must be"):
            Separator(pair, **{option: float("nan")})
    for gate in (True, float("inf"), "-20"):
        with pytest.raises(ValueError, match="voice_gate_db must be a number"):
            Separator(pair, voice_gate_db=gate)
    numpy_chain = Separator(pair, mask_power=np.float32(2.0), hpss_weight=np.float32(0.25))
    assert (numpy_chain.mask_power, numpy_chain.hpss_weight) == (2.0, 0.25)


def test_gains_scale_each_model_output(separator, tmp_path):
    x = np.random.default_rng(6).random((1, 96, 1948)).astype(np.float32)
    scaled = Separator(separator.models, gains={"percussive": 2.5})
    np.testing.assert_allclose(scaled.estimate(x)[1], 2.5 * separator.estimate(x)[1], rtol=1e-6)
    np.testing.assert_array_equal(scaled.estimate(x)[[0, 2]], separator.estimate(x)[[0, 2]])
    (tmp_path / "config.json").write_text('{"arch": "cdae", "gains": {"vocal": -1}}')
    with pytest.raises(MixinError, match="gains must map sources to positive numbers"):
        Separator.from_pretrained(tmp_path)


def test_missing_model_directory(tmp_path):
    with pytest.raises(MixinError, match="model directory not found"):
        Separator.from_pretrained(tmp_path / "nowhere")


def test_public_api_is_lazy():
    import subprocess
    import sys

    code = (
        "import sys, mixin, mixin.cli.separate; mixin.cli.separate.build_parser(); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def stub_separator(vocal_hears: str, model_input: str = "normalised") -> Separator:
    """A Separator whose three "models" are plain functions of what they hear: the harmonic one
    answers 1 everywhere, the percussive one claims the upper half of the bands as loudly as it
    hears them, the vocal one repeats what it hears (and the calls to it are counted)."""
    sep = Separator(
        {"harmonic": None, "percussive": None, "vocal": None},
        model_input=model_input,
        mask_power=2.0,
        vocal_hears=vocal_hears,
    )
    heard = []

    def percussive(x):
        out = np.zeros_like(x)
        out[:, 48:] = x[:, 48:]
        return out

    def vocal(x):
        heard.append(x[..., 0].copy())
        return x

    sep._predict = [lambda x: np.ones_like(x), percussive, vocal]
    sep.vocal_calls = heard
    return sep


@pytest.mark.parametrize("model_input", ["normalised", "magnitude"])
def test_vocal_model_can_hear_the_mix_less_the_percussive_share(model_input):
    x = np.random.default_rng(7).random((2, 96, 50)).astype(np.float32) + 0.5
    once, twice = stub_separator("mix", model_input), stub_separator("harmonic+vocal", model_input)
    a, b = once.estimate(x), twice.estimate(x)
    assert len(once.vocal_calls) == 1 and len(twice.vocal_calls) == 2
    np.testing.assert_array_equal(a[:2], b[:2])  # harmonic and percussive: one run, as they were
    # Where the percussive model claims nothing, the vocal's second run hears the mix and says the same
    # (in the first run's units); where it claims a share, the vocal hears (and says) that much less.
    np.testing.assert_allclose(b[2, :, :48], a[2, :, :48], rtol=1e-5)
    share = a[1, :, 48:] ** 2 / (a[0, :, 48:] ** 2 + a[1, :, 48:] ** 2 + a[2, :, 48:] ** 2)
    np.testing.assert_allclose(b[2, :, 48:], a[2, :, 48:] * (1 - share), rtol=1e-4)
    assert np.all(b[2, :, 48:] < a[2, :, 48:])


def test_vocal_hears_from_config_flag_and_refusals(model_dir, tmp_path):
    for s in ("harmonic", "percussive", "vocal"):
        (tmp_path / f"model_{s}.h5").symlink_to(model_dir / f"model_{s}.h5")
    (tmp_path / "config.json").write_text('{"arch": "cdae", "vocal_hears": "harmonic+vocal"}')
    assert Separator.from_pretrained(tmp_path).vocal_hears == "harmonic+vocal"
    assert Separator.from_pretrained(tmp_path, vocal_hears="mix").vocal_hears == "mix"
    assert Separator.from_pretrained(tmp_path, instrumental=True).vocal_hears == "mix"  # no vocal model to run
    x = np.random.default_rng(8).standard_normal((1, 2, 44032)).astype(np.float32) * 0.1
    np.testing.assert_allclose(Separator.from_pretrained(tmp_path).separate_chunks(x).sum(axis=0), x, atol=1e-5)
    (tmp_path / "config.json").write_text('{"arch": "cdae", "vocal_hears": "drums"}')
    with pytest.raises(MixinError, match="vocal_hears must be one of mix, harmonic\\+vocal, not 'drums'"):
        Separator.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="vocal_hears must be one of"):
        Separator({"vocal": None}, vocal_hears="drums")


def test_vocal_hears_flag_overrides_the_shipped_config():
    from conftest import cli_separator

    assert cli_separator().vocal_hears == "harmonic+vocal"
    assert cli_separator("--vocal-hears", "mix").vocal_hears == "mix"
    with pytest.raises(SystemExit):
        cli_separator("--vocal-hears", "drums")


def test_shifts_average_runs_over_moved_chunk_boundaries():
    """--shifts 2: the stems still sum to the mix and keep its shape; they differ from one run's
    only by what depends on where the chunk boundaries fall (a few per cent of each stem)."""
    from conftest import cli_separator, example_audio

    audio, rate = example_audio(3.0)
    one = cli_separator().separate(audio, rate)
    sep = cli_separator("--shifts", "2")
    assert sep.shifts == 2
    two = sep.separate(audio, rate)
    np.testing.assert_allclose(sum(two.values()), audio, atol=1e-5)
    for name in ("harmonic", "percussive"):
        assert two[name].shape == audio.shape
        change = np.sum(np.square(two[name] - one[name])) / np.sum(np.square(one[name]))
        assert 1e-6 < change < 0.05, (name, change)
    with pytest.raises(SystemExit):
        cli_separator("--shifts", "0")
    with pytest.raises(ValueError, match="shifts must be a whole number >= 1, not 1.5"):
        sep.shifts = 1.5


def test_shifts_apply_to_the_drnn_too():
    from pathlib import Path

    from conftest import example_audio
    from mixin.registry import load_separator
    from mixin.separators import DRNNSeparator

    audio, rate = example_audio(2.0)
    directory = Path(__file__).resolve().parents[1] / "pretrained-models" / "drnn"
    sep = DRNNSeparator.from_pretrained(directory, shifts=2)
    assert sep.shifts == 2 and load_separator(directory, shifts=3).shifts == 3
    stems = sep.separate(audio, rate)
    assert stems["vocal"].shape == audio.shape
    np.testing.assert_allclose(stems["vocal"] + stems["accompaniment"], audio, atol=1e-5)


@pytest.mark.slow
def test_the_shipped_chain_scales_with_its_input_up_to_the_largest_sample_taken():
    """Float audio in integer units (or any level up to MAX_SAMPLE) gives the same stems, scaled (to
    within -40 dB of the mix's peak); beyond it ``separate`` refuses instead of returning NaN."""
    from mixin.constants import MAX_SAMPLE
    from mixin.registry import load_separator

    sep = load_separator(Path(__file__).resolve().parents[1] / "pretrained-models")
    rng = np.random.default_rng(5)
    t = np.arange(3 * 44100) / 44100
    x = (0.3 * np.sin(2 * np.pi * 220 * t)[:, None] + 0.05 * rng.standard_normal((len(t), 2))).astype(np.float32)
    base = sep.separate(x, 44100)
    scale = 0.99 * MAX_SAMPLE / float(np.abs(x).max())
    loud = sep.separate((x * scale).astype(np.float32), 44100)
    for source in sep.sources:
        err = np.abs(loud[source] / scale - base[source]).max()
        assert err <= 1e-2 * np.abs(x).max(), source  # the eps of the chain's ratios: about -60 dB here
    with pytest.raises(ValueError, match=r"audio holds samples over 1e\+08 \(first at sample 0: "):
        sep.separate(x * np.float32(1.01 * MAX_SAMPLE / float(np.abs(x[0]).max())), 44100)


def test_numpy_integers_are_whole_numbers():
    """``shifts`` and ``mwf_iterations`` take NumPy's integers, as sample rates do (before: "must be a
    whole number >= 1, not np.int64(2)"); bools, NumPy's too, and floats are still refused."""
    from mixin.apply import check_shifts

    assert check_shifts(np.int64(2)) == 2 and type(check_shifts(np.int64(2))) is int
    sep = Separator({"harmonic": None, "percussive": None}, mwf_iterations=np.int64(1))
    assert sep.mwf_iterations == 1 and type(sep.mwf_iterations) is int
    sep.shifts = np.int32(3)
    assert sep.shifts == 3 and type(sep.shifts) is int
    for bad in (True, np.True_, 2.0, np.int64(0)):
        with pytest.raises(ValueError, match=rf"^shifts must be a whole number >= 1, not {re.escape(repr(bad))}$"):
            check_shifts(bad)
    with pytest.raises(ValueError, match=r"^mwf_iterations must be a whole number >= 0, not np\.True_$"):
        Separator({"harmonic": None, "percussive": None}, mwf_iterations=np.True_)


def test_a_sample_just_over_the_limit_is_shown_above_it(separator):
    """1.0000001e8 was refused as "(first at sample 1000: 1e+08)", the value looking equal to the
    limit; it is shown in as many digits as it takes to read back (float64's too)."""
    x = np.zeros((2000, 2), np.float32)
    x[1000, 1] = -1.0000001e8
    tail = "160 dB over full scale: rescale it to about ±1"
    with pytest.raises(ValueError) as refused:
        separator.separate(x, 44100)
    assert str(refused.value) == f"audio holds samples over 1e+08 (first at sample 1000: 1.0000001e+08), {tail}"
    from mixin.audio import unfit_samples

    wide = np.zeros((3, 1))
    wide[2] = 100000000.5
    assert unfit_samples(wide, 10) == f"holds samples over 1e+08 (first at sample 12: 1.000000005e+08), {tail}"


def test_unsigned_complex_and_bool_audio_refused(separator):
    """uint8 PCM silence (128) was taken as signed, full-scale DC, and separated; complex audio only
    warned (its imaginary part dropped) and bool was taken as 0/1: all are refused up front."""
    import warnings

    for audio in (
        np.full((1000, 2), 128, np.uint8),
        np.zeros((1000, 2), np.uint16),
        np.zeros((1000, 2), np.complex64),
        np.zeros(1000, bool),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no ComplexWarning on the way
            with pytest.raises(ValueError) as refused:
                separator.separate(audio, 44100)
        assert str(refused.value) == (
            f"audio must hold float or signed integer samples, not {audio.dtype}: "
            "convert it to float or signed integers"
        )
    pcm = np.zeros((1000, 2), np.int16)
    assert separator.separate(pcm, 44100)["vocal"].shape == (1000, 2)  # signed PCM still separates


@pytest.mark.parametrize("shape", [(100, 0), (0, 2), (0,), (), (10, 2, 1)])
def test_audio_without_channels_or_samples_refused(separator, shape):
    """(100, 0) reached soxr ("Channel num(0) out of limit") or the FFTs (a multi-line assertion); a
    scalar failed on indexing."""
    with pytest.raises(ValueError) as refused:
        separator.separate(np.zeros(shape, np.float32), 44100)
    assert str(refused.value) == (
        f"audio must be (samples,) or (samples, channels) with samples > 0 and channels > 0, got {shape}"
    )


def test_stream_refuses_blocks_of_another_shape(separator):
    """1-D blocks gave an IndexError, blocks with another channel count than ``channels`` soxr's
    "Channel num mismatch", blocks of differing channel counts NumPy's concatenate error."""
    one, two = np.zeros((500, 1), np.float32), np.zeros((1000, 2), np.float32)
    cases = [
        ([np.zeros(1000, np.float32)], 44100, 1, "got shape (1000,) (the block at sample 0)"),
        ([two], 48000, 1, "got shape (1000, 2) (the block at sample 0)"),
        ([two, one], 44100, 2, "got shape (500, 1) (the block at sample 1000)"),
    ]
    for blocks, rate, channels, got in cases:
        with pytest.raises(ValueError) as refused:
            list(separator.stream(iter(blocks), rate, channels))
        expected = f"blocks must be (samples, channels) arrays with channels={channels} columns, {got}"
        assert str(refused.value) == expected
    for channels in (0, True, 1.0):
        with pytest.raises(ValueError) as refused:
            separator.stream(iter([]), 44100, channels)  # at the call, before any block is read
        assert str(refused.value) == f"channels must be a whole number >= 1, not {channels!r}"
    blocks = [np.zeros((700, 2), np.float32), np.zeros((0, 2), np.float32), np.zeros((300, 2), np.float32)]
    assert sum(s.shape[1] for s in separator.stream(iter(blocks), 22050, np.int64(2))) >= 1000


def test_stream_refuses_unfit_samples_where_separate_does(separator):
    """One NaN in a stream made NaN stems (60 % of every stem for one in 10 s); ``stream`` refuses
    the samples ``separate`` and the file path refuse, naming the first by its place in the stream."""
    rng = np.random.default_rng(7)
    blocks = [(0.1 * rng.standard_normal((4410, 2))).astype(np.float32) for _ in range(5)]
    for bad, problem in (
        (np.nan, "contains NaN or infinite samples (first at sample 13243)"),
        (-np.inf, "contains NaN or infinite samples (first at sample 13243)"),
        (
            3e8,
            "holds samples over 1e+08 (first at sample 13243: 3e+08), 160 dB over full scale: rescale it to about ±1",
        ),
    ):
        spoilt = [b.copy() for b in blocks]
        spoilt[3][13243 - 3 * 4410, 1] = bad
        for rate in (44100, 48000):
            with pytest.raises(ValueError) as refused:
                list(separator.stream(iter(spoilt), rate, 2))
            assert str(refused.value) == f"audio {problem}"
    with pytest.raises(ValueError) as refused:
        list(separator.stream(iter([np.zeros((10, 1), np.uint8)]), 44100, 1))
    assert str(refused.value) == (
        "audio must hold float or signed integer samples, not uint8: convert it to float or signed integers"
    )


def test_batch_size_and_overlap_are_checked_when_the_separator_is_built(model_dir):
    """batch_size 0 or -1 loaded and then failed in ducc0 at separate time (a multi-line RuntimeError),
    2.5 was cut to 2 without a word, and a bad overlap was refused only by the first separate."""
    from mixin.constants import CHUNK_SIZE
    from mixin.separators import DRNNSeparator

    pair = {"harmonic": None, "percussive": None}
    for bad in (0, -1, 2.5, True, "4"):
        with pytest.raises(ValueError) as refused:
            Separator(pair, batch_size=bad)
        assert str(refused.value) == f"batch_size must be a whole number >= 1, not {bad!r}"
    with pytest.raises(ValueError) as refused:
        DRNNSeparator(None, batch_size=0)
    assert str(refused.value) == "batch_size must be a whole number >= 1, not 0"
    for bad in (-1, CHUNK_SIZE, 2.5, True):
        with pytest.raises(ValueError) as refused:
            Separator(pair, overlap=bad)
        assert str(refused.value) == f"overlap must be a whole number in [0, {CHUNK_SIZE}), not {bad!r}"
    with pytest.raises(ValueError, match=r"^batch_size must be a whole number >= 1, not 0$"):
        Separator.from_pretrained(model_dir, batch_size=0)
    sep = Separator(pair, overlap=np.int64(CHUNK_SIZE - 1), batch_size=np.int64(2))
    assert (sep.overlap, sep.batch_size) == (CHUNK_SIZE - 1, 2) and type(sep.batch_size) is int
    assert Separator(pair, overlap=0, batch_size=1).overlap == 0


def test_api_option_errors_name_the_keywords(model_dir):
    """Errors of the loaders named the CLI's flags (``--crossfade`` for ``overlap``, ``--vocal-remask
    off``) or were Python's own ("could not convert string to float: 'a'"); they name the keywords.
    The CLI's own errors still name its flags."""
    from conftest import cli_separator
    from mixin.registry import load_separator

    drnn_dir = Path(__file__).resolve().parents[1] / "pretrained-models" / "drnn"
    for options, names in (
        ({"overlap": 100}, "overlap applies"),
        ({"overlap": 0, "batch_size": 2}, "overlap, batch_size apply"),
    ):
        with pytest.raises(MixinError) as refused:
            load_separator(drnn_dir, **options)
        assert str(refused.value) == f"{drnn_dir}: {names} to the cdae architecture only, not to a drnn"
    for options, message in (
        (
            {"vocal_two_stage": 0.3, "vocal_remask": False},
            "vocal_two_stage is a share of the vocal remask: not with vocal_remask=False",
        ),
        (
            {"mwf_vocal": True, "mwf_iterations": 0},
            "mwf_vocal=True adds the vocal to the Wiener filter: not with mwf_iterations=0",
        ),
        ({"voice_weight": "a"}, "voice_weight must be in [0, 1], not 'a'"),
        ({"voice_weight": 1.5}, "voice_weight must be in [0, 1], not 1.5"),
    ):
        with pytest.raises(ValueError) as refused:
            Separator.from_pretrained(model_dir, **options)
        assert str(refused.value) == message
    with pytest.raises(MixinError) as refused:
        cli_separator("--pretrained-model-dir", str(drnn_dir), "--mask-power", "2")
    assert (
        str(refused.value)
        == f"{drnn_dir}: --mask-power, --voice-weight apply to the cdae architecture only, not to a drnn"
    )


def test_model_config_path_errors_say_what_is_there_and_saves_are_whole(tmp_path, monkeypatch):
    """A --pretrained-model-dir naming a file said "model directory not found"; config.json was
    written in place, so a failed write left half a config."""
    from mixin.registry import ModelConfig

    (tmp_path / "file").write_text("x")
    with pytest.raises(MixinError, match=r"file: is a file, not a directory$"):
        ModelConfig.load(tmp_path / "file")
    with pytest.raises(MixinError, match=r"nothing: model directory not found$"):
        ModelConfig.load(tmp_path / "nothing")
    ModelConfig().save(tmp_path)
    before = (tmp_path / "config.json").read_text()

    real_write = Path.write_text

    def fail(self, text, *args, **kwargs):  # the disk fills half-way through
        real_write(self, text[: len(text) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", fail)
    with pytest.raises(OSError):
        ModelConfig(mask_power=2.0).save(tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "config.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "file"]
