"""Chunking in one place: overlapping chunks, cross-faded, streamed block by block, and the
base every architecture's separator shares (:class:`ChunkedSeparator`).

A chunk function maps chunks (n, channels, chunk) to stems (sources, n, channels, chunk)
whose sum is the chunks. The cross-fade weights of overlapping chunks sum to one at every
sample, so the streamed stems still sum to the mix.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .audio import Resampler, unfit_samples
from .constants import BATCH_CHUNKS, MAX_RATE, MIN_RATE
from .errors import MixinError
from .registry import is_number, is_whole_number

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Executor, Future

ChunkFn = Callable[[np.ndarray], np.ndarray]

__all__ = [
    "chunk_count",
    "fades",
    "stream_overlap_add",
    "separate_array",
    "SampleQueue",
    "stream_pair_rework",
    "check_count",
    "check_shifts",
    "check_overlap",
    "stream_shifted",
    "check_dtype",
    "ChunkedSeparator",
]


def chunk_count(length: int, chunk: int, overlap: int) -> int:
    """Chunks needed to cover ``length`` samples; the last is zero-padded."""
    hop = chunk - overlap
    return 1 if length <= chunk else math.ceil((length - chunk) / hop) + 1


def fades(overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-sum raised-sine fade-in and fade-out over ``overlap`` samples (in + out = 1)."""
    fade_in = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / overlap) ** 2 if overlap else np.zeros(0)
    fade_in = fade_in.astype(np.float32)
    return fade_in, (1.0 - fade_in).astype(np.float32)


def _background() -> Executor:
    """One thread that separates a batch while the caller reads, cross-fades and writes."""
    global _EXECUTOR
    if _EXECUTOR is None:
        from concurrent.futures import ThreadPoolExecutor

        _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mixin-separate")
    return _EXECUTOR


_EXECUTOR = None


def stream_overlap_add(
    blocks: Iterable[np.ndarray],
    fn: ChunkFn,
    n_sources: int,
    chunk: int,
    overlap: int,
    batch: int = BATCH_CHUNKS,
    executor: Executor | None = None,
) -> Iterator[np.ndarray]:
    """Separate a stream of (n, channels) blocks; yield finished (sources, n, channels) blocks.

    Each batch of at most ``batch`` chunks is separated in a background thread while the
    previous one is cross-faded and handed out (and the caller writes it and reads on), so
    at most two batches are in flight and memory does not grow with the track's length.
    ``fn`` is called for one batch at a time, in order, on ``executor`` (default: one thread
    shared by all streams; a stream that consumes another's output needs its own, or it
    waits behind the other's batches instead of running beside them).
    """
    executor = executor or _background()
    if not 0 <= overlap < chunk:
        raise ValueError(f"overlap must be in [0, {chunk}), got {overlap}")
    hop = chunk - overlap
    fade_in, fade_out = fades(overlap)
    buf: np.ndarray | None = None  # input samples from absolute position buf_pos
    buf_pos = 0
    acc: np.ndarray | None = None  # output being summed, from absolute position buf_pos
    total = 0
    next_chunk = 0
    pending = None  # (starts, last_index, future) of the batch being separated

    def launch(starts: list[int], last_index: int | None):
        """Start separating the chunks at ``starts``; return the batch launched before, if any."""
        nonlocal pending
        channels = buf.shape[1]
        chunks = np.zeros((len(starts), channels, chunk), dtype=np.float32)
        for i, s in enumerate(starts):
            piece = buf[s - buf_pos : s - buf_pos + chunk]
            chunks[i, :, : len(piece)] = piece.T
        previous, pending = pending, (starts, last_index, executor.submit(fn, chunks))
        return previous

    def add(job: tuple[list[int], int | None, Future]) -> int:
        """Cross-fade a separated batch into the output; returns where its last chunk's hop ends."""
        nonlocal acc
        starts, last_index, future = job
        stems = future.result()  # (sources, n, channels, chunk)
        channels = buf.shape[1]
        end = starts[-1] + chunk - buf_pos
        if acc.shape[0] < end:
            acc = np.concatenate((acc, np.zeros((end - acc.shape[0], n_sources, channels), np.float32)))
        for i, s in enumerate(starts):
            k = s // hop
            w = np.ones(chunk, dtype=np.float32)
            if k > 0 and overlap:
                w[:overlap] = fade_in
            if k != last_index and overlap:
                w[chunk - overlap :] = fade_out
            acc[s - buf_pos : s - buf_pos + chunk] += np.einsum("scn,n->nsc", stems[:, i], w)
        return starts[-1] + hop

    def emit(upto: int) -> np.ndarray:
        """Hand out finished output before absolute position ``upto``; drop consumed input."""
        nonlocal buf, acc, buf_pos
        n = upto - buf_pos
        done = np.ascontiguousarray(acc[:n].transpose(1, 0, 2))  # stems contiguous: sums over them are ~50x faster
        acc, buf, buf_pos = acc[n:], buf[n:], upto
        return done

    for block in blocks:
        if buf is None:
            buf = np.zeros((0, block.shape[1]), dtype=np.float32)
            acc = np.zeros((0, n_sources, block.shape[1]), dtype=np.float32)
        buf = np.concatenate((buf, block.astype(np.float32, copy=False)))
        total += len(block)
        # A chunk ending before the samples seen so far is surely needed and not the last;
        # wait for a full batch of those (the model runs fastest on full batches).
        while (next_chunk + batch - 1) * hop + chunk < total:
            previous = launch([(next_chunk + i) * hop for i in range(batch)], None)
            next_chunk += batch
            if previous is not None:  # output before the next chunk's start is final
                yield emit(add(previous))
    if buf is None or total == 0:
        return
    count = chunk_count(total, chunk, overlap)
    while next_chunk < count:
        ks = list(range(next_chunk, min(count, next_chunk + batch)))
        previous = launch([k * hop for k in ks], count - 1)
        next_chunk = ks[-1] + 1
        if previous is not None:
            yield emit(add(previous))
    if pending is not None:
        add(pending)
        pending = None
    yield emit(total)


def separate_array(
    audio: np.ndarray, fn: ChunkFn, n_sources: int, chunk: int, overlap: int, batch: int = BATCH_CHUNKS
) -> np.ndarray:
    """In-memory convenience: (samples, channels) in, (sources, samples, channels) out."""
    step = (chunk - overlap) * batch
    blocks = (audio[i : i + step] for i in range(0, len(audio), step))
    parts = list(stream_overlap_add(blocks, fn, n_sources, chunk, overlap, batch))
    return np.concatenate(parts, axis=1) if parts else np.zeros((n_sources, 0, audio.shape[1]), np.float32)


class SampleQueue:
    """Blocks waiting for their matching output, handed back by sample count along ``axis``:
    what a stream keeps of its input until a later stage yields the same stretch of samples."""

    def __init__(self, axis: int = 0) -> None:
        self.axis = axis
        self.blocks: list[np.ndarray] = []
        self.size = 0  # samples held

    def push(self, block: np.ndarray) -> None:
        self.blocks.append(block)
        self.size += block.shape[self.axis]

    def take(self, n: int, empty: np.ndarray | None = None) -> np.ndarray:
        """The next ``n`` samples (fewer if fewer are held; ``empty`` if none are)."""
        parts, got = [], 0
        while self.blocks and got < n:
            block = self.blocks.pop(0)
            length = block.shape[self.axis]
            if got + length > n:
                block, rest = np.split(block, [n - got], axis=self.axis)
                self.blocks.insert(0, rest)
                length = n - got
            parts.append(block)
            got += length
        self.size -= got
        return np.concatenate(parts, axis=self.axis) if parts else empty


PairFn = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], "tuple[np.ndarray, np.ndarray | None]"]


def stream_pair_rework(
    stems: Iterable[np.ndarray],
    sources: tuple[str, ...],
    fn: PairFn,
    chunk: int,
    overlap: int,
    thread_name: str,
    with_vocal: bool = False,
) -> Iterator[np.ndarray]:
    """Redraw the harmonic/percussive split of (sources, n, channels) stem blocks, chunk by
    chunk: ``fn(pair, harmonic, vocal)`` gets (1, channels, chunk) arrays, the pair's sum, the
    harmonic stem and (``with_vocal``) the vocal stem, else None, and returns the new harmonic
    part and the new vocal (None without ``with_vocal``). What the vocal gives up joins the
    pair; the percussive stem is what is left, so the stems still sum to what they summed to.
    Other stems pass unchanged. Chunks are cross-faded over ``overlap``; memory is bounded by
    the chunk."""
    h, p = sources.index("harmonic"), sources.index("percussive")
    v = sources.index("vocal") if with_vocal else None
    groups = 2 if v is None else 3  # the pair's sum, the harmonic stem, the vocal stem
    pending = SampleQueue(axis=1)  # stem blocks waiting for the reworked split

    def carried() -> Iterator[np.ndarray]:
        # The pair's sum with the stems fn needs beside it as more channels, so one stream carries them all.
        for block in stems:
            pending.push(block)
            parts = [block[h] + block[p], block[h]] + ([] if v is None else [block[v]])
            yield np.concatenate(parts, axis=-1)

    def chunk_fn(chunks: np.ndarray) -> np.ndarray:
        channels = chunks.shape[1] // groups
        vocal = None if v is None else chunks[:, 2 * channels :]
        harmonic, vocal = fn(chunks[:, :channels], chunks[:, channels : 2 * channels], vocal)
        parts = [harmonic] + ([] if vocal is None else [vocal])
        parts += [np.zeros_like(harmonic)] * (groups - len(parts))  # channels as given
        return np.concatenate(parts, axis=1)[None]

    from concurrent.futures import ThreadPoolExecutor

    # Its own thread: on the models' shared one it would wait behind their batches.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name) as executor:
        for split in stream_overlap_add(carried(), chunk_fn, 1, chunk, overlap, batch=1, executor=executor):
            out = pending.take(split.shape[1])
            channels = out.shape[-1]
            rest = out[h] + out[p]
            out[h] = split[0, :, :channels]
            if v is not None:
                rest += out[v]
                out[v] = split[0, :, channels : 2 * channels]
                rest -= out[v]
            out[p] = rest - out[h]
            yield out


def check_count(name: str, value: Any) -> int:
    """``value`` as an int, or a ValueError naming the option ``name``: a whole number >= 1."""
    if not (is_whole_number(value) and value >= 1):
        raise ValueError(f"{name} must be a whole number >= 1, not {value!r}")
    return int(value)


def check_shifts(value: Any) -> int:
    """``value`` as a count of runs to average: a whole number >= 1, else a ValueError."""
    return check_count("shifts", value)


def check_overlap(value: Any, chunk: int) -> int:
    """``value`` as the samples that neighbouring chunks of ``chunk`` share, or a ValueError: a whole
    number in [0, chunk) (a chunk must move on)."""
    if not (is_whole_number(value) and value < chunk):
        raise ValueError(f"overlap must be a whole number in [0, {chunk}), not {value!r}")
    return int(value)


def stream_shifted(
    run: Callable[[Iterable[np.ndarray]], Iterable[np.ndarray]],
    blocks: Iterable[np.ndarray],
    channels: int,
    shifts: int,
    period: int,
) -> Iterator[np.ndarray]:
    """The mean of ``shifts`` runs of ``run`` ((n, channels) blocks in, (sources, n, channels)
    out), the k-th on the input delayed by ``k * period // shifts`` samples and realigned: each
    run meets its chunk boundaries elsewhere, and the mean of the runs averages out what depends
    on where they fall (the shift trick; Défossez et al., "Music source separation in the
    waveform domain", 2019). Stems that each sum to the mix still do. The runs go in lockstep,
    so what is held is their lag, not the track."""
    shifts = check_shifts(shifts)
    delays = [k * period // shifts for k in range(shifts)]

    def delayed(source: Iterable[np.ndarray], delay: int) -> Iterator[np.ndarray]:
        if delay:
            yield np.zeros((delay, channels), np.float32)
        yield from source

    runs = [iter(run(delayed(copy, d))) for copy, d in zip(itertools.tee(blocks, shifts), delays, strict=True)]
    queues = [SampleQueue(axis=1) for _ in runs]
    skip, live = list(delays), [True] * shifts
    while any(live):
        for k, out in enumerate(runs):
            block = next(out, None) if live[k] else None
            if block is None:
                live[k] = False
                continue
            drop = min(skip[k], block.shape[1])
            skip[k] -= drop
            if block.shape[1] > drop:
                queues[k].push(block[:, drop:])
        ready = min(q.size for q in queues)
        if ready:
            yield sum(q.take(ready) for q in queues) * np.float32(1 / shifts)


def check_rate(sample_rate: Any) -> int:
    """``sample_rate`` as an int, or a ValueError: a whole number of Hz from :data:`MIN_RATE` to
    :data:`MAX_RATE` (44100.0 will do, 44100.5 and ``True`` will not)."""
    if is_number(sample_rate) and MIN_RATE <= sample_rate <= MAX_RATE and float(sample_rate).is_integer():
        return int(sample_rate)
    raise ValueError(f"sample_rate must be a whole number of Hz from {MIN_RATE} to {MAX_RATE}, got {sample_rate!r}")


def checked_blocks(blocks: Iterable[np.ndarray], channels: int) -> Iterator[np.ndarray]:
    """``blocks`` as they come, each checked as :meth:`ChunkedSeparator.stream` needs them: (samples,
    channels) arrays of ``channels`` columns (not an IndexError, soxr's "Channel num mismatch" or
    NumPy's concatenate error from deep inside), of samples :func:`check_dtype` and
    :func:`~mixin.audio.unfit_samples` take (not NaN stems); else a ValueError naming the first
    bad sample, counted over the whole stream."""
    pos = 0
    for block in blocks:
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[1] != channels:
            raise ValueError(
                f"blocks must be (samples, channels) arrays with channels={channels} columns, "
                f"got shape {block.shape} (the block at sample {pos})"
            )
        check_dtype(block.dtype)
        if problem := unfit_samples(block, pos):
            raise ValueError(f"audio {problem}")
        pos += len(block)
        yield block


def check_dtype(dtype: np.dtype) -> None:
    """A ValueError unless ``dtype`` holds audio samples: floats, or signed integers (PCM, taken at
    full scale). Unsigned PCM is offset (8-bit silence is 128), complex and bool arrays are no audio."""
    if dtype.kind not in "fi":
        raise ValueError(
            f"audio must hold float or signed integer samples, not {dtype}: convert it to float or signed integers"
        )


class ChunkedSeparator:
    """What every architecture shares: audio at any rate and channel count in, stems out,
    through ``separate_chunks`` on overlapping, cross-faded chunks at the model's rate.

    Subclasses set ``sources``, ``model_rate``, ``chunk_size``, ``overlap``, ``batch_size`` and
    ``trained``, and implement ``separate_chunks``: (n, channels, chunk) -> (sources, n,
    channels, chunk). ``sums_to_mix`` says whether the stems add up to the input. ``shifts``
    above 1 averages that many runs over shifted chunk boundaries (:func:`stream_shifted`).
    """

    sources: tuple[str, ...]
    model_rate: int
    chunk_size: int
    overlap: int
    batch_size: int
    trained: bool = True
    sums_to_mix: bool = True
    _shifts: int = 1

    @property
    def shifts(self) -> int:
        """Runs averaged over chunk boundaries shifted by ``1/shifts`` of a chunk (1: one run)."""
        return self._shifts

    @shifts.setter
    def shifts(self, value: int) -> None:
        self._shifts = check_shifts(value)

    @classmethod
    def from_pretrained(cls, model_dir: str | Path | None = None, **options: Any) -> ChunkedSeparator:
        """Load a model directory of this class's architecture (default: the shipped CDAEs);
        ``options`` as the class's ``from_config``. Any architecture: :func:`mixin.load_separator`."""
        from .registry import ARCHITECTURES, ModelConfig, default_model_dir, load_separator

        directory = Path(model_dir) if model_dir is not None else default_model_dir()
        config = ModelConfig.load(directory)
        if ARCHITECTURES[config.arch].separator != cls.__name__:
            raise MixinError(directory, f"holds a {config.arch} model: load it with mixin.registry.load_separator")
        return load_separator(directory, **options)

    @classmethod
    def from_config(cls, directory: Path, config: Any, **options: Any) -> ChunkedSeparator:  # pragma: no cover
        """Load the models of ``directory``, whose ``config.json`` says ``config``."""
        raise NotImplementedError

    def separate_chunks(self, chunks: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def stream(
        self, blocks: Iterable[np.ndarray], sample_rate: int, channels: int, executor: Executor | None = None
    ) -> Iterator[np.ndarray]:
        """Separate (n, channels) blocks at ``sample_rate``; yield (sources, n, channels) blocks.
        ``executor``: where the chunks are separated (default: the models' shared thread). With
        ``shifts`` above 1, the mean of that many runs of the whole separation, delayed by
        fractions of a chunk (:func:`stream_shifted`). Blocks of another shape or dtype, and NaN,
        infinite or absurd samples, are refused as they come (:func:`checked_blocks`)."""
        sample_rate = check_rate(sample_rate)
        channels = check_count("channels", channels)
        return self.stream_unchecked(checked_blocks(blocks, channels), sample_rate, channels, executor)

    def stream_unchecked(
        self, blocks: Iterable[np.ndarray], sample_rate: int, channels: int, executor: Executor | None = None
    ) -> Iterator[np.ndarray]:
        """:meth:`stream` without its checks of the arguments and blocks: for blocks the chain made
        itself or checked already, at a rate already checked (the helper DRNN hears the CDAEs' stems,
        which may stray past the input's largest sample; files come from
        :func:`~mixin.audio.read_blocks`, which checks them as it reads)."""
        if self.shifts == 1:
            return self._stream_once(blocks, sample_rate, channels, executor)
        period = max(1, round(self.chunk_size * sample_rate / self.model_rate))

        def once(delayed: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
            return self._stream_once(delayed, sample_rate, channels, executor)

        return stream_shifted(once, blocks, channels, self.shifts, period)

    def _stream_once(
        self, blocks: Iterable[np.ndarray], sample_rate: int, channels: int, executor: Executor | None = None
    ) -> Iterator[np.ndarray]:
        """One run of :meth:`stream`.

        Resamples to the models' rate and back. For separators whose stems sum to the mix, the
        last source is the input minus the others, taken at the input's rate, so the stems sum
        to the input exactly even where resampling loses a band (e.g. above 8 kHz for a 16 kHz
        model): that band goes to the last source.
        """

        def separate(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
            return stream_overlap_add(
                chunks,
                self.separate_chunks,
                len(self.sources),
                self.chunk_size,
                self.overlap,
                self.batch_size,
                executor=executor,
            )

        if self.model_rate == sample_rate:
            yield from separate(blocks)
            return
        pending = SampleQueue()  # input samples not yet matched by output
        nothing = np.zeros((0, channels), np.float32)

        def remember(source: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
            for block in source:
                pending.push(block)
                yield block

        def take(n: int) -> np.ndarray:
            got = pending.take(n, nothing)
            return np.pad(got, ((0, n - len(got)), (0, 0)))

        others = len(self.sources) - 1 if self.sums_to_mix else len(self.sources)
        to_model = Resampler(sample_rate, self.model_rate, channels)
        back = Resampler(self.model_rate, sample_rate, channels * others)
        separated = separate(to_model.stream(remember(blocks)))
        flat = (s[:others].transpose(1, 0, 2).reshape(s.shape[1], -1) for s in separated)
        for out in back.stream(flat):
            stems = out.reshape(len(out), others, channels).transpose(1, 0, 2)
            if not self.sums_to_mix:
                yield stems
                continue
            rest = take(len(out)) - stems.sum(axis=0)
            yield np.concatenate((stems, rest[None]), axis=0)
        tail = take(pending.size) if self.sums_to_mix else nothing
        if len(tail):
            yield np.concatenate((np.zeros((others, *tail.shape), np.float32), tail[None]), axis=0)

    def separate(self, audio: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        """Separate audio (samples,) or (samples, channels); stems of the same shape and rate, as
        float32 in the input's units (signed integer samples, e.g. soundfile's ``dtype="int32"``, are
        separated at full scale and the stems scaled back; other dtypes than those and floats are
        refused, :func:`check_dtype`)."""
        audio = np.asarray(audio)
        check_dtype(audio.dtype)
        unit = float(2 ** (8 * audio.dtype.itemsize - 1)) if np.issubdtype(audio.dtype, np.integer) else 1.0
        audio = audio.astype(np.float32) / np.float32(unit) if unit != 1.0 else audio.astype(np.float32, copy=False)
        mono = audio.ndim == 1
        frames = audio.reshape(-1, 1) if mono else audio
        if frames.ndim != 2 or 0 in frames.shape:
            raise ValueError(
                f"audio must be (samples,) or (samples, channels) with samples > 0 and channels > 0, got {audio.shape}"
            )
        if frames.shape[1] > max(len(frames), 2):
            raise ValueError(
                f"audio of shape {audio.shape} has more channels than samples: it must be (samples, channels) "
                "(channels first? pass audio.T)"
            )
        stems = np.concatenate(list(self.stream([frames], sample_rate, frames.shape[1])), axis=1)[:, : len(frames)]
        if stems.shape[1] < len(frames):  # resampler rounding
            stems = np.pad(stems, ((0, 0), (0, len(frames) - stems.shape[1]), (0, 0)))
        if unit != 1.0:
            stems *= np.float32(unit)
        return {s: (stem[:, 0] if mono else stem) for s, stem in zip(self.sources, stems, strict=True)}
