"""The DRNN's vocal as a second opinion on the CDAEs' vocal, streamed.

Where the CDAEs hear a voice (their vocal stem within ``gate_db`` of the mix over a second), the
vocal stem moves a share ``weight`` of the way towards the DRNN's vocal estimate of the same
mix; what it gains or loses is taken half from the harmonic and half from the percussive stem, so
the stems still sum to the mix. Seconds the CDAEs call instrumental are left alone: the DRNN,
trained on karaoke clips, takes some instrumental sound for voice. The gate changes over a short
ramp at the start of a second, never as a step. (Measured choice: ``pretrained-models/README.md``.)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Iterator

import numpy as np

from .apply import SampleQueue

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
) -> Iterator[np.ndarray]:
    """(sources, n, channels) stem blocks in, the same with the vocal blended towards ``helper``'s
    (a :class:`~mixin.separators.DRNNSeparator`) where the gate is open. Memory: a second and the
    helper's own piece."""
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
            yield block.sum(axis=0)

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
        delta *= 0.5
        out[h] -= delta
        out[p] -= delta
        return out

    # Its own thread: on the models' shared one the DRNN would wait behind the CDAEs' batches.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mixin-voice") as executor:
        for helped in helper.stream(mixes(), sample_rate, channels, executor=executor):
            ours = pending.take(helped.shape[1])
            ready.push(ours)
            theirs_ready.push(helped[0, : ours.shape[1]])
            while ready.size >= window:
                yield blend(ready.take(window), theirs_ready.take(window))
    if ready.size:
        yield blend(ready.take(ready.size), theirs_ready.take(theirs_ready.size))
    if pending.size:  # nothing of the helper's left for these samples: as they are
        yield pending.take(pending.size)
