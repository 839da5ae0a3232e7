"""Reference systems to score MiXiN against: median-filtering HPSS and the oracle NSGT mask."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..apply import separate_array
from ..constants import CHUNK_SIZE, CROSSFADE
from ..filtering import wiener_masks
from ..hpss import KERNEL, N_FFT_44K, hpss_split
from ..transforms import nsgt


def hpss(
    audio: np.ndarray, sample_rate: int, n_fft: int = N_FFT_44K, kernel: int = KERNEL, power: float = 2.0
) -> dict[str, np.ndarray]:
    """The median-filtering baseline (Fitzgerald, DAFx 2010) on a whole track: (samples,
    channels) in, harmonic and percussive stems out (they sum to it). A 4096-point STFT at any
    rate, as the baseline the project is measured against."""
    audio = np.asarray(audio, dtype=np.float32)
    harmonic = hpss_split(audio.T, sample_rate, n_fft, kernel, power).T
    return {"harmonic": harmonic, "percussive": audio - harmonic}


def oracle_wiener(
    mix: np.ndarray, references: dict[str, np.ndarray], overlap: int = CROSSFADE
) -> dict[str, np.ndarray]:
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


def mixture_as_estimate(mix: np.ndarray, sources: Iterable[str]) -> dict[str, np.ndarray]:
    """The lower baseline: every source estimated as the whole mix."""
    return {s: mix for s in sources}


__all__ = ["hpss", "oracle_wiener", "mixture_as_estimate"]
