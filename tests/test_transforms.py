"""The Bark NSGT: shapes, perfect reconstruction, and equality with the reference nsgt 0.19."""

from pathlib import Path

import numpy as np
import pytest

from mixin.constants import CHUNK_SIZE, N_BANDS, N_FRAMES
from mixin.transforms import BarkNSGT, bark2hz, bark_frequencies, hz2bark, istft, nsgt, stft

FIXTURE = Path(__file__).parent / "fixtures" / "nsgt_reference.npz"


def rel_err(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def ref():
    return np.load(FIXTURE)


def test_bark_scale_round_trip_and_known_values():
    assert hz2bark(600 * np.sinh(1.0)) == pytest.approx(6.0)
    f = np.array([0.0, 100.0, 1000.0, 22050.0])
    np.testing.assert_allclose(bark2hz(hz2bark(f)), f, rtol=1e-12, atol=1e-9)
    freqs = bark_frequencies(0, 22050, 96)
    assert freqs[0] == 0.0 and freqs[-1] >= 22050.0  # both dropped by the transform: 94 + DC + Nyquist
    assert np.all(np.diff(hz2bark(freqs)) == pytest.approx(hz2bark(22050) / 95))


def test_shape_is_96_by_1948_per_chunk_and_channel():
    t = nsgt()
    assert t.shape == (N_BANDS, N_FRAMES) == (96, 1948)
    x = np.zeros((3, 2, CHUNK_SIZE), dtype=np.float32)
    c = t.forward(x)
    assert c.shape == (3, 2, 96, 1948) and c.dtype == np.complex64
    assert t.inverse(c).shape == (3, 2, CHUNK_SIZE)
    assert t.forward(x, dtype=np.float64).dtype == np.complex128


def test_perfect_reconstruction_float64():
    x = np.random.default_rng(0).standard_normal((2, 2, CHUNK_SIZE))
    t = nsgt()
    y = t.inverse(t.forward(x, dtype=np.float64))
    assert y.dtype == np.float64
    assert rel_err(y, x) < 1e-10


def test_perfect_reconstruction_float32():
    x = np.random.default_rng(1).standard_normal((4, 1, CHUNK_SIZE)).astype(np.float32)
    t = nsgt()
    y = t.inverse(t.forward(x))
    assert y.dtype == np.float32
    assert rel_err(y, x) < 1e-5


def test_batched_equals_one_at_a_time():
    x = np.random.default_rng(2).standard_normal((3, 2, CHUNK_SIZE))
    t = nsgt()
    batched = t.forward(x, dtype=np.float64)
    single = t.forward(x[1, 0], dtype=np.float64)
    np.testing.assert_allclose(batched[1, 0], single, rtol=0, atol=1e-12)


def test_window_lengths_match_reference(ref):
    assert np.array_equal(nsgt().window_lengths, ref["band_lengths"])


def test_coefficients_match_reference_nsgt(ref):
    c = nsgt().forward(ref["signal"].astype(np.float64), dtype=np.float64)
    assert rel_err(c[:, ::4], ref["coefs_every4"]) < 1e-6
    # Per band too, so a small band cannot hide behind the large ones.
    per_band = np.linalg.norm(c[:, ::4] - ref["coefs_every4"], axis=1) / np.linalg.norm(ref["coefs_every4"], axis=1)
    assert per_band.max() < 1e-6


def test_masked_inverse_matches_reference_dual_frame(ref):
    """Any left inverse reconstructs; only the canonical dual gives the reference's masked output."""
    t = nsgt()
    c = t.forward(ref["signal"].astype(np.float64), dtype=np.float64)
    y = t.inverse(c * np.outer(ref["mask_bands"], ref["mask_frames"]))
    assert rel_err(y, ref["masked_inverse"]) < 1e-6


def test_float32_coefficients_close_to_reference(ref):
    c = nsgt().forward(ref["signal"])
    assert rel_err(c[:, ::4], ref["coefs_every4"]) < 1e-5


def test_wrong_lengths_are_refused():
    t = nsgt()
    with pytest.raises(ValueError, match="44032 samples"):
        t.forward(np.zeros(1000))
    with pytest.raises(ValueError, match=r"\(96, 1948\)"):
        t.inverse(np.zeros((96, 100), dtype=np.complex64))


@pytest.mark.parametrize("length,rate,bands", [(8192, 16000, 48), (4096, 16000, 12), (2048, 8000, 6)])
def test_other_layouts_reconstruct_too(length, rate, bands):
    """Coarse layouts, where mirrored bands reach below Nyquist (a path the default skips)."""
    t = BarkNSGT(length=length, sample_rate=rate, bands=bands)
    x = np.random.default_rng(3).standard_normal(length)
    assert rel_err(t.inverse(t.forward(x, dtype=np.float64)), x) < 1e-10


def test_empty_batch():
    t = nsgt()
    assert t.inverse(np.zeros((0, 2, 96, 1948), dtype=np.complex64)).shape == (0, 2, CHUNK_SIZE)


@pytest.mark.parametrize("length", [1, 1000, 4096, 5000, 44100])
def test_stft_reconstructs_any_length(length):
    x = np.random.default_rng(length).normal(size=(2, length)).astype(np.float32)
    spec = stft(x, 4096, 1024)
    assert spec.shape == (2, 2049, -(-length // 1024) + 1) and spec.dtype == np.complex64
    np.testing.assert_allclose(istft(spec, 4096, 1024, length), x, atol=5e-6)


def test_stft_equals_scipy_signal_and_so_does_a_masked_inverse():
    import scipy.signal

    x = np.random.default_rng(3).normal(size=(2, 3 * 44100 + 123)).astype(np.float32)
    spec = stft(x, 4096, 1024)
    scale = scipy.signal.get_window("hann", 4096).sum()  # scipy's STFT divides by it
    _, _, ref = scipy.signal.stft(x, nperseg=4096, noverlap=3072, boundary="zeros", padded=True)
    np.testing.assert_allclose(spec, ref * scale, atol=1e-6 * np.abs(ref * scale).max())
    mask = np.random.default_rng(4).random(spec.shape).astype(np.float32)  # not a consistent STFT
    _, ref_out = scipy.signal.istft(ref * mask, nperseg=4096, noverlap=3072, boundary=True)
    out = istft(spec * mask, 4096, 1024, x.shape[-1])
    np.testing.assert_allclose(out, ref_out[:, : x.shape[-1]], atol=1e-6 * np.abs(ref_out).max())
