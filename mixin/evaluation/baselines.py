"""Reference systems to score MiXiN against: median-filtering HPSS and the oracle NSGT mask."""

from __future__ import annotations

import numpy as np

from ..apply import separate_array
from ..constants import CHUNK_SIZE, CROSSFADE
from ..filtering import wiener_masks
from ..transforms import nsgt


def hpss(
    audio: np.ndarray,
    sample_rate: int,
    n_fft: int = 4096,
    hop: int = 1024,
    kernel: int = 17,
    power: float = 2.0,
) -> dict[str, np.ndarray]:
    """Median-filtering harmonic/percussive separation (Fitzgerald, DAFx 2010).

    Median over time of |STFT| estimates the harmonic part, median over frequency the
    percussive part; soft (Wiener-like) masks ``H^p / (H^p + P^p)`` split the mix, so the two
    stems sum to it. ``audio`` is (samples, channels); ``kernel`` is both filters' length.
    """
    import scipy.ndimage
    import scipy.signal

    audio = np.asarray(audio, dtype=np.float64)
    out = {"harmonic": np.zeros_like(audio), "percussive": np.zeros_like(audio)}
    for c in range(audio.shape[1]):
        _, _, spec = scipy.signal.stft(audio[:, c], fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop, boundary="zeros")
        mag = np.abs(spec)
        harm = scipy.ndimage.median_filter(mag, size=(1, kernel), mode="reflect")
        perc = scipy.ndimage.median_filter(mag, size=(kernel, 1), mode="reflect")
        hp, pp = harm**power, perc**power
        mask = np.divide(hp, hp + pp, out=np.full_like(hp, 0.5), where=(hp + pp) > 0)
        _, h = scipy.signal.istft(spec * mask, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop, boundary=True)
        n = audio.shape[0]
        h = np.pad(h, (0, max(0, n - len(h))))[:n]
        out["harmonic"][:, c] = h
        out["percussive"][:, c] = audio[:, c] - h
    return {k: v.astype(np.float32) for k, v in out.items()}


def oracle_wiener(mix: np.ndarray, references: dict[str, np.ndarray], overlap: int = CROSSFADE) -> dict[str, np.ndarray]:
    """The ceiling of NSGT mask separation: the true stems' magnitudes through the separator's
    own Wiener masking, chunking and cross-fades. All arrays (samples, channels) at 44.1 kHz."""
    t = nsgt()
    names = list(references)
    channels = mix.shape[1]
    # Chunks carry [mix, stem_1, ..., stem_S] as channels; each output slot repeats the estimate
    # so that separate_array can keep its same-channels-out contract.
    stacked = np.concatenate([mix] + [references[n] for n in names], axis=1).astype(np.float32)

    def fn(chunks: np.ndarray) -> np.ndarray:
        c = t.forward(chunks).reshape(len(chunks), 1 + len(names), channels, *t.shape)
        masks = wiener_masks(np.abs(c[:, 1:]).transpose(1, 0, 2, 3, 4))
        stems = t.inverse(masks * c[None, :, 0])  # (S, n, channels, chunk)
        return np.tile(stems, (1, 1, 1 + len(names), 1))

    out = separate_array(stacked, fn, len(names), CHUNK_SIZE, overlap)
    return {n: out[i, :, :channels] for i, n in enumerate(names)}


def mixture_as_estimate(mix: np.ndarray, sources) -> dict[str, np.ndarray]:
    """The lower baseline: every source estimated as the whole mix."""
    return {s: mix for s in sources}


__all__ = ["hpss", "oracle_wiener", "mixture_as_estimate"]
