"""Synthetic stems made from scratch: the bundled example, test fixtures and benchmark input.

A toy song: sustained chords and a bass line (harmonic), kick, snare and hi-hat (percussive),
and a formant-filtered sawtooth that glides between notes like a sung vowel (vocal). Nothing
third-party; the same seed gives the same samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.signal

from ..constants import SAMPLE_RATE

BPM = 110.0


def _note_hz(midi: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69) / 12)


def _harmonic(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    beat = 60.0 / BPM
    roots = rng.choice([45, 48, 50, 52, 53, 55], size=int(n / sr / (4 * beat)) + 2)
    bar = np.minimum((t // (4 * beat)).astype(int), len(roots) - 1)
    root = roots[bar]
    out = np.zeros(n)
    for interval, gain in ((12, 0.18), (16, 0.14), (19, 0.12)):  # a major triad an octave up
        f = _note_hz(root + interval)
        phase = 2 * np.pi * np.cumsum(f) / sr
        out += gain * (np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase))
    bass_phase = 2 * np.pi * np.cumsum(_note_hz(root - 12)) / sr
    pluck = np.exp(-3.0 * (t % beat))
    out += 0.25 * pluck * (np.sin(bass_phase) + 0.5 * np.sin(2 * bass_phase))
    return out


def _percussive(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    beat = int(sr * 60.0 / BPM)
    k = np.arange(int(0.3 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 * k + 60 * (1 - np.exp(-k * 30)) / 30)) * np.exp(-k * 12)
    b, a = scipy.signal.butter(2, [1000 / (sr / 2), 6000 / (sr / 2)], "band")
    snare = scipy.signal.lfilter(b, a, rng.standard_normal(len(k))) * np.exp(-k * 20) * 2.0
    b, a = scipy.signal.butter(2, 7000 / (sr / 2), "high")
    hat = scipy.signal.lfilter(b, a, rng.standard_normal(int(0.05 * sr))) * np.exp(-np.arange(int(0.05 * sr)) / sr * 80)

    def place(sound: np.ndarray, at: int, gain: float) -> None:
        end = min(n, at + len(sound))
        if at < n:
            out[at:end] += gain * sound[: end - at]

    for i, at in enumerate(range(0, n, beat)):
        place(kick, at, 0.5 if i % 2 == 0 else 0.0)
        place(snare, at, 0.0 if i % 2 == 0 else 0.35)
        place(hat, at, 0.2)
        place(hat, at + beat // 2, 0.12)
    return out


def _vocal(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    note_len = 60.0 / BPM
    notes = rng.choice([60, 62, 64, 65, 67, 69], size=int(n / sr / note_len) + 2)
    idx = np.minimum((t // note_len).astype(int), len(notes) - 1)
    pitch = np.convolve(notes[idx].astype(float), np.ones(int(0.04 * sr)) / int(0.04 * sr), mode="same")  # glide
    f0 = _note_hz(pitch) * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * t))  # vibrato
    saw = 2 * ((np.cumsum(f0) / sr) % 1.0) - 1
    voice = np.zeros(n)
    for formant, bw, gain in ((700, 110, 1.0), (1220, 120, 0.5), (2600, 160, 0.25)):  # an "ah"
        b, a = scipy.signal.iirpeak(formant / (sr / 2), formant / bw)
        voice += gain * scipy.signal.lfilter(b, a, saw)
    phrase = (np.sin(np.pi * (t % (4 * note_len)) / (4 * note_len)) > 0.2).astype(float)
    phrase = np.convolve(phrase, np.ones(int(0.02 * sr)) / int(0.02 * sr), mode="same")
    return 0.3 * voice * phrase


def synth_stems(
    seconds: float, sample_rate: int = SAMPLE_RATE, channels: int = 2, seed: int = 0
) -> dict[str, np.ndarray]:
    """Harmonic, percussive and vocal stems, float32 (samples, channels), mildly panned."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    stems = {
        "harmonic": _harmonic(n, sample_rate, rng),
        "percussive": _percussive(n, sample_rate, rng),
        "vocal": _vocal(n, sample_rate, rng),
    }
    pans = {"harmonic": -0.3, "percussive": 0.2, "vocal": 0.0}
    out = {}
    for name, mono in stems.items():
        if channels == 1:
            out[name] = mono[:, None].astype(np.float32)
        else:
            gains = np.ones(channels)
            gains[0], gains[1] = 1 - max(pans[name], 0), 1 + min(pans[name], 0)
            out[name] = (mono[:, None] * gains[None]).astype(np.float32)
    return out


def write_musdb_track(directory: Path, seconds: float, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> Path:
    """A MUSDB18-HQ-layout track folder (drums, bass, other, vocals, mixture .wav)."""
    import soundfile as sf

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stems = synth_stems(seconds, sample_rate, 2, seed)
    # Split the harmonic part into "bass" and "other" by a low-pass, as a multitrack would have them.
    b, a = scipy.signal.butter(4, 200 / (sample_rate / 2))
    bass = scipy.signal.lfilter(b, a, stems["harmonic"], axis=0).astype(np.float32)
    parts = {"drums": stems["percussive"], "bass": bass, "other": stems["harmonic"] - bass, "vocals": stems["vocal"]}
    for name, audio in parts.items():
        sf.write(directory / f"{name}.wav", audio, sample_rate, subtype="FLOAT")
    sf.write(directory / "mixture.wav", sum(parts.values()), sample_rate, subtype="FLOAT")
    return directory


def write_example(path: Path, seconds: float = 8.0, seed: int = 7) -> Path:
    """The bundled example mix: harmonic + percussive + vocal, 44.1 kHz stereo, 16-bit."""
    import soundfile as sf

    mix = sum(synth_stems(seconds, SAMPLE_RATE, 2, seed).values())
    mix = 0.9 * mix / np.abs(mix).max()
    sf.write(Path(path), mix, SAMPLE_RATE, subtype="PCM_16")
    return Path(path)
