"""The Bark-scale Nonstationary Gabor Transform (NSGT), vectorised and batched; and a plain STFT.

Same mathematics as PyPI ``nsgt`` 0.19's non-sliced ``NSGT(scale, fs, Ls, real=True,
matrixform=True)`` (Hann windows in frequency, canonical dual frame), which MiXiN used. Written
here because that package lacks the Bark scale, breaks on numpy >= 1.26 and loops over bands
in Python; ``tests/test_transforms.py`` checks our coefficients against its output.
"""

from __future__ import annotations

import os
from functools import lru_cache

import ducc0
import numpy as np
import scipy.fft

from .constants import CHUNK_SIZE, FMAX, FMIN, N_BANDS, SAMPLE_RATE

_THREADS = os.cpu_count() or 1

__all__ = ["hz2bark", "bark2hz", "bark_frequencies", "BarkNSGT", "nsgt", "stft", "istft"]


def hz2bark(f: float | np.ndarray) -> np.ndarray:
    """Hertz to Bark (Traunmüller-style ``6 asinh(f/600)``)."""
    return 6.0 * np.arcsinh(np.asarray(f, dtype=np.float64) / 600.0)


def bark2hz(b: float | np.ndarray) -> np.ndarray:
    """Bark to Hertz, the inverse of :func:`hz2bark`."""
    return 600.0 * np.sinh(np.asarray(b, dtype=np.float64) / 6.0)


def bark_frequencies(fmin: float, fmax: float, bands: int) -> np.ndarray:
    """Band centres (Hz) evenly spaced in Bark from ``fmin`` to ``fmax``, in float64."""
    bmin = hz2bark(fmin)
    step = (hz2bark(fmax) - bmin) / (bands - 1)
    return np.array([bark2hz(b * step + bmin) for b in range(bands)], dtype=np.float64)


def _hann(length: int) -> np.ndarray:
    """Periodic Hann window with its peak at index 0 (offset j at index j mod length)."""
    return 0.5 + 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)


class BarkNSGT:
    """NSGT of fixed-length real signals: (..., length) <-> (..., bands, frames) complex.

    The leading axes are batch axes (e.g. chunks and channels), transformed in one call.
    """

    def __init__(
        self,
        length: int = CHUNK_SIZE,
        sample_rate: int = SAMPLE_RATE,
        bands: int = N_BANDS,
        fmin: float = FMIN,
        fmax: float = FMAX,
    ) -> None:
        self.length = int(length)
        self.sample_rate = int(sample_rate)
        centres, lengths = self._layout(bark_frequencies(fmin, fmax, bands))
        self.window_lengths = lengths[: len(lengths) // 2 + 1]
        self.centres = centres[: len(centres) // 2 + 1]
        self.frames = int(lengths.max())
        self.shape = (len(self.centres), self.frames)
        self._build(centres, lengths)

    # -- construction ---------------------------------------------------------------------
    def _layout(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rounded centre bins and window lengths of all bands, mirrors included."""
        fs, ls = self.sample_rate, self.length
        nyquist = fs / 2.0
        f = f[(f > 0) & (f < nyquist)]
        nb = len(f)
        half = np.concatenate(([0.0], f, [nyquist]))
        fbas = np.concatenate((half, fs - half[-2:0:-1])) * (ls / fs)
        lengths = np.empty(len(fbas), dtype=np.int64)
        lengths[0] = np.round(2 * fbas[1])
        lengths[1:-1] = np.round(fbas[2:] - fbas[:-2])
        lengths[-1] = np.round(ls - fbas[-2])
        lengths = np.maximum(lengths, 4)
        # The top band's centre moves half-way to Nyquist once the lengths are fixed.
        fbas[nb] = (fbas[nb - 1] + fbas[nb + 1]) / 2
        fbas[nb + 2] = ls - fbas[nb]
        return np.round(fbas).astype(np.int64), lengths

    def _build(self, centres: np.ndarray, lengths: np.ndarray) -> None:
        ls, m = self.length, self.frames
        nbands = len(centres)
        nreal = nbands // 2 + 1
        # Canonical dual frame: divide by the sum of all (matrix-form M times) squared windows.
        diag = np.zeros(ls)
        supports = []
        for c, n in zip(centres, lengths, strict=True):
            offsets = np.arange(-(n // 2), n - n // 2)
            g = _hann(n)[offsets % n]
            bins = (c + offsets) % ls
            np.add.at(diag, bins, m * g**2)
            supports.append((offsets, g, bins))

        index = np.zeros((nreal, m), dtype=np.int64)
        window = np.zeros((nreal, m))
        for k in range(nreal):
            offsets, g, bins = supports[k]
            index[k, offsets % m] = bins
            window[k, offsets % m] = g
        self._index = index
        self._window = {np.float64: window, np.float32: window.astype(np.float32)}

        # Synthesis maps fft(coefficients) to bins 0..ls/2: direct bands add M*gd*F, mirrored
        # bands (k' = nbands - k) add M*gd*conj(F[k, -p]). Each bin takes a few terms at most,
        # so the maps are kept as fixed-width (bins, terms) gathers rather than sparse matrices.
        half = ls // 2 + 1
        rows_a, cols_a, vals_a, rows_b, cols_b, vals_b = [], [], [], [], [], []
        for k in range(nbands):
            offsets, g, bins = supports[k]
            weight = m * g / diag[bins]
            keep = bins < half
            if k < nreal:
                rows_a.append(bins[keep])
                cols_a.append(k * m + offsets[keep] % m)
                vals_a.append(weight[keep])
            else:
                src = nbands - k
                rows_b.append(bins[keep])
                cols_b.append(src * m + (-offsets[keep]) % m)
                vals_b.append(weight[keep])

        self._synth = {}
        for real in (np.float64, np.float32):
            tables = (
                _padded_rows(np.concatenate(r), np.concatenate(c), np.concatenate(v).astype(real), half)
                for r, c, v in ((rows_a, cols_a, vals_a), (rows_b, cols_b, vals_b))
            )
            # Stored (terms, bins): inverse() gathers one term of every bin at a time.
            self._synth[real] = tuple((np.ascontiguousarray(c.T), np.ascontiguousarray(v.T)) for c, v in tables)

    # -- transforms -----------------------------------------------------------------------
    def forward(self, x: np.ndarray, dtype: type = np.float32, threads: int | None = None) -> np.ndarray:
        """Coefficients of real signals ``x`` (..., length): complex (..., bands, frames).

        ``threads``: for the FFTs (default: all cores; 1 where the caller runs its own threads)."""
        threads = threads or _THREADS
        real = np.dtype(dtype).type
        x = np.asarray(x, dtype=real)
        if x.shape[-1] != self.length:
            raise ValueError(f"NSGT expects {self.length} samples on the last axis, got {x.shape[-1]}")
        spec = scipy.fft.rfft(x, axis=-1, workers=threads)
        full = np.concatenate((spec, np.conj(spec[..., -2:0:-1])), axis=-1)
        rows = np.take(full, self._index, axis=-1)  # as full[..., index], 2-4x faster
        rows *= self._window[real]
        # ducc0 rather than scipy/numpy: 1948 = 4 * 487, and its FFT of that length is ~3x faster.
        return ducc0.fft.c2c(rows, axes=(rows.ndim - 1,), forward=False, inorm=2, out=rows, nthreads=threads)

    def inverse(self, c: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Real signals (..., length) from coefficients (..., bands, frames); ``threads`` as in
        :meth:`forward`."""
        threads = threads or _THREADS
        c = np.asarray(c)
        if c.shape[-2:] != self.shape:
            raise ValueError(f"NSGT coefficients must end in {self.shape}, got {c.shape[-2:]}")
        real = np.float64 if c.dtype == np.complex128 else np.float32
        lead = c.shape[:-2]
        if c.size == 0:
            return np.zeros((*lead, self.length), dtype=real)
        f = ducc0.fft.c2c(c, axes=(c.ndim - 1,), forward=True, nthreads=threads)
        f = f.reshape(-1, self.shape[0] * self.shape[1])
        (cols_a, vals_a), (cols_b, vals_b) = self._synth[real]
        half = _gathered_sum(f, cols_a, vals_a)
        if len(cols_b):  # mirrored bands reach below Nyquist only for some layouts
            half += np.conj(_gathered_sum(f, cols_b, vals_b))
        out = scipy.fft.irfft(half, n=self.length, axis=-1, workers=threads)
        return out.astype(real, copy=False).reshape(*lead, self.length)


def _gathered_sum(f: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """``sum_k f[:, cols[k]] * vals[k]`` for (terms, bins) tables: the ELLPACK product, one term
    at a time with ``np.take`` (the same sums, in the same order, as one (n, bins, terms) gather
    and an einsum, at a fifth of the time)."""
    out = np.take(f, cols[0], axis=1)
    out *= vals[0]
    for k in range(1, len(cols)):
        term = np.take(f, cols[k], axis=1)
        term *= vals[k]
        out += term
    return out


def _padded_rows(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """A sparse map given as (row, col, value) triples, as (n_rows, width) column and weight
    tables padded with weight 0 (the ELLPACK layout)."""
    order = np.argsort(rows, kind="stable")
    rows, cols, vals = rows[order], cols[order], vals[order]
    counts = np.bincount(rows, minlength=n_rows)
    width = int(counts.max()) if len(rows) else 0
    slot = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    table_cols = np.zeros((n_rows, width), dtype=np.int64)
    table_vals = np.zeros((n_rows, width), dtype=vals.dtype)
    table_cols[rows, slot] = cols
    table_vals[rows, slot] = vals
    return table_cols, table_vals


@lru_cache(maxsize=4)
def nsgt(length: int = CHUNK_SIZE, sample_rate: int = SAMPLE_RATE, bands: int = N_BANDS) -> BarkNSGT:
    """A shared, cached transform (building one takes a few hundred milliseconds)."""
    return BarkNSGT(length=length, sample_rate=sample_rate, bands=bands)


def stft(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Periodic-Hann STFT of (..., samples) float audio: (..., bins, frames) complex64, frames
    centred on multiples of ``hop`` from sample 0 (``n_fft // 2`` zeros before and after), the
    same frames as ``scipy.signal.stft(boundary="zeros", padded=True)`` without its scaling.
    Framing by strides and one batched real FFT: about 5x faster than scipy.signal's, whose
    generic path dominated median-filtering HPSS (:mod:`mixin.hpss`)."""
    from numpy.lib.stride_tricks import sliding_window_view

    if n_fft % hop:
        raise ValueError(f"hop ({hop}) must divide n_fft ({n_fft})")
    audio = np.asarray(audio, dtype=np.float32)
    n = audio.shape[-1]
    frames = -(-n // hop) + 1  # ceil(n / hop) + 1
    padded = np.zeros((*audio.shape[:-1], (frames - 1) * hop + n_fft), dtype=np.float32)
    padded[..., n_fft // 2 : n_fft // 2 + n] = audio
    windowed = sliding_window_view(padded, n_fft, axis=-1)[..., ::hop, :] * _stft_window(n_fft)
    return np.swapaxes(scipy.fft.rfft(windowed, axis=-1), -1, -2)


def istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """Inverse of :func:`stft` (weighted overlap-add: exact for an unmodified spectrogram), the
    first ``length`` samples, float32."""
    window = _stft_window(n_fft)
    frames = np.fft.irfft(np.swapaxes(spec, -1, -2), n=n_fft, axis=-1).astype(np.float32) * window
    count, overlap = frames.shape[-2], n_fft // hop
    blocks = frames.reshape(*frames.shape[:-1], overlap, hop)
    out = np.zeros((*frames.shape[:-2], count + overlap - 1, hop), dtype=np.float32)
    norm = np.zeros((count + overlap - 1, hop), dtype=np.float32)
    squared = (window**2).reshape(overlap, hop)
    for k in range(overlap):  # block k of frame j lands on output block j + k
        out[..., k : k + count, :] += blocks[..., k, :]
        norm[k : k + count] += squared[k]
    out = out.reshape(*out.shape[:-2], -1)[..., n_fft // 2 : n_fft // 2 + length]
    norm = norm.reshape(-1)[n_fft // 2 : n_fft // 2 + length]
    out /= np.where(norm > 1e-10, norm, 1.0)
    if out.shape[-1] < length:
        out = np.concatenate((out, np.zeros((*out.shape[:-1], length - out.shape[-1]), np.float32)), axis=-1)
    return out


@lru_cache(maxsize=8)
def _stft_window(n_fft: int) -> np.ndarray:
    """Periodic Hann window (scipy.signal.get_window("hann", n_fft)), float32: :func:`_hann`
    with its peak moved to the middle."""
    return np.fft.fftshift(_hann(n_fft)).astype(np.float32)
