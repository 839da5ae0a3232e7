"""Training the DRNN on MIR-1K-style clips (voice right, accompaniment left).

Each clip's voice and music are scaled to equal energy (a 0 dB mixture, as Huang et al. 2014);
every epoch the voice is circularly shifted against the music by a random multiple of 10000
samples (the paper's augmentation, drawn anew each epoch instead of enumerated). Songs are held
out for validation (every fifth song, as ``--render-split``), never clips of one song on both
sides. Adam replaces the paper's L-BFGS. The best epoch by validation loss is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import drnn
from ..audio import resample
from ..constants import LEARNING_RATE
from ..data.mir1k import SHIFT, read_clip, split_clips
from ..errors import MixinError
from ..registry import ModelConfig
from .common import EarlyStopping, save_uncompiled, write_history, write_record
from .settings import DRNNSettings

LEVEL = 0.05  # RMS of voice and of music in a training mixture
LOSS = "discriminative MSE (|STFT|)"


@dataclass
class Clip:
    name: str
    music: np.ndarray  # mono 16 kHz, RMS LEVEL
    voice: np.ndarray


def load_clips(dirs: Sequence[Path], split: str) -> list[Clip]:
    """The clips of ``split`` ("train" or "validation") from MIR-1K-style directories."""
    clips = []
    for d in map(Path, dirs):
        if not d.is_dir():
            raise MixinError(d, "clip directory not found")
        for path in split_clips(d, split):
            audio, rate = read_clip(path)
            audio = resample(audio, rate, drnn.RATE)
            music, voice = audio[:, 0], audio[:, 1]
            rms_m, rms_v = np.sqrt(np.mean(music**2)), np.sqrt(np.mean(voice**2))
            if rms_m == 0 or rms_v == 0:
                continue
            clips.append(Clip(path.stem, music * (LEVEL / rms_m), voice * (LEVEL / rms_v)))
    if not clips:
        raise MixinError(Path(dirs[0]), f"no usable {split} clips")
    return clips


def examples(clips: list[Clip], rng: np.random.Generator | None, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of ``frames`` STFT frames: inputs (n, frames, 1539), targets (n, frames, 1026).

    With ``rng``, each clip's voice is first rolled by a random multiple of SHIFT samples."""
    xs, ys = [], []
    for c in clips:
        voice = c.voice
        if rng is not None:
            voice = np.roll(voice, SHIFT * int(rng.integers(0, max(1, len(voice) // SHIFT))))
        mags = np.abs(drnn.stft(np.stack([c.music + voice, voice, c.music])))
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


def train_drnn(
    clip_dirs: Sequence[Path],
    model_dir: Path,
    log_dir: Path,
    settings: DRNNSettings | None = None,
    **overrides: Any,
) -> dict:
    """Train, keep the best epoch in ``model_dir/model_drnn.keras``, score the validation songs.

    ``overrides`` replace fields of ``settings`` (default :class:`DRNNSettings`), e.g. ``epochs=20``.
    """
    from ..backend import keras_module

    s = replace(settings or DRNNSettings(), **overrides)
    keras = keras_module()
    train_clips, val_clips = load_clips(clip_dirs, "train"), load_clips(clip_dirs, "validation")
    rng = np.random.default_rng(s.seed)
    val_x, val_y = examples(val_clips, None, s.frames)
    keras.utils.set_random_seed(s.seed)
    model = drnn.build_drnn(s.hidden)
    optimizer = keras.optimizers.Adam(s.learning_rate or LEARNING_RATE, clipnorm=1.0)
    model.compile(optimizer=optimizer, loss=drnn.discriminative_loss(s.gamma))
    model_dir, log_dir = Path(model_dir), Path(log_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    config = ModelConfig.for_arch("drnn")
    best_path = config.model_path(model_dir)
    history: list[dict] = []
    stopping = EarlyStopping(s.patience)
    for epoch in range(s.epochs):
        x, y = examples(train_clips, rng, s.frames)
        h = model.fit(x, y, batch_size=s.batch_size, epochs=1, verbose=0, shuffle=True)
        val = float(model.evaluate(val_x, val_y, batch_size=s.batch_size, verbose=0))
        history.append({"epoch": epoch, "loss": float(h.history["loss"][0]), "val_loss": val})
        if s.verbose:
            print(f"drnn epoch {epoch + 1}/{s.epochs}: loss {history[-1]['loss']:.4g}, validation {val:.4g}",
                  flush=True)
        if stopping.update(val):
            save_uncompiled(model, best_path)
        write_history(history, log_dir / "drnn_history.csv")
        if stopping.stop:
            break
    config.notes = (
        f"DRNN-2 + discriminative training (gamma {s.gamma}), Adam; {len(history)} epochs on {len(train_clips)} clips"
    )
    config.save(model_dir)
    results = {"epochs": len(history), "best_val_loss": stopping.best, **validation_scores(model_dir, clip_dirs)}
    write_record(log_dir, "drnn", history, results, "DRNN", LOSS)
    return results


def validation_scores(model_dir: Path, clip_dirs: Sequence[Path]) -> dict:
    """GNSDR, GSIR, GSAR of the saved model on the held-out songs' clips (0 dB mixtures)."""
    from ..evaluation.scoring import clip_track, global_voice_metrics, score_track
    from ..separators import DRNNSeparator

    sep = DRNNSeparator.from_pretrained(model_dir, backend="tensorflow")  # the model just trained, not an old export
    voice = []
    for d in clip_dirs:
        for path in split_clips(Path(d), "validation"):
            track = clip_track(path)
            if track.skipped:
                continue
            score = score_track(track, "drnn", sep.separate(track.mix, track.rate))
            if score.voice:
                voice.append(score.voice)
    return {**global_voice_metrics(voice), "validation_clips": len(voice)}
