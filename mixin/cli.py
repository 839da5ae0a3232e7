"""``xtract_mixin.py``: separate audio files into harmonic, percussive and vocal stems.

Only argparse is imported up front, so ``--help`` answers at once; NumPy and the model runtime
(ONNX Runtime, or TensorFlow where a model has no ONNX export) load after the arguments are parsed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from .constants import BATCH_CHUNKS, CHUNK_SIZE, CROSSFADE


def add_mask_power_option(p: argparse.ArgumentParser) -> None:
    """``--mask-power``, shared by the separation and evaluation CLIs."""

    def positive(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    p.add_argument(
        "--mask-power",
        type=positive,
        metavar="P",
        help="exponent of the soft masks |S|^p / sum |S|^p (default: the model directory's config.json, "
        "1 for the shipped CDAEs; 2 is the classic Wiener filter: less bleed, more artefacts)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="xtract_mixin.py",
        description="Split music into harmonic, percussive and vocal stems "
        "(Bark-scale NSGT, three convolutional denoising autoencoders, Wiener soft masks).",
        epilog="Outputs: <outdir>/<name>_harmonic.<fmt>, <name>_percussive.<fmt>, <name>_vocal.<fmt>, "
        "at the input's sample rate, length and channel count. Exit status 1 if any file failed.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (anything soundfile reads: wav, flac, ogg, aiff, ...)")
    p.add_argument("-o", "--outdir", type=Path, help="where to write the stems (default: beside each input)")
    p.add_argument(
        "--pretrained-model-dir",
        type=Path,
        help="a model directory: MiXiN's model_<source>.h5 CDAEs, or a DRNN (pretrained-models/drnn: vocal and "
        "accompaniment stems); default: the CDAEs shipped with MiXiN",
    )
    p.add_argument("--format", choices=("wav", "flac"), default="wav", help="output format (default: wav, 32-bit float)")
    p.add_argument("--offset", type=float, default=0.0, metavar="SECONDS", help="start this far into each file")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="separate at most this much of each file")
    p.add_argument("--instrumental", action="store_true", help="no vocal model: harmonic and percussive stems only")
    p.add_argument(
        "--single-model",
        action="store_true",
        help="invert each model's magnitude with the mix's phase instead of sharing the mix out "
        "with soft masks (stems then do not sum to the mix)",
    )
    add_mask_power_option(p)
    p.add_argument(
        "--crossfade",
        type=int,
        default=CROSSFADE,
        metavar="SAMPLES",
        help=f"overlap between neighbouring 1-s chunks, cross-faded (default: {CROSSFADE}; "
        "0 butt-joins the chunks as the original MiXiN did)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_CHUNKS,
        metavar="CHUNKS",
        help=f"chunks separated at once (default: {BATCH_CHUNKS}; each takes ~35 MiB with ONNX Runtime, ~100 MiB "
        "with TensorFlow, where more is a little faster)",
    )
    p.add_argument(
        "--backend",
        choices=("auto", "onnx", "tensorflow"),
        default="auto",
        help="model runtime: onnx runs the models' .onnx exports with ONNX Runtime (no TensorFlow needed), "
        "tensorflow their Keras files; auto (default) the .onnx export where one is present and current",
    )
    p.add_argument("--plot", action="store_true", help="also write <name>_nsgt.png: log-magnitude NSGT of the mix and each stem")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary lines")
    p.add_argument("-v", "--verbose", action="store_true", help="full tracebacks and TensorFlow's log")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0 <= args.crossfade < CHUNK_SIZE // 2:
        print(f"error: --crossfade must be in [0, {CHUNK_SIZE // 2}), got {args.crossfade}", file=sys.stderr)
        return 2
    if args.batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return 2
    if args.plot:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            print("error: --plot needs matplotlib, which is not installed (pip install matplotlib)", file=sys.stderr)
            return 2
    if args.verbose:
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")  # mixin.model then leaves stderr alone

    import warnings

    from .errors import MixinError
    from .files import separate_file
    from .registry import load_separator

    def fail(exc: BaseException, where: str = "") -> None:
        if args.verbose:
            import traceback

            traceback.print_exception(exc)
        print(f"error: {where}{exc}", file=sys.stderr)

    try:
        with warnings.catch_warnings():  # e.g. a stale .onnx export: one line, like the errors
            warnings.showwarning = lambda msg, *a, **k: print(f"warning: {msg}", file=sys.stderr)
            separator = load_separator(
                args.pretrained_model_dir,
                instrumental=args.instrumental,
                single_model=args.single_model,
                mask_power=args.mask_power,
                overlap=args.crossfade,
                batch_size=args.batch_size,
                backend=args.backend,
            )
    except MixinError as exc:
        fail(exc)
        return 1
    if not separator.trained:
        print(
            "warning: these models are UNTRAINED (random weights, see pretrained-models/README.md): "
            "the stems still sum to the mix, but they are not a real separation",
            file=sys.stderr,
        )

    failed = 0
    progress = not args.quiet and sys.stderr.isatty()
    for name in args.files:
        try:
            if args.plot:
                from .plotting import plot_path

                plot_path(name, args.outdir, args.force)
            result = separate_file(
                separator,
                name,
                outdir=args.outdir,
                fmt=args.format,
                force=args.force,
                offset=args.offset,
                duration=args.duration,
                progress=progress,
            )
            if args.plot:
                from .plotting import plot_separation

                plot_separation(result)
        except MixinError as exc:
            failed += 1
            fail(exc)
            continue
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # an unexpected fault: still one line, still go on
            failed += 1
            fail(exc, where=f"{name}: {type(exc).__name__}: ")
            continue
        if not args.quiet:
            speed = result.duration / result.seconds if result.seconds else float("inf")
            names = ", ".join(p.name for p in result.outputs.values())
            where = next(iter(result.outputs.values())).parent
            print(f"{name}: {result.duration:.1f} s in {result.seconds:.1f} s ({speed:.1f}x real time) -> {where}/: {names}")
    if failed and not args.quiet:
        print(f"{failed} of {len(args.files)} files failed", file=sys.stderr)
    return 1 if failed else 0
