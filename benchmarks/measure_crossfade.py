#!/usr/bin/env python3
"""Chunk boundaries: butt-joined 1-s chunks against cross-faded overlapping ones.

Separates synthetic songs (known stems) with the oracle Wiener mask, i.e. the true stems'
NSGT magnitudes through the very masking the separator uses, chunk by chunk through
``mixin.apply``: any difference between the settings comes from the chunking alone, not from a
model. Prints, per crossfade length:

- boundary jump: mean |first difference| of the error signal (estimate - truth) at the chunk
  edges over its mean everywhere, in dB (0 dB: the edges are no worse than anywhere else);
- SDR: 10 log10(|s|^2 / |s - s_hat|^2) over whole tracks, mean over stems and tracks.

    .venv/bin/python benchmarks/measure_crossfade.py [--tracks 4 --seconds 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mixin.constants import CHUNK_SIZE  # noqa: E402
from mixin.data.synth import synth_stems  # noqa: E402
from mixin.evaluation.baselines import oracle_wiener  # noqa: E402


def edges(length: int, overlap: int) -> np.ndarray:
    hop = CHUNK_SIZE - overlap
    starts = np.arange(hop, length, hop)
    ends = starts - hop + CHUNK_SIZE
    return np.unique(np.concatenate((starts, ends[ends < length])))


def measure(overlap: int, tracks: int, seconds: float) -> tuple[float, float]:
    jumps, sdrs = [], []
    for seed in range(tracks):
        stems = synth_stems(seconds, 44100, 1, seed=100 + seed)
        truth = np.stack([s[:, 0] for s in stems.values()])
        mix = truth.sum(axis=0)
        refs = {name: s for name, s in stems.items()}
        out = oracle_wiener(mix[:, None].astype(np.float32), refs, overlap)
        est = np.stack([out[name][:, 0] for name in stems])
        err = est - truth
        diff = np.abs(np.diff(err, axis=1))
        at = edges(truth.shape[1], overlap) - 1
        jumps.append(20 * np.log10(diff[:, at].mean() / diff.mean()))
        sdrs.append(np.mean(10 * np.log10((truth**2).sum(axis=1) / (err**2).sum(axis=1))))
    return float(np.mean(jumps)), float(np.mean(sdrs))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tracks", type=int, default=4)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--overlaps", type=int, nargs="+", default=[0, 512, 1024, 2048, 4096, 8192])
    args = p.parse_args()
    print(f"oracle Wiener mask, {args.tracks} synthetic tracks of {args.seconds:g} s, mono 44.1 kHz")
    print(f"{'crossfade':>10} {'extra chunks':>13} {'boundary jump dB':>17} {'SDR dB':>8}")
    for overlap in args.overlaps:
        jump, sdr = measure(overlap, args.tracks, args.seconds)
        extra = 100 * (CHUNK_SIZE / (CHUNK_SIZE - overlap) - 1)
        print(f"{overlap:>10} {extra:>12.1f}% {jump:>17.2f} {sdr:>8.2f}")


if __name__ == "__main__":
    main()
