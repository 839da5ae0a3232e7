"""The harmonic/percussive pair redrawn after the models, streamed: median filtering's blend,
then the multichannel Wiener filter, in one stage.

The vocal model's share is final by then; what the CDAEs split between harmonic and percussive is
blended with median filtering's split of the same signal (:mod:`mixin.hpss`, ``hpss_weight`` and
``hpss_adaptive`` in ``config.json``) and shared out again by the multichannel Wiener filter
(:mod:`mixin.spatial`, ``mwf_iterations``). One stage for both: the pair is queued, chunked and
cross-faded once. (Handing the filter median filtering's masked spectrogram instead of its audio
would save an inverse STFT, but cost 0.1-0.2 dB on real and rendered mixes: kept in audio.)
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from . import hpss, spatial
from .apply import stream_pair_rework
from .transforms import istft, stft

CHUNK_S = 6.0
OVERLAP_S = 1.0
"""Chunks of 6 s cross-faded over 1 s: each median filter reaches about 0.2 s, so the cross-fades
hide the chunk edges; the filter's spatial covariances follow placement that changes within a
song; memory stays bounded."""


def redraw_pair(
    pair: np.ndarray,
    harmonic: np.ndarray,
    sample_rate: int,
    hpss_weight: float = 0.0,
    hpss_adaptive: bool = False,
    mwf_iterations: int = 0,
) -> np.ndarray:
    """The new harmonic part of ``pair`` (..., channels, samples), the stem so far being ``harmonic``.

    Median filtering's harmonic part (one mask for all channels) takes a share ``hpss_weight``
    (``hpss_adaptive``: :func:`mixin.hpss.adaptive_weight` of its decisiveness here); then
    ``mwf_iterations`` of the multichannel Wiener filter redraw the split, on a coarser STFT."""
    pair = np.asarray(pair, dtype=np.float32)
    harmonic = np.asarray(harmonic, dtype=np.float32)
    if hpss_weight > 0 or hpss_adaptive:
        if hpss_adaptive:
            median, decided = hpss.hpss_split(pair, sample_rate, shared_mask=True, decisiveness=True)
            share = hpss.adaptive_weight(hpss_weight, decided)
        else:
            median, share = hpss.hpss_split(pair, sample_rate, shared_mask=True), hpss_weight
        harmonic = harmonic + share * (median - harmonic)
    if not mwf_iterations:
        return harmonic
    n_fft = hpss.n_fft_for(sample_rate)
    hop = n_fft // spatial.OVERLAPS
    out = np.empty_like(pair)
    for index in np.ndindex(pair.shape[:-2]):
        mix, ours = stft(pair[index], n_fft, hop), stft(harmonic[index], n_fft, hop)
        out[index] = istft(spatial.refine_spectra(mix, ours, mwf_iterations), n_fft, hop, pair.shape[-1])
    return out


def stream_redraw(
    stems: Iterable[np.ndarray],
    sources: tuple[str, ...],
    sample_rate: int,
    hpss_weight: float = 0.0,
    hpss_adaptive: bool = False,
    mwf_iterations: int = 0,
) -> Iterator[np.ndarray]:
    """(sources, n, channels) stem blocks in, the same with the harmonic/percussive pair
    redrawn by :func:`redraw_pair` per 6-s chunk (the share of median filtering glides over the
    1-s cross-fades rather than stepping). The vocal and any other stems pass unchanged and the
    pair still sums to what it summed to, so the stems still add up to the mix."""

    def redraw(pair: np.ndarray, harmonic: np.ndarray) -> np.ndarray:
        return redraw_pair(pair, harmonic, sample_rate, hpss_weight, hpss_adaptive, mwf_iterations)

    chunk, overlap = int(CHUNK_S * sample_rate), int(OVERLAP_S * sample_rate)
    yield from stream_pair_rework(stems, sources, redraw, chunk, overlap, "mixin-redraw")
