"""``eval_mixin.py``: score MiXiN, other separators' outputs and baselines on reference tracks."""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

from .cli import add_mask_power_option

SYSTEMS = ("mixin", "mixture", "hpss", "oracle")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eval_mixin.py",
        description="Score separations with BSSv4 (museval; median over 1-s frames, then over tracks) "
        "and, for voice/accompaniment clips, GNSDR/GSIR/GSAR; next to the mixture, HPSS and oracle baselines.",
        epilog="TRACKS_DIR holds MUSDB18-HQ track folders (mixture.wav + stems), folders with mix.wav and "
        "harmonic/percussive/vocal.wav (any subset), or MIR-1K-style stereo clips (voice right, accompaniment "
        "left; mixed at 0 dB after normalising each to unit energy). Writes OUT/results.json, results.md, results.png.",
    )
    p.add_argument("tracks_dir", type=Path, metavar="TRACKS_DIR")
    p.add_argument("--pretrained-model-dir", type=Path, help="models of the 'mixin' system (default: the shipped ones)")
    p.add_argument("--estimates-dir", type=Path, help="another separator's outputs, <track>_<source>.wav")
    p.add_argument("--estimates-name", default="estimates", help="label of --estimates-dir in the report")
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}")
    p.add_argument("--instrumental", action="store_true", help="the 'mixin' system without its vocal model")
    p.add_argument("--single-model", action="store_true", help="the 'mixin' system in mixture-phase mode")
    add_mask_power_option(p)
    p.add_argument("--layout", choices=("auto", "folders", "mir1k"), default="auto")
    p.add_argument("--out", type=Path, default=Path("report"), help="report directory (default: report/)")
    p.add_argument("--cores", type=int, default=1, help="score this many tracks in parallel (default: 1)")
    p.add_argument("--make-percussion-mixes", type=Path, metavar="OUT_DIR",
                   help="instead of scoring: write real instrument + percussion mixes into OUT_DIR, each song's "
                   "pitched stems (no drums, no vocals) under another song's drums and under each --loops file")
    p.add_argument("--loops", type=Path, nargs="+", default=[], metavar="FILE",
                   help="percussion recordings for --make-percussion-mixes (e.g. sonic-pi-samples' loop_*.flac)")
    p.add_argument("-q", "--quiet", action="store_true")
    return p


def estimates_for(track, systems: Sequence[str], separator, estimates_dir: Path | None, label: str) -> dict:
    """system -> estimates dict, or system -> str (why it has none for this track)."""
    import numpy as np

    from .audio import read_audio, resample
    from .baselines import hpss, mixture_as_estimate, oracle_wiener
    from .constants import SAMPLE_RATE

    out: dict = {}
    refs = track.references
    for system in systems:
        if system == "mixin":
            stems = separator.separate(track.mix, track.rate)
            if track.voice_pair and {"harmonic", "percussive"} <= set(stems):
                stems["accompaniment"] = stems["harmonic"] + stems["percussive"]
            out[system] = stems
        elif system == "mixture":
            out[system] = mixture_as_estimate(track.mix, refs)
        elif system == "hpss":
            if {"harmonic", "percussive"} & set(refs):
                out[system] = hpss(track.mix, track.rate)
            else:
                out[system] = "HPSS estimates harmonic/percussive only"
        elif system == "oracle":
            mix44 = resample(track.mix, track.rate, SAMPLE_RATE)
            refs44 = {s: resample(r, track.rate, SAMPLE_RATE) for s, r in refs.items()}
            n = min(len(mix44), *(len(r) for r in refs44.values()))
            est = oracle_wiener(mix44[:n], {s: r[:n] for s, r in refs44.items()})
            out[system] = {s: resample(e, SAMPLE_RATE, track.rate)[: len(track.mix)] for s, e in est.items()}
            for s, e in out[system].items():
                if len(e) < len(track.mix):
                    out[system][s] = np.pad(e, ((0, len(track.mix) - len(e)), (0, 0)))
        elif system == label and estimates_dir is not None:
            found = {}
            for s in refs:
                path = estimates_dir / f"{track.name}_{s}.wav"
                if path.exists():
                    audio, rate = read_audio(path)
                    if rate != track.rate:
                        found = f"{path}: sample rate {rate} Hz, reference {track.rate} Hz"
                        break
                    found[s] = audio
            out[system] = found if found else f"no {track.name}_<source>.wav in {estimates_dir}"
    return out


def _score(args):
    from .evaluate import score_track

    track, system, estimates = args
    return score_track(track, system, estimates)


def write_report(out: Path, scores, summary, skipped_tracks) -> None:
    """results.json, results.md and results.png in ``out``."""
    from dataclasses import asdict

    out.mkdir(parents=True, exist_ok=True)
    data = {"summary": summary, "scores": [asdict(s) for s in scores], "skipped_tracks": skipped_tracks}
    (out / "results.json").write_text(json.dumps(data, indent=1, default=float) + "\n")
    (out / "results.md").write_text(markdown(summary, scores, skipped_tracks))
    plot(summary, out / "results.png")


def markdown(summary, scores, skipped_tracks) -> str:
    systems = list(summary)
    sources = [s for s in ("harmonic", "percussive", "vocal", "accompaniment") if any(s in summary[x] for x in systems)]
    lines = ["# Separation scores", "", "BSSv4 (museval, time-invariant filters): median over 1-s frames, then median over tracks (dB).", ""]
    for metric in ("SDR", "SIR", "SAR", "ISR"):
        lines += [f"## {metric}", "", "| system | " + " | ".join(sources) + " |", "|---|" + "---:|" * len(sources)]
        for system in systems:
            cells = [f"{summary[system][s][metric]:.2f}" if s in summary[system] else "–" for s in sources]
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
        lines.append("")
    voice = [x for x in systems if "global" in summary[x]]
    if voice:
        lines += ["## Voice (length-weighted over clips)", "", "| system | GNSDR | GSIR | GSAR |", "|---|---:|---:|---:|"]
        for x in voice:
            g = summary[x]["global"]
            lines.append(f"| {x} | {g['GNSDR']:.2f} | {g['GSIR']:.2f} | {g['GSAR']:.2f} |")
        lines.append("")
    tracks = sorted({s.track for s in scores})
    lines += [f"Tracks scored: {len(tracks)}.", ""]
    skipped = [f"- {t}: {why}" for t, why in skipped_tracks] + [f"- {s.track} ({s.system}): {s.skipped}" for s in scores if s.skipped]
    if skipped:
        lines += ["## Skipped", "", *skipped, ""]
    return "\n".join(lines)


def plot(summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    systems = [x for x in summary if x != "oracle"]
    sources = [s for s in ("harmonic", "percussive", "vocal", "accompaniment") if any(s in summary[x] for x in summary)]
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        print(f"error: unknown system(s) {', '.join(unknown)} (known: {', '.join(SYSTEMS)})", file=sys.stderr)
        return 2
    if args.estimates_dir is not None:
        if not args.estimates_dir.is_dir():
            print(f"error: {args.estimates_dir}: estimates directory not found", file=sys.stderr)
            return 1
        systems.append(args.estimates_name)
    from .errors import MixinError
    from .evaluate import load_tracks, summarise
    from .progress import progress_bar

    if args.make_percussion_mixes:
        from .percussion_mixes import make_percussion_mixes

        try:
            made = make_percussion_mixes(args.tracks_dir, args.make_percussion_mixes, args.loops)
        except MixinError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {len(made)} mixes into {args.make_percussion_mixes}/")
        return 0

    try:
        tracks = load_tracks(args.tracks_dir, args.layout)
        separator = None
        if "mixin" in systems:
            from .registry import load_separator

            separator = load_separator(
                args.pretrained_model_dir,
                instrumental=args.instrumental,
                single_model=args.single_model,
                mask_power=args.mask_power,
                hpss_weight=args.hpss_weight,
            )
    except MixinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    skipped_tracks = [(t.name, t.skipped) for t in tracks if t.skipped]
    for name, why in skipped_tracks:
        print(f"skipped {name}: {why}", file=sys.stderr)
    good = [t for t in tracks if not t.skipped]
    progress = not args.quiet and sys.stderr.isatty()
    jobs, scores = [], []
    from .evaluate import Score

    for track in progress_bar(progress, good, unit="track", desc="separating"):
        try:
            per = estimates_for(track, systems, separator, args.estimates_dir, args.estimates_name)
        except MixinError as exc:
            skipped_tracks.append((track.name, str(exc)))
            continue
        for system, est in per.items():
            if isinstance(est, str):
                scores.append(Score(track.name, system, skipped=est))
            else:
                jobs.append((track, system, est))
    if args.cores > 1:
        with ProcessPoolExecutor(args.cores) as pool:
            scores += list(progress_bar(progress, pool.map(_score, jobs), total=len(jobs), unit="score", desc="scoring"))
    else:
        scores += [_score(j) for j in progress_bar(progress, jobs, unit="score", desc="scoring")]
    for s in scores:
        if s.skipped:
            print(f"skipped {s.track} ({s.system}): {s.skipped}", file=sys.stderr)
    summary = summarise(scores)
    write_report(args.out, scores, summary, skipped_tracks)
    if not args.quiet:
        print((args.out / "results.md").read_text())
    return 0
