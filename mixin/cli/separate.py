"""``xtract_mixin.py``: separate audio files into harmonic, percussive and vocal stems.

Only argparse is imported up front, so ``--help`` answers at once; NumPy and the model runtime
(ONNX Runtime, or TensorFlow where a model has no ONNX export) load after the arguments are parsed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..constants import BATCH_CHUNKS, CHUNK_SIZE, CROSSFADE, OUTPUT_SUBTYPES
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    add_model_options,
    add_output_flags,
    architecture_conflict,
    load_separator_from,
    model_options_conflict,
    non_negative_float,
    positive_float,
    positive_int,
    progress_enabled,
    report,
    run,
    usage_error,
)

if TYPE_CHECKING:
    from ..apply import ChunkedSeparator
    from ..files import FileResult

PROG = "xtract_mixin.py"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Split music into harmonic, percussive and vocal stems "
        "(Bark-scale NSGT, three convolutional denoising autoencoders, Wiener soft masks).",
        epilog="Outputs: <outdir>/<name>_harmonic.<fmt>, <name>_percussive.<fmt>, <name>_vocal.<fmt>, "
        "at the input's sample rate, length and channel count. Exit status 1 if any file failed.",
    )
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="audio files: anything soundfile reads (wav, flac, ogg, mp3, aiff, ...), and with ffmpeg installed "
        "anything ffmpeg reads (m4a, mp4, opus, wma, ...)",
    )
    p.add_argument("-o", "--outdir", type=Path, help="where to write the stems (default: beside each input)")
    add_model_options(
        p,
        "a model directory: MiXiN's model_<source>.h5 CDAEs, or a DRNN (pretrained-models/drnn: vocal and "
        "accompaniment stems); default: the CDAEs shipped with MiXiN",
    )
    p.add_argument(
        "--format",
        choices=tuple(OUTPUT_SUBTYPES),
        default="wav",
        help="output format: wav (32-bit float, the default), flac (24-bit) or mp3 (lossy)",
    )
    p.add_argument(
        "--offset", type=non_negative_float, default=0.0, metavar="SECONDS", help="start this far into each file"
    )
    p.add_argument("--duration", type=positive_float, metavar="SECONDS", help="separate at most this much of each file")
    p.add_argument(
        "--crossfade",
        type=int,
        metavar="SAMPLES",
        help=f"CDAEs: overlap between neighbouring 1-s chunks, cross-faded (default: {CROSSFADE}; "
        "0 butt-joins the chunks as the original MiXiN did)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="CHUNKS",
        help=f"CDAEs: chunks separated at once (default: {BATCH_CHUNKS}; each takes ~35 MiB with ONNX Runtime, "
        "~100 MiB with TensorFlow, where more is a little faster)",
    )
    p.add_argument(
        "--backend",
        choices=("auto", "onnx", "tensorflow"),  # mixin.backend.BACKENDS, without importing NumPy for --help
        default="auto",
        help="model runtime: onnx runs the models' .onnx exports with ONNX Runtime (no TensorFlow needed), "
        "tensorflow their Keras files; auto (default) the .onnx export where one is present and current",
    )
    p.add_argument(
        "--plot", action="store_true", help="also write <name>_nsgt.png: log-magnitude NSGT of the mix and each stem"
    )
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    add_output_flags(p, quiet="no progress bar or summary lines")
    return p


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    conflict = model_options_conflict(args)
    if conflict:
        return usage_error(conflict)
    if args.crossfade is not None and not 0 <= args.crossfade < CHUNK_SIZE // 2:
        return usage_error(f"--crossfade must be in [0, {CHUNK_SIZE // 2}), got {args.crossfade}")
    conflict = architecture_conflict(args, overlap=args.crossfade, batch_size=args.batch_size)
    if conflict:
        return usage_error(conflict)
    if args.plot:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            return usage_error("--plot needs matplotlib, which is not installed (pip install matplotlib)")
    return run(separate_files, args)


def separate_files(args: argparse.Namespace) -> int:
    """Load the models once, then separate every file; a bad file is one error line and the
    others still go on."""
    from ..errors import MixinError

    chunking = {"overlap": args.crossfade, "batch_size": args.batch_size}  # the CDAEs': a DRNN refuses them
    given = {k: v for k, v in chunking.items() if v is not None}
    separator = load_separator_from(args, backend=args.backend, **given)
    if not separator.trained:
        print(
            "warning: these models are UNTRAINED (random weights, or a --train run that did not finish: see "
            "their config.json): the stems still sum to the mix, but they are not a real separation",
            file=sys.stderr,
        )
    failed = 0
    inputs = unique_files(args.files, quiet=args.quiet)
    written: dict[Path, str] = {}  # output file -> the input of this call that wrote it
    for name in inputs.values():
        try:
            check_not_written(written, inputs, name, separator.sources, args)
            result = separate_one(separator, name, args)
            written.update({out.resolve(): name for out in result.outputs.values()})  # even if the plot fails
            files = list(result.outputs.values())
            if args.plot:
                files.append(plot_one(result))
        except MixinError as exc:
            failed += 1
            report(exc, args.verbose)
            continue
        except Exception as exc:  # an unexpected fault: still one line, still go on
            failed += 1
            report(exc, args.verbose, where=f"{name}: {type(exc).__name__}: ")
            continue
        if not args.quiet:
            speed = result.duration / result.seconds if result.seconds else float("inf")
            names = ", ".join(p.name for p in files)  # the stems, and the plot with --plot
            where = files[0].parent
            print(
                f"{name}: {result.duration:.1f} s in {result.seconds:.1f} s ({speed:.1f}x real time) "
                f"-> {where}/: {names}"
            )
    if failed and not args.quiet:
        print(f"{failed} of {len(inputs)} files failed", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def unique_files(names: Sequence[str], quiet: bool = False) -> dict[Path, str]:
    """``names`` by the file each is, repeats of the same file dropped (a note on stderr unless
    ``quiet``): it is separated once."""
    kept: dict[Path, str] = {}
    for name in names:
        key = Path(name).resolve()
        if key in kept:
            if not quiet:
                print(f"note: {name}: given more than once, separated once", file=sys.stderr)
            continue
        kept[key] = name
    return kept


def check_not_written(
    written: dict[Path, str], inputs: dict[Path, str], name: str, sources: Sequence[str], args: argparse.Namespace
) -> None:
    """A :class:`MixinError` if ``name``'s stems would replace those another input of this call wrote
    (``a/song.wav`` and ``b/song.wav`` with one ``--outdir``, or ``song.wav`` beside ``song.flac``), or
    another input of this call (``a.wav`` beside ``a_vocal.wav``): ``--force`` is for outputs of
    earlier calls, not for losing this call's own files."""
    from ..errors import MixinError
    from ..files import output_paths

    for out in output_paths(Path(name), args.outdir, sources, args.format).values():
        key = out.resolve()
        if key in inputs and inputs[key] != name:
            raise MixinError(
                name,
                f"its stem {out.name} would overwrite {inputs[key]}, an input of this call: give it another --outdir",
            )
        other = written.get(key)
        if other is not None:
            raise MixinError(
                name,
                f"its stems would overwrite those of {other}, written by this call (as {out.name}): "
                "give it another --outdir or name",
            )


def separate_one(separator: ChunkedSeparator, name: str, args: argparse.Namespace) -> FileResult:
    """One file to stem files, as the options say (its ``--plot`` checked first; :func:`plot_one`
    draws it)."""
    from ..files import separate_file

    if args.plot:
        from ..plotting import plot_path

        plot_path(name, args.outdir, args.force)
    result = separate_file(
        separator,
        name,
        outdir=args.outdir,
        fmt=args.format,
        force=args.force,
        offset=args.offset,
        duration=args.duration,
        progress=progress_enabled(args),
    )
    return result


def plot_one(result: FileResult) -> Path:
    """``--plot`` of stems already in place: a failure is the file's error, saying that the stems,
    complete and valid, are kept (taking them back would lose a finished separation to a picture)."""
    from ..errors import MixinError
    from ..plotting import plot_separation

    kept = f"its stems are complete and kept: {', '.join(p.name for p in result.outputs.values())}"
    try:
        return plot_separation(result)
    except MixinError as exc:
        raise MixinError(exc.path, f"{exc.cause}; {kept}") from exc
    except Exception as exc:  # an unexpected fault in plotting: still say what stays
        raise MixinError(result.source, f"cannot plot ({type(exc).__name__}: {exc}); {kept}") from exc
