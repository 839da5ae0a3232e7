"""Singing voice / accompaniment separation with the DRNN (``arch: drnn`` model directories)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import drnn
from .errors import MixinError
from .pretrained import ARCH_SETTINGS, ModelConfig
from .separator import ChunkedSeparator

MODEL_NAME = "model_drnn.keras"
OVERLAP = 8000  # 0.5 s cross-fade between 30-s pieces


class DRNNSeparator(ChunkedSeparator):
    """Vocal and accompaniment stems; audio is resampled to 16 kHz for the model and the
    stems come back at the input's rate. Long inputs go through in 30-s pieces (the recurrent
    state restarts in each), cross-faded over 0.5 s; the two stems sum to the mix."""

    def __init__(self, model, *, trained: bool = True, batch_size: int = 1) -> None:
        self.model = model
        self.sources = drnn.SOURCES
        self.model_rate, self.chunk_size, _ = ARCH_SETTINGS["drnn"]
        self.overlap = OVERLAP
        self.batch_size = batch_size
        self.trained = trained

    @classmethod
    def from_pretrained(
        cls, model_dir: str | Path, config: ModelConfig | None = None, backend: str = "auto"
    ) -> "DRNNSeparator":
        """The DRNN of a model directory: ``model_drnn.onnx`` when present and current (see
        ``mixin.backend``), else ``model_drnn.keras`` with TensorFlow."""
        from .backend import load_onnx, model_exists, require_tensorflow

        directory = Path(model_dir)
        config = config or ModelConfig.load(directory)
        path = directory / MODEL_NAME
        if not model_exists(path):
            raise MixinError(path, "model file not found")
        width = (2 * drnn.CONTEXT + 1) * drnn.BINS
        model = load_onnx(
            path, arch="drnn", input_shape=(None, None, width), output_shape=(None, None, 2 * drnn.BINS), backend=backend
        )
        if model is None:
            if not path.exists():
                raise MixinError(path, "model file not found")
            require_tensorflow(path, backend)
            model = load_keras_drnn(path)
        return cls(model, trained=config.trained)

    def separate_chunks(self, chunks: np.ndarray) -> np.ndarray:
        n, channels, length = chunks.shape
        mono = chunks.reshape(n * channels, length)
        z = drnn.stft(mono)  # (n*ch, frames, 513)
        mag = np.abs(z)
        out = drnn.run_sequences(self.model, drnn.with_context(mag))
        phase = np.divide(z, mag, out=np.ones_like(z), where=mag > 0)
        vocal = drnn.istft(out[..., : drnn.BINS] * phase, length).reshape(n, channels, length)
        return np.stack([vocal, chunks - vocal])  # the masks sum to one: the rest is accompaniment


def load_keras_drnn(path: str | Path):
    """The Keras DRNN saved at ``path`` (TensorFlow); a one-line :class:`MixinError` if it cannot load."""
    from .model import keras_module

    keras = keras_module()
    try:
        return keras.models.load_model(path, compile=False, custom_objects=drnn.custom_objects())
    except Exception as exc:
        raise MixinError(path, f"cannot load model ({str(exc).splitlines()[0]})") from None
