"""The harmonic/percussive pair redrawn after the models, streamed: median filtering's blend,
then the multichannel Wiener filter, in one stage.

What the CDAEs split between harmonic and percussive is blended with median filtering's split of
the same signal (:mod:`mixin.hpss`, ``hpss_weight`` and ``hpss_adaptive`` in ``config.json``) and
shared out again by the multichannel Wiener filter (:mod:`mixin.spatial`, ``mwf_iterations``);
with ``mwf_vocal`` the filter shares out the vocal too, as a third source (else the vocal's share
is final by then). One stage for both: the pair is queued, chunked and
cross-faded once. (Handing the filter median filtering's masked spectrogram instead of its audio
would save an inverse STFT, but cost 0.1-0.2 dB on real and rendered mixes: kept in audio.)

With ``vocal_remask`` the vocal is first redrawn as a mask of the mix on an STFT finer in
frequency than the models' 96 bands (:func:`remask_vocal`), with ``vocal_two_stage`` as far as
median filtering's two-stage vocal also holds it so; with ``vocal_yield`` it then gives its
share back to the pair in stretches where the whole mix is more decisive for median filtering than
any sung music measured here: there the vocal model mostly takes sustained instruments (strings,
winds), and what it takes caps the harmonic stem below median filtering's (:func:`yield_share`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np

from . import hpss, spatial
from .apply import stream_pair_rework
from .transforms import istft, stft
from .voice_blend import energy

CHUNK_S = 6.0
OVERLAP_S = 1.0
"""Chunks of 6 s cross-faded over 1 s: each median filter reaches about 0.2 s, so the cross-fades
hide the chunk edges; the filter's spatial covariances follow placement that changes within a
song; memory stays bounded."""
YIELD_FROM = 0.88
YIELD_TO = 0.93
"""Decisiveness of the whole mix (:func:`mixin.hpss.decisiveness`) from which the vocal starts to
give its share back to the pair, and at which it gives all of it. Sung music measured at most
0.83 per 6-s chunk (real-dev's 5 sung songs, also with drums at -3 dB) and 0.92 at 16 kHz
(MIR-1K's 175 karaoke clips: 1.6 % of chunks above 0.89); mixes of rendered strings, winds and brass
under real percussion where median filtering reaches 15-21 dB, 0.90-0.97 (``pretrained-models/HISTORY.md``)."""


def filter_stft(sample_rate: int) -> tuple[int, int]:
    """STFT size and hop of the Wiener filter, which the vocal's remask shares: median filtering's
    size, half its frames (:data:`mixin.spatial.OVERLAPS`)."""
    n_fft = hpss.n_fft_for(sample_rate)
    return n_fft, n_fft // spatial.OVERLAPS


def redraw_pair(
    pair: np.ndarray,
    harmonic: np.ndarray,
    sample_rate: int,
    hpss_weight: float = 0.0,
    hpss_adaptive: bool = False,
    mwf_iterations: int = 0,
    split: tuple[np.ndarray, float] | None = None,
    mwf_power: float = 2.0,
) -> np.ndarray:
    """The new harmonic part of ``pair`` (..., channels, samples), the stem so far being ``harmonic``.

    Median filtering's harmonic part (one mask for all channels) takes a share ``hpss_weight``
    (``hpss_adaptive``: :func:`mixin.hpss.adaptive_weight` of its decisiveness here); then
    ``mwf_iterations`` of the multichannel Wiener filter (magnitude exponent ``mwf_power``) redraw
    the split, on a coarser STFT. ``split``: median filtering's harmonic part of ``pair`` and its
    decisiveness, if already made."""
    pair = np.asarray(pair, dtype=np.float32)
    harmonic = np.asarray(harmonic, dtype=np.float32)
    if hpss_weight > 0 or hpss_adaptive:
        median, decided = split or hpss.hpss_split(pair, sample_rate, shared_mask=True, decisiveness=True)
        share = hpss.adaptive_weight(hpss_weight, decided) if hpss_adaptive else hpss_weight
        harmonic = harmonic + share * (median - harmonic)
    if not mwf_iterations:
        return harmonic
    return filter_stems(pair, harmonic[None], sample_rate, mwf_iterations, mwf_power)[0]


def filter_stems(
    mix: np.ndarray, parts: np.ndarray, sample_rate: int, iterations: int, power: float = 2.0
) -> np.ndarray:
    """``parts`` (k, ..., channels, samples) of ``mix`` (..., channels, samples) redrawn by
    ``iterations`` of the multichannel Wiener filter (magnitude exponent ``power``) on
    :func:`filter_stft`'s STFT, the mix less their sum being one more source
    (:func:`mixin.spatial.refine_spectra`)."""
    mix = np.asarray(mix, dtype=np.float32)
    n_fft, hop = filter_stft(sample_rate)
    out = np.empty((len(parts), *mix.shape), dtype=np.float32)
    for index in np.ndindex(mix.shape[:-2]):
        spectra = np.stack([stft(part[index], n_fft, hop) for part in parts])
        refined = spatial.refine_spectra(stft(mix[index], n_fft, hop), spectra, iterations, power)
        for k, spectrum in enumerate(refined):
            out[(k, *index)] = istft(spectrum, n_fft, hop, mix.shape[-1])
    return out


PAIR_GATE = 0.80
"""The whole mix's decisiveness (an extra median filtering) is only worked out where the pair's,
at hand for the blend, reaches this, or where the chunk before gave way: where the vocal gave way
on the acoustic mixes the pair's stood at most 0.07 below the mix's (0.80 is 0.88 less 0.08), and
songs' pairs mostly lie below."""
KEEP_FROM_DB = -4.0
KEEP_TO_DB = -2.0
"""A vocal holding more than :data:`KEEP_TO_DB` of a stretch's energy is taken for a singer and
kept however decisive the mix; below :data:`KEEP_FROM_DB` it gives back all the decisiveness says.
The vocal model took -4.5 to -23 dB of the decisive acoustic mixes; MIR-1K's clips, voice and
accompaniment at equal energy, put -2 to -7 dB in its vocal where they are that decisive."""


def yield_share(decided: float, vocal_db: float = -math.inf) -> float:
    """The share of its vocal a stretch of ``decided`` decisiveness gives back, the vocal holding
    ``vocal_db`` of its energy: 0 up to :data:`YIELD_FROM`, rising linearly to 1 at
    :data:`YIELD_TO`; less as the vocal rises from :data:`KEEP_FROM_DB` to :data:`KEEP_TO_DB`."""
    return hpss.ramp(decided, YIELD_FROM, YIELD_TO) * (1.0 - hpss.ramp(vocal_db, KEEP_FROM_DB, KEEP_TO_DB))


def yield_vocal(
    pair: np.ndarray, harmonic: np.ndarray, vocal: np.ndarray, sample_rate: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, float] | None]:
    """``pair``, ``harmonic`` and ``vocal`` (..., channels, samples) after the vocal gave back
    :func:`yield_share` of itself, judged by the decisiveness of the whole mix here; what it
    gives joins the pair as harmonic (the CDAEs' estimate, before median filtering's blend).
    Fourth: median filtering's split of the new pair (harmonic part, decisiveness) where the vocal
    gave all (the new pair is then the mix, whose split decided it), else None."""
    mix = pair + vocal
    vocal_energy, mix_energy = energy(vocal), energy(mix)
    if mix_energy == 0:
        return pair, harmonic, vocal, None
    vocal_db = 10 * math.log10(vocal_energy / mix_energy) if vocal_energy > 0 else -math.inf
    split = hpss.hpss_split(mix, sample_rate, shared_mask=True, decisiveness=True)
    share = yield_share(split[1], vocal_db)
    if share == 0.0:
        return pair, harmonic, vocal, None
    if share == 1.0:
        return mix, harmonic + vocal, np.zeros_like(vocal), split
    given = share * vocal
    return pair + given, harmonic + given, vocal - given, None


def mask_of(part: np.ndarray, level: np.ndarray) -> np.ndarray:
    """``part`` / ``level`` of STFT magnitudes, at most 1 (0 where the mix is silent)."""
    return np.minimum(np.divide(part, level, out=np.zeros_like(level), where=level > 0), 1.0)


def remask_vocal(
    pair: np.ndarray, harmonic: np.ndarray, vocal: np.ndarray, sample_rate: int, two_stage: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``pair``, ``harmonic`` and ``vocal`` (..., channels, samples) after the vocal was redrawn as
    a mask of the mix on median filtering's STFT: each bin holds at most what the mix holds there,
    with the mix's phase. The vocal comes from masks on the models' 96 Bark bands, coarse at high
    frequencies, and from the 16-kHz DRNN's; their sum overshoots the mix in some bins. With
    ``two_stage`` > 0 the mask is a weighted geometric mean, ``M ** (1 - two_stage) * T ** two_stage``,
    of that mask M and the mask T of :func:`mixin.hpss.two_stage_vocal`'s estimate from the mix
    less the models' percussive stem: a bin stays vocal as far as both opinions hold it so. What
    the vocal sheds joins the pair, half of it counted harmonic (median filtering and the Wiener
    filter share it out next). Measured: ``pretrained-models/HISTORY.md``."""
    if not 0 <= two_stage <= 1:
        raise ValueError(f"two_stage must be in [0, 1], not {two_stage!r}")
    n_fft, hop = filter_stft(sample_rate)
    audio = pair + vocal
    mix = stft(audio, n_fft, hop)
    level = np.abs(mix)
    mask = mask_of(np.abs(stft(vocal, n_fft, hop)), level)
    if two_stage > 0:
        # It hears the mix less the models' percussive stem: fewer drum hits to mistake for a voice.
        theirs = mask_of(np.abs(stft(hpss.two_stage_vocal(harmonic + vocal, sample_rate), n_fft, hop)), level)
        mask = mask ** (1.0 - two_stage) * theirs**two_stage
    redrawn = istft(mask * mix, n_fft, hop, vocal.shape[-1])
    shed = vocal - redrawn
    return pair + shed, harmonic + 0.5 * shed, redrawn


def stream_redraw(
    stems: Iterable[np.ndarray],
    sources: tuple[str, ...],
    sample_rate: int,
    hpss_weight: float = 0.0,
    hpss_adaptive: bool = False,
    mwf_iterations: int = 0,
    vocal_yield: bool = False,
    vocal_remask: bool = False,
    vocal_two_stage: float = 0.0,
    mwf_vocal: bool = False,
    mwf_power: float = 2.0,
) -> Iterator[np.ndarray]:
    """(sources, n, channels) stem blocks in, the same with the harmonic/percussive pair
    redrawn by :func:`redraw_pair` per 6-s chunk (the share of median filtering glides over the
    1-s cross-fades rather than stepping), after ``vocal_remask``'s :func:`remask_vocal` and
    ``vocal_yield``'s :func:`yield_vocal` (``vocal_two_stage``: the remask's ``two_stage``); with
    ``mwf_vocal`` the vocal shares in the multichannel Wiener filter as a third source; ``mwf_power``
    is that filter's magnitude exponent. Other stems pass unchanged; the stems still add up to the
    mix."""

    blend = hpss_weight > 0 or hpss_adaptive
    state = {"gave": False}  # whether the last chunk's vocal gave way (chunks come in order, one at a time)

    def redraw(
        pair: np.ndarray, harmonic: np.ndarray, vocal: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        split = None
        if vocal is not None and vocal_remask:
            pair, harmonic, vocal = remask_vocal(pair, harmonic, vocal, sample_rate, vocal_two_stage)
        if vocal is not None and vocal_yield:
            # Where the last chunk gave way this one likely does too: the mix's split first (reused
            # when all is given); else the pair's, needed anyway, says whether the mix's is worth it.
            if not state["gave"] and blend:
                split = hpss.hpss_split(pair, sample_rate, shared_mask=True, decisiveness=True)
            if state["gave"] or (split[1] if split else hpss.decisiveness(pair, sample_rate)) >= PAIR_GATE:
                given = yield_vocal(pair, harmonic, vocal, sample_rate)
                state["gave"] = given[2] is not vocal
                if state["gave"]:
                    pair, harmonic, vocal, split = given
        # A vocal given back whole (vocal_yield) leaves the filter to the pair.
        if vocal is None or not (mwf_vocal and mwf_iterations and vocal.any()):
            return (
                redraw_pair(pair, harmonic, sample_rate, hpss_weight, hpss_adaptive, mwf_iterations, split, mwf_power),
                vocal,
            )
        harmonic = redraw_pair(pair, harmonic, sample_rate, hpss_weight, hpss_adaptive, 0, split)
        harmonic, vocal = filter_stems(
            pair + vocal, np.stack((harmonic, vocal)), sample_rate, mwf_iterations, mwf_power
        )
        return harmonic, vocal

    chunk, overlap = int(CHUNK_S * sample_rate), int(OVERLAP_S * sample_rate)
    with_vocal = (vocal_yield or vocal_remask or (mwf_vocal and mwf_iterations > 0)) and "vocal" in sources
    yield from stream_pair_rework(stems, sources, redraw, chunk, overlap, "mixin-redraw", with_vocal)
