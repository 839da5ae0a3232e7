"""The lean runtime: ONNX exports equal the Keras models on real chunks, the shipped exports are
current, separation with them imports no TensorFlow, and bad exports get one-line errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixin.constants import CDAE_SOURCES, CHUNK_SIZE
from mixin.errors import MixinError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "pretrained-models"
EXAMPLE = ROOT / "examples" / "example.flac"
RTOL = 1e-5
"""The issue's tolerance: max |onnx - keras| <= RTOL * max |keras| over the compared outputs."""

BLOCK_TENSORFLOW = textwrap.dedent(
    """
    import sys

    class NoTensorFlow:
        # TensorFlow and the rest of requirements-train.txt: separating needs none of them.
        blocked = ("tensorflow", "keras", "tf_keras", "h5py", "onnx", "matplotlib", "mido", "museval", "pedalboard")

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.blocked:
                raise ImportError(f"No module named {name!r} (blocked by the test)")
            return None

    sys.meta_path.insert(0, NoTensorFlow())
    """
)


def assert_close(got: np.ndarray, want: np.ndarray, what: str = "") -> float:
    """Equal within RTOL of the reference's largest magnitude; returns the relative error."""
    scale = float(np.abs(want).max())
    assert scale > 0, f"{what}: all-zero reference proves nothing"
    err = float(np.abs(got.astype(np.float64) - want).max()) / scale
    assert err <= RTOL, f"{what}: max |onnx - keras| is {err:.2e} of max |keras| (limit {RTOL:g})"
    return err


@pytest.fixture(scope="module")
def real_magnitudes() -> np.ndarray:
    """|NSGT| of three stereo chunks of the example song: (6, 96, 1948, 1)."""
    from mixin.transforms import nsgt

    audio, rate = sf.read(str(EXAMPLE), dtype="float32")
    assert rate == 44100 and audio.ndim == 2
    chunks = np.stack([audio[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE].T for i in range(1, 4)])
    mags = np.abs(nsgt().forward(chunks)).reshape(-1, 96, 1948)
    return mags[..., None].astype(np.float32)


def keras_output(path: Path, x: np.ndarray) -> np.ndarray:
    from mixin.cdae import load_cdae

    return np.asarray(load_cdae(path)(x, training=False))


@pytest.mark.parametrize("source", CDAE_SOURCES)
def test_shipped_cdae_export_is_current_and_equals_keras_on_real_chunks(source, real_magnitudes):
    from mixin.backend import OnnxModel

    h5 = SHIPPED / f"model_{source}.h5"
    onnx_model = OnnxModel(h5.with_suffix(".onnx"))
    assert onnx_model.exported_from(h5), (
        f"{h5.with_suffix('.onnx').name} is stale: ./train_util.py --export-onnx --model-dir pretrained-models"
    )
    want = keras_output(h5, real_magnitudes)
    assert want.max() > 0.01  # the models respond to real music
    assert_close(onnx_model(real_magnitudes), want, source)


@pytest.mark.parametrize("name", ["drnn", "drnn-songs"])
def test_shipped_drnn_export_is_current_and_equals_keras_on_real_audio(name):
    """Both shipped DRNNs: the second architecture and the CDAE separator's vocal helper."""
    from mixin import drnn
    from mixin.audio import resample
    from mixin.separators import DRNNSeparator

    directory = SHIPPED / name
    onnx_sep = DRNNSeparator.from_pretrained(directory, backend="onnx")
    keras_sep = DRNNSeparator.from_pretrained(directory, backend="tensorflow")
    assert onnx_sep.model.exported_from(directory / "model_drnn.keras")
    audio, rate = sf.read(str(EXAMPLE), dtype="float32")
    mono = resample(audio, rate, drnn.RATE).mean(axis=1)
    features = drnn.with_context(np.abs(drnn.stft(mono[None])))  # 250 frames: 3 sequences
    want = drnn.run_sequences(keras_sep.model, features)
    assert_close(drnn.run_sequences(onnx_sep.model, features), want, "drnn")


def test_export_of_other_weights_equals_keras(tmp_path, model_dir, real_magnitudes):
    """The exporter, not just today's files: seeded random CDAEs with a non-trivial last layer."""
    from mixin.backend import OnnxModel
    from mixin.cdae import load_cdae
    from mixin.training.export import export_file

    model = load_cdae(model_dir / "model_vocal.h5")
    w, b = model.layers[-2].get_weights()
    model.layers[-2].set_weights([w * 3.0, b + 0.01])  # a wrong reordering of the tail would show
    path = tmp_path / "model_vocal.h5"
    model.save(path)
    exported = OnnxModel(export_file(path))
    want = np.asarray(model(real_magnitudes, training=False))
    assert want.std() > 0
    assert_close(exported(real_magnitudes), want, "seeded CDAE")


def test_export_of_a_softplus_output_equals_keras(tmp_path, real_magnitudes):
    """CDAEs trained through the masks from scratch end in softplus: their export failed, so
    every such ``--train --objective masks`` run ended in a traceback."""
    from mixin.backend import OnnxModel, keras_module
    from mixin.cdae import build_cdae
    from mixin.training.export import export_file

    keras_module().utils.set_random_seed(7)
    path = tmp_path / "model_vocal.h5"
    build_cdae(output="softplus").save(path)
    model = keras_module().models.load_model(path, compile=False)
    want = np.asarray(model(real_magnitudes, training=False))
    assert want.min() > 0  # softplus, not ReLU
    assert_close(OnnxModel(export_file(path))(real_magnitudes), want, "softplus CDAE")


def test_separators_of_both_runtimes_give_the_same_stems():
    from mixin.backend import OnnxModel
    from mixin.separators import Separator

    lean = Separator.from_pretrained(SHIPPED, backend="onnx")
    full = Separator.from_pretrained(SHIPPED, backend="tensorflow")
    assert all(isinstance(m, OnnxModel) for m in lean.models.values())
    assert not any(isinstance(m, OnnxModel) for m in full.models.values())
    audio, _ = sf.read(str(EXAMPLE), dtype="float32")
    chunks = np.stack([audio[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE].T for i in range(2, 5)])
    assert_close(lean.separate_chunks(chunks), full.separate_chunks(chunks), "stems")


def test_worker_threads_change_nothing():
    from mixin.separators import Separator

    sep = Separator.from_pretrained(SHIPPED, backend="onnx")
    audio, _ = sf.read(str(EXAMPLE), dtype="float32")
    chunks = np.stack([audio[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE].T for i in range(3)])
    sep.workers = 1
    one = sep.separate_chunks(chunks)
    sep.workers = 2
    two = sep.separate_chunks(chunks)
    np.testing.assert_allclose(two, one, rtol=0, atol=1e-7)
    assert np.abs(one).max() > 0.01


def run_without_tensorflow(code: str, cwd: Path) -> subprocess.CompletedProcess:
    script = BLOCK_TENSORFLOW + textwrap.dedent(code)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MIXIN_THREADS="2")  # two workers even on one core
    return subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, env=env, check=False)


@pytest.mark.parametrize("model_dir", ["", "pretrained-models/drnn"])
def test_lean_path_separates_without_tensorflow(tmp_path, model_dir):
    """TensorFlow (and h5py, onnx, matplotlib, ...) unimportable, as on a machine with only
    requirements.txt: the CLI separates with the shipped models and never imports TensorFlow."""
    src = tmp_path / "clip.wav"
    audio, _ = sf.read(str(EXAMPLE), dtype="float32", frames=3 * 44100)
    sf.write(str(src), audio, 44100)
    extra = f", '--pretrained-model-dir', {str(ROOT / model_dir)!r}" if model_dir else ""
    result = run_without_tensorflow(
        f"""
        from mixin.cli.separate import main
        code = main(['--quiet', '--outdir', 'out', 'clip.wav'{extra}])
        loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))
        print('exit', code, 'loaded', loaded)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "exit 0 loaded []", result.stdout + result.stderr
    outputs = sorted(p.name for p in (tmp_path / "out").iterdir())
    expected = ["clip_accompaniment.wav", "clip_vocal.wav"] if model_dir else [f"clip_{s}.wav" for s in CDAE_SOURCES]
    assert outputs == expected
    stems = [sf.read(str(tmp_path / "out" / name), dtype="float32")[0] for name in outputs]
    np.testing.assert_allclose(sum(stems), audio, atol=1e-5)  # a real separation that sums to the mix
    # The synthetic example is as decisive for median filtering as mixes get (0.94-0.95) and the
    # CDAEs hear little of its synthetic vowel (-24 dB of the mix): vocal_yield gives that back.
    heard = stems if model_dir else [s for name, s in zip(outputs, stems, strict=True) if name != "clip_vocal.wav"]
    assert min(np.abs(s).max() for s in heard) > 1e-3


def test_onnx_runtime_keeps_no_device_id_and_sends_nothing(tmp_path):
    """Since 1.29 ONNX Runtime's wheels write a telemetry device ID and event cache under
    ~/.cache/Microsoft as they are imported and upload usage events; MiXiN opts out before import."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    code = (
        "import os, sys; from mixin.backend import OnnxModel;"
        f"OnnxModel({str(SHIPPED / 'model_vocal.onnx')!r}); print(os.environ.get('ORT_DISABLE_TELEMETRY'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env | {"HOME": str(home), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []
    assert result.stdout.split() == ["1"]
    assert "telemetry" not in result.stderr


def test_without_tensorflow_or_export_one_line_error(tmp_path, model_dir):
    models = tmp_path / "models"
    shutil.copytree(model_dir, models)
    src = tmp_path / "clip.wav"
    sf.write(str(src), np.zeros((1000, 1), np.float32), 44100)
    result = run_without_tensorflow(
        f"""
        from mixin.cli.separate import main
        print('exit', main(['--quiet', '--pretrained-model-dir', {str(models)!r}, 'clip.wav']))
        """,
        tmp_path,
    )
    assert result.stdout.strip() == "exit 1", result.stdout + result.stderr
    expected = (
        f"error: {models / 'model_harmonic.h5'}: no ONNX export beside it, and TensorFlow (to run it as it is) is "
        f"not installed: export it with ./train_util.py --export-onnx --model-dir {models} where TensorFlow is"
    )
    assert result.stderr.strip().splitlines() == [expected]


@pytest.fixture
def exported_dir(tmp_path, model_dir) -> Path:
    """A copy of the seeded test models with their ONNX exports."""
    from mixin.training.export import export_model_dir

    directory = tmp_path / "exported"
    shutil.copytree(model_dir, directory)
    written = export_model_dir(directory)
    assert sorted(p.name for p in written) == [f"model_{s}.onnx" for s in CDAE_SOURCES]
    return directory


def test_auto_uses_current_exports_and_falls_back_on_stale_ones(exported_dir, model_dir):
    from mixin.backend import OnnxModel
    from mixin.separators import Separator

    sep = Separator.from_pretrained(exported_dir)
    assert all(isinstance(m, OnnxModel) for m in sep.models.values()) and sep.workers >= 1
    shutil.copy(model_dir / "model_harmonic.h5", exported_dir / "model_vocal.h5")  # new weights, old export
    with pytest.warns(
        UserWarning, match=r"model_vocal.onnx: exported from another model_vocal.h5 .*using model_vocal.h5"
    ):
        sep = Separator.from_pretrained(exported_dir)
    assert isinstance(sep.models["harmonic"], OnnxModel) and not isinstance(sep.models["vocal"], OnnxModel)
    with pytest.raises(
        MixinError,
        match=r"model_vocal.onnx: exported from another model_vocal.h5 \(re-export with "
        r"./train_util.py --export-onnx --model-dir ",
    ):
        Separator.from_pretrained(exported_dir, backend="onnx")


def test_onnx_only_directory_and_forced_backends(exported_dir, tmp_path):
    from mixin.backend import OnnxModel
    from mixin.separators import Separator

    (exported_dir / "model_percussive.h5").unlink()  # a lean-only copy of a model is enough
    sep = Separator.from_pretrained(exported_dir, backend="onnx")
    assert isinstance(sep.models["percussive"], OnnxModel)
    with pytest.raises(MixinError, match="model_percussive.h5: model file not found"):
        Separator.from_pretrained(exported_dir, backend="tensorflow")
    (exported_dir / "model_vocal.onnx").unlink()
    with pytest.raises(
        MixinError, match=r"model_vocal.onnx: no ONNX export \(make it with ./train_util.py --export-onnx"
    ):
        Separator.from_pretrained(exported_dir, backend="onnx")
    with pytest.raises(MixinError, match="unknown backend 'gpu'"):
        Separator.from_pretrained(exported_dir, backend="gpu")


@pytest.mark.parametrize("content", [b"not an onnx file", "truncated"])
def test_corrupt_export_is_a_one_line_error_naming_it(exported_dir, content):
    from mixin.separators import Separator

    path = exported_dir / "model_vocal.onnx"
    path.write_bytes(path.read_bytes()[:5000] if content == "truncated" else content)
    with pytest.raises(MixinError) as info:
        Separator.from_pretrained(exported_dir)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot load ONNX model (") and "\n" not in message


def test_export_of_wrong_shape_or_architecture_is_refused(exported_dir):
    from onnx import TensorProto, helper

    from mixin.separators import Separator

    path = exported_dir / "model_vocal.onnx"
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["output"])],
        "small",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 48, 100, 1])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 48, 100, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    with pytest.raises(
        MixinError, match=r"model_vocal.onnx: model input shape \(None, 48, 100, 1\), expected \(None, 96, 1948, 1\)"
    ):
        Separator.from_pretrained(exported_dir)
    shutil.copy(SHIPPED / "drnn" / "model_drnn.onnx", path)
    with pytest.raises(MixinError, match="model_vocal.onnx: holds a drnn model, expected cdae"):
        Separator.from_pretrained(exported_dir)


def test_exporter_refuses_what_it_cannot_translate():
    from mixin.backend import keras_module
    from mixin.training.export import cdae_to_onnx

    keras = keras_module()
    dense = keras.Sequential([keras.Input(shape=(96, 1948, 1)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"layer dense.* \(Dense\) is not exported"):
        cdae_to_onnx(dense)
    layers = keras.layers
    strided = keras.Sequential(
        [
            keras.Input(shape=(96, 1948, 1)),
            layers.Conv2D(4, 3, strides=2),
            layers.UpSampling2D(2),
            layers.Conv2D(1, 1),
            layers.Cropping2D(((0, 0), (0, 0))),
        ]
    )
    with pytest.raises(ValueError, match="only stride 1"):
        cdae_to_onnx(strided)
    no_tail = keras.Sequential([keras.Input(shape=(96, 1948, 1)), layers.Conv2D(1, 3, padding="same")])
    with pytest.raises(ValueError, match="must end in nearest upsampling, a 1x1 convolution and a crop"):
        cdae_to_onnx(no_tail)


def test_train_util_export_onnx_writes_current_exports(tmp_path, model_dir):
    models = tmp_path / "models"
    shutil.copytree(model_dir, models)
    out = subprocess.run(
        [sys.executable, str(ROOT / "train_util.py"), "--export-onnx", "--model-dir", str(models)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"exported model_harmonic.onnx, model_percussive.onnx, model_vocal.onnx -> {models}/"
    from mixin.backend import OnnxModel

    for s in CDAE_SOURCES:
        assert OnnxModel(models / f"model_{s}.onnx").exported_from(models / f"model_{s}.h5")


def test_thread_setting(monkeypatch):
    from mixin.backend import THREADS_ENV, cpu_threads

    monkeypatch.setenv(THREADS_ENV, "3")
    assert cpu_threads() == 3
    for bad in ("0", "many"):
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(MixinError, match=THREADS_ENV):
            cpu_threads()
    monkeypatch.delenv(THREADS_ENV)
    assert cpu_threads() >= 1


def test_split_chunks_keeps_order_and_passes_errors_on():
    from mixin.backend import split_chunks

    chunks = np.arange(5 * 2 * 8, dtype=np.float32).reshape(5, 2, 8)
    seen = []

    def fn(part):
        seen.append(part.shape)
        return np.stack([part, 2 * part])

    out = split_chunks(fn, chunks, 3)
    np.testing.assert_array_equal(out, np.stack([chunks, 2 * chunks]))
    assert seen == [(1, 1, 8)] * 10  # one (chunk, channel) item at a time

    def broken(part):
        if part[0, 0, 0] == 40:
            raise RuntimeError("item 5 failed")
        return np.stack([part, part])

    with pytest.raises(RuntimeError, match="item 5 failed"):
        split_chunks(broken, chunks, 2)


def test_keras_backend_other_than_tensorflow_is_honoured(monkeypatch):
    """``$KERAS_BACKEND`` names the backend that must be importable (e.g. jax to train the DRNN
    where there is no TensorFlow)."""
    from mixin.backend import tensorflow_available

    monkeypatch.setenv("KERAS_BACKEND", "no_such_backend_package")
    assert not tensorflow_available()
    monkeypatch.setenv("KERAS_BACKEND", "numpy")  # importable: Keras and numpy are all it needs
    assert tensorflow_available()
    monkeypatch.delenv("KERAS_BACKEND")
    assert tensorflow_available()  # TensorFlow is installed where the tests run


def test_tensorflows_python_warnings_only_when_its_log_is_asked_for():
    """Training printed "triggered tf.function retracing" warnings for every model it scored."""
    code = "from mixin.backend import keras_module; keras_module(); import tensorflow as tf; "
    code += "print(tf.get_logger().level)"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    root = Path(__file__).resolve().parents[1]
    levels = [
        subprocess.run(
            [sys.executable, "-c", code], env=env | extra, cwd=root, capture_output=True, text=True, timeout=120
        ).stdout.split()[-1]
        for extra in ({}, {"TF_CPP_MIN_LOG_LEVEL": "0"})  # the second: what --verbose sets
    ]
    assert levels[0] == "40" and int(levels[1]) < 40  # logging.ERROR by default, TensorFlow's own with --verbose
