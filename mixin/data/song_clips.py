"""``--make-song-clips``: MIR-1K-style clips from real multitracks, for a DRNN that hears real bands.

MIR-1K's accompaniments are karaoke backing tracks; a DRNN trained on them alone takes real drums
and guitars for voice. These clips (16 kHz stereo FLAC, accompaniment left, voice right, named
``singer_song_clip`` like MIR-1K's so the DRNN trainer reads them with MIR-1K's) bring real
records in: every sung track cut into clips with its own accompaniment, and ``paired`` clips of
MIR-1K voices over random stretches of the tracks' accompaniments (drums + everything else).
The voices of the paired clips stay MIR-1K's: band-limited to 8 kHz.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from ..audio import read_audio, resample
from ..errors import MixinError
from .mir1k import read_clip, voice_groups
from .stems import Track, discover

RATE = 16000
"""The DRNN's rate (MIR-1K's)."""
CLIP_S = 8.0
"""Length of the clips cut from sung tracks (MIR-1K's clips are 4-13 s)."""
MIN_VOICE = 0.1
"""A cut clip is kept only where the voice's RMS is at least this share of the mix's."""


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


def make_song_clips(
    stem_dirs: Sequence[Path], voice_dir: Path | None, out_dir: Path, paired: int = 100, seed: int = 0
) -> tuple[int, int]:
    """Write the clips into ``out_dir`` (created; existing clips of the same names replaced) and
    return (clips cut from sung tracks, paired clips). Tracks need stems, not MIR-1K clips."""
    tracks: list[Track] = discover(stem_dirs, layout="multitrack")
    accompaniments: list[np.ndarray] = []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cut = 0
    length = int(CLIP_S * RATE)
    for track in tracks:
        music_files = track.stems.get("harmonic", []) + track.stems.get("percussive", [])
        if not music_files:
            continue
        music = _mono16(music_files)
        accompaniments.append(music)
        if "vocal" not in track.stems:
            continue
        voice = _mono16(track.stems["vocal"])
        n = min(len(voice), len(music))
        for k in range(n // length):
            v, m = voice[k * length : (k + 1) * length], music[k * length : (k + 1) * length]
            if np.sqrt(np.mean(v**2)) < MIN_VOICE * np.sqrt(np.mean((v + m) ** 2)):
                continue
            sf.write(out_dir / f"real_{_tag(track.name)}_{k:02d}.flac", np.stack([m, v], axis=1), RATE)
            cut += 1
    if not accompaniments:
        raise MixinError(Path(stem_dirs[0]) if stem_dirs else None, "no track with accompaniment stems")
    if paired and voice_dir is None:
        raise MixinError(None, "paired clips need --voices (MIR-1K-style clips)")
    clips = [c for group in voice_groups(Path(voice_dir)) for c in group] if paired else []
    if paired and not clips:
        raise MixinError(Path(voice_dir), "no MIR-1K-style clips to take voices from")
    rng = np.random.default_rng(seed)
    for k in range(paired):
        audio, rate = read_clip(clips[int(rng.integers(len(clips)))])
        voice = resample(audio[:, 1:], rate, RATE)[:, 0]
        music = accompaniments[int(rng.integers(len(accompaniments)))]
        start = int(rng.integers(0, max(1, len(music) - len(voice))))
        stretch = np.resize(np.roll(music, -start), len(voice))  # tiled where the track is shorter
        sf.write(out_dir / f"mixreal_{k:03d}_01.flac", np.stack([stretch, voice], axis=1), RATE)
    return cut, paired
