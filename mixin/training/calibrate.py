"""Magnitude calibration of trained CDAEs: one gain per source, stored in ``config.json``.

MAE training makes each model predict something like the conditional median of a source's
magnitude, which for sparse sources (drums, voice) is far below its mean: on held-out chunks the
shipped models' outputs sum to 0.3-0.8 of the true magnitudes, and the less for the sparser
sources. The soft masks only see the ratios between sources, so this skew hands the dense source
(harmonic) more than its share. A gain per source, ``sum |S| / sum model(|X|)`` over the HDF5
validation split (chunks that early stopping used but training never fitted), undoes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..data.hdf5 import check_sources, hdf5_path, open_checked
from ..errors import MixinError
from ..registry import ModelConfig

if TYPE_CHECKING:  # pragma: no cover
    from ..backend import Predict

CALIBRATION_SPLIT = "validation"
CALIBRATION_BATCH = 8


def source_gain(predict: Predict, x: np.ndarray, y: np.ndarray, batch: int = CALIBRATION_BATCH) -> float:
    """``sum(y) / sum(predict(x))`` over chunks (n, bands, frames, 1), ``batch`` chunks at a time."""
    estimated = target = 0.0
    for i in range(0, len(x), batch):
        estimated += float(np.asarray(predict(x[i : i + batch]), dtype=np.float64).sum())
        target += float(np.asarray(y[i : i + batch], dtype=np.float64).sum())
    if not estimated > 0:
        raise ValueError("the model's estimates are all zero: no gain can be calibrated")
    return target / estimated


def calibrate(
    model_dir: Path, data_dir: Path, sources: Sequence[str] | None = None, split: str = CALIBRATION_SPLIT
) -> dict[str, float]:
    """Measure each source's gain on ``split`` of its HDF5 file and record it in ``config.json``.

    ``sources`` None: each model the directory holds. Gains of other sources already in the config
    are kept; returns the new ones.
    """
    from ..cdae import inference_graph, load_cdae

    model_dir, data_dir = Path(model_dir), Path(data_dir)
    config = ModelConfig.load(model_dir)
    if config.arch != "cdae":
        raise MixinError(model_dir, f"holds a {config.arch} model: calibration measures the CDAEs' output gains")
    if config.input != "magnitude":
        raise MixinError(
            model_dir / "config.json",
            f"the models get {config.input} input: calibration fits raw-magnitude outputs, and would replace "
            "gains chosen for the soft masks (--objective masks models need none)",
        )
    if sources is None:
        sources = [s for s in config.sources if config.model_path(model_dir, s).exists()]
    check_sources(sources)
    gains = {}
    for source in sources:
        model_path = config.model_path(model_dir, source)
        if not model_path.exists():
            raise MixinError(model_path, "model file not found")
        path = hdf5_path(data_dir, source)
        model = load_cdae(model_path)
        with open_checked(path, source) as h5:
            x, y = h5[f"data-x-{split}"], h5[f"data-y-{split}"]
            if x.shape[0] == 0:
                raise MixinError(path, f"no {split} chunks to calibrate on")
            try:
                gains[source] = source_gain(inference_graph(model), x, y)
            except ValueError as exc:
                raise MixinError(model_path, str(exc)) from None
    config.gains = {**config.gains, **gains}
    config.save(model_dir)
    return gains
