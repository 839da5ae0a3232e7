"""The DRNN's vocal as a second opinion on the CDAEs' vocal, streamed.

Where the CDAEs hear a voice (their vocal stem within ``gate_db`` of the mix over a second), the
vocal stem moves a share ``weight`` of the way towards the DRNN's vocal estimate; what it gains or
loses is taken from the other stems, so the stems still sum to the mix. The DRNN hears either the
whole mix (``hears`` "mix"; the change is then taken half from the harmonic and half from the
percussive stem) or the mix less the CDAEs' percussive stem ("harmonic+vocal": loud drums are
what it hears worst; the change is then taken from the harmonic stem alone). Seconds the CDAEs
call instrumental are left alone: the DRNN, trained on karaoke clips, takes some instrumental sound
for voice. The gate changes over a short ramp at the start of a second, never as a step.
(Measured choices: ``pretrained-models/HISTORY.md``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .apply import SampleQueue
from .constants import HELPER_HEARS

WINDOW_S = 1.0
"""Seconds over which the gate compares the CDAEs' vocal with the mix."""
RAMP_S = 0.02
"""The gate moves over this long at the start of a second."""


def energy(x: np.ndarray) -> float:
    """Sum of squares (a BLAS dot product: no temporary the size of ``x``)."""
    flat = np.ascontiguousarray(x).ravel()
    return float(np.dot(flat, flat))


def gate_open(stems: np.ndarray, vocal: int, gate_db: float) -> bool:
    """Whether the vocal stem of (sources, n, channels) holds at least ``gate_db`` dB of the mix's energy."""
    energy_mix = energy(stems.sum(axis=0))
    return energy_mix > 0 and energy(stems[vocal]) >= energy_mix * 10 ** (gate_db / 10)


def stream_voice_blend(
    stems: Iterable[np.ndarray],
    sources: tuple[str, ...],
    sample_rate: int,
    channels: int,
    helper: Any,
    weight: float,
    gate_db: float,
    hears: str = "mix",
) -> Iterator[np.ndarray]:
    """(sources, n, channels) stem blocks in, the same with the vocal blended towards ``helper``'s
    (a :class:`~mixin.separators.DRNNSeparator`, through its ``stream_unchecked``: the blocks are the
    chain's own) where the gate is open; ``hears``: one of :data:`~mixin.constants.HELPER_HEARS`.
    Memory: a second and the helper's own piece."""
    if hears not in HELPER_HEARS:
        raise ValueError(f"hears must be one of {', '.join(HELPER_HEARS)}, not {hears!r}")
    without_percussive = hears == "harmonic+vocal"
    v, h, p = sources.index("vocal"), sources.index("harmonic"), sources.index("percussive")
    pending = SampleQueue(axis=1)  # our stems, waiting for the helper's vocal of the same samples
    ready = SampleQueue(axis=1)  # our stems, waiting for whole seconds
    theirs_ready = SampleQueue(axis=0)  # the helper's vocal of the same samples
    window = max(int(WINDOW_S * sample_rate), 1)
    ramp = np.linspace(0.0, 1.0, max(int(RAMP_S * sample_rate), 1), dtype=np.float32)[:, None]
    state = {"gain": 0.0}

    def mixes() -> Iterator[np.ndarray]:
        for block in stems:
            pending.push(block)
            yield block.sum(axis=0) - block[p] if without_percussive else block.sum(axis=0)

    def blend(out: np.ndarray, theirs: np.ndarray) -> np.ndarray:
        start, end = state["gain"], weight if gate_open(out, v, gate_db) else 0.0
        state["gain"] = end
        if start == end == 0.0:
            return out
        gain = np.full((out.shape[1], 1), end, np.float32)
        n = min(len(ramp), len(gain))
        gain[:n] = start + (end - start) * ramp[:n]
        delta = gain * (theirs - out[v])
        out[v] += delta
        if without_percussive:  # the DRNN's vocal is part of vocal + harmonic: the percussive stem stays
            out[h] -= delta
        else:
            delta *= 0.5
            out[h] -= delta
            out[p] -= delta
        return out

    # Its own thread: on the models' shared one the DRNN would wait behind the CDAEs' batches.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mixin-voice") as executor:
        for helped in helper.stream_unchecked(mixes(), sample_rate, channels, executor=executor):
            ours = pending.take(helped.shape[1])
            ready.push(ours)
            theirs_ready.push(helped[0, : ours.shape[1]])
            while ready.size >= window:
                yield blend(ready.take(window), theirs_ready.take(window))
    if ready.size:
        yield blend(ready.take(ready.size), theirs_ready.take(theirs_ready.size))
    if pending.size:  # nothing of the helper's left for these samples: as they are
        yield pending.take(pending.size)
