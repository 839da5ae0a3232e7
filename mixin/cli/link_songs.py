"""``mixin link-songs``: the clips of the training or validation MIR-1K songs, linked into a folder."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ..data.mir1k import SPLITS
from .common import EXIT_OK, add_output_flags, run

PROG = "mixin link-songs"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Symlink the clips of one side of the MIR-1K song split (every fifth song is validation's, "
        "as in training and --render-split) from SRC into a fresh DST.",
    )
    p.add_argument("split", choices=SPLITS)
    p.add_argument("src", type=Path, metavar="SRC", help="MIR-1K-style clips (singer_song_clip.wav)")
    p.add_argument("dst", type=Path, metavar="DST", help="replaced by a folder of links")
    add_output_flags(p, quiet="no summary line")
    return p


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    return run(link, build_parser(prog).parse_args(argv))


def link(args: argparse.Namespace) -> int:
    from ..data.mir1k import link_songs

    count = link_songs(args.src, args.dst, args.split)
    if not args.quiet:
        print(f"linked {count} clips into {args.dst}")
    return EXIT_OK
