"""The command lines, one module per command, thin over the library; ``common`` holds what they
share. ``mixin COMMAND ...`` (the installed console command, or ``python -m mixin``) runs any of
them; ``./xtract_mixin.py``, ``./train_util.py`` and ``./eval_mixin.py`` run one each.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = {
    "separate": ("separate", "split audio files into stems (as ./xtract_mixin.py)"),
    "train": ("train", "render, prepare and train (as ./train_util.py)"),
    "evaluate": ("evaluate", "score separations against references (as ./eval_mixin.py)"),
    "link-songs": ("link_songs", "link the clips of the training or validation MIR-1K songs"),
    "sweep-mask-power": ("sweep_mask_power", "score the CDAEs at several soft-mask powers"),
}
"""Command name -> (module in mixin.cli, summary)."""


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    p = argparse.ArgumentParser(
        prog="mixin",
        description="MiXiN: harmonic, percussive and vocal stems with a Bark-scale NSGT and CDAEs.",
        epilog="commands:\n"
        + "".join(f"  {name:<18} {summary}\n" for name, (_, summary) in COMMANDS.items())
        + "\n'mixin COMMAND --help' shows a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("command", choices=COMMANDS, metavar="COMMAND", help="one of: " + ", ".join(COMMANDS))
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``mixin COMMAND [options]``: the command's exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        build_parser().parse_args(argv[:1])  # --help, --version or a bad command: argparse answers and exits
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(f".{COMMANDS[name][0]}", __name__)
    return module.main(rest, prog=f"mixin {name}")
