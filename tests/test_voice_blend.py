"""The DRNN's vocal as a second opinion (mixin.voice_blend): gated, ramped, stems still sum to the mix."""

from pathlib import Path

import numpy as np
import pytest

from conftest import assert_deaf_to_level, example_audio, stem_blocks
from mixin.errors import MixinError
from mixin.voice_blend import RAMP_S, WINDOW_S, stream_voice_blend

RATE = 1000  # samples per second: a 1-s gate window is 1000 samples
SOURCES = ("harmonic", "percussive", "vocal")


class FakeHelper:
    """A DRNN stand-in: its vocal is a fixed signal (the same length as the mix), in blocks of 700;
    it keeps what it was given in ``heard``."""

    def __init__(self, vocal: np.ndarray) -> None:
        self.vocal = vocal
        self.heard: np.ndarray | None = None

    def stream_unchecked(self, blocks, sample_rate, channels, executor=None):
        mix = self.heard = np.concatenate(list(blocks), axis=0)
        for start in range(0, len(mix), 700):
            v = self.vocal[start : start + 700]
            yield np.stack((v, mix[start : start + 700] - v))


def stems_for(seconds_with_voice: list[bool]) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = len(seconds_with_voice) * RATE
    stems = rng.standard_normal((3, n, 2)).astype(np.float32)
    for k, voiced in enumerate(seconds_with_voice):
        if not voiced:
            stems[2, k * RATE : (k + 1) * RATE] *= 1e-3  # -60 dB: the CDAEs hear no voice there
    return stems


def blend(
    stems: np.ndarray, helper_vocal: np.ndarray, block: int, weight: float = 0.3, hears: str = "mix", helper=None
) -> np.ndarray:
    helper = helper or FakeHelper(helper_vocal)
    out = stream_voice_blend(stem_blocks(stems, block), SOURCES, RATE, 2, helper, weight, -15.0, hears)
    return np.concatenate(list(out), axis=1)


def test_gated_blend_moves_the_vocal_where_voiced_and_keeps_the_sum():
    assert WINDOW_S == 1.0
    stems = stems_for([False, True, True, False])
    theirs = np.random.default_rng(1).standard_normal(stems.shape[1:]).astype(np.float32)
    out = blend(stems, theirs, block=333)
    assert out.shape == stems.shape
    np.testing.assert_allclose(out.sum(axis=0), stems.sum(axis=0), atol=1e-5)  # still the mix
    np.testing.assert_array_equal(out[:, :RATE], stems[:, :RATE])  # closed gate: untouched
    ramp = int(RAMP_S * RATE)
    voiced = slice(RATE + ramp, 3 * RATE)
    np.testing.assert_allclose(out[2, voiced], stems[2, voiced] + 0.3 * (theirs[voiced] - stems[2, voiced]), atol=1e-5)
    delta = out[2] - stems[2]
    np.testing.assert_allclose(out[0] - stems[0], -0.5 * delta, atol=1e-5)  # half from harmonic
    np.testing.assert_allclose(out[1] - stems[1], -0.5 * delta, atol=1e-5)  # half from percussive
    # the gate opens and closes over a ramp: no step at the boundaries
    step = np.abs(np.diff(delta[RATE - 1 : RATE + ramp + 1, 0] / (theirs - stems[2])[RATE - 1 : RATE + ramp + 1, 0]))
    assert step.max() < 0.3 / ramp * 1.5
    assert np.abs(delta[3 * RATE + ramp :]).max() == 0  # closed again after the ramp down


def test_block_sizes_do_not_change_the_result():
    stems = stems_for([True, False, True, True, False])
    theirs = np.random.default_rng(2).standard_normal(stems.shape[1:]).astype(np.float32)
    whole = blend(stems, theirs, block=stems.shape[1])
    np.testing.assert_allclose(blend(stems, theirs, block=257), whole, atol=1e-6)


def test_a_helper_that_hears_harmonic_and_vocal_leaves_the_percussive_stem():
    stems = stems_for([True, True, False])
    theirs = np.random.default_rng(3).standard_normal(stems.shape[1:]).astype(np.float32)
    helper = FakeHelper(theirs)
    out = blend(stems, theirs, block=333, hears="harmonic+vocal", helper=helper)
    np.testing.assert_allclose(helper.heard, stems[0] + stems[2], atol=1e-6)  # the mix less the percussive stem
    np.testing.assert_array_equal(out[1], stems[1])
    np.testing.assert_allclose(out.sum(axis=0), stems.sum(axis=0), atol=1e-5)
    voiced = slice(int(RAMP_S * RATE), 2 * RATE)
    np.testing.assert_allclose(out[2, voiced], stems[2, voiced] + 0.3 * (theirs[voiced] - stems[2, voiced]), atol=1e-5)
    np.testing.assert_allclose(out[0] - stems[0], -(out[2] - stems[2]), atol=1e-5)  # all from harmonic
    with pytest.raises(ValueError, match="hears must be one of mix, harmonic\\+vocal, not 'drums'"):
        blend(stems, theirs, block=333, hears="drums")


def test_voice_hears_flag_overrides_the_config():
    from conftest import cli_separator

    assert cli_separator().voice_hears == "harmonic+vocal"
    assert cli_separator("--voice-hears", "mix").voice_hears == "mix"
    with pytest.raises(SystemExit):
        cli_separator("--voice-hears", "drums")


def test_config_voice_helper_is_checked(tmp_path: Path):
    from mixin.registry import ModelConfig

    (tmp_path / "config.json").write_text('{"voice_helper": {"model_dir": "drnn", "weight": 2}}')
    with pytest.raises(MixinError, match=r"voice_helper weight must be a number in \[0, 1\], not 2"):
        ModelConfig.load(tmp_path)
    (tmp_path / "config.json").write_text('{"voice_helper": {"dir": "drnn"}}')
    with pytest.raises(MixinError, match="voice_helper must hold model_dir, weight, gate_db and optionally hears"):
        ModelConfig.load(tmp_path)
    (tmp_path / "config.json").write_text('{"voice_helper": {"model_dir": "drnn", "weight": 0.5, "hears": "drums"}}')
    with pytest.raises(MixinError, match=r"voice_helper hears must be one of mix, harmonic\+vocal, not 'drums'"):
        ModelConfig.load(tmp_path)


def test_shipped_separator_with_the_drnn_vocal(tmp_path):
    import json

    from conftest import example_audio
    from mixin.registry import load_separator
    from mixin.separators import DRNNSeparator

    root = Path(__file__).resolve().parents[1]
    audio, rate = example_audio(8.0)
    plain = load_separator(root / "pretrained-models", voice_weight=0)
    assert plain.voice_helper is None
    helped = load_separator(root / "pretrained-models")  # shipped default: 0.5, 6.4-s pieces, one run on the mean
    assert isinstance(helped.voice_helper, DRNNSeparator) and helped.voice_weight == 0.5
    config = json.loads((root / "pretrained-models" / "config.json").read_text())
    assert config["voice_helper"]["model_dir"] == "drnn-songs"  # the DRNN that also heard real bands
    assert helped.voice_helper.mono and helped.voice_helper.chunk_size == 102400
    assert helped.voice_gate_db == -20.0 and helped.voice_hears == "harmonic+vocal"
    assert plain.voice_hears == "harmonic+vocal"  # read from config.json even where no helper runs
    assert load_separator(root / "pretrained-models", voice_weight=0, voice_hears="mix").voice_hears == "mix"
    helped.voice_gate_db = -100.0  # open everywhere: the example's vocal is quiet
    assert plain.vocal_yield and helped.vocal_yield  # shipped default; but the example is decisive enough
    plain.vocal_yield = helped.vocal_yield = False  # that both vocals would be given back: compare them before that
    a, b = plain.separate(audio, rate), helped.separate(audio, rate)
    np.testing.assert_allclose(sum(b.values()), audio, atol=1e-4)
    assert not np.allclose(a["vocal"], b["vocal"])
    assert load_separator(root / "pretrained-models", voice_weight=0.3, instrumental=True).voice_helper is None
    with pytest.raises(MixinError) as refused:  # the keyword, not the CLI's --voice-weight
        load_separator(root / "pretrained-models" / "drnn", voice_weight=0.3)
    assert refused.value.cause == "voice_weight applies to the cdae architecture only, not to a drnn"


def test_missing_helper_directory_is_a_one_line_error(tmp_path):
    import json
    import shutil

    from mixin.registry import load_separator

    root = Path(__file__).resolve().parents[1] / "pretrained-models"
    for f in root.glob("model_*"):
        shutil.copy(f, tmp_path / f.name)
    shutil.copy(root / "config.json", tmp_path / "config.json")
    assert json.loads((tmp_path / "config.json").read_text())["voice_helper"]["model_dir"] == "drnn-songs"
    with pytest.raises(
        MixinError, match=r"drnn-songs: the DRNN named by config.json's voice_helper is not there \(--voice-weight 0"
    ):
        load_separator(tmp_path)
    assert load_separator(tmp_path, voice_weight=0).voice_helper is None


def test_mono_drnn_mask_applies_to_each_channel():
    """The helper's mono mode: one model run on the channels' mean, its mask on each channel;
    identical channels give what the per-channel run gives."""
    from mixin.registry import load_separator

    root = Path(__file__).resolve().parents[1] / "pretrained-models" / "drnn"
    rng = np.random.default_rng(3)
    mono = (0.1 * rng.standard_normal(40000)).astype(np.float32)
    both = np.stack((mono, mono), axis=1)
    per_channel = load_separator(root).separate(both, 16000)
    sep = load_separator(root)
    sep.mono = True
    once = sep.separate(both, 16000)
    np.testing.assert_allclose(once["vocal"], per_channel["vocal"], atol=2e-5 * np.abs(per_channel["vocal"]).max())
    stereo = np.stack((mono, 0.5 * mono[::-1].copy()), axis=1)
    out = sep.separate(stereo, 16000)
    np.testing.assert_allclose(out["vocal"] + out["accompaniment"], stereo, atol=1e-5)


def test_shipped_separator_is_deaf_to_the_records_level():
    """The helper DRNN hears each piece at its config's ``input_level``: a record 26 dB quieter or
    12 dB louder gives the same stems, scaled (without it, the chain's vocal at 1/20 of the level
    differed by -3 dB of its energy)."""
    from mixin.registry import load_separator

    audio, rate = example_audio(8)
    sep = load_separator(Path(__file__).resolve().parents[1] / "pretrained-models")
    assert sep.voice_helper.input_level == 0.1
    sep.voice_gate_db, sep.vocal_yield = -100.0, False  # the helper heard everywhere, its vocal kept
    assert_deaf_to_level(sep, audio, rate, 0.01)  # under -20 dB
