"""How each architecture is trained: the settings and their defaults, defined once.

The command line takes its defaults (and its ``--help``) from here. Light on purpose: nothing
here imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..constants import CDAE_SOURCES, MASK_POWER
from ..drnn import GAMMA, HIDDEN, SEQUENCE


@dataclass
class CommonSettings:
    """What both trainers take: epochs at most, batch size, early stopping's patience."""

    epochs: int
    batch_size: int
    patience: int  # stop after this many epochs without a better validation loss
    learning_rate: float | None = None  # None: constants.LEARNING_RATE (with resume: the checkpoint's)
    seed: int = 0
    verbose: int = 1
    # A fresh run over an earlier one (--force): that run's models and checkpoints are removed once
    # the data checks pass (mixin.training.common.clear_run), so no directory mixes two runs.
    replace: bool = False


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
class Augment:
    """The DRNN's augmentation, per clip and epoch: the paper's circular shift of the voice
    (``shift``), and optionally a resampling of the voice by a uniform random number of semitones
    in [-pitch, pitch] and a uniform random voice gain in [-gain_db, gain_db] dB against the music;
    with probability ``remix`` a clip's voice is mixed with another training clip's music (tiled to
    the voice's length from a random offset) instead of its own."""

    shift: bool = True
    pitch: float = 0.0
    gain_db: float = 0.0
    remix: float = 0.0


@dataclass
class DRNNSettings(CommonSettings):
    """The DRNN's training (``--train --arch drnn``)."""

    epochs: int = 40
    batch_size: int = 16  # sequences of ``frames`` STFT frames
    patience: int = 8
    frames: int = SEQUENCE
    gamma: float = GAMMA
    hidden: int = HIDDEN
    val_singer: str | None = None  # leave this singer out (validation = all their clips); None: every fifth song
    validate: bool = True  # False: train on every clip for ``epochs`` epochs, keep the last
    augment: Augment = field(default_factory=Augment)
    weight_decay: float = 0.0  # AdamW's decoupled weight decay instead of plain Adam
    dropout: float = 0.0  # after each hidden layer, in training
    compress: float = 1.0  # the hidden layers see magnitudes ** compress (mixin.drnn.build_drnn)
    resume: bool = False  # continue from the weights, optimizer state and history in the log directory
    # The RMS each piece is scaled to when the trained model separates (config.json's input
    # "normalised", input_level); None: pieces heard at their own level. Training is not changed.
    input_level: float | None = None


@dataclass
class JointSettings:
    """The three CDAEs trained together through the soft masks (``--train --objective masks``)."""

    steps: int = 6000
    batch_size: int = 8  # chunks
    learning_rate: float | None = None  # None: constants.LEARNING_RATE (with resume: the checkpoint's)
    mask_power: float = MASK_POWER
    eval_every: int = 500  # steps between scores on the validation recordings
    resume: bool = False
    replace: bool = False  # as CommonSettings.replace
    seed: int = 0
    init_dir: Path | None = None  # start from these CDAEs instead of from scratch
    # The drums' level against the rest drawn from (low, high) dB in drum_share of the examples;
    # None: every stem at its own level, moved +-6 dB.
    drum_level: tuple[float, float] | None = None
    drum_share: float = 0.6
    # Sources whose CDAE keeps its weights (run in inference mode) while the others learn.
    freeze: tuple[str, ...] = ()
    # Validate (and save) the CDAEs inside this model directory's chain (HPSS blend, helper DRNN,
    # vocal yield, Wiener filter: its config.json) rather than alone: checkpoints chosen as heard; the
    # vocal model is also trained as that chain runs it (its vocal_hears).
    val_chain: Path | None = None
    # Processes drawing batches (stems mixed, NSGT); 1: one background thread.
    workers: int = 1


def freezable(sources: Iterable[str]) -> bool:
    """Whether ``sources`` may be frozen in a joint run: CDAE sources only, and not all of them."""
    named = set(sources)
    return named <= set(CDAE_SOURCES) and named != set(CDAE_SOURCES)


SETTINGS = {"cdae": TrainSettings, "drnn": DRNNSettings, "masks": JointSettings}
"""The settings of each architecture (by its registry name) and of the CDAEs' mask objective."""
