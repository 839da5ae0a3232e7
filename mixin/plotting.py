"""``--plot``: the log-magnitude NSGT of the mix and of each stem, one panel each, as a PNG."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .audio import Resampler, probe, read_blocks, temporary_beside
from .constants import CHUNK_SIZE, SAMPLE_RATE
from .errors import MixinError
from .files import FileResult
from .transforms import nsgt

POOL = 61
"""NSGT frames averaged per image column (1948 frames per chunk: 31 columns a second)."""


def plot_path(source: str | Path, outdir: str | Path | None, force: bool) -> Path:
    """Where ``--plot`` writes for ``source``; an error if it exists and ``force`` is off."""
    source = Path(source)
    path = (Path(outdir) if outdir is not None else source.parent) / f"{source.stem}_nsgt.png"
    if path.exists() and not force:
        raise MixinError(path, "already exists (use --force to overwrite)")
    return path


def _mono_chunks(path: Path, start: int, frames: int | None) -> Iterator[tuple[np.ndarray, int]]:
    """Mono 44.1 kHz chunks of a file and how many of each chunk's samples are real audio."""
    info = probe(path)
    resample = Resampler(info.sample_rate, SAMPLE_RATE, 1)
    pending = np.zeros(0, dtype=np.float32)
    mono = (b.mean(axis=1, keepdims=True) for b in read_blocks(info, CHUNK_SIZE, start, frames))
    for block in resample.stream(mono):
        pending = np.concatenate((pending, block[:, 0]))
        while len(pending) >= CHUNK_SIZE:
            yield pending[:CHUNK_SIZE], CHUNK_SIZE
            pending = pending[CHUNK_SIZE:]
    if len(pending):
        yield np.pad(pending, (0, CHUNK_SIZE - len(pending))), len(pending)


def pooled_log_magnitude(path: Path, start: int = 0, frames: int | None = None) -> np.ndarray:
    """(bands, columns) dB image of a file's mono NSGT, frames averaged in groups of POOL;
    the zero padding of the last chunk is cut off."""
    transform = nsgt()
    cols = []
    for chunk, real in _mono_chunks(path, start, frames):
        mag = np.abs(transform.forward(chunk))
        usable = mag.shape[1] - mag.shape[1] % POOL
        pooled = mag[:, :usable].reshape(mag.shape[0], -1, POOL).mean(axis=2)
        cols.append(pooled[:, : max(1, int(np.ceil(pooled.shape[1] * real / CHUNK_SIZE)))])
    image = np.concatenate(cols, axis=1)
    return 20 * np.log10(image + 1e-6)


def plot_separation(result: FileResult, force: bool = True) -> Path:
    """Write ``<outdir>/<name>_nsgt.png`` beside the stems of ``result``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = next(iter(result.outputs.values())).parent
    target = plot_path(result.source, outdir, force)
    panels = [("mix", pooled_log_magnitude(result.source, result.start, result.frames))]
    panels += [(s, pooled_log_magnitude(p)) for s, p in result.outputs.items()]
    top = max(float(img.max()) for _, img in panels)
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.2 * len(panels)), sharex=True, squeeze=False)
    seconds = panels[0][1].shape[1] * POOL / 1948 * CHUNK_SIZE / SAMPLE_RATE
    for ax, (name, img) in zip(axes[:, 0], panels, strict=True):
        shown = ax.imshow(
            img,
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=top - 80,
            vmax=top,
            extent=(0, seconds, 0, img.shape[0]),
        )
        ax.set_title(f"{result.source.stem}: {name}", fontsize=9, loc="left")
        ax.set_ylabel("Bark band")
    axes[-1, 0].set_xlabel("time (s)")
    fig.colorbar(shown, ax=axes[:, 0], label="dB", fraction=0.03)
    tmp = None
    try:
        tmp = temporary_beside(target)
        fig.savefig(tmp, dpi=100, format="png")
        os.replace(tmp, target)
    except OSError as exc:  # a full disk, a directory that refuses new files
        raise MixinError(
            result.source, f"cannot write its plot {target.name} to {outdir} ({exc.strerror or exc})"
        ) from None
    finally:
        plt.close(fig)
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return target
