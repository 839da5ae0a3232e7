"""The separator: NSGT -> CDAE magnitude estimates -> Wiener masks -> inverse NSGT."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .apply import stream_overlap_add
from .audio import Resampler
from .constants import BATCH_CHUNKS, CHUNK_SIZE, CROSSFADE, MASK_POWER, SAMPLE_RATE
from .errors import MixinError
from .filtering import wiener_masks, with_mixture_phase
from .pretrained import ModelConfig, default_model_dir
from .transforms import nsgt

__all__ = ["ChunkedSeparator", "Separator"]

INSTRUMENTAL_SOURCES = ("harmonic", "percussive")


class ChunkedSeparator:
    """What every architecture shares: audio at any rate and channel count in, stems out,
    through ``separate_chunks`` on overlapping, cross-faded chunks at the model's rate.

    Subclasses set ``sources``, ``model_rate``, ``chunk_size``, ``overlap``, ``batch_size`` and
    ``trained``, and implement ``separate_chunks``: (n, channels, chunk) -> (sources, n,
    channels, chunk). ``sums_to_mix`` says whether the stems add up to the input.
    """

    sources: tuple[str, ...]
    model_rate: int
    chunk_size: int
    overlap: int
    batch_size: int
    trained: bool = True
    sums_to_mix: bool = True

    def separate_chunks(self, chunks: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def stream(self, blocks: Iterable[np.ndarray], sample_rate: int, channels: int) -> Iterator[np.ndarray]:
        """Separate (n, channels) blocks at ``sample_rate``; yield (sources, n, channels) blocks.

        Resamples to the models' rate and back. For separators whose stems sum to the mix, the
        last source is the input minus the others, taken at the input's rate, so the stems sum
        to the input exactly even where resampling loses a band (e.g. above 8 kHz for a 16 kHz
        model): that band goes to the last source.
        """
        if self.model_rate == sample_rate:
            yield from stream_overlap_add(
                blocks, self.separate_chunks, len(self.sources), self.chunk_size, self.overlap, self.batch_size
            )
            return
        pending: list[np.ndarray] = []  # input samples not yet matched by output

        def remember(source: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
            for block in source:
                pending.append(block)
                yield block

        def take(n: int) -> np.ndarray:
            out, have = [], 0
            while pending and have < n:
                block = pending.pop(0)
                if have + len(block) > n:
                    pending.insert(0, block[n - have :])
                    block = block[: n - have]
                out.append(block)
                have += len(block)
            got = np.concatenate(out) if out else np.zeros((0, channels), np.float32)
            return np.pad(got, ((0, n - len(got)), (0, 0)))

        others = len(self.sources) - 1 if self.sums_to_mix else len(self.sources)
        to_model = Resampler(sample_rate, self.model_rate, channels)
        back = Resampler(self.model_rate, sample_rate, channels * others)
        separated = stream_overlap_add(
            to_model.stream(remember(blocks)),
            self.separate_chunks,
            len(self.sources),
            self.chunk_size,
            self.overlap,
            self.batch_size,
        )
        flat = (s[:others].transpose(1, 0, 2).reshape(s.shape[1], -1) for s in separated)
        for out in back.stream(flat):
            stems = out.reshape(len(out), others, channels).transpose(1, 0, 2)
            if not self.sums_to_mix:
                yield stems
                continue
            rest = take(len(out)) - stems.sum(axis=0)
            yield np.concatenate((stems, rest[None]), axis=0)
        tail = take(sum(len(b) for b in pending)) if self.sums_to_mix else np.zeros((0, channels), np.float32)
        if len(tail):
            yield np.concatenate((np.zeros((others, *tail.shape), np.float32), tail[None]), axis=0)

    def separate(self, audio: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        """Separate audio (samples,) or (samples, channels); stems of the same shape and rate."""
        audio = np.asarray(audio, dtype=np.float32)
        mono = audio.ndim == 1
        frames = audio[:, None] if mono else audio
        if frames.ndim != 2 or len(frames) == 0:
            raise ValueError(f"audio must be (samples,) or (samples, channels) with samples > 0, got {audio.shape}")
        if not np.isfinite(frames).all():
            raise ValueError("audio contains NaN or infinite samples")
        stems = np.concatenate(list(self.stream([frames], sample_rate, frames.shape[1])), axis=1)[:, : len(frames)]
        if stems.shape[1] < len(frames):  # resampler rounding
            stems = np.pad(stems, ((0, 0), (0, len(frames) - stems.shape[1]), (0, 0)))
        return {s: (stem[:, 0] if mono else stem) for s, stem in zip(self.sources, stems)}


class Separator(ChunkedSeparator):
    """MiXiN's separator: one CDAE magnitude model per source on the Bark NSGT.

    ``mode="wiener"`` (default) shares the mix's coefficients out with soft masks, so the stems
    sum to the mix; ``mode="single"`` inverts each model's magnitude with the mix's phase.
    ``mask_power`` is the exponent p of the soft masks ``|S|^p / sum |S|^p`` (2: Wiener);
    ``gains`` scale each source's model output first (calibration, see ``mixin.calibrate``).
    ``overlap`` is the cross-faded overlap between chunks in samples (0: butt-joined chunks).
    """

    def __init__(
        self,
        models: Mapping[str, Any],
        *,
        mode: str = "wiener",
        mask_power: float = MASK_POWER,
        gains: Mapping[str, float] | None = None,
        overlap: int = CROSSFADE,
        batch_size: int = BATCH_CHUNKS,
        trained: bool = True,
        workers: int = 1,
    ) -> None:
        if mode not in ("wiener", "single"):
            raise ValueError(f"mode must be 'wiener' or 'single', not {mode!r}")
        if not mask_power > 0:
            raise ValueError(f"mask_power must be positive, not {mask_power!r}")
        if not models:
            raise ValueError("at least one model is needed")
        self.models = dict(models)
        self.sources: tuple[str, ...] = tuple(self.models)
        self.mode = mode
        self.mask_power = float(mask_power)
        gains = dict(gains or {})
        self.gains = np.array([gains.get(s, 1.0) for s in self.sources], dtype=np.float32)
        if not (np.all(np.isfinite(self.gains)) and np.all(self.gains > 0)):
            raise ValueError(f"gains must be positive, not {gains!r}")
        self.overlap = int(overlap)
        self.batch_size = int(batch_size)
        self.trained = trained
        self.model_rate = SAMPLE_RATE
        self.chunk_size = CHUNK_SIZE
        self.transform = nsgt()
        self.workers = max(int(workers), 1)  # threads splitting each batch (mixin.backend.split_chunks)
        self.fft_threads: int | None = None  # None: all cores; 1 on the lean path (see from_pretrained)
        self._predict = None

    @classmethod
    def from_pretrained(
        cls,
        model_dir: str | Path | None = None,
        *,
        instrumental: bool = False,
        single_model: bool = False,
        mask_power: float | None = None,
        overlap: int = CROSSFADE,
        batch_size: int = BATCH_CHUNKS,
        backend: str = "auto",
    ) -> "Separator":
        """Load the models of a directory (default: the shipped ones), once; ``mask_power``
        defaults to the one in the directory's ``config.json``. ``backend``: "auto" runs each
        model's ONNX export when present, else its ``.h5`` with TensorFlow (``mixin.backend``)."""
        from .backend import OnnxModel, lean_workers, load_cdae_model, model_exists

        directory = Path(model_dir) if model_dir is not None else default_model_dir()
        config = ModelConfig.load(directory)
        if config.arch != "cdae":
            raise MixinError(directory, f"holds a {config.arch} model: load it with mixin.registry.load_separator")
        sources: Sequence[str] = config.sources
        if instrumental:
            sources = [s for s in sources if s in INSTRUMENTAL_SOURCES]
        models = {}
        for source in sources:
            path = config.model_path(directory, source)
            if not model_exists(path):
                raise MixinError(path, "model file not found")
            models[source] = load_cdae_model(path, backend, threads=1)
        separator = cls(
            models,
            mode="single" if single_model else "wiener",
            mask_power=config.mask_power if mask_power is None else mask_power,
            gains=config.gains,
            overlap=overlap,
            batch_size=batch_size,
            trained=config.trained,
            workers=lean_workers(models.values()),
        )
        if all(isinstance(m, OnnxModel) for m in models.values()):
            separator.fft_threads = 1  # the workers are the parallelism ($MIXIN_THREADS=1: one thread in all)
        separator.warm_up()
        return separator

    @property
    def sums_to_mix(self) -> bool:
        """Soft masks share the mix out; the mixture-phase mode does not."""
        return self.mode == "wiener"

    # -- the core: chunks in, stems out ---------------------------------------------------
    def estimate(self, magnitudes: np.ndarray) -> np.ndarray:
        """Calibrated model outputs for magnitudes (n, bands, frames): (sources, n, bands, frames).

        One traced graph per model, any batch size; the models run one after the other,
        which keeps peak memory at one model's activations.
        """
        if self._predict is None:
            from .backend import predictor

            self._predict = [predictor(model) for model in self.models.values()]
        x = magnitudes[..., None]
        out = np.empty((len(self._predict), *magnitudes.shape), dtype=np.float32)
        for i, predict in enumerate(self._predict):
            out[i] = np.asarray(predict(x))[..., 0]
            if self.gains[i] != 1:
                out[i] *= self.gains[i]
        return out

    def warm_up(self) -> None:
        """Trace the model graphs and plan the FFTs now rather than on the first chunk."""
        self.separate_chunks(np.zeros((1, 1, CHUNK_SIZE), dtype=np.float32))

    def separate_chunks(self, chunks: np.ndarray) -> np.ndarray:
        """Stems (sources, n, channels, chunk) of float32 chunks (n, channels, chunk)."""
        if self.workers > 1:
            from .backend import split_chunks

            return split_chunks(self._separate_chunks, chunks, self.workers)
        return self._separate_chunks(chunks)

    def _separate_chunks(self, chunks: np.ndarray) -> np.ndarray:
        n, channels, _ = chunks.shape
        threads = 1 if self.workers > 1 else self.fft_threads  # the workers share the cores already
        coefs = self.transform.forward(chunks, threads=threads)
        mags = np.abs(coefs).reshape(n * channels, *self.transform.shape)
        estimates = self.estimate(mags).reshape(len(self.sources), n, channels, *self.transform.shape)
        if self.mode == "single":
            return self.transform.inverse(with_mixture_phase(estimates, coefs), threads=threads)
        masks = wiener_masks(estimates, self.mask_power)
        # All but the last stem from their masks; the last is the rest, so the sum is exact.
        stems = self.transform.inverse(masks[:-1] * coefs[None], threads=threads)
        rest = chunks - stems.sum(axis=0)
        return np.concatenate((stems, rest[None]), axis=0)
