"""The evaluation report: ``results.json`` (per track, source and system), ``results.md`` (the
tables) and ``results.png`` (median SDR per source and system, the oracle as a marker)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import temporary_beside
from ..errors import MixinError
from .scoring import SOURCES, Score, SummaryTable

REPORT_FILES = ("results.json", "results.md", "results.png")
"""What a report directory holds."""


def check_replaceable(out: Path, force: bool) -> None:
    """A :class:`MixinError` if ``out`` already holds a report and not ``force``: one is replaced
    only when asked, and this is checked before minutes of scoring."""
    held = [name for name in REPORT_FILES if (out / name).exists()]
    if held and not force:
        raise MixinError(out, f"already holds a report ({', '.join(held)}): --force replaces it")


def strict_json(value: Any) -> Any:
    """``value`` as standard JSON holds it: NaN (a figure undefined, e.g. no frame scored) as null,
    an infinite figure (a perfect estimate) as the string "inf" or "-inf"; NumPy numbers as Python's."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict_json(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    return value


def write_report(out: Path, scores: list[Score], summary: SummaryTable, skipped_tracks: list[tuple[str, str]]) -> None:
    """results.json, results.md and results.png in ``out``: all three written to temporary names
    first, then renamed, so a report is never half old and half new."""
    out.mkdir(parents=True, exist_ok=True)
    data = {"summary": summary, "scores": [asdict(s) for s in scores], "skipped_tracks": skipped_tracks}
    parts = {name: temporary_beside(out / name, Path(name).suffix) for name in REPORT_FILES}
    try:
        parts["results.json"].write_text(json.dumps(strict_json(data), indent=1, allow_nan=False) + "\n")
        parts["results.md"].write_text(markdown(summary, scores, skipped_tracks))
        plot(summary, parts["results.png"])
        for name, part in parts.items():
            os.replace(part, out / name)
    finally:
        for part in parts.values():
            part.unlink(missing_ok=True)


def markdown(summary: SummaryTable, scores: list[Score], skipped_tracks: list[tuple[str, str]]) -> str:
    """The tables: BSSv4 metrics per system and source, voice metrics, skipped tracks."""
    systems = list(summary)
    sources = [s for s in SOURCES if any(s in summary[x] for x in systems)]
    lines = [
        "# Separation scores",
        "",
        "BSSv4 (museval, time-invariant filters): median over 1-s frames, then median over tracks (dB).",
        "",
    ]
    for metric in ("SDR", "SIR", "SAR", "ISR"):
        lines += [f"## {metric}", "", "| system | " + " | ".join(sources) + " |", "|---|" + "---:|" * len(sources)]
        for system in systems:
            cells = [f"{summary[system][s][metric]:.2f}" if s in summary[system] else "–" for s in sources]
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
        lines.append("")
    voice = [x for x in systems if "global" in summary[x]]
    if voice:
        lines += [
            "## Voice (length-weighted over clips)",
            "",
            "Whole-clip BSSv4 (museval's images version, as above), not the bss_eval_sources of MIR-1K's "
            "protocol that the DRNN's training validation reports: the two differ, compare like with like.",
            "",
            "| system | GNSDR | GSIR | GSAR |",
            "|---|---:|---:|---:|",
        ]
        for x in voice:
            g = summary[x]["global"]
            lines.append(f"| {x} | {g['GNSDR']:.2f} | {g['GSIR']:.2f} | {g['GSAR']:.2f} |")
        lines.append("")
    lines += left_out_note(scores)
    tracks = sorted({s.track for s in scores})
    lines += [f"Tracks scored: {len(tracks)}.", ""]
    skipped = [f"- {line}" for line in skip_lines(scores, skipped_tracks)]
    if skipped:
        lines += ["## Skipped", "", *skipped, ""]
    return "\n".join(lines)


def skip_lines(scores: list[Score], skipped_tracks: list[tuple[str, str]]) -> list[str]:
    """Every skip with its reason, one line each: a whole track, a system on a track, and a source
    of a track whose reference is silent (once, whichever systems estimate it)."""
    lines = [f"{t}: {why}" for t, why in skipped_tracks]
    lines += [f"{s.track} ({s.system}): {s.skipped}" for s in scores if s.skipped]
    sources = (f"{s.track} ({x}): {m['skipped']}" for s in scores for x, m in s.metrics.items() if "skipped" in m)
    return lines + list(dict.fromkeys(sources))


def left_out_note(scores: list[Score]) -> list[str]:
    """Lines naming the systems scored without some references (sources they do not estimate):
    their SIR and SAR are not comparable with rows scored on every source."""
    left: dict[str, set[str]] = {}
    for s in scores:
        if not s.skipped and s.left_out:
            left.setdefault(s.system, set()).update(s.left_out)
    if not left:
        return []
    return [
        "## Sources left out",
        "",
        "These systems estimate fewer sources than the references hold. The others are left out of "
        "their reference set, so they do not count as interference: their SIR and SAR are not "
        "comparable with rows scored on every source (their SDR and ISR are).",
        "",
        *(f"- {system}: {', '.join(x for x in SOURCES if x in sources)}" for system, sources in left.items()),
        "",
    ]


def plot(summary: SummaryTable, path: Path) -> None:
    """Bars of median SDR per source and system; the oracle as a marker (the ceiling)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    systems = [x for x in summary if x != "oracle"]
    sources = [s for s in SOURCES if any(s in summary[x] for x in summary)]
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(sources), 3.8))
    width = 0.8 / max(1, len(systems))
    x = np.arange(len(sources))
    for i, system in enumerate(systems):
        vals = [summary[system].get(s, {}).get("SDR", np.nan) for s in sources]
        ax.bar(x - 0.4 + width * (i + 0.5), vals, width, label=system)
    if "oracle" in summary:
        vals = [summary["oracle"].get(s, {}).get("SDR", np.nan) for s in sources]
        ax.scatter(x, vals, marker="_", s=900, color="black", zorder=3, label="oracle (ceiling)")
    ax.set_xticks(x, sources)
    ax.set_ylabel("median SDR (dB)")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
