"""MIR-1K-style clips (stereo: accompaniment left, singing voice right): reading them, grouping
them by song, and the held-out split that training, rendering and evaluation all use (or, for the
DRNN's leave-one-singer-out runs, a split by singer).

Clip names are ``singer_song_clip`` (``abjones_1_01.wav``); a song's clips always stay on one
side of the split, so no song is both trained on and scored.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..errors import MixinError, no_directory

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

VALIDATION_EVERY = 5
"""Every fifth song (MIR-1K song, MIDI song) in sorted order is held out for validation."""

RATE = 16000
"""MIR-1K's sample rate."""

SHIFT = 10000
"""Step (samples at RATE) of the voice's circular shift against the music (Huang et al. 2014)."""

SPLITS = ("train", "validation")
"""The two sides of the held-out split (of songs, SoundFonts and voices alike)."""

CLIP_NAME = re.compile(r"[^_]+_.+_\d+")
"""A MIR-1K-style clip's name (its stem): ``singer_song_clip``."""
CLIP_SUFFIXES = (".wav", ".flac")

T = TypeVar("T")


def split_for(items: Sequence[T], split: str) -> list[T]:
    """Every VALIDATION_EVERY-th item (in sorted order) is validation's, the rest training's."""
    keep = [i % VALIDATION_EVERY == VALIDATION_EVERY - 1 for i in range(len(items))]
    return [x for x, k in zip(items, keep, strict=True) if k == (split == "validation")]


DERIVED = "+"
"""In a clip's name, what follows the song whose voice it carries: ``amy_2+mixreal000_01`` is a clip
made from song amy_2's voice (:mod:`mixin.data.song_clips`); it belongs to that song and singer."""


def song_of(path: Path) -> str:
    """MIR-1K names clips ``singer_song_clip``: the name without its clip number; for a clip made
    from another's voice (``singer_song+what_clip``), that voice's song."""
    return re.sub(r"_\d+$", "", Path(path).stem).split(DERIVED, 1)[0]


def voice_key(path: Path) -> str:
    """The recording a MIR-1K-style clip's voice is, whatever folder holds it (a linked copy, or the
    clip a rendered track sang, is the same recording): the split keeps it on one side."""
    return f"voice:{song_of(path)}"


def voice_groups(voice_dir: Path) -> list[list[Path]]:
    """MIR-1K clips grouped by song (``singer_song_clip``), in sorted order."""
    groups: dict[str, list[Path]] = {}
    for p in sorted(Path(voice_dir).glob("*.*")):
        if p.suffix.lower() in CLIP_SUFFIXES:
            groups.setdefault(song_of(p), []).append(p)
    return [groups[k] for k in sorted(groups)]


def split_clips(voice_dir: Path, split: str) -> list[Path]:
    """The clips of ``split``'s songs in ``voice_dir``."""
    return [clip for group in split_for(voice_groups(voice_dir), split) for clip in group]


def _derived(group: list[Path]) -> bool:
    """Whether a song's clips are all made from its voice elsewhere (none of its own recordings)."""
    return all(DERIVED in p.stem for p in group)


def song_sides(dirs: Sequence[Path]) -> dict[str, str]:
    """The side of each song of ``dirs``: every fifth song of a folder is validation's
    (:func:`split_clips`), decided where the song's own clips are, so clips made from its voice in
    another folder (``--make-song-clips``) go with it; a song found only in such clips takes its
    place in their folder."""
    sides: dict[str, str] = {}
    for own in (True, False):
        for d in dirs:
            groups = voice_groups(Path(d))
            for side in SPLITS:
                for group in split_for(groups, side):
                    if _derived(group) != own:
                        sides.setdefault(song_of(group[0]), side)
    return sides


def singer_of(path: Path) -> str:
    """MIR-1K names clips ``singer_song_clip``: the part before the first underscore."""
    return Path(path).stem.split("_", 1)[0]


def check_clip_dir(directory: Path) -> None:
    """A :class:`MixinError` unless ``directory`` is a folder whose clips are all named
    ``singer_song_clip``: a MUSDB track folder's bass.wav, vocals.wav ... were read as clips."""
    directory = Path(directory)
    if not directory.is_dir():
        raise no_directory(directory, "clip directory")
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in CLIP_SUFFIXES)
    for f in files:
        if not CLIP_NAME.fullmatch(f.stem):
            raise MixinError(
                f, "is not named like a MIR-1K-style clip (singer_song_clip): a track of stems trains the CDAEs"
            )
    if not files and any(p.is_dir() for p in directory.iterdir()):
        raise MixinError(
            directory, "holds folders, not MIR-1K-style clips (singer_song_clip.wav): tracks of stems train the CDAEs"
        )


def split_paths(dirs: Sequence[Path], split: str, val_singer: str | None = None) -> list[Path]:
    """The clip files of ``split`` ("train", "validation" or "all") in MIR-1K-style directories
    (:func:`check_clip_dir`).

    Without ``val_singer`` every fifth song is validation's (:func:`song_sides`); with it (leave
    one singer out), every clip of that singer is validation's and every other singer's clip
    training's. A clip made from another clip's voice (``amy_2+mixreal000_01``) is that song's
    and that singer's, so no voice is on both sides."""
    if split not in (*SPLITS, "all"):
        raise ValueError(split)
    paths: list[Path] = []
    sides: dict[str, str] = {}
    for d in map(Path, dirs):
        check_clip_dir(d)
        groups = voice_groups(d)
        if split == "all":
            paths += [p for g in groups for p in g]
        elif val_singer is None:
            sides = sides or song_sides(dirs)
            paths += [p for g in groups if sides[song_of(g[0])] == split for p in g]
        else:
            paths += [p for g in groups for p in g if (singer_of(p) == val_singer) == (split == "validation")]
    if val_singer is not None and split == "validation" and not paths:
        singers = sorted({singer_of(p) for d in dirs for g in voice_groups(Path(d)) for p in g})
        raise MixinError(Path(dirs[0]), f"no clips of singer {val_singer!r} (singers: {', '.join(singers) or 'none'})")
    return paths


def read_clip(path: Path, start_s: float = 0.0, seconds: float | None = None) -> tuple[np.ndarray, int]:
    """A clip (or ``seconds`` of it from ``start_s``): float32 (samples, 2), accompaniment then
    voice, and its rate; a one-line :class:`MixinError` unless it is a readable stereo file."""
    from ..audio import read_audio

    audio, rate = read_audio(path, start_s, seconds)
    if audio.shape[1] != 2:
        raise MixinError(
            path,
            "MIR-1K-style clips must be stereo (accompaniment left, voice right), "
            f"this has {audio.shape[1]} channel(s)",
        )
    return audio, rate


def link_songs(src: Path, dst: Path, split: str) -> int:
    """Symlink the clips of ``split``'s songs from ``src`` into a fresh ``dst``; returns how many.
    An existing ``dst`` is replaced only if it holds nothing but links (an earlier call's)."""
    if split not in SPLITS:
        raise MixinError(None, f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise no_directory(src, "clip directory")
    if dst.exists() or dst.is_symlink():
        if not dst.is_dir() or dst.is_symlink():
            raise MixinError(dst, "exists and is not a directory of links")
        if any(not p.is_symlink() for p in dst.iterdir()):  # a folder of real files: perhaps the clips
            raise MixinError(dst, "holds files that are not links; give a new or link-only directory")
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    clips = split_clips(src, split)
    for clip in clips:
        (dst / clip.name).symlink_to(clip.resolve())
    return len(clips)
