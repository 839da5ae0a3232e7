"""``--prepare-stems``: track folders of stems -> mono 44.1 kHz training segments.

Stem names map to sources as in MiXiN: a name containing "drum" is percussive, "vocal" is
vocal, "mix" is skipped (the mixture is rebuilt from the stems), anything else is harmonic
(bass, other, guitar, ...), several harmonic stems summed. That covers MUSDB18-HQ's
drums/bass/other/vocals/mixture. MIR-1K-style clips (stereo files, left = accompaniment,
right = voice) give (mix, vocal) pairs only, since their accompaniment is not split.

Each segment becomes a folder ``<data-dir>/<id>/`` with ``mix.wav`` and one wav per source; a
track with vocals also gives an instrumental segment (harmonic + percussive, no voice), so those
two models learn from mixes without voice. ``segments.json`` records every segment's track and
the recordings each track is made of, so the data set can be split by track without parting a
recording (a MIR-1K voice, a MIDI song) between two sides.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import probe, read_audio, resample
from ..constants import CDAE_SOURCES, CHUNK_SIZE, SAMPLE_RATE
from ..errors import MixinError, no_directory
from ..progress import progress_bar
from .mir1k import RATE as MIR1K_RATE
from .mir1k import SHIFT, read_clip, song_of, voice_key
from .render import recordings_of

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}
MANIFEST = "segments.json"
STEM_WORDS = ("drum", "vocal", "mix", "bass", "other", "guitar", "piano", "accomp", "harmonic", "percussive")


def source_of(name: str) -> str | None:
    """MiXiN's name rule: drum -> percussive, vocal -> vocal, mix -> skipped, else harmonic."""
    lower = name.lower()
    if "mix" in lower:
        return None
    if "drum" in lower or "percussive" in lower:
        return "percussive"
    if "vocal" in lower:
        return "vocal"
    return "harmonic"


@dataclass
class Track:
    """One song: a folder of stems (by source), or one MIR-1K-style stereo clip."""

    name: str
    stems: dict[str, list[Path]] = field(default_factory=dict)  # source -> files summed
    clip: Path | None = None  # MIR-1K: left accompaniment, right voice
    folder: Path | None = None  # a track folder's own path

    @property
    def sources(self) -> tuple[str, ...]:
        if self.clip is not None:
            return ("vocal",)
        return tuple(s for s in CDAE_SOURCES if s in self.stems)

    @property
    def song(self) -> str:
        """What the train/validation/test split keeps on one side: the track, or a clip's song
        (the clips of one MIR-1K song must not straddle the split)."""
        return self.name if self.clip is None else f"{self.clip.parent.name}/{song_of(self.clip)}"

    @property
    def recordings(self) -> list[str]:
        """The recordings it is made of, which no split may part: a clip's voice, a rendered track's
        MIDI song and voices (its ``render.txt``), else the track itself. Tracks sharing one (a
        MIR-1K clip and the render that sings it, two renders of one MIDI song) split as one."""
        if self.clip is not None:
            return [voice_key(self.clip)]
        return (recordings_of(self.folder) if self.folder is not None else []) or [self.song]


def _audio_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def _stem_track(directory: Path, files: list[Path]) -> Track:
    track = Track(name=directory.name, folder=directory)
    for f in files:
        source = source_of(f.stem)
        if source is not None:
            track.stems.setdefault(source, []).append(f)
    return track


def discover(stem_dirs: Sequence[Path], layout: str = "auto", track_limit: int | None = None) -> list[Track]:
    """Tracks under each directory, in sorted order; ``layout`` is auto, multitrack or mir1k.

    auto: a directory of track folders is multitrack (each folder a song); a directory whose own
    audio files are named like stems (drums, vocals, bass, ...) is one track; any other directory
    of audio files holds MIR-1K-style clips.
    """
    tracks: list[Track] = []
    for d in map(Path, stem_dirs):
        if not d.is_dir():
            raise no_directory(d, "stem directory")
        files = _audio_files(d)
        subdirs = sorted(p for p in d.iterdir() if p.is_dir() and _audio_files(p))
        if layout == "mir1k" or (
            layout == "auto"
            and files
            and not subdirs
            and not any(w in f.stem.lower() for f in files for w in STEM_WORDS)
        ):
            tracks += [Track(name=f"{d.name}/{f.stem}", clip=f) for f in files]
        elif subdirs:
            tracks += [_stem_track(s, _audio_files(s)) for s in subdirs]
        elif files:
            tracks.append(_stem_track(d, files))
        else:
            raise MixinError(d, "no audio files or track folders in stem directory")
    tracks = _once_each(tracks)
    if track_limit is not None:
        tracks = tracks[:track_limit]
    return tracks


def _once_each(tracks: list[Track]) -> list[Track]:
    """``tracks`` without repeats: a folder named twice in ``--stem-dirs``, or both as a track and
    inside its parent, would otherwise count its song twice (with a warning)."""
    seen: set[tuple[Path, ...]] = set()
    kept = []
    for track in tracks:
        files = [track.clip] if track.clip is not None else [f for fs in track.stems.values() for f in fs]
        key = tuple(sorted(f.resolve() for f in files))
        if key in seen:
            warnings.warn(f"{track.name}: given twice in the stem directories, used once", stacklevel=3)
            continue
        seen.add(key)
        kept.append(track)
    return kept


def _read_span(path: Path, start_s: float, seconds: float, channels: str = "mono") -> np.ndarray:
    """Seconds of a file from ``start_s``, at 44.1 kHz; mono mix-down, or a MIR-1K-style clip's
    (n, 2) for 'stereo'."""
    data, rate = (read_clip if channels == "stereo" else read_audio)(path, start_s, seconds)
    if not np.isfinite(data).all():
        raise MixinError(path, "contains NaN or infinite samples")
    if channels == "mono":
        data = data.mean(axis=1, keepdims=True)
    return resample(data, rate, SAMPLE_RATE)


def _durations(track: Track) -> float:
    """Usable length (s) of a track: the shortest stem, with a warning when stems differ."""
    files = [track.clip] if track.clip else [f for fs in track.stems.values() for f in fs]
    infos = {f: probe(f) for f in files}
    lengths = {f: i.duration for f, i in infos.items()}
    rates = {i.sample_rate for i in infos.values()}
    shortest = min(lengths.values())
    if max(lengths.values()) - shortest > 0.01:
        warnings.warn(
            f"{track.name}: stems differ in length ({shortest:.2f}-{max(lengths.values()):.2f} s), "
            f"trimmed to {shortest:.2f} s",
            stacklevel=2,
        )
    if len(rates) > 1:
        warnings.warn(
            f"{track.name}: stems at different rates {sorted(rates)}, all resampled to {SAMPLE_RATE} Hz", stacklevel=2
        )
    return shortest


SEGMENT_ID = re.compile(r"t\d{4}-s\d{4}-a\d+-(v|nov)")
"""The name of a segment folder (:func:`prepare_stems`)."""


def _stray_segments(data_dir: Path, prepared: list[Path]) -> list[Path]:
    """Folders in ``data_dir`` named like segments that its manifest does not name (``prepared``):
    left by an interrupted run, or by one whose ``segments.json`` is gone or damaged."""
    if not data_dir.is_dir():
        return []
    named = set(prepared)
    return sorted(p for p in data_dir.iterdir() if SEGMENT_ID.fullmatch(p.name) and p not in named)


def _prepared_segments(data_dir: Path) -> list[Path]:
    """The segment folders an earlier ``--prepare-stems`` wrote in ``data_dir`` (its manifest's)."""
    try:
        manifest = json.loads((Path(data_dir) / MANIFEST).read_text())
        names = [str(s["id"]) for s in manifest["segments"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [Path(data_dir) / name for name in names if name and "/" not in name and name not in (".", "..")]


@dataclass
class Segment:
    """One prepared segment: its folder, the track it came from, the sources it holds."""

    id: str
    track: str
    sources: list[str]
    vocal_mix: bool
    tracks: list[str] = field(default_factory=list)  # all tracks it draws on (remixes: several; a clip: its song)


def _segment_sources(track: Track, start: float, seconds: float) -> dict[str, np.ndarray]:
    if track.clip is not None:
        lr = _read_span(track.clip, start, seconds, channels="stereo")
        return {"accompaniment": lr[:, 0], "vocal": lr[:, 1]}
    out = {}
    for source, files in track.stems.items():
        parts = [_read_span(f, start, seconds)[:, 0] for f in files]
        n = min(len(p) for p in parts)
        out[source] = np.sum([p[:n] for p in parts], axis=0)
    n = min(len(v) for v in out.values())
    return {s: v[:n] for s, v in out.items()}


def _mixes(stems: dict[str, np.ndarray]) -> Iterator[tuple[dict[str, np.ndarray], bool]]:
    """MiXiN's two mixes per segment: with voice (all sources) and without (no vocal)."""
    if "accompaniment" in stems:  # (mix, vocal) pair
        yield {"vocal": stems["vocal"], "mix": stems["vocal"] + stems["accompaniment"]}, True
        return
    yield {**stems, "mix": sum(stems.values())}, "vocal" in stems
    if "vocal" in stems and len(stems) > 1:
        rest = {s: v for s, v in stems.items() if s != "vocal"}
        yield {**rest, "mix": sum(rest.values())}, False


def _augmented(
    stems: dict[str, np.ndarray], rng: np.random.Generator, copy: int, pool: list[tuple[str, dict[str, np.ndarray]]]
) -> tuple[dict[str, np.ndarray], list[str]]:
    """A variant of a segment and the other tracks it borrows from.

    Random gain per source (-6..+3 dB); for voice/accompaniment pairs, the voice circularly
    shifted against the music by ``copy`` steps of 10000 samples at 16 kHz (Huang et al. 2014),
    i.e. 27563 at 44.1 kHz; for multitrack, one source swapped for another track's (a remix).
    """
    out = {s: v * np.float32(10 ** (rng.uniform(-6, 3) / 20)) for s, v in stems.items()}
    borrowed: list[str] = []
    if "accompaniment" in out:
        out["vocal"] = np.roll(out["vocal"], int(copy * SHIFT * SAMPLE_RATE / MIR1K_RATE))
    elif pool:
        name, other = pool[rng.integers(len(pool))]
        swap = [s for s in out if s in other]
        if swap:
            s = swap[rng.integers(len(swap))]
            n = min(len(out[s]), len(other[s]))
            out = {k: v[:n] for k, v in out.items()}
            out[s] = other[s][:n] * np.float32(10 ** (rng.uniform(-6, 3) / 20))
            borrowed = [name]
    return out, borrowed


def _swap_in(staging: Path, data_dir: Path, old: list[Path]) -> None:
    """Move ``staging``'s segments, then its manifest, into ``data_dir`` in place of the ``old``
    segments and manifest; if a move fails, the new ones go and the old ones come back, so the
    folder holds one whole set either way."""
    retired = data_dir / f".prepare.{os.getpid()}.old"
    shutil.rmtree(retired, ignore_errors=True)
    retired.mkdir()
    moved_out: list[Path] = []
    moved_in: list[Path] = []
    try:
        for item in [*old, data_dir / MANIFEST]:
            if not item.exists():
                continue
            os.replace(item, retired / item.name)
            moved_out.append(item)
        for item in sorted(staging.iterdir(), key=lambda p: p.name == MANIFEST):  # the manifest last
            target = data_dir / item.name
            try:
                os.replace(item, target)
            except OSError as exc:
                raise MixinError(target, f"cannot put in place ({exc.strerror or exc})") from None
            moved_in.append(target)
    except BaseException:
        for item in moved_in:
            if item.is_dir():
                shutil.rmtree(item, ignore_errors=True)
            else:
                item.unlink(missing_ok=True)
        for item in moved_out:
            os.replace(retired / item.name, item)
        raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)


def prepare_stems(
    stem_dirs: Sequence[Path],
    data_dir: Path,
    *,
    segment_duration: float = 30.0,
    segment_offset: int = 0,
    segment_limit: int | None = None,
    track_limit: int | None = None,
    layout: str = "auto",
    augment: int = 0,
    seed: int = 0,
    force: bool = False,
    progress: bool = False,
) -> list[Segment]:
    """Write segments under ``data_dir`` and ``segments.json``; returns the segments.

    Segments are ``segment_duration`` seconds; indices ``segment_offset`` to ``segment_limit``
    (exclusive) of each track are kept; a last, shorter segment counts if it holds a chunk.
    Written into a temporary folder and moved into place when complete.
    """
    data_dir = Path(data_dir)
    if (data_dir / MANIFEST).exists() and not force:
        raise MixinError(data_dir, f"already holds prepared segments ({MANIFEST}); use --force to replace them")
    strays = _stray_segments(data_dir, _prepared_segments(data_dir))
    if strays:
        raise MixinError(
            strays[0],
            f"a segment folder that no {MANIFEST} names (left by an interrupted run, or {MANIFEST} is gone or "
            "damaged): remove such folders, or prepare into another --data-dir",
        )
    tracks = discover(stem_dirs, layout, track_limit)
    if not tracks:
        raise MixinError(Path(stem_dirs[0]), "no tracks found")
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(data_dir) / f".prepare.{os.getpid()}.part"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    rng = np.random.default_rng(seed)
    segments: list[Segment] = []
    recordings: dict[str, list[str]] = {}  # track (song) -> the recordings it is made of
    failures: list[str] = []
    bar = progress_bar(progress, total=len(tracks), unit="track", desc="preparing stems")
    try:
        pool: list[tuple[str, dict[str, np.ndarray]]] = []  # recent segments of other tracks
        for t_index, track in enumerate(tracks):
            bar.update(1)
            if not track.sources:
                failures.append(f"{track.name}: no usable stems (only mixtures?)")
                continue
            try:
                duration = _durations(track)
                count = int(np.ceil(duration / segment_duration - 1e-9))
                stop = count if segment_limit is None else min(count, segment_limit)
                for k in range(segment_offset, stop):
                    start = k * segment_duration
                    stems = _segment_sources(track, start, min(segment_duration, duration - start))
                    if len(next(iter(stems.values()))) < CHUNK_SIZE:
                        continue
                    others = [p for p in pool if p[0] != track.song]
                    variants = [(stems, [], 0)] + [
                        (*_augmented(stems, rng, c, others), c) for c in range(1, augment + 1)
                    ]
                    for v_stems, borrowed, copy in variants:
                        for part, with_voice in _mixes(v_stems):
                            seg_id = f"t{t_index:04d}-s{k:04d}-a{copy}-{'v' if with_voice else 'nov'}"
                            folder = staging / seg_id
                            folder.mkdir()
                            for name, audio in part.items():
                                sf.write(str(folder / f"{name}.wav"), audio, SAMPLE_RATE, subtype="FLOAT")
                            sources = [s for s in CDAE_SOURCES if s in part]
                            segments.append(Segment(seg_id, track.name, sources, with_voice, [track.song, *borrowed]))
                    recordings[track.song] = track.recordings
                    if track.clip is None:
                        pool = (pool + [(track.song, stems)])[-8:]
            except MixinError as exc:
                failures.append(str(exc))
        if not segments:
            raise MixinError(data_dir, "no segments prepared: " + ("; ".join(failures) or "tracks too short"))
        manifest = {
            "sample_rate": SAMPLE_RATE,
            "segment_duration": segment_duration,
            "augment": augment,
            "seed": seed,
            "segments": [asdict(s) for s in segments],
            "recordings": recordings,
            "skipped": failures,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        # Replace the old segments only now that the new ones are complete (only those its
        # manifest names: a folder of a user's own in the data directory is not ours to remove).
        _swap_in(staging, data_dir, _prepared_segments(data_dir))
    finally:
        bar.close()
        shutil.rmtree(staging, ignore_errors=True)
    for f in failures:
        warnings.warn(f"skipped {f}", stacklevel=2)
    return segments


def load_manifest(data_dir: Path) -> dict:
    """The prepared segments' manifest; a clear error when there is none."""
    path = Path(data_dir) / MANIFEST
    if not path.exists():
        raise MixinError(path, "not found: run --prepare-stems first")
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        raise MixinError(path, f"invalid manifest ({exc})") from None
    problem = _manifest_problem(manifest)
    if problem:
        raise MixinError(path, f"invalid manifest ({problem}): run --prepare-stems --force again")
    return manifest


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _manifest_problem(manifest: object) -> str | None:
    """What a parsed ``segments.json`` lacks that the later steps read, or None."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("segments"), list):
        return "no list of segments"
    for k, seg in enumerate(manifest["segments"]):
        if not isinstance(seg, dict):
            return f"segment {k} is not an object"
        if not isinstance(seg.get("id"), str) or not SEGMENT_ID.fullmatch(seg["id"]):
            return f"segment {k} has no segment folder name (id)"
        if not _strings(seg.get("sources")) or not _strings(seg.get("tracks")) or not seg["tracks"]:
            return f"segment {seg['id']} lacks its sources or tracks"
    recordings = manifest.get("recordings", {})
    if not isinstance(recordings, dict) or not all(_strings(r) for r in recordings.values()):
        return "recordings is not a map of tracks to lists of recordings"
    return None
