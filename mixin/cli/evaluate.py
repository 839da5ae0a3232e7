"""``eval_mixin.py``: score MiXiN, other separators' outputs and baselines on reference tracks."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

from ..constants import EVAL_SYSTEMS as SYSTEMS
from ..constants import LOUD_DRUMS_DB
from .common import (
    EXIT_OK,
    MODEL_OPTIONS,
    add_model_options,
    add_output_flags,
    architecture_conflict,
    finite_float,
    given_flags,
    model_options_conflict,
    positive_int,
    progress_enabled,
    run,
    usage_error,
)

PROG = "eval_mixin.py"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Score separations with BSSv4 (museval; median over 1-s frames, then over tracks) "
        "and, for voice/accompaniment clips, GNSDR/GSIR/GSAR (from whole-clip BSSv4, not the bss_eval_sources of "
        "MIR-1K's protocol that the DRNN's training validation uses); next to the mixture, HPSS and oracle baselines.",
        epilog="TRACKS_DIR holds MUSDB18-HQ track folders (mixture.wav + stems), folders with mix.wav and "
        "harmonic/percussive/vocal.wav (any subset), folders of stems alone (their sum is the mixture, as in "
        "MUSDB18; stems must share rate and length), or MIR-1K-style stereo clips (voice right, accompaniment "
        "left; mixed at 0 dB after normalising each to unit energy). Models that separate vocal/accompaniment "
        "(the DRNN) are scored, with every other system, on the vocal and the sum of the other stems, on "
        "tracks with a singer (a missing or silent vocal skips the track). "
        "Writes OUT/results.json, results.md, results.png. An option the run never reads (a model flag without "
        "the mixin system, --estimates-name without --estimates-dir, a scoring option with a --make-* step) is "
        "a usage error.",
    )
    p.add_argument(
        "tracks_dir",
        type=Path,
        metavar="TRACKS_DIR",
        help="the reference tracks (for --make-loud-drums and --make-percussion-mixes, the songs): a folder of "
        "track folders or of stereo clips (see below and --layout)",
    )
    add_model_options(p, "models of the 'mixin' system (default: the shipped ones)")
    p.add_argument("--estimates-dir", type=Path, help="another separator's outputs, <track>_<source>.wav")
    p.add_argument("--estimates-name", help=f"label of --estimates-dir in the report (default: {ESTIMATES_NAME})")
    p.add_argument(
        "--systems", help=f"comma-separated subset of {','.join(SYSTEMS)} (default: all; the model flags are for mixin)"
    )
    p.add_argument(
        "--layout",
        choices=("auto", "folders", "mir1k"),
        help="how TRACKS_DIR is read: folders, each subfolder a track (with none, TRACKS_DIR itself is one "
        "track); mir1k, each audio file in it a stereo clip; auto (default) clips where it holds audio files "
        "and no subfolders, else folders",
    )
    p.add_argument("--out", type=Path, help="report directory (default: report/)")
    p.add_argument("--cores", type=positive_int, help="score this many tracks in parallel (default: 1)")
    p.add_argument(
        "--make-percussion-mixes",
        type=Path,
        metavar="OUT_DIR",
        help="instead of scoring: write real instrument + percussion mixes into OUT_DIR, each song's "
        "pitched stems (no drums, no vocals) under another song's drums, and song i (in name order) also "
        "under the i-th --loops file (a loop left over is not used, with a warning)",
    )
    p.add_argument(
        "--loops",
        type=Path,
        nargs="+",
        default=[],
        metavar="FILE",
        help="percussion recordings for --make-percussion-mixes, one per song in name order "
        "(e.g. sonic-pi-samples' loop_*.flac)",
    )
    p.add_argument(
        "--make-loud-drums",
        type=Path,
        metavar="OUT_DIR",
        help="instead of scoring: write TRACKS_DIR's songs into OUT_DIR with their drums at --drums-db "
        "of the other stems' energy (pop/rock balance; studio multitracks often have quiet drums)",
    )
    p.add_argument(
        "--drums-db",
        type=finite_float,
        metavar="DB",
        help=f"drums against the rest for --make-loud-drums, in dB (default: {LOUD_DRUMS_DB:g})",
    )
    p.add_argument(
        "--stem-db",
        action="append",
        default=[],
        metavar="NAME=DB",
        help="with --make-loud-drums: first move stem NAME (its file name without suffix, e.g. vocals, bass, "
        "other) by DB dB, for other balances of voice and instruments (the drums are then set "
        "against the result); repeatable",
    )
    p.add_argument(
        "--spread",
        action="store_true",
        help="with --make-loud-drums: place the stems as on a stereo record (bass, voice and drums in "
        "the middle, other pitched stems left and right, each with a stereo reverb of its own)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a report already in --out; with --make-loud-drums, song folders already in OUT_DIR; with "
        "--make-percussion-mixes, the whole set of mix folders ('NN song + percussion') an earlier run left there "
        "(other folders are left alone)",
    )
    add_output_flags(p, quiet="no progress bars or tables (skipped tracks are still warned about)")
    return p


ESTIMATES_NAME = "estimates"
"""The report's label of ``--estimates-dir`` where ``--estimates-name`` gives none."""
SCORING_OPTIONS = ("systems", "estimates_dir", "estimates_name", "layout", "out", "cores", *MODEL_OPTIONS)
"""The destinations of the options that only scoring reads (none defaults to a value of its own, so
that one given to a set-making step is seen)."""


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    if args.make_percussion_mixes and args.make_loud_drums:
        return usage_error("--make-percussion-mixes and --make-loud-drums write different sets: one at a time")
    step = (
        "--make-loud-drums" if args.make_loud_drums else "--make-percussion-mixes" if args.make_percussion_mixes else ""
    )
    scoring = given_flags(args, SCORING_OPTIONS)
    if step and scoring:
        return usage_error(f"{', '.join(scoring)}: for scoring only, not with {step} (it writes a set, scores nothing)")
    if not step:
        problem = model_options_conflict(args) or scoring_options_problem(args)
        if not problem and "mixin" in args.systems:
            problem = architecture_conflict(args)
        if problem:
            return usage_error(problem)
    try:
        args.stem_db = parse_stem_db(args.stem_db)
    except ValueError as error:
        return usage_error(f"--stem-db: {error}")
    if args.stem_db and not args.make_loud_drums:
        return usage_error("--stem-db: for --make-loud-drums only")
    if args.spread and not args.make_loud_drums:
        return usage_error("--spread: for --make-loud-drums only")
    if args.drums_db is not None and not args.make_loud_drums:
        return usage_error("--drums-db: for --make-loud-drums only")
    if args.loops and not args.make_percussion_mixes:
        return usage_error("--loops: for --make-percussion-mixes only")
    if args.make_loud_drums:
        return run(make_loud_drums, args)
    return run(make_percussion_mixes if args.make_percussion_mixes else evaluate, args)


def scoring_options_problem(args: argparse.Namespace) -> str | None:
    """A usage error in the scoring options, or None; the options left out set to their defaults
    (``args.systems`` then a list)."""
    systems = SYSTEMS if args.systems is None else [s.strip() for s in args.systems.split(",") if s.strip()]
    if not systems and args.estimates_dir is None:
        return f"--systems: name at least one of {', '.join(SYSTEMS)}"
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        return f"unknown system(s) {', '.join(unknown)} (known: {', '.join(SYSTEMS)})"
    model = given_flags(args, MODEL_OPTIONS)
    if model and "mixin" not in systems:
        return f"{', '.join(model)}: for the mixin system only, which --systems leaves out"
    if args.estimates_name is not None and args.estimates_dir is None:
        return "--estimates-name: labels --estimates-dir, which is not given"
    if args.estimates_name in SYSTEMS:
        return f"--estimates-name {args.estimates_name}: a built-in system's name; give another label"
    args.systems = list(systems)
    args.estimates_name = ESTIMATES_NAME if args.estimates_name is None else args.estimates_name
    args.layout = args.layout or "auto"
    args.out = Path("report") if args.out is None else args.out
    args.cores = args.cores or 1
    return None


def make_percussion_mixes(args: argparse.Namespace) -> int:
    """--make-percussion-mixes: evaluation mixes from TRACKS_DIR's songs, written, not scored."""
    from ..data.percussion_mixes import make_percussion_mixes

    made = make_percussion_mixes(args.tracks_dir, args.make_percussion_mixes, args.loops, force=args.force)
    print(f"wrote {len(made)} mixes into {args.make_percussion_mixes}/")
    return EXIT_OK


def make_loud_drums(args: argparse.Namespace) -> int:
    """--make-loud-drums: TRACKS_DIR's songs with their drums re-balanced, written, not scored."""
    from ..data.percussion_mixes import make_loud_drum_songs

    if args.drums_db is None:
        args.drums_db = LOUD_DRUMS_DB
    made = make_loud_drum_songs(
        args.tracks_dir, args.make_loud_drums, args.drums_db, stem_db=args.stem_db, spread=args.spread, force=args.force
    )
    moved = "".join(f", {name} {db:+g} dB" for name, db in args.stem_db.items())
    spread = ", spread in stereo" if args.spread else ""
    balance = f"drums at {args.drums_db:g} dB of the rest{moved}{spread}"
    print(f"wrote {len(made)} songs into {args.make_loud_drums}/ ({balance})")
    return EXIT_OK


def parse_stem_db(items: Sequence[str]) -> dict[str, float]:
    """``NAME=DB`` strings as a mapping; ValueError says which one is malformed."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, db = item.partition("=")
        try:
            value = float(db)
            if not (sep and name.strip() and math.isfinite(value)):
                raise ValueError
            out[name.strip()] = value
        except ValueError:
            raise ValueError(f"{item!r} is not NAME=DB (e.g. vocals=1.5)") from None
    return out


def evaluate(args: argparse.Namespace) -> int:
    """Load the tracks and the separator, score every system, write the report."""
    import warnings

    from ..errors import MixinError, no_directory
    from ..evaluation.report import check_replaceable, skip_lines, write_report
    from ..evaluation.scoring import VOICE_SOURCES, as_voice_pair, load_tracks, summarise
    from ..evaluation.systems import score_tracks
    from ..files import check_writable
    from .common import load_separator_from

    if args.estimates_dir is not None:
        if not args.estimates_dir.is_dir():
            raise no_directory(args.estimates_dir, "estimates directory")
        args.systems.append(args.estimates_name)
    tracks = load_tracks(args.tracks_dir, args.layout)
    check_writable(args.out)  # before minutes of scoring, not after
    check_replaceable(args.out, args.force)
    separator = load_separator_from(args) if "mixin" in args.systems else None
    if separator is not None and tuple(separator.sources) == VOICE_SOURCES:
        tracks = [as_voice_pair(t) for t in tracks]  # every system scored on vocal/accompaniment
    for track in tracks:  # before minutes of scoring
        if track.skipped:
            warnings.warn(f"skipped {track.name}: {track.skipped}", stacklevel=1)
    scores, skipped_tracks = score_tracks(
        tracks, args.systems, separator, args.estimates_dir, args.estimates_name, args.cores, progress_enabled(args)
    )
    for line in skip_lines(scores, []):  # a system on a track, a silent reference
        warnings.warn(f"skipped {line}", stacklevel=1)
    summary = summarise(scores)
    if not any(summary.values()):
        raise MixinError(args.tracks_dir, "nothing scored: every track or system was skipped")
    write_report(args.out, scores, summary, skipped_tracks)
    if not args.quiet:
        print((args.out / "results.md").read_text())
    return EXIT_OK
