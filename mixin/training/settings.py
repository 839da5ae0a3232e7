"""How each architecture is trained: the settings and their defaults, defined once.

The command line takes its defaults (and its ``--help``) from here. Light on purpose: nothing
here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..drnn import GAMMA, HIDDEN, SEQUENCE


@dataclass
class CommonSettings:
    """What both trainers take: epochs at most, batch size, early stopping's patience."""

    epochs: int
    batch_size: int
    patience: int  # stop after this many epochs without a better validation loss
    learning_rate: float | None = None  # None: constants.LEARNING_RATE (CDAE --resume: the checkpoint's)
    seed: int = 0
    verbose: int = 1


@dataclass
class TrainSettings(CommonSettings):
    """The CDAEs' training (``--train``)."""

    epochs: int = 100
    batch_size: int = 64  # chunks
    patience: int = 5
    resume: bool = False
    distribute: str | None = None  # None or "mirrored"
    plot: bool = False


@dataclass
class DRNNSettings(CommonSettings):
    """The DRNN's training (``--train --arch drnn``)."""

    epochs: int = 40
    batch_size: int = 16  # sequences of ``frames`` STFT frames
    patience: int = 8
    frames: int = SEQUENCE
    gamma: float = GAMMA
    hidden: int = HIDDEN


SETTINGS = {"cdae": TrainSettings, "drnn": DRNNSettings}
"""Each architecture's settings, by its registry name."""
