"""The separators, one per architecture: audio in, stems out, through the shared chunked base.

``Separator``: MiXiN's NSGT -> CDAE magnitude estimates -> soft masks -> inverse NSGT.
``DRNNSeparator``: Huang et al.'s DRNN on a 16 kHz STFT, voice and accompaniment.
Which one a model directory holds is the registry's business (:func:`mixin.registry.load_separator`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import drnn
from .apply import ChunkedSeparator, check_count, check_overlap
from .constants import (
    BATCH_CHUNKS,
    CDAE_SOURCES,
    CHUNK_SIZE,
    CROSSFADE,
    HELPER_HEARS,
    INPUT_LEVEL,
    MASK_POWER,
    MODEL_INPUTS,
    SAMPLE_RATE,
)
from .errors import MixinError
from .filtering import model_input, plane_level, wiener_masks, with_mixture_phase
from .registry import ModelConfig, is_fraction, is_number, is_positive_number, is_whole_number
from .transforms import nsgt

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from .backend import OnnxModel

__all__ = ["Separator", "DRNNSeparator"]

INSTRUMENTAL_SOURCES = ("harmonic", "percussive")
VOICE_GATE_DB = -20.0
"""The CDAEs' vocal must hold this much of the mix's energy over a second for the DRNN's to count
(``config.json``'s ``voice_helper`` may set another)."""
VOICE_HELPER_PIECE = 2 * drnn.SEQUENCE * drnn.HOP
"""The DRNN's pieces (6.4 s: two of its 100-frame sequences) when it helps the CDAEs' vocal: its
30-s pieces would hold about 200 MiB more in flight, and each restarts its recurrence anyway.
It then also runs once on the channels' mean (``mono``), its vocal mask applied to each channel:
half the work."""


def checked_fraction(name: str, value: Any) -> float:
    """``value`` as a float, or a ValueError naming the option ``name``: a number in [0, 1] (a share)."""
    if not is_fraction(value):
        raise ValueError(f"{name} must be in [0, 1], not {value!r}")
    return float(value)


class Separator(ChunkedSeparator):
    """MiXiN's separator: one CDAE magnitude model per source on the Bark NSGT.

    ``mode="wiener"`` (default) shares the mix's coefficients out with soft masks, so the stems
    sum to the mix; ``mode="single"`` inverts each model's magnitude (in the mix's units, also for
    normalised input) with the mix's phase.
    ``mask_power`` is the exponent p of the soft masks ``|S|^p / sum |S|^p`` (2: Wiener);
    ``gains`` scale each source's model output first (calibration, see ``mixin.training.calibrate``).
    ``overlap`` is the cross-faded overlap between chunks in samples, below the chunk's 44032 (0:
    butt-joined chunks); ``batch_size`` the chunks separated at once (1 or more).
    ``model_input`` says what the models are fed: ``"magnitude"`` (|NSGT|, MiXiN's) or
    ``"normalised"`` (each chunk scaled to a mean of ``input_level``, :func:`mixin.filtering.model_input`).
    ``hpss_weight`` blends median filtering's harmonic/percussive split of the non-vocal stems
    into the CDAEs' (0: CDAEs only, 1: median filtering only; :mod:`mixin.hpss`);
    ``hpss_adaptive`` raises that share towards 1 in stretches where median filtering is decisive.
    ``mwf_iterations`` > 0 then redraws the harmonic/percussive split with that many iterations of
    the multichannel Wiener filter, which also hears stereo placement (:mod:`mixin.spatial`;
    ``mwf_vocal``: the vocal shares in it as a third source; ``mwf_power``: the exponent of the
    stems' magnitudes in its power spectrograms, 2 the classic filter); the blend and the filter run last,
    in one stage (:mod:`mixin.redraw`); before them ``vocal_remask`` redraws the vocal as a mask
    of the mix on a finer STFT (``vocal_two_stage``: that far also by median filtering's two-stage
    vocal, :func:`mixin.hpss.two_stage_vocal`), and ``vocal_yield`` gives the vocal's share back
    to the pair where the whole mix is decisive for median filtering.
    ``vocal_hears`` "harmonic+vocal" runs the vocal model a second time on the mix's magnitudes less
    the percussive model's share, its estimate replacing the first (loud drums are what it hears worst).
    ``voice_helper`` (a :class:`DRNNSeparator`) with ``voice_weight`` > 0 first moves the vocal that
    share of the way to the DRNN's where the CDAEs hear a voice; ``voice_hears`` says what the DRNN
    is given, the mix or the mix less the CDAEs' percussive stem (:mod:`mixin.voice_blend`).
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
        model_input: str = "magnitude",
        input_level: float = INPUT_LEVEL,
        hpss_weight: float = 0.0,
        hpss_adaptive: bool = False,
        mwf_iterations: int = 0,
        mwf_vocal: bool = False,
        mwf_power: float = 2.0,
        vocal_yield: bool = False,
        vocal_remask: bool = False,
        vocal_two_stage: float = 0.0,
        workers: int = 1,
        voice_helper: Any = None,
        voice_weight: float = 0.0,
        voice_gate_db: float = VOICE_GATE_DB,
        voice_hears: str = "mix",
        vocal_hears: str = "mix",
    ) -> None:
        if mode not in ("wiener", "single"):
            raise ValueError(f"mode must be 'wiener' or 'single', not {mode!r}")
        if not is_positive_number(mask_power):
            raise ValueError(f"mask_power must be a positive number, not {mask_power!r}")
        if not models:
            raise ValueError("at least one model is needed")
        if model_input not in MODEL_INPUTS:
            raise ValueError(f"model_input must be one of {MODEL_INPUTS}, not {model_input!r}")
        self.models = dict(models)
        self.sources: tuple[str, ...] = tuple(self.models)
        self.mode = mode
        self.mask_power = float(mask_power)
        gains = dict(gains or {})
        self.gains = np.array([gains.get(s, 1.0) for s in self.sources], dtype=np.float32)
        if not (np.all(np.isfinite(self.gains)) and np.all(self.gains > 0)):
            raise ValueError(f"gains must be positive, not {gains!r}")
        self.overlap = check_overlap(overlap, CHUNK_SIZE)  # refused here, not at the first separate
        self.batch_size = check_count("batch_size", batch_size)  # 0 failed in the FFTs, 2.5 was cut to 2
        self.trained = trained
        self.model_input = model_input
        self.input_level = float(input_level)
        split = {"harmonic", "percussive"} <= set(self.sources) and mode == "wiener"  # a pair to redraw
        hpss_weight = checked_fraction("hpss_weight", hpss_weight)
        self.hpss_weight = hpss_weight if split else 0.0
        self.hpss_adaptive = bool(hpss_adaptive) and split
        if not is_whole_number(mwf_iterations):
            raise ValueError(f"mwf_iterations must be a whole number >= 0, not {mwf_iterations!r}")
        self.mwf_iterations = int(mwf_iterations) if split else 0
        self.mwf_vocal = bool(mwf_vocal) and self.mwf_iterations > 0 and "vocal" in self.sources
        if not is_positive_number(mwf_power):
            raise ValueError(f"mwf_power must be a positive number, not {mwf_power!r}")
        self.mwf_power = float(mwf_power)
        self.vocal_yield = bool(vocal_yield) and split and "vocal" in self.sources
        self.vocal_remask = bool(vocal_remask) and split and "vocal" in self.sources
        vocal_two_stage = checked_fraction("vocal_two_stage", vocal_two_stage)
        self.vocal_two_stage = vocal_two_stage if self.vocal_remask else 0.0  # a share of the remask's mask
        voice_weight = checked_fraction("voice_weight", voice_weight)
        usable = voice_helper is not None and voice_weight > 0 and self.voice_applies(mode, self.sources)
        self.voice_helper = voice_helper if usable else None
        self.voice_weight = voice_weight if self.voice_helper is not None else 0.0
        if not is_number(voice_gate_db):
            raise ValueError(f"voice_gate_db must be a number, not {voice_gate_db!r}")
        self.voice_gate_db = float(voice_gate_db)
        if voice_hears not in HELPER_HEARS:
            raise ValueError(f"voice_hears must be one of {', '.join(HELPER_HEARS)}, not {voice_hears!r}")
        self.voice_hears = voice_hears
        if vocal_hears not in HELPER_HEARS:
            raise ValueError(f"vocal_hears must be one of {', '.join(HELPER_HEARS)}, not {vocal_hears!r}")
        second_run = mode == "wiener" and {"vocal", "percussive"} <= set(self.sources)
        self.vocal_hears = vocal_hears if second_run else "mix"
        self.model_rate = SAMPLE_RATE
        self.chunk_size = CHUNK_SIZE
        self.transform = nsgt()
        self.workers = max(int(workers), 1)  # threads splitting each batch (mixin.backend.split_chunks)
        self.fft_threads: int | None = None  # None: all cores; 1 on the lean path (see from_config)
        self._predict = None

    @staticmethod
    def voice_applies(mode: str, sources: Sequence[str]) -> bool:
        """Whether a DRNN's vocal can help: soft masks (the stems share the mix out) and all
        three sources separated."""
        return mode == "wiener" and set(CDAE_SOURCES) <= set(sources)

    @classmethod
    def from_config(
        cls,
        directory: Path,
        config: ModelConfig,
        *,
        instrumental: bool = False,
        single_model: bool = False,
        mask_power: float | None = None,
        hpss_weight: float | None = None,
        voice_weight: float | None = None,
        voice_hears: str | None = None,
        mwf_iterations: int | None = None,
        mwf_vocal: bool | None = None,
        mwf_power: float | None = None,
        vocal_yield: bool | None = None,
        vocal_remask: bool | None = None,
        vocal_two_stage: float | None = None,
        vocal_hears: str | None = None,
        overlap: int = CROSSFADE,
        batch_size: int = BATCH_CHUNKS,
        backend: str = "auto",
    ) -> Separator:
        """Load the models of a model directory, once; ``mask_power``, ``hpss_weight``,
        ``mwf_iterations``, ``mwf_vocal``, ``mwf_power``, ``vocal_yield``, ``vocal_remask``, ``vocal_two_stage`` and
        ``vocal_hears`` default to the ones in its ``config.json`` (a ``vocal_two_stage`` above 0 given
        with ``vocal_remask`` False is an error: it is a share of the remask; so is ``mwf_vocal`` True
        given with ``mwf_iterations`` 0: it joins the filter). (:meth:`from_pretrained`
        reads the config; the shipped models by default.)
        ``backend``: "auto" runs each model's ONNX export when present and current, else its ``.h5``
        with TensorFlow; "onnx" or "tensorflow" only that (``mixin.backend``).
        ``voice_weight`` and ``voice_hears`` default to ``config.json``'s ``voice_helper`` weight and
        hears (``"mix"`` where it names none); the DRNN it names
        (a model directory relative to this one) loads only when the weight is above 0 and the vocal
        is separated with soft masks."""
        from .backend import OnnxModel, lean_workers, load_cdae_model, model_exists

        if vocal_two_stage and vocal_remask is False:
            raise ValueError("vocal_two_stage is a share of the vocal remask: not with vocal_remask=False")
        if mwf_vocal and mwf_iterations == 0:
            raise ValueError("mwf_vocal=True adds the vocal to the Wiener filter: not with mwf_iterations=0")
        if voice_weight is not None:
            voice_weight = checked_fraction("voice_weight", voice_weight)

        sources: Sequence[str] = config.sources
        if instrumental:
            sources = [s for s in sources if s in INSTRUMENTAL_SOURCES]
        models = {}
        for source in sources:
            path = config.model_path(directory, source)
            if not model_exists(path):
                raise MixinError(path, "model file not found")
            models[source] = load_cdae_model(path, backend, threads=1)
        mode = "single" if single_model else "wiener"
        helper = config.voice_helper or {}
        weight = float(helper.get("weight", 0.0)) if voice_weight is None else voice_weight
        voice_helper = None
        if weight > 0 and cls.voice_applies(mode, list(models)):
            helper_dir = directory / str(helper.get("model_dir", ""))
            if not helper.get("model_dir") or not helper_dir.is_dir():
                raise MixinError(
                    helper_dir if helper.get("model_dir") else directory,
                    "the DRNN named by config.json's voice_helper is not there (--voice-weight 0 separates without it)",
                )
            voice_helper = DRNNSeparator.from_pretrained(
                helper_dir, backend=backend, piece=VOICE_HELPER_PIECE, mono=True, threads=1
            )
        separator = cls(
            models,
            mode=mode,
            mask_power=config.mask_power if mask_power is None else mask_power,
            gains=config.gains,
            overlap=overlap,
            batch_size=batch_size,
            trained=config.trained,
            model_input=config.input,
            input_level=config.input_level,
            hpss_weight=config.hpss_weight if hpss_weight is None else hpss_weight,
            hpss_adaptive=config.hpss_adaptive,
            mwf_iterations=config.mwf_iterations if mwf_iterations is None else mwf_iterations,
            mwf_vocal=config.mwf_vocal if mwf_vocal is None else mwf_vocal,
            mwf_power=config.mwf_power if mwf_power is None else mwf_power,
            vocal_yield=config.vocal_yield if vocal_yield is None else vocal_yield,
            vocal_remask=config.vocal_remask if vocal_remask is None else vocal_remask,
            vocal_two_stage=config.vocal_two_stage if vocal_two_stage is None else vocal_two_stage,
            workers=lean_workers(models.values()),
            voice_helper=voice_helper,
            voice_weight=weight,
            voice_gate_db=float(helper.get("gate_db", VOICE_GATE_DB)),
            voice_hears=helper.get("hears", "mix") if voice_hears is None else voice_hears,
            vocal_hears=config.vocal_hears if vocal_hears is None else vocal_hears,
        )
        if all(isinstance(m, OnnxModel) for m in models.values()):
            separator.fft_threads = 1  # the workers are the parallelism ($MIXIN_THREADS=1: one thread in all)
        separator.warm_up()
        return separator

    def _stream_once(
        self, blocks: Iterable[np.ndarray], sample_rate: int, channels: int, executor: Any = None
    ) -> Iterator[np.ndarray]:
        """One run of :meth:`ChunkedSeparator.stream`: the chunks' stems, then the DRNN's second
        opinion on the vocal, then the harmonic/percussive pair redrawn by median filtering's blend
        and the multichannel Wiener filter, when asked for (last: they also share out what the vocal
        blend gave or took)."""
        stems = super()._stream_once(blocks, sample_rate, channels, executor)
        if self.voice_helper is not None:
            from .voice_blend import stream_voice_blend

            stems = stream_voice_blend(
                stems,
                self.sources,
                sample_rate,
                channels,
                self.voice_helper,
                self.voice_weight,
                self.voice_gate_db,
                self.voice_hears,
            )
        if self.hpss_weight > 0 or self.hpss_adaptive or self.mwf_iterations or self.vocal_yield or self.vocal_remask:
            from .redraw import stream_redraw

            stems = stream_redraw(
                stems,
                self.sources,
                sample_rate,
                self.hpss_weight,
                self.hpss_adaptive,
                self.mwf_iterations,
                self.vocal_yield,
                self.vocal_remask,
                self.vocal_two_stage,
                self.mwf_vocal,
                self.mwf_power,
            )
        yield from stems

    @property
    def sums_to_mix(self) -> bool:
        """Soft masks share the mix out; the mixture-phase mode does not."""
        return self.mode == "wiener"

    # -- the core: chunks in, stems out ---------------------------------------------------
    def estimate(self, magnitudes: np.ndarray) -> np.ndarray:
        """Calibrated model outputs for magnitudes (n, bands, frames): (sources, n, bands, frames).

        One predictor per model (its ONNX session, or a traced Keras graph), any batch size; the
        models run one after the other, which keeps peak memory at one model's activations. The
        input scaling (``model_input``) happens here, in NumPy, so both backends see the same input.
        """
        if self._predict is None:
            from .backend import predictor

            self._predict = [predictor(model) for model in self.models.values()]
        x = self._model_input(magnitudes)
        out = np.empty((len(self._predict), *magnitudes.shape), dtype=np.float32)
        for i in range(len(self._predict)):
            out[i] = self._run(i, x)
        if self.vocal_hears == "harmonic+vocal":
            out[self.sources.index("vocal")] = self._vocal_without_percussion(magnitudes, out)
        return out

    def _model_input(self, magnitudes: np.ndarray) -> np.ndarray:
        """What the models are fed for (n, bands, frames) magnitudes (``model_input``)."""
        return model_input(magnitudes, self.input_level) if self.model_input == "normalised" else magnitudes

    def _run(self, i: int, x: np.ndarray) -> np.ndarray:
        """Model ``i``'s calibrated output for the (n, bands, frames) input ``x``."""
        out = np.asarray(self._predict[i](x[..., None]))[..., 0]
        return out * self.gains[i] if self.gains[i] != 1 else out

    def _vocal_without_percussion(self, magnitudes: np.ndarray, estimates: np.ndarray) -> np.ndarray:
        """The vocal model's output for the mix's magnitudes less the percussive model's soft-mask
        share, in the units of ``estimates`` (normalised input scales each plane to one mean)."""
        heard = magnitudes * (1.0 - wiener_masks(estimates, self.mask_power)[self.sources.index("percussive")])
        out = self._run(self.sources.index("vocal"), self._model_input(heard))
        if self.model_input == "normalised":
            out = out * plane_level(heard) / plane_level(magnitudes)
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
            if self.model_input == "normalised":  # back from the models' units to the mix's
                level = plane_level(mags).reshape(n, channels, 1, 1)
                estimates = estimates * (level / np.float32(self.input_level))
            return self.transform.inverse(with_mixture_phase(estimates, coefs), threads=threads)
        masks = wiener_masks(estimates, self.mask_power)
        # All but the last stem from their masks; the last is the rest, so the sum is exact.
        stems = self.transform.inverse(masks[:-1] * coefs[None], threads=threads)
        rest = chunks - stems.sum(axis=0)
        return np.concatenate((stems, rest[None]), axis=0)


DRNN_OVERLAP = 8000
"""Cross-fade (samples at 16 kHz, 0.5 s) between the DRNN's 30-s pieces."""

CDAE_ONLY_OPTIONS = (
    "instrumental",
    "single_model",
    "mask_power",
    "hpss_weight",
    "voice_weight",
    "voice_hears",
    "mwf_iterations",
    "mwf_vocal",
    "mwf_power",
    "vocal_yield",
    "vocal_remask",
    "vocal_two_stage",
    "vocal_hears",
    "overlap",
    "batch_size",
)
"""The CDAE separator's options: given to another architecture, an error."""
SWITCHES = ("instrumental", "single_model")
"""Options whose flags take no value: False is "not given" (``--vocal-yield off`` is given)."""


def cdae_options_given(options: Mapping[str, Any]) -> list[str]:
    """The names of :data:`CDAE_ONLY_OPTIONS` among ``options`` (None: not given)."""
    return [
        name
        for name in CDAE_ONLY_OPTIONS
        if options.get(name) is not None and not (name in SWITCHES and options[name] is False)
    ]


def cdae_only(names: Sequence[str]) -> str:
    """The error for CDAE options ``names`` (keywords, or the CLI's flags) given for a DRNN."""
    return (
        f"{', '.join(names)} {'applies' if len(names) == 1 else 'apply'} to the cdae architecture only, not to a drnn"
    )


class CdaeOptionsGiven(MixinError):
    """CDAE options given for a DRNN's model directory; ``options`` names them (keywords), so that
    the CLI can name its flags instead."""

    def __init__(self, directory: Path, options: Sequence[str]) -> None:
        self.options = tuple(options)
        super().__init__(directory, cdae_only(self.options))


class DRNNSeparator(ChunkedSeparator):
    """Vocal and accompaniment stems; audio is resampled to 16 kHz for the model and the
    stems come back at the input's rate. Long inputs go through in 30-s pieces (``piece``
    samples at 16 kHz; the recurrent state restarts every 100 frames in any case), cross-faded
    over 0.5 s; the two stems sum to the mix. With ``input_level`` (config.json's ``input``
    "normalised") each piece is heard at that RMS, its mask applied to the piece as it is."""

    def __init__(
        self,
        model: keras.Model | OnnxModel,
        *,
        trained: bool = True,
        batch_size: int = 1,
        piece: int = drnn.PIECE,
        mono: bool = False,
        input_level: float | None = None,
    ) -> None:
        if piece <= 2 * DRNN_OVERLAP:
            raise ValueError(f"piece must be longer than two cross-fades ({2 * DRNN_OVERLAP} samples), not {piece}")
        self.model = model
        self.sources = drnn.SOURCES
        self.model_rate, self.chunk_size = drnn.RATE, int(piece)
        self.mono = bool(mono)  # one model run on the channels' mean, its mask applied to each
        self.overlap = DRNN_OVERLAP
        self.batch_size = check_count("batch_size", batch_size)
        self.trained = trained
        self.input_level = input_level  # None: the model hears each piece at the level it comes

    @classmethod
    def from_config(
        cls,
        directory: Path,
        config: ModelConfig,
        backend: str = "auto",
        piece: int = drnn.PIECE,
        mono: bool = False,
        threads: int | None = None,
        **options: Any,
    ) -> DRNNSeparator:
        """Load a DRNN model directory: ``model_drnn.onnx`` when present and current (see
        ``mixin.backend``), else ``model_drnn.keras`` with TensorFlow. Its cross-fade is fixed;
        the CDAE's chunking (``overlap``, ``batch_size``), model and mask options are an error, and
        so are keywords neither separator knows (a TypeError, as the CDAE's loader gives: a typo such
        as ``backnd`` is not lost)."""
        unknown = [name for name in options if name not in CDAE_ONLY_OPTIONS]
        if unknown:
            raise TypeError(f"{cls.from_config.__qualname__}() got an unexpected keyword argument {unknown[0]!r}")
        given = cdae_options_given(options)
        if given:
            raise CdaeOptionsGiven(directory, given)
        from .backend import load_onnx, model_exists, require_tensorflow

        path = config.model_path(directory)
        if not model_exists(path):
            raise MixinError(path, "model file not found")
        width = (2 * drnn.CONTEXT + 1) * drnn.BINS
        model = load_onnx(
            path,
            arch="drnn",
            input_shape=(None, None, width),
            output_shape=(None, None, 2 * drnn.BINS),
            backend=backend,
            threads=threads,
        )
        if model is None:
            require_tensorflow(path, backend)
            model = load_keras_drnn(path)
        level = config.input_level if config.input == "normalised" else None
        return cls(model, trained=config.trained, piece=piece, mono=mono, input_level=level)

    def separate_chunks(self, chunks: np.ndarray) -> np.ndarray:
        n, channels, length = chunks.shape
        flat = chunks.reshape(n * channels, length)
        z = drnn.stft(flat)  # (n*ch, frames, 513)
        if self.mono and channels > 1:
            # one model run on the channels' mean (the STFT is linear: the mean of theirs); its
            # vocal mask then applies to each channel
            mix = np.abs(z.reshape(n, channels, *z.shape[1:]).mean(axis=1))  # (n, frames, 513)
            out = self._vocal_magnitudes(mix, chunks.mean(axis=1))
            mask = np.divide(out, mix, out=np.zeros_like(out), where=mix > 0)
            vocal_coefs = np.repeat(mask, channels, axis=0) * z
        else:
            mag = np.abs(z)
            out = self._vocal_magnitudes(mag, flat)
            phase = np.divide(z, mag, out=np.ones_like(z), where=mag > 0)
            vocal_coefs = out * phase
        vocal = drnn.istft(vocal_coefs, length).reshape(n, channels, length)
        return np.stack([vocal, chunks - vocal])  # the masks sum to one: the rest is accompaniment

    def _vocal_magnitudes(self, mag: np.ndarray, pieces: np.ndarray) -> np.ndarray:
        """The network's vocal magnitudes for (m, frames, 513) ``mag``, the STFT of the (m, samples)
        ``pieces``, each heard at ``input_level`` and scaled back."""
        gain = drnn.input_gain(pieces, self.input_level)  # (m, 1, 1)
        return drnn.run_sequences(self.model, drnn.with_context(mag * gain))[..., : drnn.BINS] / gain


def load_keras_drnn(path: str | Path) -> Any:
    """The Keras DRNN saved at ``path`` (TensorFlow); a one-line :class:`MixinError` if it is
    missing or cannot load."""
    from .backend import keras_module, load_model_file

    keras = keras_module()
    return load_model_file(
        Path(path), lambda p: keras.models.load_model(p, compile=False, custom_objects=drnn.custom_objects())
    )
