"""Turning per-source magnitude estimates into complex source coefficients."""

from __future__ import annotations

import numpy as np

from .constants import INPUT_EPS, INPUT_LEVEL

EPS = 1e-10
"""Added to the Wiener denominator; keeps silent input silent instead of NaN."""


def wiener_masks(magnitudes: np.ndarray, power: float = 2.0, eps: float = EPS) -> np.ndarray:
    """Soft masks ``|S_s|^p / (sum_s |S_s|^p + eps)`` from estimates (sources, ...).

    ``power=2`` is the Wiener filter; other powers are the generalised ("alpha") Wiener filter of
    Liutkus & Badeau (2015), ``power=1`` the magnitude ratio mask. Sharper masks (larger p) trade
    artefacts for interference."""
    mags = np.asarray(magnitudes, dtype=np.float32)
    weight = np.square(mags) if power == 2 else (mags if power == 1 else np.power(mags, np.float32(power)))
    return weight / (weight.sum(axis=0, keepdims=True) + np.float32(eps))


def with_mixture_phase(magnitudes: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """Each estimated magnitude (sources, ...) with the phase of the complex ``mix``."""
    size = np.abs(mix)
    phasor = np.divide(mix, size, out=np.ones_like(mix), where=size > 0)
    return magnitudes * phasor[None]


def model_input(magnitudes: np.ndarray, level: float = INPUT_LEVEL, eps: float = INPUT_EPS) -> np.ndarray:
    """Each (bands, frames) plane of magnitudes scaled to a mean of ``level``: a quiet song and a
    loud one give the models the same picture (the masks do not depend on the outputs' scale)."""
    mags = np.asarray(magnitudes, dtype=np.float32)
    mean = mags.mean(axis=(-2, -1), keepdims=True)
    return mags * (np.float32(level) / (mean + np.float32(eps)))
