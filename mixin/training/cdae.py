"""``--train``: fit one CDAE per source from its HDF5 file, streamed through ``tf.data``.

Adam and MAE loss as MiXiN; early stopping on validation loss; the best model (not the last)
saved to ``<model-dir>/model_<source>.h5``; the last state (optimizer included) kept in
``<log-dir>`` so ``--resume`` continues; loss curves as PNG and the history as CSV and JSON.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..audio import temporary_beside
from ..constants import CDAE_SOURCES, LEARNING_RATE, N_BANDS, N_FRAMES
from ..data.hdf5 import hdf5_path, open_checked
from ..errors import MixinError
from ..registry import ModelConfig


@dataclass
class TrainSettings:
    epochs: int = 100
    batch_size: int = 64
    patience: int = 5
    learning_rate: float | None = None  # None: 0.001 for a new model, the checkpoint's on resume
    resume: bool = False
    distribute: str | None = None  # None or "mirrored"
    seed: int = 0
    plot: bool = False
    verbose: int = 1


def _split_dataset(path: Path, source: str, split: str, batch_size: int, shuffle: bool, seed: int):
    """Batches (x, y) of one split, read row by row from HDF5: never the whole file in memory."""
    import tensorflow as tf

    with open_checked(path, source) as h5:
        n = int(h5[f"data-x-{split}"].shape[0])
    shape = (N_BANDS, N_FRAMES, 1)
    epoch = [0]

    def rows():
        import h5py

        order = np.arange(n)
        if shuffle:
            order = np.random.default_rng(seed + epoch[0]).permutation(n)
            epoch[0] += 1
        with h5py.File(path, "r") as h5:
            dx, dy = h5[f"data-x-{split}"], h5[f"data-y-{split}"]
            for i in order:
                yield dx[i], dy[i]

    spec = (tf.TensorSpec(shape, tf.float32), tf.TensorSpec(shape, tf.float32))
    ds = tf.data.Dataset.from_generator(rows, output_signature=spec)
    ds = ds.apply(tf.data.experimental.assert_cardinality(n))  # known epoch length for Keras
    return ds.batch(batch_size).prefetch(2), n


def _strategy(distribute: str | None):
    import tensorflow as tf

    if distribute is None:
        return tf.distribute.get_strategy()
    if distribute != "mirrored":
        raise MixinError(None, f"unknown --distribute {distribute!r} (known: mirrored)")
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)


def _history(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        return [{"epoch": int(r["epoch"]), "loss": float(r["loss"]), "val_loss": float(r["val_loss"])} for r in csv.DictReader(f)]


def plot_history(history: list[dict], out: Path, title: str, show: bool = False) -> Path:
    """Training and validation loss per epoch, as a PNG (and on screen when asked and possible)."""
    import matplotlib

    interactive = show and bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not interactive:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [int(h["epoch"]) + 1 for h in history]
    ax.plot(epochs, [h["loss"] for h in history], label="train MAE")
    ax.plot(epochs, [h["val_loss"] for h in history], label="validation MAE")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MAE (|NSGT|)")
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


def train_source(source: str, data_dir: Path, model_dir: Path, log_dir: Path, settings: TrainSettings) -> dict:
    """Train one source's CDAE; returns its final train/validation/test MAE and epochs run."""
    from ..backend import keras_module
    from ..cdae import build_cdae

    keras = keras_module()
    path = hdf5_path(data_dir, source)
    train, n_train = _split_dataset(path, source, "train", settings.batch_size, True, settings.seed)
    val, n_val = _split_dataset(path, source, "validation", settings.batch_size, False, 0)
    if n_train == 0 or n_val == 0:
        raise MixinError(path, f"needs training and validation chunks (has {n_train} and {n_val})")
    log_dir.mkdir(parents=True, exist_ok=True)
    model_dir.mkdir(parents=True, exist_ok=True)
    last = log_dir / f"{source}_last.keras"
    history_csv = log_dir / f"{source}_history.csv"
    best_path = model_dir / f"model_{source}.h5"

    history = _history(history_csv) if settings.resume else []
    strategy = _strategy(settings.distribute)
    with strategy.scope():
        if settings.resume and last.exists():
            model = keras.models.load_model(last)
            if settings.learning_rate is not None:  # e.g. a lower rate to fine-tune a plateaued model
                model.optimizer.learning_rate.assign(settings.learning_rate)
        else:
            if settings.resume:
                raise MixinError(last, "no checkpoint to resume from")
            keras.utils.set_random_seed(settings.seed)
            model = build_cdae(name=f"cdae_{source}")
            model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate or LEARNING_RATE), loss="mae")
            history = []

    best = min((h["val_loss"] for h in history), default=np.inf)
    since_best = 0
    for h in reversed(history):
        if h["val_loss"] <= best:
            break
        since_best += 1

    class BestAndPatience(keras.callbacks.Callback):
        """Save the best model (atomically) and stop after ``patience`` epochs without progress;
        its state comes from the history, so it survives --resume."""

        def on_epoch_end(self, epoch, logs=None):
            nonlocal best, since_best
            val_loss = float(logs["val_loss"])
            history.append({"epoch": epoch, "loss": float(logs["loss"]), "val_loss": val_loss})
            if val_loss < best:
                best, since_best = val_loss, 0
                # Saved from an uncompiled copy: Keras' legacy HDF5 writer drops the optimizer
                # from the compiled model's config, which would break --resume.
                plain = keras.models.clone_model(self.model)
                plain.set_weights(self.model.get_weights())
                tmp = temporary_beside(best_path, ".h5")
                plain.save(tmp)
                os.replace(tmp, best_path)
            else:
                since_best += 1
                if since_best >= settings.patience:
                    self.model.stop_training = True
            tmp = temporary_beside(last, ".keras")
            self.model.save(tmp)
            os.replace(tmp, last)
            _write_history(history, history_csv)

    start = len(history)
    if start < settings.epochs and since_best < settings.patience:
        model.fit(
            train,
            validation_data=val,
            epochs=settings.epochs,
            initial_epoch=start,
            shuffle=False,  # the dataset shuffles itself, per epoch
            callbacks=[BestAndPatience()],
            verbose=settings.verbose,
        )
    if not best_path.exists():
        raise MixinError(best_path, "training produced no model")

    from ..cdae import load_cdae

    best_model = load_cdae(best_path)
    best_model.compile(loss="mae")
    results = {"epochs": len(history), "best_val_loss": best}
    for split in ("train", "validation", "test"):
        ds, n = _split_dataset(path, source, split, settings.batch_size, False, 0)
        results[f"{split}_mae"] = float(best_model.evaluate(ds, verbose=0)) if n else float("nan")
        results[f"{split}_chunks"] = n
    plot_history(history, log_dir / f"{source}_loss.png", f"CDAE {source}", show=settings.plot)
    (log_dir / f"{source}_history.json").write_text(json.dumps({"history": history, "results": results}, indent=1) + "\n")
    return results


def _write_history(history: list[dict], path: Path) -> None:
    tmp = temporary_beside(path)
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", "loss", "val_loss"])
        writer.writeheader()
        writer.writerows(history)
    os.replace(tmp, path)


def train(
    data_dir: Path,
    model_dir: Path,
    log_dir: Path,
    sources: Sequence[str] = CDAE_SOURCES,
    settings: TrainSettings | None = None,
) -> dict[str, dict]:
    """Train each source's model, then calibrate its output gain (``mixin.training.calibrate``); write
    ``config.json`` so the directory loads as a separator (other settings in it are kept)."""
    settings = settings or TrainSettings()
    unknown = [s for s in sources if s not in CDAE_SOURCES]
    if unknown:
        raise MixinError(None, f"unknown source(s) {', '.join(unknown)} (known: {', '.join(CDAE_SOURCES)})")
    results = {s: train_source(s, Path(data_dir), Path(model_dir), Path(log_dir), settings) for s in sources}
    model_dir = Path(model_dir)
    present = [s for s in CDAE_SOURCES if (model_dir / f"model_{s}.h5").exists()]
    config = ModelConfig.load(model_dir)  # a directory without config.json gives the defaults
    config.sources, config.trained, config.notes = present, True, "trained with ./train_util.py --train"
    config.save(model_dir)
    from .calibrate import calibrate

    for source, gain in calibrate(model_dir, Path(data_dir), list(sources)).items():
        results[source]["gain"] = gain
    return results
