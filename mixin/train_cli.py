"""``train_util.py``: prepare stems, build the HDF5 data sets, train the CDAEs.

The steps run in that order, any subset per call. Only argparse loads up front.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Sequence

from .constants import CDAE_SOURCES, LEARNING_RATE

STEM_RULES = """\
stem folders (--stem-dirs):
  a directory of track folders (MUSDB18-HQ: train/<song>/drums.wav ...), or one track folder.
  Each stem file maps by name, as in MiXiN: a name containing "drum" -> percussive,
  "vocal" -> vocal, "mix" -> skipped (the mix is rebuilt from the stems), anything else
  (bass, other, guitar, ...) -> harmonic, several harmonic stems summed. A track lacking a
  source trains only the models it has data for.
  A directory of stereo clips not named like stems (or --layout mir1k) is read as MIR-1K:
  left channel accompaniment, right channel singing voice -> (mix, vocal) pairs only.

per segment two mixes, as in MiXiN: harmonic+percussive+vocal, and harmonic+percussive.

example:
  ./train_util.py --prepare-stems --stem-dirs ~/MUSDB18-HQ/train --segment-duration 10 --track-limit 20
  ./train_util.py --create-hdf5
  ./train_util.py --train --epochs 50
  ./xtract_mixin.py --pretrained-model-dir ./model song.wav
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train_util.py",
        description="Train MiXiN's harmonic, percussive and vocal CDAEs from folders of stems.",
        epilog=STEM_RULES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    steps = p.add_argument_group("steps (run in this order)")
    steps.add_argument(
        "--render-stems",
        type=Path,
        metavar="OUT_DIR",
        help="render MUSDB18-HQ-layout tracks from MIDI songs with FluidSynth into OUT_DIR (offline)",
    )
    steps.add_argument("--prepare-stems", action="store_true", help="cut stems into mono 44.1 kHz segments in --data-dir")
    steps.add_argument("--create-hdf5", action="store_true", help="NSGT magnitudes of the segments -> data_<source>.hdf5")
    steps.add_argument("--train", action="store_true", help="train the models into --model-dir")
    steps.add_argument(
        "--calibrate",
        action="store_true",
        help="measure each model's output gain on the HDF5 validation split into --model-dir's config.json "
        "(--train does this for the models it trains)",
    )

    ren = p.add_argument_group("--render-stems")
    ren.add_argument("--tracks", type=int, default=10, help="tracks to render (default: 10)")
    ren.add_argument("--render-split", choices=("train", "validation"), default="train",
                     help="which disjoint songs, SoundFonts and voices to use (default: train)")
    ren.add_argument("--voices", type=Path, metavar="DIR", help="MIR-1K-style clips whose right channel is sung over the tracks")
    ren.add_argument("--max-seconds", type=float, metavar="S", help="cut rendered tracks to at most S seconds")
    ren.add_argument("--render-seed", type=int, default=0, help="seed of the per-track variations (default: 0)")

    prep = p.add_argument_group("--prepare-stems")
    prep.add_argument("--stem-dirs", type=Path, nargs="+", metavar="DIR", help="folders of tracks (see below)")
    prep.add_argument("--segment-duration", type=float, default=30.0, metavar="S", help="segment length in seconds (default: 30)")
    prep.add_argument("--segment-offset", type=int, default=0, metavar="N", help="skip each track's first N segments")
    prep.add_argument("--segment-limit", type=int, metavar="N", help="stop before segment N of each track")
    prep.add_argument("--track-limit", type=int, metavar="N", help="use the first N tracks only")
    prep.add_argument("--layout", choices=("auto", "multitrack", "mir1k"), default="auto", help="how to read --stem-dirs (default: auto)")
    prep.add_argument(
        "--augment",
        type=int,
        default=0,
        metavar="N",
        help="N extra copies of each segment: random gain per source, a source swapped in from another "
        "track, for voice/accompaniment clips the voice circularly shifted (default: 0)",
    )

    h5 = p.add_argument_group("--create-hdf5")
    h5.add_argument("--seed", type=int, default=42, help="seed of the 80/10/10 split by track (recorded in the files)")

    tr = p.add_argument_group("--train")
    tr.add_argument("--arch", choices=("cdae", "drnn"), default="cdae",
                    help="cdae: MiXiN's three CDAEs from --data-dir's HDF5 files; drnn: Huang et al.'s DRNN from "
                    "the MIR-1K-style clips of --stem-dirs (default: cdae)")
    tr.add_argument("--epochs", type=int, default=100, help="at most this many epochs (default: 100)")
    tr.add_argument("--batch-size", type=int, default=64, help="chunks per batch (default: 64)")
    tr.add_argument("--sources", default=",".join(CDAE_SOURCES), help="comma-separated, for --train and --calibrate (default: harmonic,percussive,vocal)")
    tr.add_argument("--patience", type=int, default=5, help="stop after this many epochs without a better validation loss")
    tr.add_argument("--learning-rate", type=float,
                    help="Adam's learning rate (default: 0.001; with --resume, the checkpoint's unless given)")
    tr.add_argument("--resume", action="store_true", help="continue from the checkpoints in --log-dir")
    tr.add_argument("--distribute", choices=("mirrored",), help="train under tf.distribute.MirroredStrategy (all local GPUs)")
    tr.add_argument("--plot-training", action="store_true", help="also show the loss curves when a display exists")

    dr = p.add_argument_group("--train --arch drnn")
    val = dr.add_mutually_exclusive_group()
    val.add_argument("--val-singer", metavar="NAME",
                     help="leave one singer out: all clips of NAME (file names NAME_song_clip) validate, the other "
                     "singers' clips train (default: every fifth song validates)")
    val.add_argument("--all-clips", action="store_true",
                     help="train on every clip, no validation, keep the last epoch (epochs chosen by --val-singer runs)")
    dr.add_argument("--gamma", type=float, default=0.05, help="weight of the discriminative term (default: 0.05)")
    dr.add_argument("--pitch-shift", type=float, default=0.0, metavar="ST",
                    help="resample each clip's voice by a random -ST..ST semitones per epoch (default: 0)")
    dr.add_argument("--gain-db", type=float, default=0.0, metavar="DB",
                    help="random voice-to-music gain in -DB..DB dB per clip and epoch (default: 0)")
    dr.add_argument("--weight-decay", type=float, default=0.0, metavar="W",
                    help="AdamW's decoupled weight decay W instead of plain Adam (default: 0)")
    dr.add_argument("--no-shift", action="store_true", help="no circular shift of the voice against the music")

    p.add_argument("--data-dir", type=Path, default=Path("data"), help="segments and HDF5 files (default: ./data)")
    p.add_argument("--model-dir", type=Path, default=Path("model"), help="trained models (default: ./model)")
    p.add_argument("--log-dir", type=Path, default=Path("logdir"), help="checkpoints, histories, loss curves (default: ./logdir)")
    p.add_argument("--force", action="store_true", help="replace existing segments or HDF5 files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="tracebacks and TensorFlow's log")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not (args.render_stems or args.prepare_stems or args.create_hdf5 or args.train or args.calibrate):
        parser.error("nothing to do: give --render-stems, --prepare-stems, --create-hdf5, --train and/or --calibrate")
    if args.prepare_stems and not args.stem_dirs:
        parser.error("--prepare-stems needs --stem-dirs")
    if args.verbose:
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
    from .errors import MixinError

    if not args.verbose:
        import logging

        logging.getLogger("absl").setLevel(logging.ERROR)  # Keras' "HDF5 is legacy" notice on every save
    progress = not args.quiet and sys.stderr.isatty()
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]  # for --train and --calibrate
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", DeprecationWarning)  # Keras' own HDF5 writer trips numpy 2's
            warnings.formatwarning = lambda msg, *a, **k: f"warning: {msg}\n"
            if args.render_stems:
                from .render import render_stems

                written = render_stems(
                    args.render_stems,
                    args.tracks,
                    seed=args.render_seed,
                    split=args.render_split,
                    voice_dir=args.voices,
                    max_seconds=args.max_seconds,
                    force=args.force,
                    progress=progress,
                )
                print(f"rendered {len(written)} tracks into {args.render_stems}/")
            if args.prepare_stems:
                from .prepare import prepare_stems

                segments = prepare_stems(
                    args.stem_dirs,
                    args.data_dir,
                    segment_duration=args.segment_duration,
                    segment_offset=args.segment_offset,
                    segment_limit=args.segment_limit,
                    track_limit=args.track_limit,
                    layout=args.layout,
                    augment=args.augment,
                    force=args.force,
                    progress=progress,
                )
                tracks = len({s.track for s in segments})
                print(f"prepared {len(segments)} segments from {tracks} tracks in {args.data_dir}/")
            if args.create_hdf5:
                from .dataset import create_hdf5

                counts = create_hdf5(args.data_dir, seed=args.seed, force=args.force, progress=progress)
                for source, c in counts.items():
                    print(f"{args.data_dir}/data_{source}.hdf5: chunks train {c['train']}, validation {c['validation']}, test {c['test']}")
            if args.train and args.arch == "drnn":
                if not args.stem_dirs:
                    raise MixinError(None, "--train --arch drnn needs --stem-dirs with MIR-1K-style clips")
                from .drnn_train import Augment, train_drnn

                r = train_drnn(
                    args.stem_dirs, args.model_dir, args.log_dir, epochs=args.epochs, batch_size=args.batch_size,
                    learning_rate=args.learning_rate or LEARNING_RATE, patience=args.patience, gamma=args.gamma,
                    weight_decay=args.weight_decay, val_singer=args.val_singer, validate=not args.all_clips, resume=args.resume,
                    augment=Augment(shift=not args.no_shift, pitch=args.pitch_shift, gain_db=args.gain_db),
                    verbose=0 if args.quiet else 1,
                )
                if args.all_clips:
                    print(f"drnn: {r['epochs']} epochs on all {r['train_clips']} clips -> {args.model_dir}/")
                else:
                    print(
                        f"drnn: {r['epochs']} epochs (best {r['best_epoch']}); validation GNSDR {r['GNSDR']:.2f} dB, "
                        f"GSIR {r['GSIR']:.2f}, GSAR {r['GSAR']:.2f} on {r['validation_clips']} clips -> {args.model_dir}/"
                    )
            elif args.train:
                from .train import TrainSettings, train

                settings = TrainSettings(
                    epochs=args.epochs,
                    batch_size=args.batch_size,
                    patience=args.patience,
                    learning_rate=args.learning_rate,
                    resume=args.resume,
                    distribute=args.distribute,
                    plot=args.plot_training,
                    verbose=0 if args.quiet else (1 if progress else 2),
                )
                results = train(args.data_dir, args.model_dir, args.log_dir, sources, settings)
                for source, r in results.items():
                    print(
                        f"{source}: {r['epochs']} epochs, MAE train {r['train_mae']:.5f}, "
                        f"validation {r['validation_mae']:.5f}, test {r['test_mae']:.5f}, gain {r['gain']:.3f} "
                        f"-> {args.model_dir}/model_{source}.h5"
                    )
            if args.calibrate and not (args.train and args.arch == "cdae"):
                from .calibrate import calibrate

                gains = calibrate(args.model_dir, args.data_dir, sources)
                print("gains " + ", ".join(f"{s} {g:.3f}" for s, g in gains.items()) + f" -> {args.model_dir}/config.json")
    except MixinError as exc:
        if args.verbose:
            import traceback

            traceback.print_exception(exc)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
