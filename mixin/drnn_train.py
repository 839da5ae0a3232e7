"""Training the DRNN on MIR-1K-style clips (voice right, accompaniment left).

Each clip's voice and music are scaled to equal energy (a 0 dB mixture, as Huang et al. 2014);
every epoch the voice is circularly shifted against the music by a random multiple of 10000
samples (the paper's augmentation, drawn anew each epoch instead of enumerated). Optionally the
voice is also resampled by a random number of semitones (new "singers": pitch and formants move
together) and its level against the music varied by a random gain.

Validation, one of:

* ``songs`` (default): every fifth song held out (as ``--render-split``), never clips of one song
  on both sides;
* a singer's name (leave one singer out): every clip of that singer is validation, the other
  singers' clips are training: a figure that predicts quality on singers never heard;
* ``None`` with ``validate=False``: every clip trains, the last epoch is kept (the epochs chosen
  beforehand by leave-one-singer-out runs).

Adam replaces the paper's L-BFGS. The best epoch by validation loss is kept.
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


def singer_of(path: Path) -> str:
    """MIR-1K names clips ``singer_song_clip``: the part before the first underscore."""
    return Path(path).stem.split("_", 1)[0]


def split_paths(dirs: Sequence[Path], split: str, val_singer: str | None = None) -> list[Path]:
    """The clip files of ``split`` ("train", "validation" or "all").

    Without ``val_singer`` every fifth song is validation's; with it, every clip of that singer
    is validation's and every other singer's clip training's."""
    if split not in ("train", "validation", "all"):
        raise ValueError(split)
    paths: list[Path] = []
    for d in map(Path, dirs):
        if not d.is_dir():
            raise MixinError(d, "clip directory not found")
        groups = voice_groups(d)
        if split == "all":
            paths += [p for g in groups for p in g]
        elif val_singer is None:
            paths += [p for g in split_for(groups, split) for p in g]
        else:
            paths += [p for g in groups for p in g if (singer_of(p) == val_singer) == (split == "validation")]
    if val_singer is not None and split == "validation" and not paths:
        singers = sorted({singer_of(p) for d in dirs for g in voice_groups(Path(d)) for p in g})
        raise MixinError(Path(dirs[0]), f"no clips of singer {val_singer!r} (singers: {', '.join(singers) or 'none'})")
    return paths


def load_clips(dirs: Sequence[Path], split: str, val_singer: str | None = None) -> list[Clip]:
    """The clips of ``split`` (see :func:`split_paths`) from MIR-1K-style directories."""
    clips = []
    for path in split_paths(dirs, split, val_singer):
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
        raise MixinError(Path(dirs[0]) if dirs else None, f"no usable {split} clips")
    return clips


@dataclass
class Augment:
    """Per clip and epoch: the paper's circular shift of the voice (``shift``), and optionally a
    resampling of the voice by a uniform random number of semitones in [-pitch, pitch] and a
    uniform random voice gain in [-gain_db, gain_db] dB against the music."""

    shift: bool = True
    pitch: float = 0.0
    gain_db: float = 0.0


def shift_pitch(voice: np.ndarray, semitones: float) -> np.ndarray:
    """The voice played 2^(semitones/12) times faster (pitch and formants move together; linear
    interpolation), tiled circularly back to its original length."""
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


def examples(
    clips: list[Clip], rng: np.random.Generator | None, frames: int, aug: Augment | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of ``frames`` STFT frames: inputs (n, frames, 1539), targets (n, frames, 1026).

    With ``rng``, each clip's voice is first augmented (:class:`Augment`, by default the paper's
    roll by a random multiple of SHIFT samples)."""
    aug = aug or Augment()
    xs, ys = [], []
    for c in clips:
        voice = c.voice if rng is None else augment_voice(c.voice, rng, aug)
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


def _save_plain(model, hidden: int, path: Path) -> None:
    """The weights in an uncompiled copy (no optimizer state: a third the size), atomically."""
    plain = drnn.build_drnn(hidden)
    plain.set_weights(model.get_weights())
    tmp = temporary_beside(path, ".keras")
    plain.save(tmp)
    os.replace(tmp, path)


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
    val_singer: str | None = None,
    validate: bool = True,
    augment: Augment | None = None,
    weight_decay: float = 0.0,
    resume: bool = False,
    seed: int = 0,
    verbose: int = 1,
) -> dict:
    """Train, keep the best epoch in ``model_dir/model_drnn.keras``, score the validation clips.

    ``weight_decay``: AdamW's decoupled weight decay instead of Adam. ``val_singer``: leave that singer out (validation = all their clips). ``validate=False``:
    train on every clip for ``epochs`` epochs and keep the last (each epoch's
    weights also in ``log_dir/drnn_epochNNN.keras``). ``resume``: continue from the
    weights, Adam's state and history in ``log_dir``; epoch ``e``'s augmentation is
    drawn from seed ``(seed, e)``, so a resumed run sees what an uninterrupted one would."""
    from .drnn_separator import MODEL_NAME
    from .model import keras_module
    from .train import _write_history, plot_history

    if val_singer is not None and not validate:
        raise MixinError(None, "a validation singer and training on every clip exclude each other")
    keras = keras_module()
    augment = augment or Augment()
    train_clips = load_clips(clip_dirs, "train" if validate else "all", val_singer)
    val_clips = load_clips(clip_dirs, "validation", val_singer) if validate else []
    if {c.name for c in train_clips} & {c.name for c in val_clips}:  # pragma: no cover - split bug
        raise MixinError(None, "a clip is on both sides of the split")
    val_x, val_y = examples(val_clips, None, frames) if validate else (None, None)
    keras.utils.set_random_seed(seed)
    model = drnn.build_drnn(hidden)
    if weight_decay:
        optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, clipnorm=1.0)
    else:
        optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
    model.compile(optimizer=optimizer, loss=drnn.discriminative_loss(gamma))
    model_dir, log_dir = Path(model_dir), Path(log_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    best_path, last_path, state_path = model_dir / MODEL_NAME, log_dir / "drnn_last.weights.h5", log_dir / "drnn_state.json"
    history: list[dict] = []
    best, since = np.inf, 0
    if resume:
        if not (last_path.exists() and state_path.exists()):
            raise MixinError(log_dir, "nothing to resume (no drnn_last.weights.h5 / drnn_state.json)")
        state = json.loads(state_path.read_text())
        model.optimizer.build(model.trainable_variables)  # so Adam's moments load too
        model.load_weights(last_path)
        history, best, since = state["history"], float(state["best"]), int(state["since"])
    for epoch in range(len(history), epochs):
        if validate and since >= patience:
            break
        x, y = examples(train_clips, np.random.default_rng([seed, epoch]), frames, augment)
        h = model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)
        val = float(model.evaluate(val_x, val_y, batch_size=batch_size, verbose=0)) if validate else float("nan")
        history.append({"epoch": epoch, "loss": float(h.history["loss"][0]), "val_loss": val})
        if verbose:
            print(f"drnn epoch {epoch + 1}/{epochs}: loss {history[-1]['loss']:.4g}, validation {val:.4g}", flush=True)
        if not validate or val < best:
            best, since = (val if validate else best), 0
            _save_plain(model, hidden, best_path)
            if not validate:  # every epoch kept, to pick the one the LOSO runs chose afterwards
                _save_plain(model, hidden, log_dir / f"drnn_epoch{epoch + 1:03d}.keras")
        else:
            since += 1
        _write_history(history, log_dir / "drnn_history.csv")
        model.save_weights(last_path)
        tmp = temporary_beside(state_path)
        tmp.write_text(json.dumps({"history": history, "best": best, "since": since}))
        os.replace(tmp, state_path)
    if validate:
        how = f"{val_singer}'s clips held out" if val_singer else "every fifth song held out"
    else:
        how = "all clips, last epoch kept"
    aug = f"shift {'on' if augment.shift else 'off'}, pitch +-{augment.pitch:g} st, gain +-{augment.gain_db:g} dB"
    rate, chunk, bins = ARCH_SETTINGS["drnn"]
    ModelConfig(
        arch="drnn", sources=list(drnn.SOURCES), sample_rate=rate, chunk_size=chunk, bands=bins, trained=True,
        notes=f"DRNN-2 + discriminative training (gamma {gamma:g}), Adam{f'W (decay {weight_decay:g})' if weight_decay else ''} "
        f"{learning_rate:g}; {len(history)} epochs on "
        f"{len(train_clips)} clips ({how}); augmentation: {aug}",
    ).save(model_dir)
    results: dict = {"epochs": len(history), "train_clips": len(train_clips)}
    if validate:
        best_epoch = int(np.nanargmin([h["val_loss"] for h in history])) + 1 if history else 0
        results |= {"best_epoch": best_epoch, "best_val_loss": best, **validation_scores(model_dir, clip_dirs, val_singer)}
    plot_history(history, log_dir / "drnn_loss.png", "DRNN (discriminative MSE)")
    (log_dir / "drnn_history.json").write_text(json.dumps({"history": history, "results": results}, indent=1) + "\n")
    return results


def voice_metrics(voice: np.ndarray, music: np.ndarray, estimate: np.ndarray) -> dict:
    """Whole-clip voice SDR, SIR, SAR of ``estimate`` and SDR of the mixture, BSS Eval's
    ``bss_eval_sources`` (time-invariant 512-tap filters, as mir_eval and Huang et al.), via
    museval. All arrays mono, one length."""
    from .evaluate import _museval_metrics

    m = _museval_metrics()
    refs = np.stack([voice, music])[..., None].astype(np.float64)
    mix = voice + music

    def run(est_voice: np.ndarray) -> tuple:
        # bss_eval_sources scores each estimate on its own: the second (the mixture) only fills
        # the slot BSS Eval wants non-silent; a silent voice estimate becomes faint noise (it
        # scores very low rather than raising)
        if not np.any(est_voice):
            est_voice = 1e-9 * np.random.default_rng(0).standard_normal(len(est_voice))
        ests = np.stack([est_voice, mix])[..., None].astype(np.float64)
        sdr, _, sir, sar, _ = m.bss_eval(refs, ests, window=refs.shape[1], hop=refs.shape[1],
                                         compute_permutation=False, framewise_filters=False,
                                         bsseval_sources_version=True)
        return float(sdr[0, 0]), float(sir[0, 0]), float(sar[0, 0])

    sdr, sir, sar = run(estimate)
    sdr_mix = run(mix)[0]
    return {"length": len(voice), "sdr": sdr, "sdr_mix": sdr_mix, "sir": sir, "sar": sar}


def validation_scores(model_dir: Path, clip_dirs: Sequence[Path], val_singer: str | None = None) -> dict:
    """GNSDR, GSIR, GSAR of the saved model on the validation clips, each mixed at 0 dB (voice
    and music at equal energy, as Huang et al. 2014); :func:`voice_metrics` per clip."""
    from .drnn_separator import DRNNSeparator
    from .evaluate import global_voice_metrics

    sep = DRNNSeparator.from_pretrained(model_dir)
    scores = []
    for path in split_paths(clip_dirs, "validation", val_singer):
        audio, rate = read_audio(path)
        music, voice = audio[:, 0].astype(np.float64), audio[:, 1].astype(np.float64)
        e_m, e_v = float(np.sum(music**2)), float(np.sum(voice**2))
        if audio.shape[1] != 2 or e_m == 0 or e_v == 0:
            continue
        music, voice = music / np.sqrt(e_m), voice / np.sqrt(e_v)
        scale = 0.5 / max(float(np.abs(music + voice).max()), 1e-9)  # a playable level; ratios unchanged
        music, voice = music * scale, voice * scale
        stems = sep.separate((music + voice)[:, None].astype(np.float32), rate)
        scores.append(voice_metrics(voice, music, stems["vocal"][:, 0].astype(np.float64)))
    return {**global_voice_metrics(scores), "validation_clips": len(scores)}
