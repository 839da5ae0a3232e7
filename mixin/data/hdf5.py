"""``--create-hdf5``: prepared segments -> per-source HDF5 files of NSGT magnitudes.

One file per source, ``data_<source>.hdf5``, with MiXiN's datasets ``data-{x,y}-{train,
validation,test}`` of shape (n, 96, 1948, 1) float32: |NSGT| of the mix (x) and of the source
(y) per 44032-sample chunk. Split 80/10/10 by track with a recorded seed, so no song is in two
splits; tracks sharing a recording (``segments.json``'s ``recordings``: a MIR-1K clip and a render
that sings its voice, two renders of one MIDI song) count as one. Written chunk by chunk (flat
memory) to a temporary name, renamed when complete; the file's attributes record the settings, and
:func:`open_checked` refuses a file whose settings differ from the model's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..audio import read_audio, temporary_beside
from ..constants import CDAE_SOURCES, CHUNK_SIZE, N_BANDS, N_FRAMES, SAMPLE_RATE
from ..errors import MixinError
from ..progress import progress_bar
from ..transforms import nsgt
from .stems import load_manifest

if TYPE_CHECKING:
    import h5py

    from ..transforms import BarkNSGT

SPLITS = ("train", "validation", "test")
MIN_TRACKS = len(SPLITS)
"""Tracks needed to split by track: one in each split at least."""
FORMAT_VERSION = 1
CHUNKS_PER_WRITE = 8


def hdf5_path(data_dir: Path, source: str) -> Path:
    return Path(data_dir) / f"data_{source}.hdf5"


def track_groups(names: Iterable[str], recordings: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """``names`` joined into groups of tracks that share a recording (transitively), each group
    sorted, the groups in order of their first name; a track without recordings is a group alone."""
    names = sorted(set(names))
    parent = {n: n for n in names}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    owner: dict[str, str] = {}
    for n in names:
        for r in recordings.get(n, ()):
            if r in owner:
                parent[root(n)] = root(owner[r])
            else:
                owner[r] = n
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(root(n), []).append(n)
    return sorted(groups.values())


def split_tracks(
    tracks: Iterable[str],
    seed: int,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    recordings: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, str]:
    """Assign whole tracks to splits (shuffled with ``seed``); every split gets one at least.

    ``recordings`` (track -> the recordings it is made of, as ``segments.json`` has them): tracks
    sharing a recording go to one side together, and the fractions count such groups."""
    groups = track_groups(tracks, recordings or {})
    if len(groups) < MIN_TRACKS:
        count = sum(map(len, groups))
        shared = f" in {len(groups)} group(s) sharing recordings" if len(groups) < count else ""
        raise MixinError(
            None,
            f"{count} track(s){shared}: at least {MIN_TRACKS} are needed to split train/validation/test by track",
        )
    order = np.random.default_rng(seed).permutation(len(groups))
    n_val = max(1, int(round(fractions[1] * len(groups))))
    n_test = max(1, int(round(fractions[2] * len(groups))))
    n_train = len(groups) - n_val - n_test
    labels = ["train"] * n_train + ["validation"] * n_val + ["test"] * n_test
    return {name: labels[k] for k, i in enumerate(order) for name in groups[i]}


def expected_attrs(source: str) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "source": source,
        "sample_rate": SAMPLE_RATE,
        "chunk_size": CHUNK_SIZE,
        "bands": N_BANDS,
        "frames": N_FRAMES,
    }


def _chunks(audio: np.ndarray) -> np.ndarray:
    """(n,) mono audio -> (chunks, CHUNK_SIZE): a last part of half a chunk or more is kept,
    zero-padded; a shorter one is dropped (mostly padding), unless it is all there is."""
    count = max(1, (len(audio) + CHUNK_SIZE // 2) // CHUNK_SIZE)
    padded = np.zeros(count * CHUNK_SIZE, dtype=np.float32)
    kept = audio[: count * CHUNK_SIZE]
    padded[: len(kept)] = kept
    return padded.reshape(count, CHUNK_SIZE)


def _read_mono(path: Path) -> np.ndarray:
    audio, rate = read_audio(path)
    if rate != SAMPLE_RATE:
        raise MixinError(path, f"prepared segments must be {SAMPLE_RATE} Hz, this is {rate} Hz")
    return audio.mean(axis=1)


def check_sources(sources: Sequence[str]) -> None:
    """A :class:`MixinError` naming any of ``sources`` that is not a CDAE source."""
    unknown = [s for s in sources if s not in CDAE_SOURCES]
    if unknown:
        raise MixinError(None, f"unknown source(s) {', '.join(unknown)} (known: {', '.join(CDAE_SOURCES)})")


def held_sources(data_dir: Path, segments: Iterable[dict], sources: Sequence[str] | None) -> list[str]:
    """The sources to build files for: ``sources`` (each must be known and held by a segment), or
    when None every source some segment holds (MIR-1K clips hold the vocal alone, instrumental
    stems no vocal)."""
    held = {s for seg in segments for s in seg["sources"]}
    if sources is None:
        chosen = [s for s in CDAE_SOURCES if s in held]
        if not chosen:
            raise MixinError(data_dir, f"no prepared segment holds a {', '.join(CDAE_SOURCES)} stem")
        return chosen
    check_sources(sources)
    missing = [s for s in sources if s not in held]
    if missing:
        held_ = ", ".join(sorted(held)) or "none"
        raise MixinError(data_dir, f"no prepared segment holds a {', '.join(missing)} stem (held: {held_})")
    return list(sources)


def _by_split(segments: list[dict], source: str, assignment: dict[str, str]) -> tuple[dict[str, list[dict]], int]:
    """The segments holding ``source`` in each split, and how many remixes across splits were left out."""
    by_split: dict[str, list[dict]] = {s: [] for s in SPLITS}
    dropped = 0
    for seg in segments:
        if source not in seg["sources"]:
            continue
        splits = {assignment[t] for t in seg["tracks"]}
        if len(splits) > 1:  # a remix across splits would leak: leave it out
            dropped += 1
            continue
        by_split[splits.pop()].append(seg)
    return by_split, dropped


def create_hdf5(
    data_dir: Path,
    sources: Sequence[str] | None = None,
    *,
    seed: int = 42,
    force: bool = False,
    progress: bool = False,
) -> dict[str, dict[str, int]]:
    """Write ``data_<source>.hdf5`` for each source (None: each source the segments hold); returns
    chunk counts per source and split. Every target is checked before any is written (it must be
    new, or ``force``; its source must have training and validation segments, which ``--train``
    needs), and all are put in place together once all are complete."""
    data_dir = Path(data_dir)
    manifest = load_manifest(data_dir)
    segments = manifest["segments"]
    sources = held_sources(data_dir, segments, sources)
    targets = [hdf5_path(data_dir, s) for s in sources]
    for target in targets:
        if target.exists() and not force:
            raise MixinError(target, "already exists (use --force to overwrite)")
    assignment = split_tracks((t for s in segments for t in s["tracks"]), seed, recordings=manifest.get("recordings"))
    plans = {source: _by_split(segments, source, assignment) for source in sources}
    for source, (by_split, _) in plans.items():
        empty = [name for split, name in (("train", "training"), ("validation", "validation")) if not by_split[split]]
        if empty:
            raise MixinError(
                data_dir,
                f"no {' or '.join(empty)} segments hold a {source} stem (split by track with --seed {seed}): "
                f"give another --seed, more tracks with that source, or --sources without {source}",
            )
    transform = nsgt()
    counts: dict[str, dict[str, int]] = {}
    written: list[tuple[Path, Path]] = []
    try:
        for source, target in zip(sources, targets, strict=True):
            tmp = temporary_beside(target)
            written.append((tmp, target))
            by_split, dropped = plans[source]
            try:
                counts[source] = _write_source(tmp, source, by_split, dropped, seed, data_dir, transform, progress)
            except OSError as exc:
                raise MixinError(target, f"cannot write ({exc.strerror or exc})") from None
        for tmp, target in written:
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise MixinError(target, f"cannot write ({exc.strerror or exc})") from None
    finally:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
    return counts


def _write_source(
    path: Path,
    source: str,
    by_split: dict[str, list[dict]],
    dropped: int,
    seed: int,
    data_dir: Path,
    transform: BarkNSGT,
    progress: bool,
) -> dict[str, int]:
    """One source's HDF5 file at ``path``, chunk by chunk; its chunk count per split."""
    import h5py

    counts: dict[str, int] = {}
    bar = progress_bar(progress, total=sum(map(len, by_split.values())), unit="segment", desc=f"hdf5 {source}")
    try:
        with h5py.File(path, "w") as h5:
            for key, value in expected_attrs(source).items():
                h5.attrs[key] = value
            h5.attrs["seed"] = seed
            h5.attrs["split_tracks"] = json.dumps(
                {s: sorted({t for seg in by_split[s] for t in seg["tracks"]}) for s in SPLITS}
            )
            h5.attrs["dropped_cross_split_remixes"] = dropped
            for split in SPLITS:
                shape = (0, N_BANDS, N_FRAMES, 1)
                opts = dict(maxshape=(None, *shape[1:]), chunks=(1, *shape[1:]), dtype="float32", compression="lzf")
                dx = h5.create_dataset(f"data-x-{split}", shape, **opts)
                dy = h5.create_dataset(f"data-y-{split}", shape, **opts)
                for seg in by_split[split]:
                    folder = data_dir / seg["id"]
                    mix, target_audio = _read_mono(folder / "mix.wav"), _read_mono(folder / f"{source}.wav")
                    n = min(len(mix), len(target_audio))
                    chunks = np.stack((_chunks(mix[:n]), _chunks(target_audio[:n])), axis=1)
                    for i in range(0, len(chunks), CHUNKS_PER_WRITE):
                        mags = np.abs(transform.forward(chunks[i : i + CHUNKS_PER_WRITE]))[..., None]
                        end = dx.shape[0] + len(mags)
                        dx.resize(end, axis=0)
                        dy.resize(end, axis=0)
                        dx[end - len(mags) :] = mags[:, 0]
                        dy[end - len(mags) :] = mags[:, 1]
                    bar.update(1)
                counts[split] = int(dx.shape[0])
    finally:
        bar.close()
    return counts


def open_checked(path: Path, source: str) -> h5py.File:
    """Open an HDF5 data file for reading; a clear error if it is missing or made otherwise."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise MixinError(path, "not found: run --create-hdf5 first")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise MixinError(path, f"not a readable HDF5 file ({exc})") from None
    want = expected_attrs(source)
    got = {k: (h5.attrs[k].item() if hasattr(h5.attrs[k], "item") else h5.attrs[k]) for k in want if k in h5.attrs}
    if isinstance(got.get("source"), bytes):
        got["source"] = got["source"].decode()
    diff = [f"{k} {got.get(k, 'missing')} (need {v})" for k, v in want.items() if got.get(k) != v]
    if diff:
        h5.close()
        raise MixinError(path, "made with other settings or by another version: " + ", ".join(diff))
    for split in SPLITS:
        for xy in "xy":
            name = f"data-{xy}-{split}"
            if name not in h5 or h5[name].shape[1:] != (N_BANDS, N_FRAMES, 1):
                h5.close()
                raise MixinError(path, f"dataset {name} missing or of the wrong shape")
    return h5


def data_identity(path: Path, source: str) -> dict:
    """What an HDF5 file holds, as a training run records it: its seed, its split by track and its
    chunks per split (made again, from other segments or with another ``--seed``, it differs)."""
    with open_checked(path, source) as h5:
        splits = _recorded_split(h5)
        seed = h5.attrs.get("seed")
        return {
            "seed": None if seed is None else int(seed),
            "split_tracks": splits,
            "chunks": {split: int(h5[f"data-x-{split}"].shape[0]) for split in SPLITS},
        }


def split_track_names(data_dir: Path, source: str = "harmonic") -> dict[str, list[str]]:
    """The tracks in each split of ``data_dir``'s HDF5 file of ``source``, as :func:`create_hdf5`
    recorded them."""
    path = hdf5_path(data_dir, source)
    with open_checked(path, source) as h5:
        splits = _recorded_split(h5)
    if splits is None:
        raise MixinError(path, "records no split_tracks (made by an older version)")
    return splits


def _recorded_split(h5: h5py.File) -> dict[str, list[str]] | None:
    """The tracks of each split that :func:`create_hdf5` recorded in the file, or None (none recorded)."""
    try:
        return json.loads(h5.attrs["split_tracks"])
    except (KeyError, ValueError):
        return None
