"""The multichannel Wiener filter on the stems' STFT, in bounded memory.

The stems so far come from magnitude masks, one per channel, and from blends; the filter
(:func:`mixin.filtering.multichannel_wiener`) models each stem by its power and its stereo
placement and shares the mix's STFT out again. Drums and instruments are often placed apart: on
real songs and real or rendered instrument + percussion mixes it raised the percussive stem by
1-2 dB and, where the stems sit apart, the harmonic one too; under mono drum loops it cost up to
0.8 dB harmonic (``pretrained-models/HISTORY.md``). The vocal shares in it since its own estimate
became good enough (``mwf_vocal``, session 31: +0.2 to +1.1 dB vocal on real songs); given the
poorer vocal of session 7 the filter lowered it. Streamed with median filtering's blend by
:mod:`mixin.redraw`.
"""

from __future__ import annotations

import numpy as np

from .filtering import multichannel_wiener

OVERLAPS = 2
"""STFT frames per window length (hop = n_fft / OVERLAPS): half those of median filtering, half the
cost, and within 0.1 dB of it (``pretrained-models/HISTORY.md``)."""
BLOCK_BINS = 128
"""Bins filtered at a time."""


def refine_spectra(mix: np.ndarray, parts: np.ndarray, iterations: int = 1, power: float = 2.0) -> np.ndarray:
    """``parts`` (sources - 1, channels, bins, frames) of the (channels, bins, frames) STFT ``mix``
    after ``iterations`` of the multichannel Wiener filter (``power``: its magnitude exponent), the mix
    less their sum being the last source (``parts`` is overwritten with the result)."""
    for lo in range(0, mix.shape[-2], BLOCK_BINS):  # bins are filtered independently: bounded memory
        bins = np.s_[..., lo : lo + BLOCK_BINS, :]
        ours = parts[bins]
        estimates = np.concatenate((ours, (mix[bins] - ours.sum(axis=0))[None]))
        parts[bins] = multichannel_wiener(mix[bins], estimates, iterations, outputs=len(parts), power=power)
    return parts
