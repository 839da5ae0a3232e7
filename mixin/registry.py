"""The registry of architectures and model directories.

What each architecture's models are built for, where the shipped models are, what a model
directory's ``config.json`` says, and which separator loads it: the one place that knows the
architectures by name.
"""

from __future__ import annotations

import importlib
import json
import math
import numbers
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .constants import (
    CDAE_SOURCES,
    CHUNK_SIZE,
    HELPER_HEARS,
    INPUT_LEVEL,
    MASK_POWER,
    MODEL_INPUTS,
    N_BANDS,
    SAMPLE_RATE,
)
from .drnn import BINS as DRNN_BINS
from .drnn import PIECE as DRNN_PIECE
from .drnn import RATE as DRNN_RATE
from .drnn import SOURCES as DRNN_SOURCES
from .errors import MixinError, no_directory

if TYPE_CHECKING:  # pragma: no cover
    from .apply import ChunkedSeparator

CONFIG_NAME = "config.json"


def is_whole_number(value: Any) -> bool:
    """An integer of 0 or more (NumPy's too, as :func:`is_number` takes them), and not a bool
    (JSON's ``true`` would pass as the int 1)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0


def is_number(value: Any) -> bool:
    """A finite real number (NumPy's too), and not a bool (JSON's ``true`` would pass as the int 1)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def is_positive_number(value: Any) -> bool:
    """A number (:func:`is_number`) above 0."""
    return is_number(value) and value > 0


def is_fraction(value: Any) -> bool:
    """A number (:func:`is_number`) in [0, 1]: a share or a weight."""
    return is_number(value) and 0 <= value <= 1


@dataclass(frozen=True)
class Architecture:
    """What one architecture's models are built for, and the separator class that runs them."""

    sample_rate: int
    chunk_size: int
    bands: int
    sources: tuple[str, ...]
    model_file: str  # file name in a model directory; ``{source}`` for one model per source
    separator: str  # class in mixin.separators

    @property
    def settings(self) -> tuple[int, int, int]:
        return self.sample_rate, self.chunk_size, self.bands


ARCHITECTURES = {
    "cdae": Architecture(SAMPLE_RATE, CHUNK_SIZE, N_BANDS, CDAE_SOURCES, "model_{source}.h5", "Separator"),
    "drnn": Architecture(DRNN_RATE, DRNN_PIECE, DRNN_BINS, DRNN_SOURCES, "model_drnn.keras", "DRNNSeparator"),
}
"""The architectures by the name a ``config.json`` gives as ``arch``."""


def default_model_dir() -> Path:
    """The shipped models: inside the installed package, or the repository's ``pretrained-models``
    beside the package in a source checkout (never the working directory)."""
    package = Path(__file__).resolve().parent
    installed = package / "pretrained_models"
    return installed if installed.is_dir() else package.parent / "pretrained-models"


CHAIN_FIELDS = (
    "hpss_weight",
    "hpss_adaptive",
    "mwf_iterations",
    "mwf_vocal",
    "mwf_power",
    "vocal_yield",
    "vocal_remask",
    "vocal_two_stage",
    "vocal_hears",
    "voice_helper",
)
"""config.json's settings of what runs around the CDAEs: median-filtering blend, multichannel Wiener
filter (whether the vocal shares in it, its magnitude exponent), vocal yield, vocal remask (and its two-stage share),
the vocal model's second run, helper DRNN."""
CDAE_CHAIN_KEYS = ("mask_power", "gains", *CHAIN_FIELDS)
"""The settings of the CDAE separator's chain (:class:`ModelConfig`), which no other architecture reads."""


@dataclass
class ModelConfig:
    """What a model directory holds; written as ``config.json`` beside the weights."""

    arch: str = "cdae"
    sources: list[str] = field(default_factory=lambda: list(CDAE_SOURCES))
    sample_rate: int = SAMPLE_RATE
    chunk_size: int = CHUNK_SIZE
    bands: int = N_BANDS
    trained: bool = True
    mask_power: float = MASK_POWER  # the soft-mask exponent these models were validated with (cdae)
    gains: dict[str, float] = field(default_factory=dict)  # per-source output calibration (mixin.training.calibrate)
    input: str = "magnitude"  # what the models are fed: one of constants.MODEL_INPUTS
    input_level: float = INPUT_LEVEL  # for input "normalised": a chunk's mean |NSGT| (cdae), a piece's RMS (drnn)
    hpss_weight: float = 0.0  # median filtering's share of the harmonic/percussive split (mixin.hpss)
    hpss_adaptive: bool = False  # that share rises towards 1 where median filtering is decisive (mixin.hpss)
    mwf_iterations: int = 0  # multichannel Wiener filter iterations redrawing that split last (mixin.spatial)
    mwf_vocal: bool = False  # the vocal shares in that filter as a third source (mixin.redraw)
    mwf_power: float = 2.0  # the exponent of the stems' magnitudes in that filter: 2 classic (mixin.filtering)
    vocal_yield: bool = False  # the vocal gives way where the mix is decisive for median filtering (mixin.redraw)
    vocal_remask: bool = False  # the vocal redrawn as a mask of the mix on a finer STFT (mixin.redraw)
    vocal_two_stage: float = 0.0  # that mask's share from median filtering's two-stage vocal (mixin.hpss)
    vocal_hears: str = "mix"  # "harmonic+vocal": the vocal model run again on the mix less the percussive share
    voice_helper: dict[str, Any] = field(
        default_factory=dict
    )  # {"model_dir", "weight", "gate_db", "hears"} (mixin.voice_blend)
    notes: str = ""

    @classmethod
    def for_arch(cls, arch: str, **values: Any) -> ModelConfig:
        """A config with ``arch``'s settings and sources, and ``values`` on top."""
        spec = ARCHITECTURES[arch]
        rate, chunk, bands = spec.settings
        return cls(
            **{
                "arch": arch,
                "sources": list(spec.sources),
                "sample_rate": rate,
                "chunk_size": chunk,
                "bands": bands,
                **values,
            }
        )

    def model_path(self, directory: Path, source: str = "") -> Path:
        """The weights file of ``source`` (or the architecture's one model) in ``directory``."""
        return Path(directory) / ARCHITECTURES[self.arch].model_file.format(source=source)

    def save(self, directory: Path) -> Path:
        """Write ``config.json``; another architecture's leaves out the CDAE chain's settings it
        does not use while they hold their defaults (a DRNN's config says only what it is)."""
        path = Path(directory) / CONFIG_NAME
        data = asdict(self)
        if self.arch != "cdae":
            defaults = asdict(ModelConfig())
            data = {k: v for k, v in data.items() if not (k in CDAE_CHAIN_KEYS and v == defaults[k])}
        from .audio import temporary_beside

        tmp = temporary_beside(path)  # a reader never sees half a config
        try:
            tmp.write_text(json.dumps(data, indent=2) + "\n")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, directory: Path) -> ModelConfig:
        """Read ``config.json``; a directory without one is taken as MiXiN's three CDAEs."""
        directory = Path(directory)
        if not directory.is_dir():
            raise no_directory(directory, "model directory")
        path = directory / CONFIG_NAME
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
            config = cls(**data)
        except (ValueError, TypeError) as exc:
            raise MixinError(path, f"invalid model config ({exc})") from None
        if not is_positive_number(config.mask_power):
            raise MixinError(path, f"mask_power must be a positive number, not {config.mask_power!r}")
        if not isinstance(config.gains, dict) or not all(is_positive_number(g) for g in config.gains.values()):
            raise MixinError(path, f"gains must map sources to positive numbers, not {config.gains!r}")
        if not is_fraction(config.hpss_weight):
            raise MixinError(path, f"hpss_weight must be a number in [0, 1], not {config.hpss_weight!r}")
        if not isinstance(config.hpss_adaptive, bool):
            raise MixinError(path, f"hpss_adaptive must be true or false, not {config.hpss_adaptive!r}")
        for name in ("vocal_yield", "vocal_remask", "mwf_vocal"):
            if not isinstance(getattr(config, name), bool):
                raise MixinError(path, f"{name} must be true or false, not {getattr(config, name)!r}")
        if not is_fraction(config.vocal_two_stage):
            raise MixinError(path, f"vocal_two_stage must be a number in [0, 1], not {config.vocal_two_stage!r}")
        if config.vocal_hears not in HELPER_HEARS:
            raise MixinError(path, f"vocal_hears must be one of {', '.join(HELPER_HEARS)}, not {config.vocal_hears!r}")
        if not is_whole_number(config.mwf_iterations):
            raise MixinError(path, f"mwf_iterations must be a whole number >= 0, not {config.mwf_iterations!r}")
        if not is_positive_number(config.mwf_power):
            raise MixinError(path, f"mwf_power must be a positive number, not {config.mwf_power!r}")
        helper = config.voice_helper
        if not isinstance(helper, dict) or not set(helper) <= {"model_dir", "weight", "gate_db", "hears"}:
            raise MixinError(
                path, f"voice_helper must hold model_dir, weight, gate_db and optionally hears, not {helper!r}"
            )
        weight = helper.get("weight", 0.0)
        if not is_fraction(weight):
            raise MixinError(path, f"voice_helper weight must be a number in [0, 1], not {weight!r}")
        if not is_number(helper.get("gate_db", 0.0)):
            raise MixinError(path, f"voice_helper gate_db must be a number, not {helper['gate_db']!r}")
        if helper.get("hears", "mix") not in HELPER_HEARS:
            raise MixinError(
                path, f"voice_helper hears must be one of {', '.join(HELPER_HEARS)}, not {helper['hears']!r}"
            )
        if not is_positive_number(config.input_level):
            raise MixinError(path, f"input_level must be a positive number, not {config.input_level!r}")
        if config.input not in MODEL_INPUTS:
            raise MixinError(path, f"unknown model input {config.input!r} (known: {', '.join(MODEL_INPUTS)})")
        spec = ARCHITECTURES.get(config.arch)
        if spec is None:
            raise MixinError(path, f"unknown architecture {config.arch!r} (known: {', '.join(ARCHITECTURES)})")
        if (config.sample_rate, config.chunk_size, config.bands) != spec.settings:
            raise MixinError(
                path,
                f"models made for {config.sample_rate} Hz, chunk {config.chunk_size}, {config.bands} bands; "
                f"this version's {config.arch} uses {spec.sample_rate} Hz, chunk {spec.chunk_size}, {spec.bands} bands",
            )
        return config


def load_separator(model_dir: str | Path | None = None, **options: Any) -> ChunkedSeparator:
    """The separator of a model directory (default: the shipped CDAEs), by its ``config.json``:
    ``cdae`` (MiXiN: harmonic, percussive, vocal) or ``drnn`` (vocal, accompaniment).

    ``options`` go to the architecture's ``from_config``: for ``cdae`` ``instrumental``,
    ``single_model``, ``mask_power``, ``hpss_weight``, ``voice_weight``, ``voice_hears``, ``mwf_iterations``,
    ``mwf_vocal``, ``mwf_power``, ``vocal_yield``, ``vocal_remask``, ``vocal_two_stage``, ``vocal_hears``,
    ``overlap`` and ``batch_size`` (:meth:`mixin.separators.Separator.from_config`); for both ``backend``: "auto"
    (ONNX exports when present and current, else TensorFlow), "onnx" or "tensorflow" (``mixin.backend``),
    and ``shifts``: runs averaged over shifted chunk boundaries (``mixin.apply.stream_shifted``; 1).
    """
    directory = Path(model_dir) if model_dir is not None else default_model_dir()
    config = ModelConfig.load(directory)
    separators = importlib.import_module(".separators", __package__)
    shifts = options.pop("shifts", 1)
    separator = getattr(separators, ARCHITECTURES[config.arch].separator).from_config(directory, config, **options)
    separator.shifts = shifts
    return separator
