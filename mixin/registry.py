"""Which separator a model directory holds: its ``config.json`` names the architecture."""

from __future__ import annotations

from pathlib import Path

from .constants import BATCH_CHUNKS, CROSSFADE
from .errors import MixinError
from .pretrained import ModelConfig, default_model_dir
from .separator import ChunkedSeparator


def load_separator(
    model_dir: str | Path | None = None,
    *,
    instrumental: bool = False,
    single_model: bool = False,
    mask_power: float | None = None,
    hpss_weight: float | None = None,
    overlap: int = CROSSFADE,
    batch_size: int = BATCH_CHUNKS,
) -> ChunkedSeparator:
    """``cdae`` (MiXiN: harmonic, percussive, vocal) or ``drnn`` (vocal, accompaniment)."""
    directory = Path(model_dir) if model_dir is not None else default_model_dir()
    config = ModelConfig.load(directory)
    if config.arch == "drnn":
        if instrumental or single_model or mask_power is not None or hpss_weight is not None:
            raise MixinError(
                directory, "--instrumental, --single-model, --hpss-weight and --mask-power apply to the cdae architecture only"
            )
        from .drnn_separator import DRNNSeparator

        return DRNNSeparator.from_pretrained(directory, config)
    from .separator import Separator

    return Separator.from_pretrained(
        directory,
        instrumental=instrumental,
        single_model=single_model,
        mask_power=mask_power,
        hpss_weight=hpss_weight,
        overlap=overlap,
        batch_size=batch_size,
    )
