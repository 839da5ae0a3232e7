"""``--train``: fit one CDAE per source from its HDF5 file, streamed through ``tf.data``.

Adam and MAE loss as MiXiN; early stopping on validation loss; the best model (not the last)
saved to ``<model-dir>/model_<source>.h5``; the last state (optimizer included) kept in
``<log-dir>`` so ``--resume`` continues; loss curves as PNG and the history as CSV and JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..constants import CDAE_SOURCES, LEARNING_RATE, N_BANDS, N_FRAMES
from ..data.hdf5 import SPLITS, check_sources, data_identity, hdf5_path, open_checked
from ..errors import MixinError
from ..registry import ModelConfig
from .common import (
    EarlyStopping,
    check_data,
    clear_run,
    read_history,
    record_data,
    save_atomically,
    save_uncompiled,
    write_history,
    write_record,
)
from .settings import TrainSettings

if TYPE_CHECKING:  # pragma: no cover
    import keras
    import tensorflow as tf

LOSS = "MAE (|NSGT|)"


def split_dataset(path: Path, source: str, split: str, batch_size: int, shuffle: bool, seed: int) -> tf.data.Dataset:
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


def checkpoint_path(log_dir: Path, source: str) -> Path:
    """Where a source's last state (optimizer included) is kept for ``--resume``."""
    return Path(log_dir) / f"{source}_last.keras"


def _load_checkpoint(path: Path) -> keras.Model:
    """A CDAE checkpoint written by :func:`train_source`, or a one-line error for anything else."""
    from ..backend import keras_module

    keras = keras_module()
    try:
        model = keras.models.load_model(path)
    except Exception as exc:  # Keras raises many kinds for a truncated or foreign file
        raise MixinError(path, f"cannot be read as a training checkpoint ({type(exc).__name__})") from None
    if tuple(model.input_shape[1:]) != (N_BANDS, N_FRAMES, 1) or model.optimizer is None:
        raise MixinError(path, "is not a CDAE training checkpoint")
    return model


def train_source(source: str, data_dir: Path, model_dir: Path, log_dir: Path, settings: TrainSettings) -> dict:
    """Train one source's CDAE; returns its final train/validation/test MAE and epochs run."""
    from ..backend import keras_module
    from ..cdae import build_cdae

    keras = keras_module()
    path = hdf5_path(data_dir, source)
    train, n_train = split_dataset(path, source, "train", settings.batch_size, True, settings.seed)
    val, n_val = split_dataset(path, source, "validation", settings.batch_size, False, 0)
    if n_train == 0 or n_val == 0:
        raise MixinError(path, f"needs training and validation chunks (has {n_train} and {n_val})")
    log_dir.mkdir(parents=True, exist_ok=True)
    model_dir.mkdir(parents=True, exist_ok=True)
    last = checkpoint_path(log_dir, source)
    history_csv = log_dir / f"{source}_history.csv"
    best_path = ModelConfig().model_path(model_dir, source)

    resuming = settings.resume and last.exists()  # else not started when the run stopped: it starts now
    if not resuming:  # what --resume will check it continues on
        record_data(log_dir, source, data_identity(path, source))
    history = read_history(history_csv) if resuming else []
    strategy = _strategy(settings.distribute)
    with strategy.scope():
        if resuming:
            model = _load_checkpoint(last)
            if settings.learning_rate is not None:  # e.g. a lower rate to fine-tune a plateaued model
                model.optimizer.learning_rate.assign(settings.learning_rate)
        else:
            keras.utils.set_random_seed(settings.seed)
            model = build_cdae(name=f"cdae_{source}")
            model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate or LEARNING_RATE), loss="mae")
            history = []
    stopping = EarlyStopping.from_history(history, settings.patience)

    class BestAndPatience(keras.callbacks.Callback):
        """Save the best model and stop after ``patience`` epochs without progress; checkpoint
        and history after every epoch, so --resume continues where a run stopped."""

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            history.append({"epoch": epoch, "loss": float(logs["loss"]), "val_loss": float(logs["val_loss"])})
            if stopping.update(history[-1]["val_loss"]):
                save_uncompiled(self.model, best_path)
            elif stopping.stop:
                self.model.stop_training = True
            save_atomically(self.model, last)
            write_history(history, history_csv)

    start = len(history)
    if start < settings.epochs and not stopping.stop:
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
    results = {"epochs": len(history), "best_val_loss": stopping.best}
    for split in SPLITS:
        ds, n = split_dataset(path, source, split, settings.batch_size, False, 0)
        results[f"{split}_mae"] = float(best_model.evaluate(ds, verbose=0)) if n else float("nan")
        results[f"{split}_chunks"] = n
    write_record(log_dir, source, history, results, f"CDAE {source}", LOSS, show=settings.plot)
    return results


UNFINISHED = "training did not finish (./train_util.py --train): --resume continues it"
"""``config.json``'s notes while a ``--train`` run is under way or after it failed (``trained`` false)."""


def train(
    data_dir: Path,
    model_dir: Path,
    log_dir: Path,
    sources: Sequence[str] | None = None,
    settings: TrainSettings | None = None,
) -> dict[str, dict]:
    """Train each source's model, then calibrate its output gain (``mixin.training.calibrate``); write
    ``config.json`` so the directory loads as a separator (other settings in it are kept).

    ``sources`` None: each source with a ``data_<source>.hdf5`` in ``data_dir``. Every data file is
    checked before the first model trains, so a missing one cannot end a long run. With
    ``settings.resume`` a source the stopped run had not started yet starts from scratch."""
    settings = settings or TrainSettings()
    data_dir, model_dir, log_dir = Path(data_dir), Path(model_dir), Path(log_dir)
    if sources is None:
        sources = [s for s in CDAE_SOURCES if hdf5_path(data_dir, s).exists()]
        if not sources:
            raise MixinError(data_dir, "holds no data_<source>.hdf5 file: run --create-hdf5 first")
    check_sources(sources)
    for source in sources:
        open_checked(hdf5_path(data_dir, source), source).close()
    if settings.resume:
        started = [s for s in sources if checkpoint_path(log_dir, s).exists()]
        if not started:
            raise MixinError(log_dir, "no checkpoint to resume from")
        for source in sources:
            model_path = ModelConfig().model_path(model_dir, source)
            if source not in started and model_path.exists():
                raise MixinError(
                    model_path,
                    f"has no checkpoint in {log_dir} to resume from: leave it out of --sources, or train anew",
                )
        for source in started:  # before the first model trains
            check_data(log_dir, source, data_identity(hdf5_path(data_dir, source), source))
    if settings.replace and not settings.resume:
        clear_run(model_dir, log_dir)
    # Until the run has trained and calibrated every source, the directory says so: models saved at
    # their best epoch beside an earlier run's gains and exports are not a separator to trust.
    model_dir.mkdir(parents=True, exist_ok=True)
    unfinished = ModelConfig.load(model_dir)
    unfinished.trained, unfinished.notes = False, UNFINISHED
    unfinished.save(model_dir)
    results = {s: train_source(s, data_dir, model_dir, log_dir, settings) for s in sources}
    present = [s for s in CDAE_SOURCES if ModelConfig().model_path(model_dir, s).exists()]
    config = ModelConfig.load(model_dir)
    config.sources = present
    config.input = "magnitude"  # what these models learned from (the HDF5 files' raw |NSGT|), whatever was there
    config.save(model_dir)
    from .calibrate import calibrate

    for source, gain in calibrate(model_dir, Path(data_dir), list(sources)).items():
        results[source]["gain"] = gain
    config = ModelConfig.load(model_dir)  # with the gains
    config.trained, config.notes = True, "trained with ./train_util.py --train"
    config.save(model_dir)
    return results
