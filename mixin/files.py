"""Separating one audio file into stem files: naming, checks, streaming, atomic writes."""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from .apply import ChunkedSeparator
from .audio import NAME_MAX, AtomicAudioWriter, check_output_format, probe, read_blocks
from .constants import MAX_RATE, MIN_RATE, OUTPUT_SUBTYPES
from .errors import MixinError
from .progress import progress_bar

READ_BLOCK = 65536


@dataclass
class FileResult:
    """What separating one file produced, for the summary line."""

    source: Path
    start: int
    frames: int
    outputs: dict[str, Path]
    duration: float
    seconds: float


def output_paths(path: Path, outdir: Path | None, sources: Iterable[str], fmt: str) -> dict[str, Path]:
    """``<outdir>/<name>_<source>.<fmt>``; default outdir: beside the input."""
    directory = Path(outdir) if outdir is not None else path.parent
    return {s: directory / f"{path.stem}_{s}.{fmt}" for s in sources}


def check_writable(directory: Path) -> None:
    """Create ``directory`` if needed and make sure files can be written there."""
    if directory.exists() and not directory.is_dir():
        raise MixinError(directory, "is a file, not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MixinError(directory, f"cannot create output directory ({exc.strerror})") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise MixinError(directory, "output directory is not writable")


def separate_file(
    separator: ChunkedSeparator,
    path: str | Path,
    *,
    outdir: str | Path | None = None,
    fmt: str = "wav",
    force: bool = False,
    offset: float = 0.0,
    duration: float | None = None,
    progress: bool = False,
) -> FileResult:
    """Separate ``path`` into one file per source; a :class:`MixinError` on bad input.

    Outputs have the input's sample rate, channel count and length (of the selected span).
    They are written under temporary names and renamed only when all are complete.
    """
    start_time = time.perf_counter()
    path = Path(path)
    if fmt not in OUTPUT_SUBTYPES:
        raise MixinError(None, f"output format must be one of {', '.join(OUTPUT_SUBTYPES)}, not {fmt!r}")
    if not math.isfinite(offset) or (duration is not None and math.isnan(duration)):
        raise MixinError(path, f"offset and duration must be numbers of seconds, got {offset} and {duration}")
    info = probe(path)
    if info.sample_rate < MIN_RATE:
        raise MixinError(path, f"sample rate {info.sample_rate} Hz is too low to separate (at least {MIN_RATE} Hz)")
    if info.sample_rate > MAX_RATE:
        raise MixinError(path, f"sample rate {info.sample_rate} Hz is too high to separate (at most {MAX_RATE} Hz)")
    start = math.floor(offset * info.sample_rate + 1e-6)  # the sample at or before it: 1.99999 s of 2 s leaves one
    if offset < 0 or start >= info.frames:
        raise MixinError(path, f"offset {offset:g} s is outside the file ({info.duration:.2f} s)")
    frames = info.frames - start
    if duration is not None:
        if duration <= 0:
            raise MixinError(path, f"duration must be positive, got {duration:g}")
        if duration * info.sample_rate < frames:
            frames = int(round(duration * info.sample_rate))
        if frames == 0:
            raise MixinError(path, f"duration {duration:g} s is less than one sample at {info.sample_rate} Hz")
    check_output_format(path, fmt, info.sample_rate, info.channels)
    outputs = output_paths(path, outdir, separator.sources, fmt)
    resolved = path.resolve()
    for out in outputs.values():
        if len(out.name.encode()) > NAME_MAX:
            raise MixinError(path, f"its output name {out.name} is longer than {NAME_MAX} bytes: rename the input")
        if out.resolve() == resolved:
            raise MixinError(out, "output would overwrite the input")
        if out.is_dir():
            raise MixinError(out, "output is a directory")
        if out.exists() and not force:
            raise MixinError(out, "already exists (use --force to overwrite)")
    where = next(iter(outputs.values())).parent
    check_writable(where)

    bar = progress_bar(progress, total=frames, unit="sample", unit_scale=True, desc=path.name)
    blocks = read_blocks(info, READ_BLOCK, start, frames)
    placed: list[Path] = []  # stems put in place: all or none stay
    with ExitStack() as stack:
        try:
            writers = {  # their temporary files: a directory that refuses them fails here
                s: stack.enter_context(AtomicAudioWriter(out, info.sample_rate, info.channels, frames, fmt))
                for s, out in outputs.items()
            }
            # read_blocks checked the samples, and the rate is checked above: not checked twice (2 % of the time)
            for stems in separator.stream_unchecked(blocks, info.sample_rate, info.channels):
                for s, stem in zip(separator.sources, stems, strict=True):
                    writers[s].write(stem)
                bar.update(min(stems.shape[1], frames - bar.n))
            for writer in writers.values():  # every stem complete before any is put in place
                writer.finish()
            clipped = {s: w.peak for s, w in writers.items() if w.peak > 1.0}
            if clipped:
                loudest = max(clipped, key=clipped.get)
                warnings.warn(
                    f"{path}: {', '.join(clipped)} stem(s) clipped to [-1, 1], which {fmt} holds (peak "
                    f"{clipped[loudest]:.2f} in {outputs[loudest].name}); --format wav keeps them whole",
                    stacklevel=2,
                )
            for writer in writers.values():
                try:
                    writer.rename(replace=force)
                except FileExistsError:
                    _remove(placed)
                    raise MixinError(
                        path, f"{writer.path} appeared while separating (use --force to overwrite)"
                    ) from None
                placed.append(writer.path)
        except (OSError, sf.SoundFileRuntimeError) as exc:
            _remove(placed)
            reason = getattr(exc, "strerror", None) or exc
            raise MixinError(path, f"cannot write its stems to {where} ({reason})") from None
        finally:
            bar.close()
    return FileResult(path, start, frames, outputs, frames / info.sample_rate, time.perf_counter() - start_time)


def _remove(paths: Iterable[Path]) -> None:
    """Take back the stems a failed run already put in place, so that no partial set stays."""
    for p in paths:
        p.unlink(missing_ok=True)
