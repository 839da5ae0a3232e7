"""Training the DRNN on MIR-1K-style clips (voice right, accompaniment left).

Each clip's voice and music are scaled to equal energy (a 0 dB mixture, as Huang et al. 2014);
every epoch the voice is circularly shifted against the music by a random multiple of 10000
samples (the paper's augmentation, drawn anew each epoch instead of enumerated). Songs are held
out for validation (every fifth song, as ``--render-split``), never clips of one song on both
sides. Adam replaces the paper's L-BFGS. The best epoch by validation loss is kept.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import drnn
from .constants import LEARNING_RATE
from .audio import read_audio, resample, temporary_beside
from .errors import MixinError
from .pretrained import ARCH_SETTINGS, ModelConfig
from .render import split_for, voice_groups

SHIFT = 10000  # samples at 16 kHz
LEVEL = 0.05  # RMS of voice and of music in a training mixture


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
        for group in split_for(voice_groups(d), split):
            for path in group:
                audio, rate = read_audio(path)
                if audio.shape[1] != 2:
                    raise MixinError(path, "MIR-1K-style clips must be stereo (accompaniment left, voice right)")
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
    *,
    epochs: int = 40,
    batch_size: int = 16,
    frames: int = drnn.SEQUENCE,
    learning_rate: float = LEARNING_RATE,
    patience: int = 8,
    gamma: float = drnn.GAMMA,
    hidden: int = drnn.HIDDEN,
    seed: int = 0,
    verbose: int = 1,
) -> dict:
    """Train, keep the best epoch in ``model_dir/model_drnn.keras``, score the validation songs."""
    from .drnn_separator import MODEL_NAME
    from .model import keras_module
    from .train import _write_history, plot_history

    keras = keras_module()
    train_clips, val_clips = load_clips(clip_dirs, "train"), load_clips(clip_dirs, "validation")
    rng = np.random.default_rng(seed)
    val_x, val_y = examples(val_clips, None, frames)
    keras.utils.set_random_seed(seed)
    model = drnn.build_drnn(hidden)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0), loss=drnn.discriminative_loss(gamma))
    model_dir, log_dir = Path(model_dir), Path(log_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    best_path = model_dir / MODEL_NAME
    history: list[dict] = []
    best, since = np.inf, 0
    for epoch in range(epochs):
        x, y = examples(train_clips, rng, frames)
        h = model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)
        val = float(model.evaluate(val_x, val_y, batch_size=batch_size, verbose=0))
        history.append({"epoch": epoch, "loss": float(h.history["loss"][0]), "val_loss": val})
        if verbose:
            print(f"drnn epoch {epoch + 1}/{epochs}: loss {history[-1]['loss']:.4g}, validation {val:.4g}", flush=True)
        if val < best:
            best, since = val, 0
            plain = drnn.build_drnn(hidden)  # uncompiled, no optimizer state: a third the size
            plain.set_weights(model.get_weights())
            tmp = temporary_beside(best_path, ".keras")
            plain.save(tmp)
            os.replace(tmp, best_path)
        else:
            since += 1
            if since >= patience:
                break
        _write_history(history, log_dir / "drnn_history.csv")
    rate, chunk, bins = ARCH_SETTINGS["drnn"]
    ModelConfig(
        arch="drnn", sources=list(drnn.SOURCES), sample_rate=rate, chunk_size=chunk, bands=bins, trained=True,
        notes=f"DRNN-2 + discriminative training (gamma {gamma}), Adam; {len(history)} epochs on "
        f"{len(train_clips)} clips",
    ).save(model_dir)
    results = {"epochs": len(history), "best_val_loss": best, **validation_scores(model_dir, clip_dirs)}
    plot_history(history, log_dir / "drnn_loss.png", "DRNN (discriminative MSE)")
    (log_dir / "drnn_history.json").write_text(json.dumps({"history": history, "results": results}, indent=1) + "\n")
    return results


def validation_scores(model_dir: Path, clip_dirs: Sequence[Path]) -> dict:
    """GNSDR, GSIR, GSAR of the saved model on the held-out songs' clips (0 dB mixtures)."""
    from .drnn_separator import DRNNSeparator
    from .evaluate import _clip_track, global_voice_metrics, score_track

    sep = DRNNSeparator.from_pretrained(model_dir, backend="tensorflow")  # the model just trained, not an old export
    voice = []
    for d in clip_dirs:
        for group in split_for(voice_groups(Path(d)), "validation"):
            for path in group:
                track = _clip_track(path)
                if track.skipped:
                    continue
                stems = sep.separate(track.mix, track.rate)
                score = score_track(track, "drnn", stems)
                if score.voice:
                    voice.append(score.voice)
    return {**global_voice_metrics(voice), "validation_clips": len(voice)}
