"""The harmonic/percussive split redrawn by the multichannel Wiener filter, streamed.

The stems so far come from magnitude masks, one per channel, and from blends; the filter
(:func:`mixin.filtering.multichannel_wiener`) models each of the two stems by its power and its
stereo placement and shares the pair's STFT out again. Drums and instruments are often placed
apart: on real songs and real or rendered instrument + percussion mixes it raised the percussive
stem by 1-2 dB and, where the stems sit apart, the harmonic one too; under mono drum loops it cost
up to 0.8 dB harmonic (``pretrained-models/README.md``). The vocal is left as it is: the filter,
given it, lowered it.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from .apply import stream_pair_rework
from .filtering import multichannel_wiener
from .hpss import n_fft_for
from .transforms import istft, stft

OVERLAPS = 2
"""STFT frames per window length (hop = n_fft / OVERLAPS): half those of median filtering, half the
cost, and within 0.1 dB of it (``pretrained-models/README.md``)."""
BLOCK_BINS = 128
"""Bins filtered at a time."""
CHUNK_S = 6.0
OVERLAP_S = 1.0
"""Spatial covariances are estimated per chunk of 6 s (cross-faded over 1 s): placement may change
within a song, and memory stays bounded."""


def refine_pair(pair: np.ndarray, harmonic: np.ndarray, sample_rate: int, iterations: int = 1) -> np.ndarray:
    """The harmonic part of ``pair`` (..., channels, samples) after ``iterations`` of the
    multichannel Wiener filter, starting from ``harmonic`` and ``pair - harmonic``."""
    n_fft = n_fft_for(sample_rate)
    hop = n_fft // OVERLAPS
    length = pair.shape[-1]
    out = np.empty_like(pair, dtype=np.float32)
    for index in np.ndindex(pair.shape[:-2]):
        mix = stft(pair[index], n_fft, hop)
        ours = stft(harmonic[index], n_fft, hop)
        for lo in range(0, mix.shape[-2], BLOCK_BINS):  # bins are filtered independently: bounded memory
            bins = np.s_[..., lo : lo + BLOCK_BINS, :]
            estimates = np.stack((ours[bins], mix[bins] - ours[bins]))
            ours[bins] = multichannel_wiener(mix[bins], estimates, iterations, outputs=1)[0]
        out[index] = istft(ours, n_fft, hop, length)
    return out


def stream_refine(
    stems: Iterable[np.ndarray], sources: tuple[str, ...], sample_rate: int, iterations: int = 1
) -> Iterator[np.ndarray]:
    """(sources, n, channels) stem blocks in, the same with the harmonic/percussive pair redrawn by
    :func:`refine_pair` per chunk; the stems still sum to what they summed to."""

    def refine(pair: np.ndarray, harmonic: np.ndarray) -> np.ndarray:
        return refine_pair(pair, harmonic, sample_rate, iterations)

    chunk, overlap = int(CHUNK_S * sample_rate), int(OVERLAP_S * sample_rate)
    yield from stream_pair_rework(stems, sources, refine, chunk, overlap, "mixin-spatial")
