"""MiXiN: harmonic, percussive and vocal source separation with a Bark-scale NSGT and CDAEs.

Light on import: NumPy-only modules load on demand, the model runtime only when models are
loaded (ONNX Runtime for the ``.onnx`` exports, TensorFlow for Keras files: ``mixin.backend``).
``from mixin import Separator`` is the entry point of the Python API::

    sep = Separator.from_pretrained()          # the shipped CDAEs
    stems = sep.separate(audio, sample_rate)   # {"harmonic": ..., "percussive": ..., "vocal": ...}
    sep = load_separator("pretrained-models/drnn")  # any model directory, by its config.json
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Separator", "load_separator", "BarkNSGT", "MixinError", "__version__"]


def __getattr__(name: str):
    if name == "Separator":
        from .separators import Separator

        return Separator
    if name == "load_separator":
        from .registry import load_separator

        return load_separator
    if name == "BarkNSGT":
        from .transforms import BarkNSGT

        return BarkNSGT
    if name == "MixinError":
        from .errors import MixinError

        return MixinError
    raise AttributeError(f"module 'mixin' has no attribute {name!r}")
