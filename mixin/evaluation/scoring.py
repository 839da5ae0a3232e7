"""Scoring separations: BSSv4 (museval) per track and source, GNSDR/GSIR/GSAR for voice sets.

Two whole-clip voice scorings live here: :func:`score_track`'s GNSDR (eval_mixin.py's reports) is
BSSv4's images version over the whole clip, while :func:`voice_metrics` (the DRNN's training
validation) is ``bss_eval_sources`` as in MIR-1K's protocol (Huang et al. 2014). They differ (by
about 1 dB GNSDR on one DRNN's output), so compare a GNSDR only with one of the same scoring.

Tracks come from three layouts (MUSDB18-HQ folders, ``mix.wav`` + source folders, MIR-1K-style
stereo clips); systems are MiXiN's separator, estimates on disk, and baselines. A track whose
references are missing or misaligned, or a system whose estimate has the wrong length, is
reported as skipped with its reason; the rest is still evaluated.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..audio import read_audio, unfit_samples
from ..constants import CDAE_SOURCES
from ..data.mir1k import read_clip
from ..data.stems import AUDIO_SUFFIXES, source_of
from ..errors import MixinError, no_directory

VOICE_SOURCES = ("vocal", "accompaniment")
SOURCES = (*CDAE_SOURCES, "accompaniment")
"""Every source a track may hold references for, in the order of tables and plots."""

SummaryTable = dict[str, dict[str, dict[str, float]]]
"""system -> source -> metric -> median over tracks (see :func:`summarise`)."""


@lru_cache(maxsize=1)
def _museval_metrics():
    """museval's BSSv4 module, loaded on its own: ``import museval`` pulls in musdb and stempeg,
    which refuse to import without an ffmpeg binary that scoring never uses."""
    spec = importlib.util.find_spec("museval")
    if spec is None or not spec.submodule_search_locations:
        raise MixinError(None, "museval is not installed (pip install museval)")
    path = Path(list(spec.submodule_search_locations)[0]) / "metrics.py"
    mspec = importlib.util.spec_from_file_location("mixin._museval_metrics", path)
    module = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(module)
    return module


@dataclass
class EvalTrack:
    """A mix and its true sources, all (samples, channels) at ``rate``."""

    name: str
    rate: int
    mix: np.ndarray
    references: dict[str, np.ndarray]
    voice_pair: bool = False  # MIR-1K-style: vocal/accompaniment, scored with GNSDR too
    skipped: str | None = None


def read_finite(path: Path, read: Callable[[Path], tuple[np.ndarray, int]] = read_audio) -> tuple[np.ndarray, int]:
    """``read(path)``, a :class:`MixinError` naming the file if a sample is NaN, infinite or absurd
    (:func:`~mixin.audio.unfit_samples`): BSS Eval would score it NaN, which the medians leave out unseen."""
    audio, rate = read(path)
    if problem := unfit_samples(audio):
        raise MixinError(path, problem)
    return audio, rate


def _folder_track(folder: Path) -> EvalTrack:
    """A folder's mixture and stems; without a mixture file (stem folders made for training) the
    mixture is the stems' sum, as MUSDB18's mixtures are."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    mix_files = [p for p in files if "mix" in p.stem.lower()]
    track = EvalTrack(folder.name, 0, np.zeros((0, 1), np.float32), {})
    what = "mixture's" if mix_files else "first stem's"  # what the stems must match
    try:
        if mix_files:
            track.mix, track.rate = read_finite(mix_files[0])
        for p in files:
            source = source_of(p.stem)
            if source is None:
                continue
            audio, rate = read_finite(p)
            if not mix_files and not track.references:  # the first stem sets rate and shape
                track.rate, track.mix = rate, np.zeros_like(audio)
            if rate != track.rate:
                raise MixinError(p, f"sample rate {rate} Hz differs from the {what} {track.rate} Hz")
            if audio.shape != track.mix.shape:
                raise MixinError(p, f"shape {audio.shape} differs from the {what} {track.mix.shape}")
            track.references[source] = track.references.get(source, 0) + audio
            if not mix_files:
                track.mix = track.mix + audio
    except MixinError as exc:
        track.skipped = str(exc)
        return track
    if not track.references:
        track.skipped = "no reference stems" if mix_files else "no mixture file (mixture.wav or mix.wav) and no stems"
    return track


def clip_track(path: Path) -> EvalTrack:
    """MIR-1K-style clip, mixed at 0 dB voice-to-music ratio after normalising each to unit
    energy (Huang et al. 2014); references scaled the same way."""
    try:
        audio, rate = read_finite(path, read_clip)
    except MixinError as exc:
        return EvalTrack(path.stem, 0, np.zeros((0, 1), np.float32), {}, True, str(exc))
    music, voice = audio[:, :1], audio[:, 1:]
    e_m, e_v = float(np.sum(music**2)), float(np.sum(voice**2))
    if e_m == 0 or e_v == 0:
        return EvalTrack(path.stem, rate, audio, {}, True, f"{path}: a silent channel (metrics undefined)")
    music, voice = music / np.sqrt(e_m), voice / np.sqrt(e_v)
    scale = 0.5 / max(float(np.abs(music + voice).max()), 1e-9)  # a playable level; ratios unchanged
    refs = {"vocal": voice * scale, "accompaniment": music * scale}
    return EvalTrack(path.stem, rate, (music + voice) * scale, refs, voice_pair=True)


def as_voice_pair(track: EvalTrack) -> EvalTrack:
    """The track as a vocal/accompaniment separator sees it: its non-vocal references summed into
    "accompaniment", so the vocal is scored against its one interferer (with the vocal alone,
    museval's SIR is undefined) and the baselines split the mix the same two ways. A track
    without a vocal reference, or with a silent one, is skipped: such a model is scored on songs
    with a singer (an instrumental's accompaniment is the whole mix, which every system gets right)."""
    refs = track.references
    if track.skipped or set(refs) == set(VOICE_SOURCES):
        return track
    if "vocal" not in refs:
        return replace(track, skipped="no vocal reference (a vocal/accompaniment model is scored on sung tracks)")
    if not np.any(refs["vocal"]):
        return replace(track, skipped="silent vocal reference (a vocal/accompaniment model is scored on sung tracks)")
    accompaniment = sum(r for s, r in refs.items() if s != "vocal")
    others = {"accompaniment": accompaniment} if len(refs) > 1 else {}
    return replace(track, references={"vocal": refs["vocal"], **others})


def load_tracks(tracks_dir: Path, layout: str = "auto", names: Collection[str] | None = None) -> list[EvalTrack]:
    """Every track under ``tracks_dir`` (or those of ``names``): folders (MUSDB18-HQ or mix +
    sources) or stereo clips."""
    tracks_dir = Path(tracks_dir)
    if not tracks_dir.is_dir():
        raise no_directory(tracks_dir, "tracks directory")
    wanted = (lambda p: True) if names is None else (lambda p: p.name in names or p.stem in names)
    folders = sorted(p for p in tracks_dir.iterdir() if p.is_dir() and wanted(p))
    clips = sorted(p for p in tracks_dir.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and wanted(p))
    if layout == "mir1k" and not clips:
        raise MixinError(tracks_dir, "no audio clips in it (--layout mir1k: stereo clips, voice right)")
    if layout == "mir1k" or (layout == "auto" and clips and not folders):
        return [clip_track(p) for p in clips]
    if folders:
        return [_folder_track(f) for f in folders]
    if clips:
        return [_folder_track(tracks_dir)]
    raise MixinError(
        tracks_dir, "no track folders or audio clips" + ("" if names is None else " of the tracks asked for")
    )


# -- metrics ----------------------------------------------------------------------------------
def bss_v4(references: np.ndarray, estimates: np.ndarray, rate: int, window_s: float = 1.0) -> dict[str, np.ndarray]:
    """BSSv4 framewise metrics (museval, time-invariant filters), (sources, frames) each.

    ``references`` and ``estimates`` are (sources, samples, channels); window and hop of
    ``window_s`` seconds (``np.inf``: one global value)."""
    m = _museval_metrics()
    win = references.shape[1] if not np.isfinite(window_s) else int(window_s * rate)
    sdr, isr, sir, sar, _ = m.bss_eval(
        references,
        estimates,
        window=win,
        hop=win,
        compute_permutation=False,
        framewise_filters=False,
        bsseval_sources_version=False,
    )
    return {"SDR": sdr, "ISR": isr, "SIR": sir, "SAR": sar}


def framewise_median(values: np.ndarray) -> float:
    """Median ignoring undefined (NaN) values, e.g. silent 1-s frames; NaN if none is defined. An
    infinite value is defined (+inf: a frame estimated exactly) and counts."""
    defined = values[~np.isnan(values)]
    return float(np.median(defined)) if defined.size else float("nan")


def global_voice_metrics(clips: list[dict]) -> dict[str, float]:
    """GNSDR, GSIR, GSAR (Huang et al. 2014): means over clips weighted by clip length.

    Each clip: ``{"length", "sdr", "sdr_mix", "sir", "sar"}`` (global, whole-clip values for the
    voice); NSDR = SDR(estimate) - SDR(mixture as estimate).
    """
    w = np.array([c["length"] for c in clips], dtype=np.float64)
    if not len(w) or w.sum() == 0:
        return {"GNSDR": float("nan"), "GSIR": float("nan"), "GSAR": float("nan")}

    def mean(key: Callable[[dict], float]) -> float:
        return float(np.sum(w * np.array([key(c) for c in clips])) / w.sum())

    return {
        "GNSDR": mean(lambda c: c["sdr"] - c["sdr_mix"]),
        "GSIR": mean(lambda c: c["sir"]),
        "GSAR": mean(lambda c: c["sar"]),
    }


@dataclass
class Score:
    """One system on one track: per-source medians, or the reason it was skipped."""

    track: str
    system: str
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # source -> metric -> value
    voice: dict | None = None  # global whole-clip values for GNSDR
    skipped: str | None = None
    left_out: list[str] = field(default_factory=list)  # non-silent references it does not estimate


def audible(estimate: np.ndarray) -> np.ndarray:
    """``estimate``, or faint noise (1e-9) in its place if it is all zeros: BSS Eval refuses a
    silent estimate (ValueError), which would end a whole evaluation; the noise scores about 0 dB
    SDR, what a zero estimate scores by plain SDR ``10 log10(|s|^2 / |s - 0|^2)``."""
    if np.any(estimate):
        return estimate
    return 1e-9 * np.random.default_rng(0).standard_normal(estimate.shape)


def voice_metrics(voice: np.ndarray, music: np.ndarray, estimate: np.ndarray) -> dict:
    """Whole-clip voice SDR, SIR, SAR of ``estimate`` and SDR of the mixture, BSS Eval's
    ``bss_eval_sources`` (time-invariant 512-tap filters, as mir_eval and Huang et al.), via
    museval. All arrays mono, one length; the dict :func:`global_voice_metrics` takes."""
    m = _museval_metrics()
    refs = np.stack([voice, music])[..., None].astype(np.float64)
    mix = voice + music

    def run(est_voice: np.ndarray) -> tuple:
        # bss_eval_sources scores each estimate on its own: the second (the mixture) only fills
        # the slot BSS Eval wants non-silent
        ests = np.stack([audible(est_voice), mix])[..., None].astype(np.float64)
        sdr, _, sir, sar, _ = m.bss_eval(
            refs,
            ests,
            window=refs.shape[1],
            hop=refs.shape[1],
            compute_permutation=False,
            framewise_filters=False,
            bsseval_sources_version=True,
        )
        return float(sdr[0, 0]), float(sir[0, 0]), float(sar[0, 0])

    sdr, sir, sar = run(estimate)
    sdr_mix = run(mix)[0]
    return {"length": len(voice), "sdr": sdr, "sdr_mix": sdr_mix, "sir": sir, "sar": sar}


def score_track(track: EvalTrack, system: str, estimates: dict[str, np.ndarray]) -> Score:
    """BSSv4 of ``estimates`` against the track's references (sources both have, non-silent).

    A reference the system does not estimate (HPSS, ``--instrumental``: no vocal) is left out of
    the set, so what of it the estimates hold counts as artifacts, not interference: SIR and SAR
    are not comparable with a score on every source (SDR and ISR are: they do not depend on the
    other references, bar the 1-s frames museval leaves out where one is silent).
    ``Score.left_out`` names such sources."""
    score = Score(track.name, system)
    sources = [s for s in track.references if s in estimates]
    for s in sources:
        if estimates[s].shape != track.references[s].shape:
            score.skipped = (
                f"{system} estimate for {s} has shape {estimates[s].shape}, reference {track.references[s].shape}"
            )
            return score
    silent = [s for s in sources if not np.any(track.references[s])]
    sources = [s for s in sources if s not in silent]
    if not sources:
        score.skipped = "no non-silent reference this system estimates" + (
            f" (silent: {', '.join(silent)})" if silent else ""
        )
        return score
    score.left_out = [s for s, r in track.references.items() if s not in estimates and np.any(r)]
    refs = np.stack([track.references[s] for s in sources]).astype(np.float64)
    ests = np.stack([audible(estimates[s]) for s in sources]).astype(np.float64)
    framewise = bss_v4(refs, ests, track.rate)
    for i, s in enumerate(sources):
        score.metrics[s] = {k: framewise_median(v[i]) for k, v in framewise.items()}
    for s in silent:
        score.metrics[s] = {"skipped": "silent reference: metrics undefined"}
    if track.voice_pair and "vocal" in sources:  # GNSDR from whole-clip BSSv4, not bss_eval_sources
        whole = bss_v4(refs, ests, track.rate, window_s=np.inf)
        mix = np.stack([track.mix for _ in sources]).astype(np.float64)
        whole_mix = bss_v4(refs, mix, track.rate, window_s=np.inf)
        v = sources.index("vocal")
        score.voice = {
            "length": int(track.mix.shape[0]),
            "sdr": float(whole["SDR"][v, 0]),
            "sdr_mix": float(whole_mix["SDR"][v, 0]),
            "sir": float(whole["SIR"][v, 0]),
            "sar": float(whole["SAR"][v, 0]),
        }
    return score


def summarise(scores: list[Score]) -> SummaryTable:
    """system -> source -> metric -> median over tracks (and GNSDR/GSIR/GSAR per system)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for system in dict.fromkeys(s.system for s in scores):
        rows = [s for s in scores if s.system == system and not s.skipped]
        per: dict[str, dict[str, float]] = {}
        for source in SOURCES:
            vals = [r.metrics[source] for r in rows if source in r.metrics and "SDR" in r.metrics[source]]
            if vals:
                per[source] = {
                    k: framewise_median(np.array([v[k] for v in vals])) for k in ("SDR", "ISR", "SIR", "SAR")
                }
                per[source]["tracks"] = len(vals)
        voice = [r.voice for r in rows if r.voice]
        if voice:
            per["global"] = global_voice_metrics(voice)
        out[system] = per
    return out
