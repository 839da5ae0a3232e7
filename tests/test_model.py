"""The CDAE: MiXiN's exact layer stack, parameter count and shapes; loading checks."""

import numpy as np
import pytest

from mixin.cdae import CDAE_PARAMETERS, build_cdae, load_cdae

EXPECTED_SHAPES = [
    ("Conv2D", (None, 96, 1948, 12), 120),
    ("MaxPooling2D", (None, 32, 390, 12), 0),
    ("Conv2D", (None, 32, 390, 20), 2180),
    ("MaxPooling2D", (None, 32, 78, 20), 0),
    ("Conv2D", (None, 32, 78, 30), 5430),
    ("Conv2D", (None, 32, 78, 40), 10840),
    ("Conv2D", (None, 32, 78, 30), 10830),
    ("Conv2D", (None, 32, 78, 20), 5420),
    ("UpSampling2D", (None, 32, 390, 20), 0),
    ("Conv2D", (None, 32, 390, 12), 2172),
    ("UpSampling2D", (None, 96, 1950, 12), 0),
    ("Conv2D", (None, 96, 1950, 1), 13),
    ("Cropping2D", (None, 96, 1948, 1), 0),
]


def test_layers_shapes_and_parameters():
    model = build_cdae()
    got = [(type(layer).__name__, tuple(layer.output.shape), layer.count_params()) for layer in model.layers]
    assert got == EXPECTED_SHAPES
    assert model.count_params() == CDAE_PARAMETERS == 37005


def test_output_is_nonnegative_magnitude_of_same_shape():
    model = build_cdae()
    x = np.random.default_rng(0).random((2, 96, 1948, 1)).astype(np.float32)
    y = np.asarray(model(x, training=False))
    assert y.shape == x.shape
    assert (y >= 0).all()


def test_saved_h5_loads_uncompiled_with_same_weights(tmp_path):
    model = build_cdae()
    path = tmp_path / "model_vocal.h5"
    model.save(path)
    loaded = load_cdae(path)
    assert loaded.count_params() == CDAE_PARAMETERS
    x = np.random.default_rng(1).random((1, 96, 1948, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6, atol=1e-7)


def test_wrong_shaped_model_is_refused(tmp_path):
    from mixin.backend import keras_module

    keras = keras_module()
    small = keras.Sequential([keras.Input(shape=(48, 100, 1)), keras.layers.Conv2D(1, 3, padding="same")])
    path = tmp_path / "model_harmonic.h5"
    small.save(path)
    with pytest.raises(ValueError, match=r"input shape \(None, 48, 100, 1\), expected \(None, 96, 1948, 1\)"):
        load_cdae(path)


def test_inference_graph_equals_model_exactly():
    from mixin.cdae import inference_graph

    model = build_cdae()
    # Give the last layers non-trivial weights so a wrong reordering would show.
    w, b = model.layers[-2].get_weights()
    model.layers[-2].set_weights([w * 3.0, b + 0.01])
    x = np.random.default_rng(2).random((3, 96, 1948, 1)).astype(np.float32)
    fast = np.asarray(inference_graph(model)(x))
    assert fast.max() > 0.01 and fast.std() > 0
    np.testing.assert_array_equal(fast, np.asarray(model(x, training=False)))


def test_inference_graph_falls_back_for_other_models():
    from mixin.backend import keras_module
    from mixin.cdae import inference_graph

    keras = keras_module()
    other = keras.Sequential([keras.Input(shape=(96, 1948, 1)), keras.layers.Conv2D(1, 3, padding="same")])
    x = np.random.default_rng(3).random((1, 96, 1948, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(inference_graph(other)(x)), np.asarray(other(x)), rtol=1e-6)
