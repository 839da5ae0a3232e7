"""The one backend loader: the models of a model directory run by ONNX Runtime when an export
is present, by Keras on TensorFlow otherwise.

Separation needs no TensorFlow when each model file has its ``.onnx`` export beside it
(``mixin.training.export``, ``./train_util.py --export-onnx``). The backend is picked per call:

``"auto"`` (default)
    the ``.onnx`` file when it is present and was exported from the Keras file beside it (its
    recorded SHA-256 matches); otherwise the Keras file, with a warning if an export is stale.
``"onnx"``
    the ``.onnx`` file only; a missing or stale export is an error.
``"tensorflow"``
    the Keras file only (TensorFlow; uses a GPU when TensorFlow sees one).

Nothing heavy is imported at module level: ``onnxruntime`` loads with the first ONNX model,
TensorFlow only on the Keras path.

Every module that builds, loads or runs a Keras model gets Keras from :func:`keras_module`, so no
light module imports TensorFlow at import time (``--help`` stays instant) and TensorFlow's
start-up chatter is silenced in one place.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .errors import MixinError

BACKENDS = ("auto", "onnx", "tensorflow")
"""What ``--backend`` accepts."""

THREADS_ENV = "MIXIN_THREADS"
"""Environment variable: threads for the model runtime and the transforms (default: all cores)."""

Predict = Callable[[np.ndarray], np.ndarray]
Tensor = Any
"""A tensor of Keras's backend (TensorFlow or JAX) or a NumPy array: what Keras layers and ``keras.ops``
take and give in the training and Keras-inference glue."""


SOURCE_HASH_KEY = "mixin.source_sha256"
"""ONNX metadata key: SHA-256 of the Keras file the export was made from."""
ARCH_KEY = "mixin.arch"
"""ONNX metadata key: the architecture ("cdae", "drnn")."""


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def onnx_path_for(model_path: str | Path) -> Path:
    """Where the export of a Keras model file lives: beside it, suffix ``.onnx``."""
    return Path(model_path).with_suffix(".onnx")


@contextmanager
def _native_stderr_silenced(silence: bool) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ start-up log ignores
    TF_CPP_MIN_LOG_LEVEL when it is set from inside the process."""
    if not silence:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def keras_module() -> ModuleType:
    """Import Keras on demand, without TensorFlow's start-up chatter unless TF_CPP_MIN_LOG_LEVEL
    is set to ask for it. TensorFlow is Keras's backend unless ``$KERAS_BACKEND`` names another
    (e.g. ``jax`` to train the DRNN, or the CDAEs through the masks, on a machine with JAX and no
    TensorFlow; the CDAEs' MAE trainer needs TensorFlow)."""
    backend = os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules:
        return sys.modules["keras"]
    quiet = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3") == "3"
    with _native_stderr_silenced(quiet):
        import keras

        if backend == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # device discovery logs too (e.g. "failed call to cuInit")
            if quiet:  # and its Python log, e.g. "triggered tf.function retracing" as each model is scored
                tf.get_logger().setLevel("ERROR")
    return keras


TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"
"""ONNX Runtime's opt-out, read once as it is imported (1.29 and later on Linux and macOS)."""


def onnxruntime_module() -> ModuleType:
    """Import ONNX Runtime on demand with its telemetry off: since 1.29 its wheels keep a device
    ID and an event cache under ``~/.cache/Microsoft`` and upload usage events unless
    ``$ORT_DISABLE_TELEMETRY`` is 1 at import, and MiXiN makes no network connection at run time
    (nor did an unwritable HOME then print a warning on every run). A value already set is kept."""
    os.environ.setdefault(TELEMETRY_ENV, "1")
    import onnxruntime

    return onnxruntime


def cpu_threads() -> int:
    """Threads to use: ``$MIXIN_THREADS`` if set, else the cores this process may run on."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            threads = int(value)
        except ValueError:
            raise MixinError(None, f"{THREADS_ENV} must be a whole number, not {value!r}") from None
        if threads < 1:
            raise MixinError(None, f"{THREADS_ENV} must be at least 1, not {threads}")
        return threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise MixinError(None, f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    return backend


_SHARED_ARENA: list[bool] = []


def _shared_arena(ort: Any) -> bool:
    """Register one CPU arena for all sessions of the process (once): without it each
    session keeps its own arena at the peak of its concurrent runs, three times the memory."""
    if not _SHARED_ARENA:
        try:
            info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
            ort.create_and_register_allocator(info, None)
            _SHARED_ARENA.append(True)
        except Exception:  # registered already by someone else, or an older runtime: own arenas then
            _SHARED_ARENA.append(False)
    return _SHARED_ARENA[0]


class OnnxModel:
    """One exported model run by ONNX Runtime: ``model(x)`` maps a float32 batch to its output.

    ``threads`` is ONNX Runtime's intra-op thread count; threads do not spin while waiting
    for work (the transforms run between model calls and need the cores then). Batches go
    through ``max_batch`` items per run (None: whole): one CDAE image at a time keeps its
    activations (12 MiB) in the cache and is about 10 % faster than four at once.
    The session may be run from several threads at once.
    """

    def __init__(self, path: str | Path, threads: int = 1, max_batch: int | None = None) -> None:
        self.path = Path(path)
        self.threads = int(threads)
        self.max_batch = max_batch
        try:
            ort = onnxruntime_module()
        except ImportError:
            raise MixinError(self.path, "needs the onnxruntime package (pip install onnxruntime)") from None
        if not self.path.exists():
            raise MixinError(self.path, "model file not found")
        options = ort.SessionOptions()
        if _shared_arena(ort):
            options.add_session_config_entry("session.use_env_allocators", "1")
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # All optimisations, the blocked NCHWc layout included: the exported CDAE's channel
        # counts are multiples of 16 for it (mixin.training.export.CHANNEL_BLOCK).
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise MixinError(self.path, f"cannot load ONNX model ({_first_line(exc)})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise MixinError(self.path, f"expected one input and one output, got {len(inputs)} and {len(outputs)}")
        self.input_name, self.output_name = inputs[0].name, outputs[0].name
        self.input_shape = _shape(inputs[0].shape)
        self.output_shape = _shape(outputs[0].shape)
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """The model's output for ``x`` (``training`` is accepted, and ignored, as Keras' is)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        step = self.max_batch or len(x)
        if len(x) <= step:
            return self.session.run([self.output_name], {self.input_name: x})[0]
        parts = [
            self.session.run([self.output_name], {self.input_name: x[i : i + step]})[0] for i in range(0, len(x), step)
        ]
        return np.concatenate(parts)

    @property
    def arch(self) -> str | None:
        return self.metadata.get(ARCH_KEY)

    def exported_from(self, model_path: str | Path) -> bool:
        """Whether this export was made from the Keras file ``model_path`` as it is now."""
        return self.metadata.get(SOURCE_HASH_KEY) == file_sha256(model_path)


def _shape(dims: Sequence[Any]) -> tuple:
    """ONNX Runtime's shape, symbolic dimensions as None (as Keras writes them)."""
    return tuple(d if isinstance(d, int) else None for d in dims)


def _first_line(exc: BaseException) -> str:
    """The first line of an error's message, without ONNX Runtime's "[ONNXRuntimeError] : 7 :
    INVALID_PROTOBUF : Load model from x.onnx failed:" preamble (the caller names the file)."""
    import re

    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    return re.sub(r"^Load model from .* failed: ?", "", text) or type(exc).__name__


def _export_hint(model_path: Path) -> str:
    return f"./train_util.py --export-onnx --model-dir {model_path.parent}"


def load_onnx(
    model_path: str | Path,
    *,
    arch: str,
    input_shape: tuple,
    output_shape: tuple,
    backend: str = "auto",
    threads: int | None = None,
    max_batch: int | None = None,
) -> OnnxModel | None:
    """The ONNX export of Keras file ``model_path`` if ``backend`` allows it and it is usable.

    Returns None where the Keras file is to be used instead ("auto" with no export, or a stale
    one: that warns). Raises :class:`MixinError` for an unreadable export, one of another
    shape or architecture, and for "onnx" without a current export.
    """
    model_path = Path(model_path)
    path = onnx_path_for(model_path)
    if check_backend(backend) == "tensorflow":
        return None
    if not path.exists():
        if backend == "onnx":
            raise MixinError(path, f"no ONNX export (make it with {_export_hint(model_path)})")
        return None
    model = OnnxModel(path, threads=cpu_threads() if threads is None else threads, max_batch=max_batch)
    if model.arch not in (None, arch):
        raise MixinError(path, f"holds a {model.arch} model, expected {arch}")
    for what, got, expected in (
        ("input", model.input_shape, input_shape),
        ("output", model.output_shape, output_shape),
    ):
        if got != tuple(expected):
            raise MixinError(path, f"model {what} shape {got}, expected {tuple(expected)}")
    if model_path.exists() and not model.exported_from(model_path):
        message = f"exported from another {model_path.name} (re-export with {_export_hint(model_path)})"
        if backend == "onnx" or not tensorflow_available():
            raise MixinError(path, message)
        warnings.warn(f"{path}: {message}; using {model_path.name} with TensorFlow", stacklevel=2)
        return None
    return model


def load_cdae_model(path: str | Path, backend: str = "auto", threads: int | None = None) -> Any:
    """A CDAE for ``Separator``: its ONNX export when usable (see :func:`load_onnx`), else the
    Keras model of ``path``. Errors are one-line :class:`MixinError` naming the file."""
    from .constants import N_BANDS, N_FRAMES

    path = Path(path)
    shape = (None, N_BANDS, N_FRAMES, 1)
    model = load_onnx(
        path, arch="cdae", input_shape=shape, output_shape=shape, backend=backend, threads=threads, max_batch=1
    )
    if model is not None:
        return model
    if not path.exists():
        raise MixinError(path, "model file not found")
    require_tensorflow(path, backend)
    from .cdae import load_cdae

    return load_model_file(path, load_cdae)


def load_model_file(path: Path, load: Callable[[Path], Any]) -> Any:
    """``load(path)``, with a one-line :class:`MixinError` naming the file if it is missing or
    cannot be loaded (a ``ValueError`` from ``load`` is taken as the cause itself)."""
    if not path.exists():
        raise MixinError(path, "model file not found")
    try:
        return load(path)
    except MixinError:
        raise
    except ValueError as exc:
        raise MixinError(path, str(exc).removeprefix(f"{path}: ")) from None
    except Exception as exc:
        raise MixinError(path, f"cannot load model ({_first_line(exc)})") from None


def tensorflow_available() -> bool:
    """Whether Keras and its backend (TensorFlow unless ``$KERAS_BACKEND`` names another) can be
    imported (without importing them)."""
    import importlib.util

    for name in (os.environ.get("KERAS_BACKEND", "tensorflow"), "keras"):
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def require_tensorflow(path: Path, backend: str = "auto") -> None:
    """A one-line error naming ``path`` instead of an ImportError deep in Keras when the
    Keras model file is all there is and TensorFlow is not installed."""
    if tensorflow_available():
        return
    if backend == "tensorflow":
        raise MixinError(path, "--backend tensorflow needs TensorFlow, which is not installed")
    raise MixinError(
        path,
        f"no ONNX export beside it, and TensorFlow (to run it as it is) is not installed: export it with "
        f"{_export_hint(path)} where TensorFlow is",
    )


def predictor(model: Any) -> Predict:
    """A function computing ``model(x)`` for inference: the ONNX model itself, or a traced
    Keras graph (``mixin.cdae.inference_graph``)."""
    if isinstance(model, OnnxModel):
        return model
    from .cdae import inference_graph

    graph = inference_graph(model)
    return lambda x: np.asarray(graph(x))


def model_exists(path: str | Path) -> bool:
    """Whether a model file or its ONNX export is there."""
    return Path(path).exists() or onnx_path_for(path).exists()


def lean_workers(models: Any) -> int:
    """Threads for a separator whose models are all ONNX: one per core, each taking one
    (chunk, channel) item of a batch at a time through every stage, with single-threaded model
    sessions (:func:`split_chunks`); 1 for Keras models (TensorFlow spreads each call over the
    cores itself)."""
    models = list(models)
    return cpu_threads() if models and all(isinstance(m, OnnxModel) for m in models) else 1


_POOLS: dict[int, Any] = {}


def split_chunks(fn: Callable[[np.ndarray], np.ndarray], chunks: np.ndarray, workers: int) -> np.ndarray:
    """``fn`` (chunks (n, channels, length) -> (sources, n, channels, length)) over a batch, one
    (chunk, channel) item at a time, in ``workers`` threads that each take the next item when
    done: the items are independent, and NumPy, the FFTs and ONNX Runtime release the GIL, so
    they run side by side; taking items one by one keeps the cores evenly busy (a thread
    delayed by other work on the machine does not hold the others up) and memory low."""
    n, channels, length = chunks.shape
    items = chunks.reshape(n * channels, 1, length)
    if len(items) < 2 or workers < 2:
        return fn(chunks)
    pool = _POOLS.get(workers)
    if pool is None:
        from concurrent.futures import ThreadPoolExecutor

        pool = _POOLS[workers] = ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="mixin")
    results: list[np.ndarray | None] = [None] * len(items)
    order = iter(range(len(items)))
    lock = threading.Lock()
    failed: list[BaseException] = []

    def work() -> None:
        while not failed:
            with lock:
                i = next(order, None)
            if i is None:
                return
            try:
                results[i] = fn(items[i : i + 1])
            except BaseException as exc:  # handed to the caller below
                failed.append(exc)

    futures = [pool.submit(work) for _ in range(min(workers, len(items)) - 1)]
    work()  # the calling thread takes items too
    for future in futures:
        future.result()
    if failed:
        raise failed[0]
    out = np.concatenate(results, axis=1)
    return out.reshape(out.shape[0], n, channels, length)
