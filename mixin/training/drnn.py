"""Training the DRNN on MIR-1K-style clips (voice right, accompaniment left).

Each clip's voice and music are scaled to equal energy (a 0 dB mixture, as Huang et al. 2014);
every epoch the voice is circularly shifted against the music by a random multiple of 10000
samples (the paper's augmentation, drawn anew each epoch instead of enumerated). Optionally the
voice is also resampled by a random number of semitones (new "singers": pitch and formants move
together) and its level against the music varied by a random gain (:class:`Augment`).

Validation, one of:

* ``songs`` (default): every fifth song held out (as ``--render-split``), never clips of one song
  on both sides;
* a singer's name (leave one singer out, ``val_singer``): every clip of that singer is
  validation, the other singers' clips are training: a figure that predicts quality on singers
  never heard;
* none (``validate=False``): every clip trains, the last epoch is kept (the epochs chosen
  beforehand by leave-one-singer-out runs).

Adam (or AdamW) replaces the paper's L-BFGS. The best epoch by validation loss is kept.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import drnn
from ..audio import resample, temporary_beside
from ..constants import LEARNING_RATE
from ..data.mir1k import SHIFT, read_clip, split_paths
from ..errors import MixinError
from ..evaluation.scoring import voice_metrics
from ..registry import ModelConfig
from .common import (
    EarlyStopping,
    check_data,
    clear_run,
    read_history,
    record_data,
    save_uncompiled,
    write_history,
    write_record,
)
from .settings import Augment, DRNNSettings

if TYPE_CHECKING:  # pragma: no cover
    import keras

LEVEL = 0.05  # RMS of voice and of music in a training mixture
LOSS = "discriminative MSE (|STFT|)"
LAST_WEIGHTS = "drnn_last.weights.h5"
"""The last epoch's weights and optimizer state in the log directory, for ``resume``."""


@dataclass
class Clip:
    name: str
    music: np.ndarray  # mono 16 kHz, RMS LEVEL
    voice: np.ndarray


def load_clips(dirs: Sequence[Path], split: str, val_singer: str | None = None) -> list[Clip]:
    """The clips of ``split`` ("train", "validation" or "all"; see :func:`~mixin.data.mir1k.split_paths`)
    from MIR-1K-style directories."""
    clips = []
    for path in split_paths(dirs, split, val_singer):
        audio, rate = read_clip(path)
        audio = resample(audio, rate, drnn.RATE)
        music, voice = audio[:, 0], audio[:, 1]
        rms_m, rms_v = np.sqrt(np.mean(music**2)), np.sqrt(np.mean(voice**2))
        if rms_m == 0 or rms_v == 0:
            continue
        clips.append(Clip(path.stem, music * (LEVEL / rms_m), voice * (LEVEL / rms_v)))
    if not clips:
        raise MixinError(Path(dirs[0]) if dirs else None, f"no usable {split} clips")
    return clips


def shift_pitch(voice: np.ndarray, semitones: float) -> np.ndarray:
    """The voice played 2^(semitones/12) times faster (pitch and formants move together; linear
    interpolation), at the same level, tiled circularly back to its original length."""
    if semitones == 0:
        return voice
    factor = 2.0 ** (semitones / 12.0)
    positions = np.arange(0, len(voice) - 1, factor)
    faster = np.interp(positions, np.arange(len(voice)), voice)
    faster *= np.sqrt(np.mean(voice**2) / max(np.mean(faster**2), 1e-20))  # same level
    return np.resize(faster, len(voice)).astype(voice.dtype)  # np.resize repeats circularly


def augment_voice(voice: np.ndarray, rng: np.random.Generator, aug: Augment) -> np.ndarray:
    """One random draw of :class:`Augment` applied to a voice track."""
    if aug.pitch:
        voice = shift_pitch(voice, float(rng.uniform(-aug.pitch, aug.pitch)))
    if aug.shift:
        voice = np.roll(voice, SHIFT * int(rng.integers(0, max(1, len(voice) // SHIFT))))
    if aug.gain_db:
        voice = voice * 10.0 ** (float(rng.uniform(-aug.gain_db, aug.gain_db)) / 20.0)
    return voice


def other_music(clips: list[Clip], i: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """Another clip's music (not clip ``i``'s), tiled circularly to ``length`` from a random offset."""
    j = int(rng.integers(0, len(clips) - 1))
    music = clips[j + (j >= i)].music
    return np.resize(np.roll(music, -int(rng.integers(0, len(music)))), length).astype(music.dtype)


def examples(
    clips: list[Clip], rng: np.random.Generator | None, frames: int, aug: Augment | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of ``frames`` STFT frames: inputs (n, frames, 1539), targets (n, frames, 1026).

    With ``rng``, each clip's voice is first augmented (:class:`Augment`, by default the paper's
    roll by a random multiple of SHIFT samples), and with probability ``aug.remix`` mixed with
    another clip's music."""
    aug = aug or Augment()
    xs, ys = [], []
    for i, c in enumerate(clips):
        voice = c.voice if rng is None else augment_voice(c.voice, rng, aug)
        music = c.music
        if rng is not None and aug.remix and len(clips) > 1 and rng.random() < aug.remix:
            music = other_music(clips, i, len(voice), rng)
        mags = np.abs(drnn.stft(np.stack([music + voice, voice, music])))
        x = drnn.with_context(mags[0])
        y = np.concatenate([mags[1], mags[2]], axis=-1)
        for start in range(0, max(1, len(x) - frames + 1), frames):
            seg_x, seg_y = x[start : start + frames], y[start : start + frames]
            if len(seg_x) < frames:  # a clip shorter than one sequence: pad with silence
                seg_x = np.pad(seg_x, ((0, frames - len(seg_x)), (0, 0)))
                seg_y = np.pad(seg_y, ((0, frames - len(seg_y)), (0, 0)))
            xs.append(seg_x)
            ys.append(seg_y)
    return np.stack(xs).astype(np.float32), np.stack(ys).astype(np.float32)


def _save_weights(model: keras.Model, path: Path) -> None:
    """Weights and optimizer state, atomically (for ``resume``)."""
    tmp = temporary_beside(path, ".weights.h5")
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def train_drnn(
    clip_dirs: Sequence[Path],
    model_dir: Path,
    log_dir: Path,
    settings: DRNNSettings | None = None,
    **overrides: Any,
) -> dict:
    """Train, keep the best epoch in ``model_dir/model_drnn.keras``, score the validation clips.

    ``overrides`` replace fields of ``settings`` (default :class:`DRNNSettings`), e.g. ``epochs=20``.
    ``val_singer``: leave that singer out (validation = all their clips). ``validate=False``: train
    on every clip for ``epochs`` epochs and keep the last (each epoch's weights also in
    ``log_dir/drnn_epochNNN.keras``). ``weight_decay``: AdamW's decoupled weight decay instead of
    Adam. ``resume``: continue from the weights, optimizer state and history in ``log_dir``; epoch
    ``e``'s augmentation is drawn from seed ``(seed, e)``, so a resumed run sees what an
    uninterrupted one would.
    """
    from ..backend import keras_module

    s = replace(settings or DRNNSettings(), **overrides)
    if s.val_singer is not None and not s.validate:
        raise MixinError(None, "a validation singer and training on every clip exclude each other")
    model_dir, log_dir = Path(model_dir), Path(log_dir)
    last_path, history_path = log_dir / LAST_WEIGHTS, log_dir / "drnn_history.csv"
    if s.resume and not (last_path.exists() and history_path.exists()):
        raise MixinError(log_dir, f"nothing to resume (no {LAST_WEIGHTS} / drnn_history.csv)")
    keras = keras_module()
    train_clips = load_clips(clip_dirs, "train" if s.validate else "all", s.val_singer)
    val_clips = load_clips(clip_dirs, "validation", s.val_singer) if s.validate else []
    if {c.name for c in train_clips} & {c.name for c in val_clips}:  # pragma: no cover - split bug
        raise MixinError(None, "a clip is on both sides of the split")
    val_x, val_y = examples(val_clips, None, s.frames) if s.validate else (None, None)
    how = f"{s.val_singer}'s clips held out" if s.val_singer else "every fifth song held out"
    data = {
        "split": how if s.validate else "none: every clip trains",
        "train_clips": sorted(c.name for c in train_clips),
        "validation_clips": sorted(c.name for c in val_clips),
    }
    if s.resume:  # on what it was trained on, or a resumed run could train on its own validation clips
        check_data(log_dir, "drnn", data)
    elif s.replace:
        clear_run(model_dir, log_dir)
    keras.utils.set_random_seed(s.seed)
    model = drnn.build_drnn(s.hidden, dropout=s.dropout, compress=s.compress)
    learning_rate = s.learning_rate or LEARNING_RATE
    if s.weight_decay:
        optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=s.weight_decay, clipnorm=1.0)
    else:
        optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
    model.compile(optimizer=optimizer, loss=drnn.discriminative_loss(s.gamma))
    model_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    if not s.resume:
        record_data(log_dir, "drnn", data)
    config = ModelConfig.for_arch("drnn")
    if s.input_level is not None:
        config.input, config.input_level = "normalised", float(s.input_level)
    best_path = config.model_path(model_dir)
    history: list[dict] = []
    if s.resume:
        model.optimizer.build(model.trainable_variables)  # so the optimizer's moments load too
        model.load_weights(last_path)  # the checkpoint's learning rate too
        if s.learning_rate is not None:
            model.optimizer.learning_rate.assign(s.learning_rate)
        learning_rate = float(model.optimizer.learning_rate)
        history = read_history(history_path)
    # Without validation nothing stops early: patience plays no part (any value goes).
    stopping = EarlyStopping.from_history(history, s.patience) if s.validate else None
    for epoch in range(len(history), s.epochs):
        if stopping is not None and stopping.stop:
            break
        x, y = examples(train_clips, np.random.default_rng([s.seed, epoch]), s.frames, s.augment)
        h = model.fit(x, y, batch_size=s.batch_size, epochs=1, verbose=0, shuffle=True)
        val = float(model.evaluate(val_x, val_y, batch_size=s.batch_size, verbose=0)) if s.validate else float("nan")
        history.append({"epoch": epoch, "loss": float(h.history["loss"][0]), "val_loss": val})
        if s.verbose:
            print(
                f"drnn epoch {epoch + 1}/{s.epochs}: loss {history[-1]['loss']:.4g}, validation {val:.4g}", flush=True
            )
        if not s.validate:  # every epoch kept, to pick the one the leave-one-singer-out runs chose
            save_uncompiled(model, best_path)
            save_uncompiled(model, log_dir / f"drnn_epoch{epoch + 1:03d}.keras")
        elif stopping is not None and stopping.update(val):
            save_uncompiled(model, best_path)
        _save_weights(model, last_path)
        write_history(history, history_path)
    if not s.validate:
        how = "all clips, last epoch kept"
    aug = s.augment
    augmentation = f"shift {'on' if aug.shift else 'off'}, pitch +-{aug.pitch:g} st, gain +-{aug.gain_db:g} dB"
    augmentation += f", other clips' music {aug.remix:.0%}" if aug.remix else ""
    optimizer_name = f"AdamW (decay {s.weight_decay:g})" if s.weight_decay else "Adam"
    extras = (f", input magnitudes ** {s.compress:g}" if s.compress != 1.0 else "") + (
        f", dropout {s.dropout:g}" if s.dropout else ""
    )
    config.notes = (
        f"DRNN-2{extras} + discriminative training (gamma {s.gamma:g}), {optimizer_name} {learning_rate:g}; "
        f"{len(history)} epochs on {len(train_clips)} clips ({how}); augmentation: {augmentation}"
        + (f"; separates each piece scaled to RMS {s.input_level:g}" if s.input_level is not None else "")
    )
    config.save(model_dir)
    results: dict = {"epochs": len(history), "train_clips": len(train_clips)}
    if s.validate:
        best_epoch = int(np.nanargmin([h["val_loss"] for h in history])) + 1 if history else 0
        results |= {
            "best_epoch": best_epoch,
            "best_val_loss": stopping.best,
            **validation_scores(model_dir, clip_dirs, s.val_singer),
        }
    write_record(log_dir, "drnn", history, results, "DRNN", LOSS)
    return results


def validation_scores(model_dir: Path, clip_dirs: Sequence[Path], val_singer: str | None = None) -> dict:
    """GNSDR, GSIR, GSAR of the saved model on the validation clips (held-out songs, or
    ``val_singer``'s clips), each mixed at 0 dB (voice and music at equal energy, as Huang et al.
    2014); :func:`~mixin.evaluation.scoring.voice_metrics` (bss_eval_sources) per clip."""
    from ..evaluation.scoring import global_voice_metrics
    from ..separators import DRNNSeparator

    sep = DRNNSeparator.from_pretrained(model_dir, backend="tensorflow")  # the model just trained, not an old export
    scores = []
    for path in split_paths(clip_dirs, "validation", val_singer):
        audio, rate = read_clip(path)
        music, voice = audio[:, 0].astype(np.float64), audio[:, 1].astype(np.float64)
        e_m, e_v = float(np.sum(music**2)), float(np.sum(voice**2))
        if e_m == 0 or e_v == 0:
            continue
        music, voice = music / np.sqrt(e_m), voice / np.sqrt(e_v)
        scale = 0.5 / max(float(np.abs(music + voice).max()), 1e-9)  # a playable level; ratios unchanged
        music, voice = music * scale, voice * scale
        stems = sep.separate((music + voice)[:, None].astype(np.float32), rate)
        scores.append(voice_metrics(voice, music, stems["vocal"][:, 0].astype(np.float64)))
    return {**global_voice_metrics(scores), "validation_clips": len(scores)}
