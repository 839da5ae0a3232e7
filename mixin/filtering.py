"""Turning per-source magnitude estimates into complex source coefficients."""

from __future__ import annotations

import numpy as np

EPS = 1e-10
"""Added to the Wiener denominator; keeps silent input silent instead of NaN."""


def wiener_masks(magnitudes: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Soft masks ``|S_s|^2 / (sum_s |S_s|^2 + eps)`` from estimates (sources, ...)."""
    power = np.square(magnitudes, dtype=np.float32)
    return power / (power.sum(axis=0, keepdims=True) + np.float32(eps))


def with_mixture_phase(magnitudes: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """Each estimated magnitude (sources, ...) with the phase of the complex ``mix``."""
    size = np.abs(mix)
    phasor = np.divide(mix, size, out=np.ones_like(mix), where=size > 0)
    return magnitudes * phasor[None]
