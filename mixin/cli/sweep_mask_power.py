"""``mixin sweep-mask-power``: score the CDAEs at several soft-mask powers; the best mean SDR
picks config.json's ``mask_power``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .common import EXIT_OK, add_output_flags, positive_float, positive_int, progress_enabled, run

PROG = "mixin sweep-mask-power"
POWERS = "0.5,0.75,1,1.5,2"


def powers(text: str) -> list[float]:
    """An argparse type: comma-separated positive numbers, at least one."""
    values = [positive_float(p) for p in text.split(",") if p.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"give one or more positive numbers, e.g. {POWERS}; got {text!r}")
    return values


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Median SDR of the CDAEs per source at several soft-mask powers (the mixin system of "
        "eval_mixin.py), a table of them and the power with the best mean. Reports go to OUT/p<power>/.",
    )
    p.add_argument("tracks_dir", type=Path, metavar="TRACKS_DIR", help="track folders, as eval_mixin.py takes them")
    p.add_argument(
        "--development",
        type=Path,
        metavar="DATA_DIR",
        help="score only the tracks of DATA_DIR's HDF5 validation and test splits (the development tracks: "
        "early stopping saw them, training did not)",
    )
    p.add_argument("--pretrained-model-dir", type=Path, metavar="DIR", help="the CDAEs (default: the shipped ones)")
    p.add_argument("--powers", type=powers, default=powers(POWERS), help=f"comma-separated (default: {POWERS})")
    p.add_argument("--out", type=Path, default=Path("mask-power"), help="report directory (default: mask-power/)")
    p.add_argument("--cores", type=positive_int, default=1, help="score this many tracks in parallel (default: 1)")
    p.add_argument("--force", action="store_true", help="replace reports already in OUT/p<power>/")
    add_output_flags(p, quiet="no progress bars (the table is still printed)")
    return p


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    return run(sweep, build_parser(prog).parse_args(argv))


def sweep(args: argparse.Namespace) -> int:
    from ..evaluation import mask_power
    from ..evaluation.report import check_replaceable
    from ..evaluation.scoring import load_tracks
    from ..files import check_writable
    from ..registry import load_separator

    check_writable(args.out)
    for power in args.powers:  # before minutes of scoring, not after
        check_replaceable(mask_power.report_dir(args.out, power), args.force)
    names = mask_power.development_tracks(args.development) if args.development else None
    tracks = load_tracks(args.tracks_dir, "folders", names)
    separator = load_separator(args.pretrained_model_dir, mask_power=args.powers[0])
    results = mask_power.sweep(tracks, separator, args.powers, args.out, args.cores, progress_enabled(args))
    print(mask_power.table(results))
    return EXIT_OK
