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
    overlap: int = CROSSFADE,
    batch_size: int = BATCH_CHUNKS,
    backend: str = "auto",
) -> ChunkedSeparator:
    """``cdae`` (MiXiN: harmonic, percussive, vocal) or ``drnn`` (vocal, accompaniment).

    ``backend``: "auto" (ONNX exports when present, else TensorFlow), "onnx" or "tensorflow"
    (``mixin.backend``)."""
    directory = Path(model_dir) if model_dir is not None else default_model_dir()
    config = ModelConfig.load(directory)
    if config.arch == "drnn":
        if instrumental or single_model or mask_power is not None:
            raise MixinError(directory, "--instrumental, --single-model and --mask-power apply to the cdae architecture only")
        from .drnn_separator import DRNNSeparator

        return DRNNSeparator.from_pretrained(directory, config, backend=backend)
    from .separator import Separator

    return Separator.from_pretrained(
        directory,
        instrumental=instrumental,
        single_model=single_model,
        mask_power=mask_power,
        overlap=overlap,
        batch_size=batch_size,
        backend=backend,
    )
