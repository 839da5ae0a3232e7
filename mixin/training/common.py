"""What both trainers share: early stopping on the validation loss, atomic saves of the best
model (an uncompiled copy) and of checkpoints, and the loss history (CSV, JSON and a plot)."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..audio import temporary_beside
from ..errors import MixinError

if TYPE_CHECKING:  # pragma: no cover
    import keras

HISTORY_FIELDS = ("epoch", "loss", "val_loss")


@dataclass
class EarlyStopping:
    """The best validation loss so far and the epochs since it; :attr:`stop` after ``patience``
    (1 or more) epochs without a better one."""

    patience: int
    best: float = math.inf
    since_best: int = 0

    def __post_init__(self) -> None:
        if self.patience < 1:  # 0 stopped every run before its first epoch: no model
            raise ValueError(f"patience must be 1 or more, got {self.patience}")

    @classmethod
    def from_history(cls, history: list[dict], patience: int) -> EarlyStopping:
        """The state after the epochs of ``history`` (so ``--resume`` keeps counting)."""
        state = cls(patience)
        for row in history:
            state.update(row["val_loss"])
        return state

    def update(self, val_loss: float) -> bool:
        """Record an epoch's validation loss; True if it is the best so far."""
        if val_loss < self.best:
            self.best, self.since_best = val_loss, 0
            return True
        self.since_best += 1
        return False

    @property
    def stop(self) -> bool:
        return self.since_best >= self.patience


MODEL_FILES = ("config.json", "model_*.h5", "model_*.keras", "model_*.onnx")
"""What a training run writes into the model directory."""
RUN_FILES = (
    "*_last.keras",
    "*_last.weights.h5",
    "*_history.csv",
    "*_history.json",
    "*_loss.png",
    "*_data.json",
    "drnn_epoch*.keras",
    "checkpoint.npz",
    "joint_history.png",
    "candidate",
)
"""What the trainers write into the log directory: checkpoints, histories, curves, records."""


def clear_run(model_dir: Path, log_dir: Path) -> None:
    """Remove an earlier run's models (their ``config.json`` and exports too) from ``model_dir`` and
    its checkpoints and histories from ``log_dir``, for a fresh run over it (``--force``): left
    there, another source's old model stayed listed, was continued by ``--resume``, or was
    relabelled as trained otherwise. Other files are left alone."""
    for directory, patterns in ((Path(model_dir), MODEL_FILES), (Path(log_dir), RUN_FILES)):
        for pattern in patterns:
            for path in directory.glob(pattern) if directory.is_dir() else ():
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()


def data_record_path(log_dir: Path, name: str) -> Path:
    """Where a run records the data its checkpoint trains on (``<name>_data.json``)."""
    return Path(log_dir) / f"{name}_data.json"


def record_data(log_dir: Path, name: str, data: dict) -> None:
    """Record (atomically) what a fresh run of ``name`` trains on, for :func:`check_data`."""
    path = data_record_path(log_dir, name)
    tmp = temporary_beside(path)
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def check_data(log_dir: Path, name: str, data: dict) -> None:
    """A :class:`MixinError` if a run resumed from ``log_dir`` would train ``name`` on other data than
    it was trained on (``data``: what it would train on now; :func:`record_data`): a new split
    could put a song it trained on on the validation or test side. A run that recorded nothing
    (made before records were kept) is recorded now, with a warning."""
    path = data_record_path(log_dir, name)
    try:
        recorded = json.loads(path.read_text())
    except FileNotFoundError:
        warnings.warn(f"{path}: not there (a run older than the record): the data is not checked", stacklevel=2)
        record_data(log_dir, name, data)
        return
    except (OSError, ValueError) as exc:
        raise MixinError(path, f"unreadable record of the training data ({exc})") from None
    data = json.loads(json.dumps(data))  # as it reads back: lists, not tuples
    differ = sorted(k for k in set(recorded) | set(data) if recorded.get(k) != data.get(k))
    if differ:
        raise MixinError(
            path,
            f"the checkpoint was trained on other data ({', '.join(differ)} differ): resume it on the data it "
            "had, or train anew (--force)",
        )


def save_atomically(model: keras.Model, path: Path) -> Path:
    """``model.save`` to a temporary name beside ``path``, then renamed: never a half-written file."""
    path = Path(path)
    tmp = temporary_beside(path, path.suffix)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_uncompiled(model: keras.Model, path: Path) -> Path:
    """Save an uncompiled copy of ``model`` (architecture and weights, no optimizer state)
    atomically: a third the size, and Keras' legacy HDF5 writer would drop the optimizer from a
    compiled model's config, which breaks resuming from that model later."""
    plain = type(model).from_config(model.get_config())  # the layers only: no compile settings
    plain.set_weights(model.get_weights())
    return save_atomically(plain, path)


def read_history(path: Path) -> list[dict]:
    """The epochs recorded in a history CSV (none if it does not exist)."""
    if not Path(path).exists():
        return []
    with Path(path).open() as f:
        return [
            {"epoch": int(r["epoch"]), "loss": float(r["loss"]), "val_loss": float(r["val_loss"])}
            for r in csv.DictReader(f)
        ]


def write_history(history: list[dict], path: Path) -> None:
    """The epochs so far as CSV, replaced atomically after every epoch."""
    tmp = temporary_beside(Path(path))
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(HISTORY_FIELDS))
        writer.writeheader()
        writer.writerows(history)
    os.replace(tmp, path)


def plot_history(history: list[dict], out: Path, title: str, loss: str, show: bool = False) -> Path:
    """Training and validation ``loss`` per epoch as a PNG (and on screen when asked and possible)."""
    import matplotlib

    interactive = show and bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not interactive:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [int(h["epoch"]) + 1 for h in history]
    ax.plot(epochs, [h["loss"] for h in history], label="train")
    ax.plot(epochs, [h["val_loss"] for h in history], label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel(loss)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    tmp = temporary_beside(out)
    fig.savefig(tmp, format="png", dpi=100)
    os.replace(tmp, out)
    if interactive:
        plt.show(block=False)
        plt.pause(2.0)
    plt.close(fig)
    return out


def write_record(
    log_dir: Path, name: str, history: list[dict], results: dict, title: str, loss: str, show: bool = False
) -> None:
    """``<name>_loss.png`` and ``<name>_history.json`` (history and final results) in ``log_dir``."""
    log_dir = Path(log_dir)
    plot_history(history, log_dir / f"{name}_loss.png", title, loss, show)
    (log_dir / f"{name}_history.json").write_text(json.dumps({"history": history, "results": results}, indent=1) + "\n")
