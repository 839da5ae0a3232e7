"""Model directories: where the shipped models live and what a directory's config says."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .constants import CDAE_SOURCES, CHUNK_SIZE, INPUT_LEVEL, MASK_POWER, MODEL_INPUTS, N_BANDS, SAMPLE_RATE
from .errors import MixinError

CONFIG_NAME = "config.json"

ARCH_SETTINGS = {
    "cdae": (SAMPLE_RATE, CHUNK_SIZE, N_BANDS),
    "drnn": (16000, 16000 * 30, 513),  # 16 kHz, 30-s pieces, 513 STFT bins
}
"""The registry of architectures: (sample rate, chunk size, bands) each was built for."""


def default_model_dir() -> Path:
    """The shipped models, found beside the package (not in the working directory)."""
    return Path(__file__).resolve().parent.parent / "pretrained-models"


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
    gains: dict[str, float] = field(default_factory=dict)  # per-source output calibration (mixin.calibrate)
    input: str = "magnitude"  # what the CDAEs are fed: one of constants.MODEL_INPUTS
    input_level: float = INPUT_LEVEL  # mean |NSGT| of a chunk fed to the models, for input "normalised"
    hpss_weight: float = 0.0  # median filtering's share of the harmonic/percussive split (mixin.hpss)
    notes: str = ""

    def model_path(self, directory: Path, source: str) -> Path:
        return Path(directory) / f"model_{source}.h5"

    def save(self, directory: Path) -> Path:
        path = Path(directory) / CONFIG_NAME
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, directory: Path) -> "ModelConfig":
        """Read ``config.json``; a directory without one is taken as MiXiN's three CDAEs."""
        directory = Path(directory)
        if not directory.is_dir():
            raise MixinError(directory, "model directory not found")
        path = directory / CONFIG_NAME
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
            config = cls(**data)
        except (ValueError, TypeError) as exc:
            raise MixinError(path, f"invalid model config ({exc})") from None
        if not isinstance(config.mask_power, (int, float)) or not config.mask_power > 0:
            raise MixinError(path, f"mask_power must be a positive number, not {config.mask_power!r}")
        if not isinstance(config.gains, dict) or not all(
            isinstance(g, (int, float)) and g > 0 and math.isfinite(g) for g in config.gains.values()
        ):
            raise MixinError(path, f"gains must map sources to positive numbers, not {config.gains!r}")
        if not isinstance(config.hpss_weight, (int, float)) or not 0 <= config.hpss_weight <= 1:
            raise MixinError(path, f"hpss_weight must be a number in [0, 1], not {config.hpss_weight!r}")
        if not isinstance(config.input_level, (int, float)) or not config.input_level > 0:
            raise MixinError(path, f"input_level must be a positive number, not {config.input_level!r}")
        if config.input not in MODEL_INPUTS:
            raise MixinError(path, f"unknown model input {config.input!r} (known: {', '.join(MODEL_INPUTS)})")
        expected = ARCH_SETTINGS.get(config.arch)
        if expected is None:
            raise MixinError(path, f"unknown architecture {config.arch!r} (known: {', '.join(ARCH_SETTINGS)})")
        if (config.sample_rate, config.chunk_size, config.bands) != expected:
            raise MixinError(
                path,
                f"models made for {config.sample_rate} Hz, chunk {config.chunk_size}, {config.bands} bands; "
                f"this version's {config.arch} uses {expected[0]} Hz, chunk {expected[1]}, {expected[2]} bands",
            )
        return config
