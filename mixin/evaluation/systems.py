"""The systems scored side by side and the scoring run: MiXiN's separator, the baselines, and
another separator's estimates on disk, over every track."""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..apply import ChunkedSeparator
from ..audio import resample
from ..constants import SAMPLE_RATE
from ..errors import MixinError
from ..progress import progress_bar
from .baselines import hpss, mixture_as_estimate, oracle_wiener
from .scoring import EvalTrack, Score, read_finite, score_track

Estimates = dict[str, np.ndarray]


def estimates_for(
    track: EvalTrack, systems: Sequence[str], separator: ChunkedSeparator | None, estimates_dir: Path | None, label: str
) -> dict[str, Estimates | str]:
    """system -> estimates dict, or system -> str (why it has none for this track). A system that
    fails on the track (an unreadable estimate file) is skipped with the error; the others are scored."""
    out: dict[str, Estimates | str] = {}
    for system in systems:
        if system == label and estimates_dir is None:
            continue
        try:
            out[system] = _estimates(system, track, separator, estimates_dir)
        except MixinError as exc:
            out[system] = str(exc)
    return out


def _estimates(
    system: str, track: EvalTrack, separator: ChunkedSeparator | None, estimates_dir: Path | None
) -> Estimates | str:
    """One system's estimates for ``track`` (``estimates_dir``'s files for any other name), or why it has none."""
    refs = track.references
    if system == "mixin":
        stems = separator.separate(track.mix, track.rate)
        if track.voice_pair and {"harmonic", "percussive"} <= set(stems):
            stems["accompaniment"] = stems["harmonic"] + stems["percussive"]
        return stems
    if system == "mixture":
        return mixture_as_estimate(track.mix, refs)
    if system == "hpss":
        if {"harmonic", "percussive"} & set(refs):
            return hpss(track.mix, track.rate)
        return "HPSS estimates harmonic/percussive only"
    if system == "oracle":
        mix44 = resample(track.mix, track.rate, SAMPLE_RATE)
        refs44 = {s: resample(r, track.rate, SAMPLE_RATE) for s, r in refs.items()}
        n = min(len(mix44), *(len(r) for r in refs44.values()))
        est = oracle_wiener(mix44[:n], {s: r[:n] for s, r in refs44.items()})
        out = {s: resample(e, SAMPLE_RATE, track.rate)[: len(track.mix)] for s, e in est.items()}
        return {s: np.pad(e, ((0, len(track.mix) - len(e)), (0, 0))) for s, e in out.items()}
    return _estimates_on_disk(track, estimates_dir)


def _estimates_on_disk(track: EvalTrack, estimates_dir: Path) -> Estimates | str:
    """``<track>_<source>.wav`` of ``estimates_dir`` for the track's references, or why not: one
    for every non-silent reference (scored without one, that source would not count as the others'
    interference, and their SIR and SAR would change). An unreadable file, or one with NaN or infinite
    samples, is a :class:`MixinError` naming it."""
    paths = {s: estimates_dir / f"{track.name}_{s}.wav" for s in track.references}
    if not any(p.exists() for p in paths.values()):
        return f"no {track.name}_<source>.wav in {estimates_dir}"
    missing = [s for s, p in paths.items() if not p.exists() and np.any(track.references[s])]
    if missing:
        names = ", ".join(paths[s].name for s in missing)
        return f"no {names} in {estimates_dir}: its reference would be left out of the others' interference (SIR, SAR)"
    found = {}
    for s, path in paths.items():
        if path.exists():
            audio, rate = read_finite(path)
            if rate != track.rate:
                return f"{path}: sample rate {rate} Hz, reference {track.rate} Hz"
            found[s] = audio
    return found


def _score(job: tuple[EvalTrack, str, Estimates]) -> Score:
    return score_track(*job)


def score_tracks(
    tracks: Sequence[EvalTrack],
    systems: Sequence[str],
    separator: ChunkedSeparator | None = None,
    estimates_dir: Path | None = None,
    label: str = "estimates",
    cores: int = 1,
    progress: bool = False,
) -> tuple[list[Score], list[tuple[str, str]]]:
    """Every system on every track: the scores (skipped ones with their reason) and the tracks
    skipped whole (track, reason). ``cores`` > 1 scores in parallel processes."""
    skipped_tracks = [(t.name, t.skipped) for t in tracks if t.skipped]
    jobs, scores = [], []
    for track in progress_bar(progress, [t for t in tracks if not t.skipped], unit="track", desc="separating"):
        for system, est in estimates_for(track, systems, separator, estimates_dir, label).items():
            if isinstance(est, str):
                scores.append(Score(track.name, system, skipped=est))
            else:
                jobs.append((track, system, est))
    if cores > 1:
        # Fresh interpreters, not forks: the separator has run thread pools (ONNX Runtime, the
        # stages' executors) and a fork taken while one of their locks was held hung for good.
        with ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("spawn")) as pool:
            scored = pool.map(_score, jobs)
            scores += list(progress_bar(progress, scored, total=len(jobs), unit="score", desc="scoring"))
    else:
        scores += [_score(j) for j in progress_bar(progress, jobs, unit="score", desc="scoring")]
    return scores, skipped_tracks
