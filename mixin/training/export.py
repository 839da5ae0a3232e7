"""Export trained Keras models to ONNX, so separation runs without TensorFlow (``mixin.backend``).

The graphs are written layer by layer with the ``onnx`` helper API from the Keras weights
(no converter package): MiXiN's CDAE is eight convolutions with pooling and upsampling, the
DRNN three dense layers, a ReLU recurrence and a masking layer. Each ``.onnx`` file lives
beside the model it was made from and records that file's SHA-256, so a stale export is seen.

Regenerate the exports of a model directory (needs TensorFlow, Keras and ``onnx``)::

    ./train_util.py --export-onnx --model-dir pretrained-models
    ./train_util.py --export-onnx --model-dir pretrained-models/drnn

Training, calibration and this step need TensorFlow; running the result does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import ARCH_KEY, SOURCE_HASH_KEY, file_sha256, onnx_path_for
from ..errors import MixinError

if TYPE_CHECKING:  # pragma: no cover
    import keras
    import onnx

OPSET = 17
"""ONNX opset of the exports (ONNX Runtime 1.13 and later run it)."""
IR_VERSION = 8
"""ONNX IR version of the exports: the oldest that carries opset 17, for older runtimes."""
INPUT_NAME = "input"
OUTPUT_NAME = "output"


class _Graph:
    """Collects nodes and initializers; hands out unique tensor names."""

    def __init__(self) -> None:
        from onnx import helper

        self.helper = helper
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], stem: str | None = None, **attrs: Any) -> str:
        out = self.name(stem or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def model(self, inputs: list, outputs: list, name: str, metadata: dict[str, str]) -> onnx.ModelProto:
        import onnx

        graph = self.helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = self.helper.make_model(
            graph,
            opset_imports=[self.helper.make_opsetid("", OPSET)],
            producer_name="mixin",
        )
        model.ir_version = IR_VERSION
        for key, value in metadata.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(model)
        return model


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TensorFlow's "same" padding: (output size, pad before, pad after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


ACTIVATIONS = {"relu": "Relu", "softplus": "Softplus", "linear": None}
"""Keras activations the exporter translates, and their ONNX ops (softplus: the output of CDAEs
trained through the masks from scratch)."""


def _activation(g: _Graph, x: str, layer: Any) -> str:
    name = layer.activation.__name__
    if name not in ACTIVATIONS:
        raise ValueError(f"layer {layer.name}: activation {name!r} is not exported ({', '.join(ACTIVATIONS)} are)")
    op = ACTIVATIONS[name]
    return g.op(op, [x]) if op else x


CHANNEL_BLOCK = 16
"""Hidden convolutions are widened with zero filters to a multiple of this many channels: ONNX
Runtime's blocked (NCHWc) kernels, much faster on x86, need it (16 floats: AVX-512; AVX2's 8
divides it). The added channels are exactly zero, so the output does not change."""


def _padded(channels: int, block: int) -> int:
    return -(-channels // block) * block


def _check_conv(layer: Any) -> None:
    cfg = layer.get_config()
    if tuple(cfg["strides"]) != (1, 1) or tuple(cfg["dilation_rate"]) != (1, 1) or cfg.get("groups", 1) != 1:
        raise ValueError(f"layer {layer.name}: only stride 1, dilation 1, ungrouped convolutions are exported")
    if cfg["data_format"] != "channels_last":
        raise ValueError(f"layer {layer.name}: only channels_last is exported")
    if cfg["padding"] not in ("same", "valid"):
        raise ValueError(f"layer {layer.name}: padding {cfg['padding']!r} is not exported")
    if layer.activation.__name__ not in ACTIVATIONS:
        raise ValueError(f"layer {layer.name}: activation {layer.activation.__name__!r} is not exported")


def _conv_weights(layer: Any, in_channels: int, out_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Keras (kh, kw, in, out) kernel and bias as ONNX (out, in, kh, kw), zero-padded to the
    given channel counts."""
    weights = layer.get_weights()
    kernel = weights[0].astype(np.float32).transpose(3, 2, 0, 1)
    bias = weights[1].astype(np.float32) if layer.use_bias else np.zeros(kernel.shape[0], np.float32)
    out, cin = kernel.shape[:2]
    w = np.zeros((out_channels, in_channels, *kernel.shape[2:]), np.float32)
    w[:out, :cin] = kernel
    b = np.zeros(out_channels, np.float32)
    b[:out] = bias
    return w, b


def _conv2d(g: _Graph, x: str, layer: Any, hw: tuple[int, int], cin: int, cout: int) -> tuple[str, tuple[int, int]]:
    _check_conv(layer)
    w, b = _conv_weights(layer, cin, cout)
    kh, kw = w.shape[2:]
    if layer.padding == "same":
        (h, ph0, ph1), (wd, pw0, pw1) = _same_pads(hw[0], kh, 1), _same_pads(hw[1], kw, 1)
    else:
        (h, ph0, ph1), (wd, pw0, pw1) = (hw[0] - kh + 1, 0, 0), (hw[1] - kw + 1, 0, 0)
    y = g.op(
        "Conv",
        [x, g.const(f"{layer.name}_w", w), g.const(f"{layer.name}_b", b)],
        kernel_shape=[kh, kw],
        pads=[ph0, pw0, ph1, pw1],
    )
    return _activation(g, y, layer), (h, wd)


def _maxpool2d(g: _Graph, x: str, layer: Any, hw: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    cfg = layer.get_config()
    kh, kw = cfg["pool_size"]
    sh, sw = cfg["strides"] or (kh, kw)
    if cfg["padding"] == "same":
        (h, ph0, ph1), (w, pw0, pw1) = _same_pads(hw[0], kh, sh), _same_pads(hw[1], kw, sw)
    else:
        (h, ph0, ph1), (w, pw0, pw1) = ((hw[0] - kh) // sh + 1, 0, 0), ((hw[1] - kw) // sw + 1, 0, 0)
    y = g.op("MaxPool", [x], kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph0, pw0, ph1, pw1])
    return y, (h, w)


def _upsample2d(g: _Graph, x: str, layer: Any, hw: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    if layer.interpolation != "nearest":
        raise ValueError(f"layer {layer.name}: only nearest-neighbour upsampling is exported")
    fh, fw = layer.size
    scales = g.const("scales", np.array([1, 1, fh, fw], dtype=np.float32))
    y = g.op(
        "Resize", [x, "", scales], mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"
    )
    return y, (hw[0] * fh, hw[1] * fw)


def _crop2d(g: _Graph, x: str, layer: Any, hw: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    (t, b), (left, r) = layer.cropping
    h, w = hw[0] - t - b, hw[1] - left - r
    starts = g.const("starts", np.array([t, left], dtype=np.int64))
    ends = g.const("ends", np.array([t + h, left + w], dtype=np.int64))
    axes = g.const("axes", np.array([2, 3], dtype=np.int64))
    return g.op("Slice", [x, starts, ends, axes]), (h, w)


def _is(layer: Any, kind: str) -> bool:
    return type(layer).__name__ == kind


def _upsampled_conv_phases(layers: list, i: int) -> bool:
    """Whether layers i, i+1 are a nearest (1, f) upsampling and a 3x3 "same" convolution."""
    if i + 1 >= len(layers) or not (_is(layers[i], "UpSampling2D") and _is(layers[i + 1], "Conv2D")):
        return False
    up, conv = layers[i], layers[i + 1]
    return (
        up.interpolation == "nearest"
        and up.size[0] == 1
        and up.size[1] >= 2
        and tuple(conv.kernel_size) == (3, 3)
        and conv.padding == "same"
    )


def _conv_on_upsampled(
    g: _Graph, x: str, up: Any, conv: Any, hw: tuple[int, int], cin: int, cout: int
) -> tuple[str, int]:
    """A 3x3 "same" convolution of an input upsampled (1, f) by repetition, computed at the
    input's resolution: output column f*j + r sees input columns j-1, j, j+1 with the
    kernel's columns summed into them, so it takes one of three "phases" (r = 0, the inner
    r, r = f-1). Returns (N, 3*cout, H, W) phase-major and ``cout``; same values as
    upsampling first, 1/f of the pixels, up to float rounding of the summed weights."""
    _check_conv(conv)
    w, b = _conv_weights(conv, cin, cout)
    a, m, c = w[..., 0], w[..., 1], w[..., 2]
    zero = np.zeros_like(a)
    phases = [
        np.stack([a, m + c, zero], axis=-1),  # r = 0: column j-1 and j
        np.stack([zero, a + m + c, zero], axis=-1),  # 0 < r < f-1: column j only
        np.stack([zero, a + m, c], axis=-1),  # r = f-1: column j and j+1
    ]
    weights = np.concatenate(phases, axis=0)
    bias = np.tile(b, 3)
    y = g.op(
        "Conv",
        [x, g.const(f"{conv.name}_phases_w", weights), g.const(f"{conv.name}_phases_b", bias)],
        kernel_shape=[3, 3],
        pads=[1, 1, 1, 1],
    )
    return _activation(g, y, conv), cout


def cdae_to_onnx(
    model: keras.Model, metadata: dict[str, str] | None = None, channel_block: int = CHANNEL_BLOCK
) -> onnx.ModelProto:
    """An ONNX graph computing ``model(x)`` for x (batch, bands, frames, 1) float32, for inference.

    Handles sequential stacks of Conv2D (stride 1), MaxPooling2D, nearest UpSampling2D and a
    final Cropping2D, channels last, one input channel: MiXiN's CDAE. Anything else is a
    ValueError. Rewrites that keep the output (up to float rounding, tested):

    * hidden convolutions widened with zero filters to multiples of ``channel_block``;
    * a nearest (1, f) upsampling followed by a 3x3 convolution runs as three phase
      convolutions at the lower resolution (:func:`_conv_on_upsampled`);
    * the last 1x1 convolution runs before the last upsampling (both are per pixel), and that
      upsampling, the crop and the move back to channels-last are one repeat-and-slice of a
      single channel.
    """
    from onnx import TensorProto, helper

    layers = list(model.layers)
    for layer in layers:
        if type(layer).__name__ not in ("Conv2D", "MaxPooling2D", "UpSampling2D", "Cropping2D"):
            raise ValueError(f"layer {layer.name} ({type(layer).__name__}) is not exported")
    _, bands, frames, channels = model.input_shape
    if channels != 1 or model.output_shape[-1] != 1:
        raise ValueError(f"one input and one output channel are exported, not {channels} and {model.output_shape[-1]}")
    tail = None
    if (
        len(layers) >= 3
        and _is(layers[-3], "UpSampling2D")
        and layers[-3].interpolation == "nearest"
        and _is(layers[-2], "Conv2D")
        and tuple(layers[-2].kernel_size) == (1, 1)
        and _is(layers[-1], "Cropping2D")
    ):
        tail, layers = layers[-3:], layers[:-3]
    block = max(int(channel_block), 1)

    g = _Graph()
    x = g.op("Reshape", [INPUT_NAME, g.const("nchw", np.array([0, 1, bands, frames], dtype=np.int64))])
    hw, cin = (bands, frames), 1
    phases = None  # (factor, channels) while the tensor holds the three phases of an upsampling
    i = 0
    while i < len(layers):
        layer = layers[i]
        if phases is not None:
            raise ValueError(f"layer {layer.name}: only the final 1x1 convolution may follow an upsampled convolution")
        if _upsampled_conv_phases(layers, i):
            up, conv = layers[i], layers[i + 1]
            x, cout = _conv_on_upsampled(g, x, up, conv, hw, cin, _padded(conv.filters, block))
            phases, cin = (up.size[1], cout), cout
            i += 2
            continue
        if _is(layer, "Conv2D"):
            cout = _padded(layer.filters, block)
            x, hw = _conv2d(g, x, layer, hw, cin, cout)
            cin = cout
        elif _is(layer, "MaxPooling2D"):
            x, hw = _maxpool2d(g, x, layer, hw)
        elif _is(layer, "UpSampling2D"):
            x, hw = _upsample2d(g, x, layer, hw)
        else:
            raise ValueError(f"layer {layer.name}: a crop is exported only as the last layer")
        i += 1

    if tail is None:
        raise ValueError("the model must end in nearest upsampling, a 1x1 convolution and a crop")
    up, pointwise, crop = tail
    _check_conv(pointwise)
    w, b = _conv_weights(pointwise, cin, 1)
    if phases is not None:  # the 1x1 convolution of each phase: block-diagonal weights
        w = np.kron(np.eye(3, dtype=np.float32), w[:, :, 0, 0])[:, :, None, None]
        b = np.tile(b, 3)
    y = g.op("Conv", [x, g.const("pointwise_w", w), g.const("pointwise_b", b)], kernel_shape=[1, 1])
    y = _activation(g, y, pointwise)  # (N, 1 or 3, H, W)
    h, wd = hw
    if phases is not None:  # interleave the phases: column f*j + r takes phase 0, 1 (inner) or 2
        factor = phases[0]
        order = g.const("phase_order", np.array([0] + [1] * (factor - 2) + [2], dtype=np.int64))
        y = g.op("Gather", [y, order], axis=1)  # (N, f, H, W)
        y = g.op("Transpose", [y], perm=[0, 2, 3, 1])  # (N, H, W, f)
        wd = wd * factor
    y = g.op("Reshape", [y, g.const("one_channel", np.array([0, 1, h, wd], dtype=np.int64))])
    y, (h, wd) = _upsample2d(g, y, up, (h, wd))
    y, (h, wd) = _crop2d(g, y, crop, (h, wd))
    g.nodes.append(
        helper.make_node(
            "Reshape", [y, g.const("nhwc", np.array([0, h, wd, 1], dtype=np.int64))], [OUTPUT_NAME], name="to_nhwc"
        )
    )
    if (h, wd) != tuple(model.output_shape[1:3]):
        raise ValueError(f"exported output {(h, wd)} differs from the model's {tuple(model.output_shape[1:3])}")
    inputs = [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", bands, frames, 1])]
    outputs = [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", h, wd, 1])]
    return g.model(inputs, outputs, model.name, {ARCH_KEY: "cdae", **(metadata or {})})


def drnn_to_onnx(model: keras.Model, metadata: dict[str, str] | None = None) -> onnx.ModelProto:
    """An ONNX graph of ``mixin.drnn.build_drnn``'s network: (batch, frames, 1539) -> (batch, frames, 1026)."""
    from onnx import TensorProto, helper

    from .. import drnn

    by_name = {layer.name: layer for layer in model.layers}
    needed = ("hidden1", "hidden2_recurrent", "hidden3", "head_vocal", "head_accompaniment", "masking")
    missing = [n for n in needed if n not in by_name]
    if missing:
        raise ValueError(f"not a MiXiN DRNN: no layer {', '.join(missing)}")
    g = _Graph()

    def dense(x: str, layer: Any) -> str:
        kernel, bias = (w.astype(np.float32) for w in layer.get_weights())
        y = g.op("Add", [g.op("MatMul", [x, g.const(f"{layer.name}_w", kernel)]), g.const(f"{layer.name}_b", bias)])
        return _activation(g, y, layer)

    rnn = by_name["hidden2_recurrent"]
    if rnn.activation.__name__ != "relu" or not rnn.return_sequences or rnn.go_backwards:
        raise ValueError("only a forward ReLU SimpleRNN returning sequences is exported")
    kernel, recurrent, bias = (w.astype(np.float32) for w in rnn.get_weights())
    units = recurrent.shape[0]

    features = INPUT_NAME
    if "compress" in by_name:  # magnitudes ** power into the hidden layers (the mask scales the raw ones)
        power = np.array(by_name["compress"].power, dtype=np.float32)
        features = g.op("Pow", [g.op("Relu", [INPUT_NAME]), g.const("power", power)])
    h = dense(features, by_name["hidden1"])
    seq = g.op("Transpose", [h], perm=[1, 0, 2])  # (frames, batch, units): ONNX RNN's layout
    rnn_inputs = [
        seq,
        g.const("rnn_w", kernel.T[None]),
        g.const("rnn_r", recurrent.T[None]),
        g.const("rnn_b", np.concatenate([bias, np.zeros_like(bias)])[None]),
    ]
    y = g.name("rnn_y")
    g.nodes.append(
        helper.make_node(
            "RNN", rnn_inputs, [y], name=y, hidden_size=int(units), activations=["Relu"], direction="forward"
        )
    )
    y = g.op("Squeeze", [y, g.const("axis1", np.array([1], dtype=np.int64))])  # (frames, 1, batch, units)
    h = g.op("Transpose", [y], perm=[1, 0, 2])
    h = dense(h, by_name["hidden3"])
    a1 = g.op("Abs", [dense(h, by_name["head_vocal"])])
    a2 = g.op("Abs", [dense(h, by_name["head_accompaniment"])])
    centre = g.op(
        "Slice",
        [
            INPUT_NAME,
            g.const("starts", np.array([drnn.CONTEXT * drnn.BINS], dtype=np.int64)),
            g.const("ends", np.array([(drnn.CONTEXT + 1) * drnn.BINS], dtype=np.int64)),
            g.const("axes", np.array([2], dtype=np.int64)),
        ],
    )
    denom = g.op("Add", [g.op("Add", [a1, a2]), g.const("eps", np.array(drnn.EPS, dtype=np.float32))])
    y1 = g.op("Mul", [g.op("Div", [a1, denom]), centre])
    y2 = g.op("Mul", [g.op("Div", [a2, denom]), centre])
    g.nodes.append(helper.make_node("Concat", [y1, y2], [OUTPUT_NAME], name="masking", axis=-1))
    width = (2 * drnn.CONTEXT + 1) * drnn.BINS
    inputs = [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", "frames", width])]
    outputs = [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", "frames", 2 * drnn.BINS])]
    return g.model(inputs, outputs, model.name, {ARCH_KEY: "drnn", **(metadata or {})})


def export_file(model_path: str | Path, arch: str = "cdae") -> Path:
    """Export one Keras model file to the ``.onnx`` beside it (written atomically); returns its path."""
    from ..audio import temporary_beside

    model_path = Path(model_path)
    if not model_path.exists():
        raise MixinError(model_path, "model file not found")
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise MixinError(model_path, "exporting needs the onnx package (pip install onnx)") from None
    metadata = {SOURCE_HASH_KEY: file_sha256(model_path)}
    if arch == "cdae":
        from ..cdae import load_cdae

        proto = cdae_to_onnx(load_cdae(model_path), metadata)
    elif arch == "drnn":
        from ..separators import load_keras_drnn

        proto = drnn_to_onnx(load_keras_drnn(model_path), metadata)
    else:
        raise MixinError(model_path, f"no ONNX export for architecture {arch!r}")
    target = onnx_path_for(model_path)
    tmp = temporary_beside(target, ".onnx")
    try:
        tmp.write_bytes(proto.SerializeToString())
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def export_model_dir(model_dir: str | Path, sources: list[str] | None = None) -> list[Path]:
    """Export every model of a directory (by its ``config.json``) to ONNX; returns the files written.

    ``sources`` limits a CDAE directory to some sources (those present are exported otherwise).
    """
    from ..registry import ModelConfig

    directory = Path(model_dir)
    config = ModelConfig.load(directory)
    if config.arch == "drnn":
        return [export_file(config.model_path(directory), "drnn")]
    wanted = config.sources if sources is None else sources
    paths = [config.model_path(directory, s) for s in wanted]
    if sources is None:
        paths = [p for p in paths if p.exists()]
    if not paths:
        raise MixinError(directory, "no model files to export")
    return [export_file(p, "cdae") for p in paths]
