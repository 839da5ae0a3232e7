"""The one backend loader: Keras on TensorFlow, imported on first use and quietly.

Every module that builds, loads or runs a model gets Keras from :func:`keras_module`, so no
light module imports TensorFlow at import time (``--help`` stays instant) and TensorFlow's
start-up chatter is silenced in one place.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator


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


def keras_module():
    """Import Keras (TensorFlow backend) on demand, without TensorFlow's start-up chatter
    unless TF_CPP_MIN_LOG_LEVEL is set to ask for it."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules:
        return sys.modules["keras"]
    quiet = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3") == "3"
    with _native_stderr_silenced(quiet):
        import keras
        import tensorflow as tf

        tf.config.list_physical_devices()  # device discovery logs too (e.g. "failed call to cuInit")
    return keras
