"""Median-filtering harmonic/percussive separation (Fitzgerald, DAFx 2010).

The 30-line baseline every separator here must beat, and the CDAE separator's second opinion:
its harmonic/percussive split of what the vocal model leaves can be blended with the CDAEs'
(``config.json``'s ``hpss_weight``; streamed by :mod:`mixin.redraw`), which keeps MiXiN's stems
from falling below median filtering on material the models never saw. With ``hpss_adaptive`` the
share rises towards 1 in stretches where median filtering's masks are decisive
(:func:`adaptive_weight`): the material where it is near its best.
"""

from __future__ import annotations

import math

import numpy as np

from .transforms import istft, stft

KERNEL = 17
"""Frames (time median) and bins (frequency median) of the two filters."""
N_FFT_44K = 4096
"""STFT size at 44.1 kHz; other rates use the power of two nearest the same duration."""
OVERLAPS = 4
"""STFT frames per window length: the hop is a quarter of the STFT size."""
DECISIVE_FROM = 0.89
DECISIVE_TO = 0.95
"""Decisiveness (:func:`hpss_split`) from which the adaptive share starts to rise above
``hpss_weight``, and at which it reaches 1. Measured on 60 real and rendered mixes
(``pretrained-models/HISTORY.md``): the 4 above 0.89 all gained from more median filtering, and the
mixes where median filtering reached 15 dB had 0.90-0.93; below, some lost."""


def median_filter(values: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Centred running median of ``size`` (odd) along ``axis``, edges mirrored: the same values as
    ``scipy.ndimage.median_filter(mode="reflect")`` along one axis, about 8x faster (bottleneck's
    O(log size) running median instead of a sort per sample)."""
    import bottleneck

    half = size // 2
    pad = [(0, 0)] * values.ndim
    pad[axis] = (half, half)
    running = bottleneck.move_median(np.pad(values, pad, mode="symmetric"), size, axis=axis)
    keep = [slice(None)] * values.ndim
    keep[axis] = slice(size - 1, None)
    return running[tuple(keep)]


VOICE_LONG_FFT_44K = 16384
VOICE_SHORT_FFT_44K = 1024
"""STFT sizes at 44.1 kHz of :func:`two_stage_vocal`'s two median filterings (0.37 s and 23 ms),
chosen by the vocal SDR of real songs over 8192 and 32768 (long) and 2048 and 4096 (short)
(``pretrained-models/HISTORY.md``)."""
VOICE_SHORT_OVERLAPS = 2
"""Frames per window length of :func:`two_stage_vocal`'s short filtering: half median filtering's,
the time median over 9 frames reaching as far; a quarter less CPU for the two stages, the real
songs' vocal within 0.01 dB (the long one at half the frames cost 0.15 dB harmonic:
``pretrained-models/HISTORY.md``)."""


def n_fft_for(sample_rate: int, n_fft_44k: int = N_FFT_44K) -> int:
    """The power of two nearest ``n_fft_44k`` points at 44.1 kHz in duration, at ``sample_rate``."""
    return 2 ** round(math.log2(n_fft_44k * sample_rate / 44100))


def _split_mask(
    audio: np.ndarray,
    sample_rate: int,
    n_fft: int | None,
    kernel: int,
    power: float,
    shared_mask: bool,
    overlaps: int = OVERLAPS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The STFT of ``audio`` (hop ``n_fft // overlaps``), its magnitudes (one for all channels
    when ``shared_mask``), the harmonic soft mask and the STFT size. The time median spans
    ``kernel`` frames at :data:`OVERLAPS` frames per window, fewer (and odd) at fewer frames."""
    n_fft = n_fft or n_fft_for(sample_rate)
    hop = n_fft // overlaps
    spec = stft(np.asarray(audio, dtype=np.float32), n_fft, hop)
    mag = np.abs(spec)  # (..., bins, frames)
    if shared_mask and np.ndim(audio) >= 2:
        mag = mag.mean(axis=-3, keepdims=True)
    harm = median_filter(mag, 2 * (kernel // 2 * overlaps // OVERLAPS) + 1, axis=-1)
    perc = median_filter(mag, kernel, axis=-2)
    np.power(harm, power, out=harm)  # in place, as below: no copies of the spectrogram's size
    np.power(perc, power, out=perc)
    perc += harm
    mask = np.divide(harm, perc, out=np.full_like(harm, 0.5), where=perc > 0)
    return spec, mag, mask, n_fft


def _decisiveness(mag: np.ndarray, mask: np.ndarray) -> float:
    energy = np.square(mag, dtype=np.float64)
    total = float(energy.sum())
    return float(np.sum(energy * np.abs(2 * mask - 1))) / total if total > 0 else 0.0


def hpss_split(
    audio: np.ndarray,
    sample_rate: int,
    n_fft: int | None = None,
    kernel: int = KERNEL,
    power: float = 2.0,
    shared_mask: bool = False,
    decisiveness: bool = False,
    overlaps: int = OVERLAPS,
) -> np.ndarray | tuple[np.ndarray, float]:
    """Harmonic part of (..., samples) audio; the percussive part is the audio minus it.

    Median over time of |STFT| estimates the harmonic part, median over frequency the
    percussive part; the soft mask ``H^p / (H^p + P^p)`` takes the harmonic share of the mix.
    ``shared_mask``: one mask for all channels (axis -2 of ``audio``), from their mean
    magnitude; half the median filtering of stereo, and the stereo image moves as one.
    ``decisiveness``: also return ``sum(|X|^2 |2M - 1|) / sum(|X|^2)`` over all bins, 1 where
    every bin is plainly harmonic or plainly percussive, 0 where the mask is 1/2 everywhere.
    ``overlaps``: frames per window length (hop ``n_fft // overlaps``), the time median reaching
    as far as at :data:`OVERLAPS`."""
    spec, mag, mask, n_fft = _split_mask(audio, sample_rate, n_fft, kernel, power, shared_mask, overlaps)
    decided = _decisiveness(mag, mask) if decisiveness else 0.0
    spec *= mask
    harmonic = istft(spec, n_fft, n_fft // overlaps, np.shape(audio)[-1])
    return (harmonic, decided) if decisiveness else harmonic


def two_stage_vocal(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """A vocal estimate of (..., channels, samples) audio from median filtering alone (Tachibana
    et al., "Singing voice enhancement in monaural music signals based on two-stage
    harmonic/percussive sound separation on multiple resolution spectrograms", IEEE/ACM TASLP
    22(1), 2014): on a long window a voice's vibrato and glides are too unsteady to count as
    harmonic, so it falls to the percussive part with the drums; on a short window it is steady
    again, and the harmonic part of that percussive part is the voice. One mask for all channels.
    It errs unlike the models, which is what makes it a useful second opinion (:mod:`mixin.redraw`)."""
    long_n, short_n = n_fft_for(sample_rate, VOICE_LONG_FFT_44K), n_fft_for(sample_rate, VOICE_SHORT_FFT_44K)
    audio = np.asarray(audio, dtype=np.float32)
    unsteady = audio - hpss_split(audio, sample_rate, n_fft=long_n, shared_mask=True)
    return hpss_split(unsteady, sample_rate, n_fft=short_n, shared_mask=True, overlaps=VOICE_SHORT_OVERLAPS)


def decisiveness(audio: np.ndarray, sample_rate: int) -> float:
    """:func:`hpss_split`'s decisiveness of (..., channels, samples) audio (one mask for all
    channels), without the inverse STFT."""
    _, mag, mask, _ = _split_mask(audio, sample_rate, None, KERNEL, 2.0, True)
    return _decisiveness(mag, mask)


def ramp(x: float, start: float, end: float) -> float:
    """0 up to ``start``, rising linearly to 1 at ``end``."""
    return min(max((x - start) / (end - start), 0.0), 1.0)


def adaptive_weight(weight: float, decided: float) -> float:
    """Median filtering's share for a stretch of ``decided`` decisiveness: ``weight`` up to
    :data:`DECISIVE_FROM`, rising linearly to 1 at :data:`DECISIVE_TO`."""
    return weight + (1.0 - weight) * ramp(decided, DECISIVE_FROM, DECISIVE_TO)
