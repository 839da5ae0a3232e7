"""Choosing the CDAEs' soft-mask power: median SDR per source at several powers, and the power
with the best mean over the sources (config.json's ``mask_power``).

Meant for the development tracks: those of the HDF5 validation and test splits, which early
stopping saw but training never fitted, and which are not the validation set reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..constants import CDAE_SOURCES
from ..data.hdf5 import split_track_names
from .report import write_report
from .scoring import EvalTrack, summarise
from .systems import score_tracks

if TYPE_CHECKING:
    from ..separators import Separator


def development_tracks(data_dir: Path) -> list[str]:
    """Names of the tracks of ``data_dir``'s HDF5 validation and test splits."""
    splits = split_track_names(data_dir)
    return splits["validation"] + splits["test"]


def sweep(
    tracks: Sequence[EvalTrack],
    separator: Separator,
    powers: Sequence[float],
    out: Path,
    cores: int = 1,
    progress: bool = False,
) -> dict[float, dict[str, float]]:
    """Median SDR per source of ``separator`` (a CDAE :class:`~mixin.separators.Separator`) at
    each mask power; each power's report goes to ``out/p<power>``."""
    results = {}
    for power in powers:
        separator.mask_power = float(power)
        scores, skipped = score_tracks(tracks, ["mixin"], separator, cores=cores, progress=progress)
        summary = summarise(scores)
        write_report(report_dir(out, power), scores, summary, skipped)
        scored = summary.get("mixin", {})
        results[power] = {s: scored[s]["SDR"] for s in CDAE_SOURCES if s in scored}
    return results


def report_dir(out: Path, power: float) -> Path:
    """Where :func:`sweep` writes the report of ``power``: ``out/p<power>``."""
    return Path(out) / f"p{power:g}"


def best_power(results: dict[float, dict[str, float]]) -> float:
    """The power with the best mean SDR over the sources."""
    return max(results, key=lambda p: _mean(results[p]))


def table(results: dict[float, dict[str, float]]) -> str:
    """A Markdown table of the sweep and a last line naming the best power."""
    sources = [s for s in CDAE_SOURCES if any(s in r for r in results.values())]
    lines = ["| mask power | " + " | ".join(sources) + " | mean |", "|---:|" + "---:|" * (len(sources) + 1)]
    for power, sdr in results.items():
        cells = [f"{sdr[s]:.2f}" if s in sdr else "–" for s in sources]
        lines.append(f"| {power:g} | " + " | ".join(cells) + f" | {_mean(sdr):.2f} |")
    lines.append(f"best mean SDR: mask power {best_power(results):g}")
    return "\n".join(lines)


def _mean(sdr: dict[str, float]) -> float:
    return sum(sdr.values()) / len(sdr) if sdr else float("-inf")
