"""Huang et al.'s deep recurrent network for singing-voice separation (ISMIR 2014), DRNN-2.

16 kHz, 1024-point STFT, hop 512. Input: the mixture's magnitude frame with its previous and next
frame (3 x 513); three hidden layers of 1000 ReLU units, the second recurrent; two linear heads
(voice, accompaniment); a masking layer without non-linearity,
``y1 = |h1| / (|h1| + |h2| + eps) * x`` and likewise ``y2``, so the two estimates sum to the
mixture's magnitude; inverse STFT with the mixture's phase. Trained with the discriminative loss
``|y1-s1|^2 - g|y1-s2|^2 + |y2-s2|^2 - g|y2-s1|^2``, g = 0.05.

Like ``mixin.cdae``, nothing here reads files; Keras loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    import keras

    from .backend import OnnxModel, Tensor

RATE = 16000
N_FFT = 1024
HOP = 512
BINS = N_FFT // 2 + 1
CONTEXT = 1  # frames on each side
HIDDEN = 1000
GAMMA = 0.05
EPS = 1e-8
SOURCES = ("vocal", "accompaniment")
PIECE = 30 * RATE
"""Samples the separator feeds through at once (30 s; the recurrent state restarts in each)."""
SEQUENCE = 100
"""Frames per sequence, in training and in separation (the recurrent state restarts at each:
a ReLU recurrence run far longer than it was trained on can grow without bound)."""
SCALE = 100.0
"""STFT values are multiplied by this: magnitudes near 1 rather than 1e-3 keep the squared
errors and gradients well above Adam's epsilon."""

INPUT_FLOOR = 1e-3
"""A piece's RMS is taken as at least this (-60 dBFS) when its input gain is worked out:
near-silence is not raised to the level of a song."""


def input_gain(pieces: np.ndarray, level: float | None) -> np.ndarray:
    """(m, samples) pieces -> (m, 1, 1): the gain that brings each piece's RMS to ``level`` (1 for
    None). The masks depend on the level the network hears (ReLU layers with biases); so scaled, a
    piece sounds alike however loud the record is. The RMS is taken up to a piece's last non-zero
    sample: the zeros that pad a track's last piece do not make it sound quieter than it is."""
    if level is None:
        return np.ones((len(pieces), 1, 1), np.float32)
    pieces = np.asarray(pieces, dtype=np.float32)
    nonzero = pieces != 0
    length = np.where(nonzero.any(axis=-1), pieces.shape[-1] - np.argmax(nonzero[..., ::-1], axis=-1), 1)
    rms = np.sqrt(np.sum(np.square(pieces), axis=-1) / length)
    return (np.float32(level) / np.maximum(rms, np.float32(INPUT_FLOOR)))[:, None, None]


def stft(x: np.ndarray) -> np.ndarray:
    """(..., samples) -> complex (..., frames, 513), Hann window, hop 512, times SCALE; the values
    of ``scipy.signal.stft``'s default scaling (divided by the window's sum, N_FFT / 2), which the
    model was trained on."""
    from .transforms import stft as plain_stft

    return np.swapaxes(plain_stft(x, N_FFT, HOP), -1, -2) * np.float32(SCALE / (N_FFT // 2))


def istft(z: np.ndarray, length: int) -> np.ndarray:
    """Inverse of :func:`stft`, cut or padded to ``length`` samples."""
    from .transforms import istft as plain_istft

    return plain_istft(np.swapaxes(z, -1, -2) * np.float32((N_FFT // 2) / SCALE), N_FFT, HOP, length)


def with_context(mag: np.ndarray) -> np.ndarray:
    """(..., frames, 513) -> (..., frames, 3*513): previous, current and next frame
    (edges repeat the first/last frame)."""
    pad = [(0, 0)] * (mag.ndim - 2) + [(CONTEXT, CONTEXT), (0, 0)]
    padded = np.pad(mag, pad, mode="edge")
    frames = mag.shape[-2]
    return np.concatenate([padded[..., i : i + frames, :] for i in range(2 * CONTEXT + 1)], axis=-1)


def build_drnn(hidden: int = HIDDEN, name: str = "drnn", dropout: float = 0.0, compress: float = 1.0) -> keras.Model:
    """DRNN-2 with the masking layer: (batch, frames, 1539) -> (batch, frames, 2*513) = [y1, y2].

    ``compress`` < 1: the hidden layers see the magnitudes raised to that power (the masking layer
    still scales the mixture's own magnitudes). ``dropout``: dropped after each hidden layer in
    training (no layer at inference). Neither is in Huang et al.; both are training-recipe options."""
    from .backend import keras_module

    keras = keras_module()
    layers = keras.layers
    features = keras.Input(shape=(None, (2 * CONTEXT + 1) * BINS), name="mix_context")
    h = _layers()["Compress"](compress, name="compress")(features) if compress != 1.0 else features

    def drop(x: Tensor, i: int) -> Tensor:
        return layers.Dropout(dropout, name=f"dropout{i}")(x) if dropout else x

    h = drop(layers.Dense(hidden, activation="relu", name="hidden1")(h), 1)
    h = drop(layers.SimpleRNN(hidden, activation="relu", return_sequences=True, name="hidden2_recurrent")(h), 2)
    h = drop(layers.Dense(hidden, activation="relu", name="hidden3")(h), 3)
    h1 = layers.Dense(BINS, name="head_vocal")(h)
    h2 = layers.Dense(BINS, name="head_accompaniment")(h)
    out = _layers()["DRNNMasking"](name="masking")([h1, h2, features])
    return keras.Model(features, out, name=name)


_LAYER_CACHE: dict = {}


def _layers() -> dict:
    """The masking layer, defined on first use (Keras loads lazily) and registered so saved
    models load without unsafe deserialisation."""
    if _LAYER_CACHE:
        return _LAYER_CACHE
    from .backend import keras_module

    keras = keras_module()
    from keras import ops

    @keras.saving.register_keras_serializable(package="mixin")
    class DRNNMasking(keras.layers.Layer):
        """y1 = |h1| / (|h1| + |h2| + eps) * x (and y2), x the centre frame of the input: the
        two estimates sum to the mixture's magnitude. No weights."""

        def call(self, inputs: list[Tensor]) -> Tensor:
            h1, h2, features = inputs
            x = features[..., CONTEXT * BINS : (CONTEXT + 1) * BINS]
            a1, a2 = ops.abs(h1), ops.abs(h2)
            denom = a1 + a2 + EPS
            return ops.concatenate([a1 / denom * x, a2 / denom * x], axis=-1)

        def compute_output_shape(self, input_shapes: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
            return (*input_shapes[0][:-1], 2 * BINS)

    @keras.saving.register_keras_serializable(package="mixin")
    class Compress(keras.layers.Layer):
        """Magnitudes raised to ``power`` (< 1 compresses loud bins against quiet ones). No weights."""

        def __init__(self, power: float = 1.0, **kwargs):
            super().__init__(**kwargs)
            self.power = float(power)

        def call(self, x: Tensor) -> Tensor:
            return ops.power(ops.maximum(x, 0.0), self.power)

        def get_config(self):
            return {**super().get_config(), "power": self.power}

    _LAYER_CACHE.update(DRNNMasking=DRNNMasking, Compress=Compress)
    return _LAYER_CACHE


def custom_objects() -> dict:
    """What ``keras.models.load_model`` needs for a saved DRNN."""
    return dict(_layers())


def discriminative_loss(gamma: float = GAMMA) -> Callable[[Tensor, Tensor], Tensor]:
    """Huang et al.'s discriminative MSE on [y1, y2] against targets [s1, s2] (mean over bins)."""
    from keras import ops

    def loss(y_true: Tensor, y_pred: Tensor) -> Tensor:
        s1, s2 = y_true[..., :BINS], y_true[..., BINS:]
        y1, y2 = y_pred[..., :BINS], y_pred[..., BINS:]
        sq = lambda a: ops.mean(ops.square(a), axis=-1)  # noqa: E731
        return sq(y1 - s1) - gamma * sq(y1 - s2) + sq(y2 - s2) - gamma * sq(y2 - s1)

    loss.__name__ = f"discriminative_mse_g{gamma:g}"
    return loss


def run_sequences(model: keras.Model | OnnxModel, features: np.ndarray) -> np.ndarray:
    """Model outputs for features (items, frames, 1539), fed as sequences of SEQUENCE frames."""
    items, frames, width = features.shape
    count = -(-frames // SEQUENCE)
    padded = np.zeros((items, count * SEQUENCE, width), dtype=np.float32)
    padded[:, :frames] = features
    out = np.asarray(model(padded.reshape(items * count, SEQUENCE, width), training=False))
    return out.reshape(items, count * SEQUENCE, -1)[:, :frames]
