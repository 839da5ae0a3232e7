"""``--make-song-clips``: MIR-1K-style clips from real multitracks, for a DRNN that hears real bands.

MIR-1K's accompaniments are karaoke backing tracks; a DRNN trained on them alone takes real drums
and guitars for voice. These clips (16 kHz stereo FLAC, accompaniment left, voice right, named
``singer_song_clip`` like MIR-1K's so the DRNN trainer reads them with MIR-1K's) bring real
records in: every sung track cut into clips with its own accompaniment (``real_<track>_NN``), and
``paired`` clips of MIR-1K voices over random stretches of the tracks' accompaniments (drums +
everything else), each named after the voice's song (``amy_2+mixreal000_01``), so the DRNN's
split keeps it with that song and singer.
The voices of the paired clips stay MIR-1K's: band-limited to 8 kHz. Records carry their drums far
louder than most studio multitracks (about -3 dB against the rest, against -21 to 0 dB in
real-dev), and a DRNN that never heard a voice under loud drums loses it there: ``drum_level``
re-balances each clip's drums, and ``loops`` adds clips of voices over real drum loops alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import give_plain_permissions, level_gain, read_audio, resample
from ..errors import MixinError
from .mir1k import CLIP_SUFFIXES, DERIVED, read_clip, song_of, voice_groups
from .stems import Track, discover

RATE = 16000
"""The DRNN's rate (MIR-1K's)."""
CLIP_S = 8.0
"""Length of the clips cut from sung tracks (MIR-1K's clips are 4-13 s)."""
MIN_VOICE = 0.1
"""A cut clip is kept only where the voice's RMS is at least this share of the mix's."""
PEAK = 0.99
"""Clips that would clip (16-bit FLAC) are scaled down whole to this peak."""


def _mono16(paths: Sequence[Path]) -> np.ndarray:
    """The files summed, mono, at 16 kHz (the shortest length)."""
    parts = []
    for path in paths:
        audio, rate = read_audio(path)
        parts.append(resample(audio.mean(axis=1, keepdims=True), rate, RATE)[:, 0])
    n = min(len(p) for p in parts)
    return np.sum([p[:n] for p in parts], axis=0).astype(np.float32)


def _tag(name: str) -> str:
    """A track name as one underscore-free word (clip names are ``singer_song_clip``)."""
    return "".join(c for c in name.lower() if c.isalnum()) or "track"


def _write(path: Path, accompaniment: np.ndarray, voice: np.ndarray) -> None:
    """One clip: accompaniment left, voice right, scaled down together if it would clip."""
    clip = np.stack([accompaniment, voice], axis=1)
    peak = float(np.max(np.abs(clip))) if clip.size else 0.0
    sf.write(path, clip * (PEAK / peak) if peak > 1.0 else clip, RATE)


class _Accompaniment:
    """A track's drums and other accompaniment stems (mono, 16 kHz), mixed on request with the
    drums at their own level or at one drawn from ``drum_level`` (dB against the others)."""

    def __init__(self, track: Track, drum_level: tuple[float, float] | None, rng: np.random.Generator):
        others, drums = track.stems.get("harmonic", []), track.stems.get("percussive", [])
        parts = [_mono16(f) if f else None for f in (others, drums)]
        n = min(len(p) for p in parts if p is not None)
        self.others, self.drums = (None if p is None else p[:n] for p in parts)
        self.drum_level, self.rng = drum_level, rng
        self.length = n

    def mix(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` (wrapping around where the track is shorter)."""
        index = np.arange(start, stop) % self.length
        if self.drums is None or self.others is None:
            return (self.drums if self.others is None else self.others)[index]
        others, drums = self.others[index], self.drums[index]
        gain = level_gain(drums, others, self.rng.uniform(*self.drum_level)) if self.drum_level else None
        return others + (drums if gain is None else np.float32(gain) * drums)


def _check_out_dir(out_dir: Path, force: bool) -> None:
    """A :class:`MixinError` unless ``out_dir`` is new or empty, or (``force``) holds clips only."""
    if out_dir.exists() and not out_dir.is_dir():
        raise MixinError(out_dir, "exists and is not a directory")
    held = sorted(out_dir.iterdir()) if out_dir.is_dir() else []
    if held and not force:
        raise MixinError(out_dir, "already holds clips (use --force to replace them)")
    others = [p for p in held if not (p.is_file() and p.suffix.lower() in CLIP_SUFFIXES)]
    if others:
        raise MixinError(others[0], "is not a clip: --force replaces a folder of clips, nothing else")


@contextmanager
def _replacing(out_dir: Path, force: bool) -> Iterator[Path]:
    """A hidden folder beside ``out_dir`` to write the clips into, put in ``out_dir``'s place when
    complete (the earlier run's clips removed only then, and only with ``force``), removed on failure:
    never a folder of two runs' clips, nor a half-written one."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".part", dir=out_dir.parent))
    give_plain_permissions(staging)
    try:
        yield staging
        old = None
        if force and out_dir.is_dir() and any(out_dir.iterdir()):
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
            os.replace(out_dir, old)
        try:
            os.rename(staging, out_dir)  # onto an empty folder at most: another run's clips stay
        except OSError as exc:
            if old is not None:
                os.replace(old, out_dir)
            raise MixinError(out_dir, f"cannot put the clips in place ({exc.strerror or exc})") from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def make_song_clips(
    stem_dirs: Sequence[Path],
    voice_dir: Path | None,
    out_dir: Path,
    paired: int = 100,
    seed: int = 0,
    drum_level: tuple[float, float] | None = None,
    loops: Sequence[Path] = (),
    loop_clips: int = 0,
    force: bool = False,
) -> tuple[int, int, int]:
    """Write the clips into ``out_dir`` (a new or empty folder; with ``force`` one of clips only, whose
    clips are replaced once the new ones are complete) and return (clips cut from sung tracks, paired
    clips, clips over loops). Tracks need stems, not MIR-1K clips. ``drum_level`` (LOW, HIGH): every
    clip's drums at a level drawn from LOW..HIGH dB against the rest of its accompaniment;
    ``loop_clips`` voices over ``loops`` (drum recordings, tiled, at their own level) with nothing else."""
    tracks: list[Track] = discover(stem_dirs, layout="multitrack")
    # Voices and loops first: a bad folder or loop file stops the step before any clip is written.
    if loop_clips and not loops:
        raise MixinError(None, "clips over drum loops need loop files (--loops)")
    voiced = paired + loop_clips  # clips that take a MIR-1K voice
    if voiced and voice_dir is None:
        raise MixinError(None, "paired clips need --voices (MIR-1K-style clips)")
    clips = [c for group in voice_groups(Path(voice_dir)) for c in group] if voiced else []
    if voiced and not clips:
        raise MixinError(Path(voice_dir), "no MIR-1K-style clips to take voices from")
    loop_audio = [_mono16([Path(p)]) for p in loops] if loop_clips else []
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, force)
    with _replacing(out_dir, force) as staging:
        return _write_clips(tracks, clips, loop_audio, staging, paired, seed, drum_level, loop_clips, stem_dirs)


def _write_clips(
    tracks: list[Track],
    clips: list[Path],
    loop_audio: list[np.ndarray],
    out_dir: Path,
    paired: int,
    seed: int,
    drum_level: tuple[float, float] | None,
    loop_clips: int,
    stem_dirs: Sequence[Path],
) -> tuple[int, int, int]:
    """:func:`make_song_clips`' clips, written into ``out_dir``."""
    level_rng = np.random.default_rng([seed, 1])  # apart from the voices' draws, so those stay as they were
    accompaniments: list[_Accompaniment] = []
    cut = 0
    length = int(CLIP_S * RATE)
    for track in tracks:
        if not (track.stems.get("harmonic") or track.stems.get("percussive")):
            continue
        accompaniment = _Accompaniment(track, drum_level, level_rng)
        accompaniments.append(accompaniment)
        if "vocal" not in track.stems:
            continue
        voice = _mono16(track.stems["vocal"])
        for k in range(min(len(voice), accompaniment.length) // length):
            v, m = voice[k * length : (k + 1) * length], accompaniment.mix(k * length, (k + 1) * length)
            if np.sqrt(np.mean(v**2)) < MIN_VOICE * np.sqrt(np.mean((v + m) ** 2)):
                continue
            _write(out_dir / f"real_{_tag(track.name)}_{k:02d}.flac", m, v)
            cut += 1
    if not accompaniments:
        raise MixinError(Path(stem_dirs[0]) if stem_dirs else None, "no track with accompaniment stems")

    def voice_of(rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """A random voice and its song (the clip's name says whose voice it carries)."""
        clip = clips[int(rng.integers(len(clips)))]
        audio, rate = read_clip(clip)
        return resample(audio[:, 1:], rate, RATE)[:, 0], song_of(clip)

    rng = np.random.default_rng(seed)
    for k in range(paired):
        voice, song = voice_of(rng)
        music = accompaniments[int(rng.integers(len(accompaniments)))]
        start = int(rng.integers(0, max(1, music.length - len(voice))))
        _write(out_dir / f"{song}{DERIVED}mixreal{k:03d}_01.flac", music.mix(start, start + len(voice)), voice)
    rng = np.random.default_rng([seed, 2])
    for k in range(loop_clips):
        voice, song = voice_of(rng)
        loop = loop_audio[int(rng.integers(len(loop_audio)))]
        index = (np.arange(len(voice)) + int(rng.integers(len(loop)))) % len(loop)  # tiled from a random point
        _write(out_dir / f"{song}{DERIVED}mixloop{k:03d}_01.flac", loop[index], voice)
    return cut, paired, loop_clips
