"""Evaluation mixes assembled from real multitrack recordings: percussion under real instruments.

:func:`make_percussion_mixes` takes one song's pitched stems (everything but drums and vocals) and
lays a real percussion recording under it: the drums of another song of the set, or a drum loop
(e.g. Debian's ``sonic-pi-samples``, CC0), repeated to the song's length at a random level.
Written as track folders ``mixture.wav``, ``harmonic.wav``, ``drums.wav`` that
``./eval_mixin.py`` scores (no vocals: an instrumental yardstick for the harmonic/percussive split).

:func:`make_loud_drum_songs` keeps each song whole and only sets its drums' level against the rest,
as pop and rock records have them: studio multitracks such as real-dev's often carry quiet drums,
which make every percussive figure low and favour settings that neglect the drums. With ``spread``
it also places the stems as a stereo record would (:func:`place`): real-dev's multitracks are mono or nearly so,
the held-out pop and rock songs most likely not.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import level_gain, read_audio, resample, unfit_samples
from ..constants import LOUD_DRUMS_DB
from ..errors import MixinError
from ..files import check_writable
from .stems import AUDIO_SUFFIXES, source_of

LEVEL_DB = (-6.0, 3.0)
"""Percussion level relative to the pitched stems' RMS, drawn uniformly (dB)."""
PEAK = 0.9
"""Peak of every mixture written (the stems scaled alike)."""
MIX_NAME = re.compile(r"\d{2,} .+ \+ .+")
"""Names of the folders :func:`make_percussion_mixes` writes: number, song, ``+``, percussion."""
MIX_FILES = frozenset({"harmonic.wav", "drums.wav", "mixture.wav"})
"""What each of them holds."""
SPREAD_PAN = 0.45
"""With ``spread``: pitched stems other than the bass sit this far left and right, in turn (-1 .. 1)."""
SPREAD_WET = {"vocal": 0.18, "percussive": 0.12, "harmonic": 0.2, "bass": 0.0}
"""With ``spread``: wet level of each stem's own stereo reverb (by source; the bass stays dry)."""


def _read_stems(folder: Path, sources: Collection[str] | None = None) -> tuple[dict[str, tuple[str, np.ndarray]], int]:
    """The stem files of a track folder (of ``sources`` only, if given; never the mixture): name ->
    (source, (samples, 2) audio), and their common rate."""
    stems: dict[str, tuple[str, np.ndarray]] = {}
    rate = 0
    for p in sorted(folder.iterdir()):
        source = source_of(p.stem) if p.suffix.lower() in AUDIO_SUFFIXES else None
        if source is None or (sources is not None and source not in sources):
            continue
        audio, rate_p = read_audio(p)
        if rate and rate_p != rate:
            raise MixinError(p, f"sample rate {rate_p} Hz differs from the other stems' {rate} Hz")
        rate = rate_p
        stems[p.stem] = (source, stereo(audio))
    return stems, rate


def _stems(folder: Path) -> tuple[np.ndarray | None, np.ndarray | None, int]:
    """(pitched sum, drums) of a track folder, (samples, 2) each, and the rate."""
    stems, rate = _read_stems(folder, ("harmonic", "percussive"))
    pitched = drums = None
    for source, audio in stems.values():
        if source == "harmonic":
            pitched = audio if pitched is None else pitched[: len(audio)] + audio[: len(pitched)]
        else:
            drums = audio
    return pitched, drums, rate


def stereo(audio: np.ndarray) -> np.ndarray:
    """(samples, 2): mono repeated, channels beyond two dropped."""
    return np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio[:, :2]


def place(parts: Mapping[str, np.ndarray], sources: Mapping[str, str], rate: int) -> dict[str, np.ndarray]:
    """(samples, 2) stems, each as its mono sum placed as on a stereo record: the bass, the voice
    and the drums in the middle, other pitched stems :data:`SPREAD_PAN` to the left and right in
    turn, each with a stereo reverb of its own (pedalboard; :data:`SPREAD_WET`), cut to its length.
    The same stems give the same result. ``sources``: name -> source (:func:`~mixin.data.stems.source_of`)."""
    import pedalboard as pb

    from .render import pan

    placed: dict[str, np.ndarray] = {}
    side = -1.0
    for name, audio in parts.items():
        source = sources[name]
        position = 0.0
        if source == "harmonic" and name != "bass":
            position, side = side * SPREAD_PAN, -side
        out = pan(audio.mean(axis=1), position)  # (2, n)
        wet = SPREAD_WET["bass" if name == "bass" else source]
        if wet > 0:
            board = pb.Pedalboard([pb.Reverb(room_size=0.5, damping=0.5, wet_level=wet, dry_level=1.0, width=1.0)])
            out = board(np.ascontiguousarray(out), float(rate))[:, : len(audio)]
        placed[name] = np.ascontiguousarray(out.T, dtype=np.float32)
    return placed


def tile_to(audio: np.ndarray, length: int) -> np.ndarray:
    """Repeat or cut (samples, channels) audio to ``length`` samples."""
    return np.tile(audio, (-(-length // len(audio)), 1))[:length]


def _read_loop(path: Path) -> tuple[np.ndarray, int]:
    """A ``--loops`` file and its rate; a one-line :class:`MixinError` if it is unreadable, empty
    or holds NaN or infinite samples, a warning if it is silent (no mix can be made with it)."""
    audio, rate = read_audio(path)
    if not len(audio):
        raise MixinError(path, "holds no samples: not a percussion recording")
    if problem := unfit_samples(audio):
        raise MixinError(path, problem)
    if not np.any(audio):
        warnings.warn(f"{path}: silent: no mix made with it", stacklevel=3)
    return audio, rate


def _leave_out(song: Path, label: str, why: str) -> None:
    """Warn that ``song`` under ``label`` makes no mix, and why."""
    warnings.warn(f"{song.name} + {label}: no mix made: {why}", stacklevel=3)


def _check_apart(tracks_dir: Path, out_dir: Path) -> None:
    """A :class:`MixinError` if ``out_dir`` is ``tracks_dir``: even ``--force`` must not rewrite the songs read."""
    if Path(out_dir).resolve() == Path(tracks_dir).resolve():
        raise MixinError(out_dir, "is the folder the songs are read from: give another output folder")


def make_percussion_mixes(
    tracks_dir: Path, out_dir: Path, loops: Sequence[Path] = (), *, seed: int = 0, force: bool = False
) -> list[Path]:
    """For each song of ``tracks_dir`` (MUSDB18-HQ layout): its pitched stems under the drums of
    the song three places on, and song i (in name order) also under loop i of ``loops``: a loop
    left without a song with pitched stems is not used (with a warning)."""
    _check_apart(tracks_dir, out_dir)
    songs = sorted(p for p in Path(tracks_dir).iterdir() if p.is_dir())
    stems = {s: _stems(s) for s in songs}
    for i, loop in enumerate(loops):
        if i >= len(songs):
            warnings.warn(
                f"{loop}: not used: loop i goes under song i, and {tracks_dir} holds {len(songs)} song(s)", stacklevel=2
            )
        elif stems[songs[i]][0] is None:
            warnings.warn(
                f"{loop}: not used: {songs[i].name}, the song it goes under, has no pitched stems", stacklevel=2
            )
    with_drums = [s for s in songs if stems[s][1] is not None]
    loops = list(loops)
    loop_audio = [_read_loop(loop) for loop in loops]  # before anything is written
    out_dir = Path(out_dir)
    check_writable(out_dir)
    earlier = _earlier_mixes(out_dir, force)
    rng = np.random.default_rng(seed)
    names: list[str] = []
    with _staging(out_dir, "percussion-mixes") as staging:
        for i, song in enumerate(songs):
            pitched, _, rate = stems[song]
            if pitched is None:
                continue
            under: list[tuple[str, np.ndarray, bool]] = []  # label, percussion, a loop?
            if len(with_drums) > 1:
                other = [s for s in with_drums if s != song][(i + 2) % (len(with_drums) - 1)]
                _, drums, drums_rate = stems[other]
                under.append((f"drums of {other.name}", resample(drums, drums_rate, rate), False))
            if i < len(loops):
                loop, loop_rate = loop_audio[i]
                loop = resample(loop, loop_rate, rate)
                under.append((loops[i].stem, stereo(loop), True))
            for label, perc, is_loop in under:
                level_db = rng.uniform(*LEVEL_DB)  # drawn even where unused: the same mixes
                if not len(perc):
                    _leave_out(song, label, f"the percussion is under one sample at {rate} Hz")
                    continue
                perc = tile_to(perc, len(pitched))
                gain = level_gain(perc, pitched, level_db)
                if gain is None:
                    if not np.any(pitched):
                        _leave_out(song, label, "the song's pitched stems are silent")
                    elif not is_loop:  # a silent loop was warned of as it was read
                        _leave_out(song, label, "those drums are silent")
                    continue
                perc = perc * np.float32(gain)
                mix = pitched + perc
                scale = np.float32(PEAK / max(float(np.abs(mix).max()), 1e-9))
                names.append(f"{len(names):02d} {song.name} + {label}")
                folder = staging / names[-1]
                folder.mkdir()
                for name, audio in (("harmonic", pitched), ("drums", perc), ("mixture", mix)):
                    sf.write(str(folder / f"{name}.wav"), audio * scale, rate, subtype="FLOAT")
        if not names:
            raise MixinError(tracks_dir, "no track folder with pitched stems")
        for folder in earlier:  # the old set goes only now that the new one is complete
            shutil.rmtree(folder)
        return _move_in(staging, names, out_dir)


@contextmanager
def _staging(out_dir: Path, label: str) -> Iterator[Path]:
    """A hidden folder in ``out_dir`` that a set is written into before :func:`_move_in`; removed
    at the end, whatever happened (a failed or interrupted run leaves the earlier set as it was)."""
    staging = out_dir / f".{label}.{os.getpid()}.part"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_in(staging: Path, names: Sequence[str], out_dir: Path) -> list[Path]:
    """The complete set's folders moved from ``staging`` into ``out_dir``, each replacing a folder of
    its name whole, so that none of an earlier folder's files stays beside the new ones."""
    for name in names:
        if (out_dir / name).is_dir():
            shutil.rmtree(out_dir / name)
        os.replace(staging / name, out_dir / name)
    return [out_dir / name for name in names]


def _earlier_mixes(out_dir: Path, force: bool) -> list[Path]:
    """The mix folders (``NN song + label``) an earlier run left in ``out_dir``, which ``force``
    replaces as a set, so that no folder of an older numbering stays to be scored with the new
    ones. A :class:`MixinError` if there are any and not ``force``, or if one holds other files
    (not removed: not ours). Other folders are left alone."""
    found = sorted(p for p in out_dir.iterdir() if p.is_dir() and MIX_NAME.fullmatch(p.name))
    if found and not force:
        raise MixinError(out_dir, f"already holds percussion mixes ({found[0].name}, ...): --force replaces the set")
    for folder in found:
        other = sorted(p.name for p in folder.iterdir() if p.name not in MIX_FILES)
        if other:
            raise MixinError(folder, f"holds {other[0]}, not only a mix's files: move it away (it is not removed)")
    return found


def make_loud_drum_songs(
    tracks_dir: Path,
    out_dir: Path,
    drums_db: float = LOUD_DRUMS_DB,
    *,
    stem_db: Mapping[str, float] | None = None,
    spread: bool = False,
    force: bool = False,
) -> list[Path]:
    """Each song of ``tracks_dir`` (MUSDB18-HQ layout) with drums, its drums scaled to ``drums_db``
    dB of the other stems' energy: the same stem files (stereo), and their sum as ``mixture.wav``.

    ``stem_db`` first moves named stems (file names without suffix, e.g. ``{"vocals": 1.5}``) by so
    many dB, for balances other than the multitracks' own (records' voices and guitars differ too);
    the drums then sit at ``drums_db`` of what that leaves. A name no song has is refused, and so is
    a drum stem (its level is ``drums_db``'s). ``spread``: the stems placed by :func:`place` first
    (written as heard, so they still sum to the mixture)."""
    _check_apart(tracks_dir, out_dir)
    stem_db = dict(stem_db or {})
    songs: list[tuple[Path, dict[str, np.ndarray], int]] = []
    seen: set[str] = set()
    for song in sorted(p for p in Path(tracks_dir).iterdir() if p.is_dir()):
        stems, rate = _read_stems(song)
        drums = [name for name, (source, _) in stems.items() if source == "percussive"]
        if not drums or len(drums) == len(stems):
            continue
        length = min(len(audio) for _, audio in stems.values())
        parts = {name: audio[:length] for name, (_, audio) in stems.items()}
        for name, db in stem_db.items():
            if name in drums:
                raise MixinError(song / name, "a drum stem: the drums' level is set by drums_db (--drums-db)")
            if name in parts:
                parts[name] = parts[name] * np.float32(10 ** (db / 20))
                seen.add(name)
        if spread:
            parts = place(parts, {name: source for name, (source, _) in stems.items()}, rate)
        rest = sum(audio for name, audio in parts.items() if name not in drums)
        beat = sum(parts[name] for name in drums)
        gain = level_gain(beat, rest, drums_db)
        if gain is None:
            continue
        for name in drums:
            parts[name] = parts[name] * np.float32(gain)
        songs.append((song, parts, rate))
    if not songs:
        raise MixinError(tracks_dir, "no track folder with drums and other stems")
    missing = sorted(set(stem_db) - seen)
    if missing:
        raise MixinError(tracks_dir, f"no song has a stem named {', '.join(missing)}")
    out_dir = Path(out_dir)
    for song, _, _ in songs:  # before writing anything
        if (out_dir / song.name).exists() and not force:
            raise MixinError(out_dir / song.name, "already exists (use --force to overwrite)")
    check_writable(out_dir)
    made = {song.name for song, _, _ in songs}
    others = sorted(
        p.name for p in out_dir.iterdir() if p.is_dir() and p.name not in made and (p / "mixture.wav").exists()
    )
    if others:
        warnings.warn(
            f"{out_dir}: also holds {', '.join(others)}, not songs of {tracks_dir}: "
            "scored with this set unless removed",
            stacklevel=2,
        )
    with _staging(out_dir, "loud-drums") as staging:
        for song, parts, rate in songs:
            mix = sum(parts.values())
            scale = np.float32(PEAK / max(float(np.abs(mix).max()), 1e-9))
            folder = staging / song.name
            folder.mkdir()
            for name, audio in parts.items():
                sf.write(str(folder / f"{name}.wav"), audio * scale, rate, subtype="FLOAT")
            sf.write(str(folder / "mixture.wav"), mix * scale, rate, subtype="FLOAT")
        return _move_in(staging, [song.name for song, _, _ in songs], out_dir)
