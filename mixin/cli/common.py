"""What every command shares: the ``-q``/``-v`` flags, the model options, logging and warnings,
and the one rule for failures: a :class:`MixinError` is one line on stderr and exit status 1
(a traceback too with ``-v``), Ctrl-C is 130 and SIGTERM 143 (both unwound, so no temporary file stays
behind), a usage error 2.

Only argparse, the standard library and :mod:`mixin.constants` load here, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..constants import HELPER_HEARS

if TYPE_CHECKING:
    from ..apply import ChunkedSeparator

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a job scheduler's time limit), unwound like Ctrl-C."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


def add_output_flags(p: argparse.ArgumentParser, quiet: str = "no progress bars or summary lines") -> None:
    """``-q/--quiet`` and ``-v/--verbose``."""
    p.add_argument("-q", "--quiet", action="store_true", help=quiet)
    p.add_argument("-v", "--verbose", action="store_true", help="full tracebacks and TensorFlow's log")


def _number(text: str, ok: Callable[[float], bool], what: str, finite: bool = False) -> float:
    """``text`` as a float that passes ``ok``, else an argparse error saying it must be ``what``;
    with ``finite``, an infinity or NaN is first refused as such."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if finite and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return value


def finite_float(text: str) -> float:
    """An argparse type: any finite number (a level in dB)."""
    return _number(text, math.isfinite, "a finite number")


def positive_float(text: str) -> float:
    """An argparse type: a finite number above zero (``inf`` is refused as not finite, not as not positive)."""
    return _number(text, lambda value: value > 0, "positive", finite=True)


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number of zero or more (a range's half-width, a decay)."""
    return _number(text, lambda value: value >= 0, "0 or more", finite=True)


def fraction(text: str) -> float:
    """An argparse type: a number in [0, 1]."""
    return _number(text, lambda value: 0 <= value <= 1, "in [0, 1]")


def dropout_rate(text: str) -> float:
    """An argparse type: a number in [0, 1)."""
    return _number(text, lambda value: 0 <= value < 1, "in [0, 1)")


def _integer(text: str, least: int) -> int:
    """``text`` as an integer of at least ``least``, else an argparse error saying so."""
    try:
        value: int | None = int(text)
    except ValueError:
        value = None
    if value is None or value < least:
        raise argparse.ArgumentTypeError(f"must be a whole number >= {least}, got {text}")
    return value


def at_least(least: int) -> Callable[[str], int]:
    """argparse type: an integer >= ``least``."""

    def parse(text: str) -> int:
        return _integer(text, least)

    return parse


def whole_number(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _integer(text, 0)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a count: tracks, steps, cores, a batch)."""
    return _integer(text, 1)


def add_model_options(p: argparse.ArgumentParser, model_dir_help: str) -> None:
    """``--pretrained-model-dir``, ``--instrumental``, ``--single-model``, ``--mask-power``,
    ``--hpss-weight``, ``--voice-weight``, ``--voice-hears``, ``--mwf-iterations``, ``--mwf-vocal``,
    ``--mwf-power``, ``--vocal-yield``, ``--vocal-remask``, ``--vocal-two-stage``, ``--vocal-hears`` and
    ``--shifts``: which separator runs (shared by separating and evaluating)."""
    p.add_argument("--pretrained-model-dir", type=Path, metavar="DIR", help=model_dir_help)
    p.add_argument(
        "--instrumental",
        action="store_true",
        help="no vocal model: harmonic and percussive stems only (the vocal stages' flags, --voice-weight, "
        "--voice-hears, --mwf-vocal, --vocal-yield, --vocal-remask, --vocal-two-stage and --vocal-hears, are "
        "then usage errors)",
    )
    p.add_argument(
        "--single-model",
        action="store_true",
        help="invert each model's magnitude with the mix's phase instead of sharing the mix out "
        "with soft masks (stems then do not sum to the mix, and no later stage runs: --mask-power and the flags "
        "of the stages after the masks are then usage errors)",
    )
    p.add_argument(
        "--mask-power",
        type=positive_float,
        metavar="P",
        help="exponent of the soft masks |S|^p / sum |S|^p (default: the model directory's config.json, "
        "1 for the shipped CDAEs; 2 is the classic Wiener filter: less bleed, more artefacts)",
    )
    p.add_argument(
        "--hpss-weight",
        type=fraction,
        metavar="W",
        help="share of median filtering (HPSS) in the harmonic/percussive split of what the vocal model "
        "leaves: 0 CDAEs only, 1 HPSS only (default: the model directory's config.json)",
    )
    p.add_argument(
        "--voice-weight",
        type=fraction,
        metavar="W",
        help="share of the helper DRNN's vocal (config.json's voice_helper; pretrained-models/drnn-songs for the "
        "shipped models) blended into the CDAEs' vocal in the seconds where they hear a voice: 0 CDAEs only "
        "(default: the model directory's config.json)",
    )
    p.add_argument(
        "--voice-hears",
        choices=HELPER_HEARS,
        help="what the helper DRNN hears: the whole mix (its change to the vocal taken half from the harmonic and "
        "half from the percussive stem) or the mix less the CDAEs' percussive stem (the change taken from the "
        "harmonic stem) (default: the model directory's config.json, harmonic+vocal for the shipped models)",
    )
    p.add_argument(
        "--mwf-iterations",
        type=whole_number,
        metavar="N",
        help="iterations of the multichannel Wiener filter that redraws the harmonic/percussive split last, "
        "hearing stereo placement: 0 none, faster "
        "(default: the model directory's config.json, 1 for the shipped models)",
    )
    p.add_argument(
        "--mwf-vocal",
        choices=("on", "off"),
        help="on: the vocal shares in that Wiener filter as a third source (its own power and stereo placement), "
        "off: the filter redraws the harmonic/percussive pair only; needs --mwf-iterations above 0 (default: the "
        "model directory's config.json, on for the shipped models)",
    )
    p.add_argument(
        "--mwf-power",
        type=positive_float,
        metavar="P",
        help="exponent of the stems' magnitudes in that Wiener filter's power spectrograms: 2 the classic "
        "filter, less shares the mix out more softly (default: the model directory's config.json, 1.25 for the "
        "shipped models)",
    )
    p.add_argument(
        "--vocal-yield",
        choices=("on", "off"),
        help="on: in 6-s stretches where median filtering finds the whole mix plainly harmonic or percussive "
        "(sustained instruments under percussion) and the vocal holds less than about half of it, the vocal "
        "gives its share back to the harmonic/percussive pair (default: the model directory's config.json, on "
        "for the shipped models)",
    )
    p.add_argument(
        "--vocal-remask",
        choices=("on", "off"),
        help="on: the vocal is redrawn as a mask of the mix on a 4096-point STFT (no frequency bin holds more "
        "than the mix's; the mix's phase), what it sheds going to the harmonic/percussive pair (default: the "
        "model directory's config.json, on for the shipped models)",
    )
    p.add_argument(
        "--vocal-two-stage",
        type=fraction,
        metavar="S",
        help="share of median filtering's two-stage vocal (a long-window then a short-window median filtering of "
        "the mix less the percussive stem) in the remask's vocal mask, a weighted geometric mean: 0 the models' "
        "opinion only; needs the remask (default: the model directory's config.json, 0.5 for the shipped models)",
    )
    p.add_argument(
        "--vocal-hears",
        choices=HELPER_HEARS,
        help="what the vocal model hears: the mix, or also the mix less the percussive model's share (it runs a "
        "second time on that, and that estimate is the one kept: loud drums are what it hears worst) (default: "
        "the model directory's config.json, harmonic+vocal for the shipped models)",
    )
    p.add_argument(
        "--shifts",
        type=positive_int,
        metavar="N",
        help="separate N times, the input delayed each time by another 1/N of a chunk (1 s for the CDAEs), and "
        "average the stems, so that no stretch depends on where the chunk boundaries fall (the shift trick of "
        "Demucs): about N times slower (default: 1)",
    )


VOCAL_STAGES = (
    "voice_weight",
    "voice_hears",
    "mwf_vocal",
    "vocal_yield",
    "vocal_remask",
    "vocal_two_stage",
    "vocal_hears",
)
"""The options of the stages that work on the vocal stem: ``--instrumental`` runs none of them."""
MASK_STAGES = ("mask_power", "hpss_weight", "mwf_iterations", "mwf_power", *VOCAL_STAGES)
"""The options of the soft masks and every stage after them: ``--single-model`` runs none of them
(each model's magnitude with the mix's phase; :class:`mixin.separators.Separator` drops them)."""


MODEL_OPTIONS = (
    "pretrained_model_dir",
    "instrumental",
    "single_model",
    *MASK_STAGES,
    "shifts",
)
"""The destinations of :func:`add_model_options`' flags: all None (or False) where none is given."""


def given_flags(args: argparse.Namespace, dests: Sequence[str]) -> list[str]:
    """The flags of ``dests`` that were given: not None, False or an empty list (the values of
    options left out, which must then default to one of these)."""
    return [flag_name(dest) for dest in dests if getattr(args, dest) not in (None, False, [])]


def flag_name(dest: str) -> str:
    """The flag of an argparse destination: ``mwf_vocal`` -> ``--mwf-vocal``."""
    return "--" + dest.replace("_", "-")


def model_options_conflict(args: argparse.Namespace) -> str | None:
    """What is wrong with a pair of :func:`add_model_options`' flags given together, or None: a
    usage error (exit status 2), found before any model loads. A flag the chosen mode ignores
    (a later stage's with ``--single-model``, a vocal stage's with ``--instrumental``) is one."""
    if args.vocal_two_stage and args.vocal_remask == "off":
        return "--vocal-two-stage is a share of the vocal remask: not with --vocal-remask off"
    if args.mwf_vocal == "on" and args.mwf_iterations == 0:
        return "--mwf-vocal on adds the vocal to the Wiener filter: not with --mwf-iterations 0"
    if args.single_model:
        mode, ignored, why = "--single-model", MASK_STAGES, "no soft masks, and no later stage runs"
    elif args.instrumental:
        mode, ignored, why = "--instrumental", VOCAL_STAGES, "no vocal stem, so no vocal stage runs"
    else:
        return None
    given = [flag_name(dest) for dest in ignored if getattr(args, dest) is not None]
    if given:
        return f"{', '.join(given)}: no effect with {mode} ({why})"
    return None


def flag_of(option: str) -> str:
    """The flag that gives the separator option ``option`` (a keyword of :func:`mixin.load_separator`)."""
    return "--crossfade" if option == "overlap" else f"--{option.replace('_', '-')}"


def separator_options(args: argparse.Namespace) -> dict[str, Any]:
    """:func:`add_model_options`' flags as the options of :func:`mixin.registry.load_separator`
    (``shifts`` aside): None, or False for a switch, where a flag is not given."""
    return {
        "instrumental": args.instrumental,
        "single_model": args.single_model,
        "mask_power": args.mask_power,
        "hpss_weight": args.hpss_weight,
        "voice_weight": args.voice_weight,
        "voice_hears": args.voice_hears,
        "mwf_iterations": args.mwf_iterations,
        "mwf_vocal": None if args.mwf_vocal is None else args.mwf_vocal == "on",
        "mwf_power": args.mwf_power,
        "vocal_yield": None if args.vocal_yield is None else args.vocal_yield == "on",
        "vocal_remask": None if args.vocal_remask is None else args.vocal_remask == "on",
        "vocal_two_stage": args.vocal_two_stage,
        "vocal_hears": args.vocal_hears,
    }


def architecture_conflict(args: argparse.Namespace, **options: Any) -> str | None:
    """The CDAE-only flags given (the model flags, and ``options`` such as ``overlap`` for
    ``--crossfade``) for a model directory of another architecture, or None: a usage error, found
    from its ``config.json`` before any model loads. A directory or config that cannot be read is
    left to the loading, whose error it is (exit status 1)."""
    from ..errors import MixinError
    from ..registry import ModelConfig, default_model_dir

    directory = default_model_dir() if args.pretrained_model_dir is None else args.pretrained_model_dir
    try:
        arch = ModelConfig.load(directory).arch
    except MixinError:
        return None
    if arch == "cdae":
        return None
    from ..separators import cdae_only, cdae_options_given

    given = cdae_options_given({**separator_options(args), **options})
    return f"{directory}: {cdae_only([flag_of(name) for name in given])}" if given else None


def load_separator_from(args: argparse.Namespace, **options: Any) -> ChunkedSeparator:
    """The separator that :func:`add_model_options`' flags ask for; its option errors name the flags
    (a :class:`MixinError`) where the library's name its keywords."""
    from ..errors import MixinError
    from ..registry import load_separator
    from ..separators import CdaeOptionsGiven, cdae_only

    if conflict := model_options_conflict(args):
        raise MixinError(None, conflict)
    try:
        return load_separator(
            args.pretrained_model_dir,
            **separator_options(args),
            shifts=1 if args.shifts is None else args.shifts,
            **options,
        )
    except CdaeOptionsGiven as exc:
        raise MixinError(exc.path, cdae_only([flag_of(name) for name in exc.options])) from None


def progress_enabled(args: argparse.Namespace) -> bool:
    """Progress bars on a terminal, unless ``--quiet``."""
    return not args.quiet and sys.stderr.isatty()


def report(exc: BaseException, verbose: bool, where: str = "") -> None:
    """``error: <where><exc>`` on stderr, after the traceback when ``verbose``."""
    if verbose:
        traceback.print_exception(exc)
    print(f"error: {where}{exc}", file=sys.stderr)


def usage_error(message: str) -> int:
    """A bad option value found after parsing: one line, exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``command(args)`` with the commands' logging and failure rules; its exit status.

    TensorFlow's own log only with ``--verbose``; Python warnings (e.g. a skipped track) as
    ``warning: ...`` lines, each time; a :class:`MixinError` as one ``error:`` line.
    """
    from ..errors import MixinError

    if args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")  # mixin.backend then leaves stderr alone
    else:
        logging.getLogger("absl").setLevel(logging.ERROR)  # Keras' "HDF5 is legacy" notice on every save
    formatwarning = warnings.formatwarning
    on_term = None
    if threading.current_thread() is threading.main_thread():
        on_term = signal.signal(signal.SIGTERM, _terminate)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", DeprecationWarning)  # Keras' own HDF5 writer trips numpy 2's
            warnings.formatwarning = lambda msg, *a, **k: f"warning: {msg}\n"
            return command(args)
    except MixinError as exc:
        report(exc, args.verbose)
        return EXIT_FAILED
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print("terminated" if terminated else "interrupted", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    finally:
        warnings.formatwarning = formatwarning
        if on_term is not None:
            signal.signal(signal.SIGTERM, on_term)
