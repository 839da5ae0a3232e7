"""MiXiN's convolutional denoising autoencoder (CDAE): |NSGT| of the mix in, one source's out.

The model knows nothing of audio or files: it maps magnitude tensors of shape
(batch, bands, frames, 1) to tensors of the same shape. Keras is imported on first use, so
importing this module stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .backend import keras_module
from .constants import N_BANDS, N_FRAMES

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from .backend import Predict, Tensor

CDAE_PARAMETERS = 37005
"""Trainable parameters of one CDAE (a test checks the architecture against it)."""


def build_cdae(bands: int = N_BANDS, frames: int = N_FRAMES, name: str = "cdae", output: str = "relu") -> keras.Model:
    """The CDAE exactly as MiXiN's: 8 conv layers, (3,5)/(1,5) pooling, 37,005 parameters.

    ``output`` is the last layer's activation: MiXiN's ReLU, or ``"softplus"`` for models trained
    through soft masks, whose outputs must stay positive (a mask's denominator) and whose output
    unit must not die (a ReLU that is zero everywhere never learns again)."""
    keras = keras_module()
    layers = keras.layers

    def conv(filters: int, kernel: int = 3) -> keras.layers.Layer:
        return layers.Conv2D(filters, kernel, activation="relu", padding="same")

    return keras.Sequential(
        [
            keras.Input(shape=(bands, frames, 1)),
            conv(12),
            layers.MaxPooling2D((3, 5), padding="same"),
            conv(20),
            layers.MaxPooling2D((1, 5), padding="same"),
            conv(30),
            conv(40),
            conv(30),
            conv(20),
            layers.UpSampling2D((1, 5)),
            conv(12),
            layers.UpSampling2D((3, 5)),
            layers.Conv2D(1, 1, activation=output, padding="same"),
            layers.Cropping2D(((0, 0), (0, 2))),
        ],
        name=name,
    )


def load_cdae(path: str | Path) -> keras.Model:
    """Load a CDAE from a Keras HDF5 file without compiling; check its input/output shapes."""
    keras = keras_module()
    model = keras.models.load_model(str(path), compile=False)
    expected = (None, N_BANDS, N_FRAMES, 1)
    for what, shape in (("input", model.input_shape), ("output", model.output_shape)):
        if tuple(shape) != expected:
            raise ValueError(f"{path}: model {what} shape {tuple(shape)}, expected {expected}")
    return model


def inference_graph(model: keras.Model) -> Predict:
    """A traced function computing ``model(x)`` for inference, any batch size.

    For MiXiN's CDAE it runs the final 1x1 convolution (and its ReLU) before the last
    nearest-neighbour upsampling instead of after it: both are per-pixel, so the result is
    identical, and the convolution sees 15x fewer pixels (about a quarter less time). On another
    Keras backend than TensorFlow (training elsewhere, e.g. JAX): Keras's own compiled prediction.
    """
    keras = keras_module()
    if keras.backend.backend() != "tensorflow":
        return model.predict_on_batch
    import tensorflow as tf

    layers = model.layers
    spec = [tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)]
    swappable = (
        len(layers) >= 3
        and isinstance(layers[-3], keras.layers.UpSampling2D)
        and layers[-3].interpolation == "nearest"
        and isinstance(layers[-2], keras.layers.Conv2D)
        and tuple(layers[-2].kernel_size) == (1, 1)
        and tuple(layers[-2].strides) == (1, 1)
        and isinstance(layers[-1], keras.layers.Cropping2D)
    )
    if not swappable:
        return tf.function(lambda x: model(x, training=False), input_signature=spec)
    body, upsample, pointwise, crop = layers[:-3], layers[-3], layers[-2], layers[-1]

    def run(x: Tensor) -> Tensor:
        for layer in body:
            x = layer(x, training=False)
        return crop(upsample(pointwise(x)))

    return tf.function(run, input_signature=spec)
