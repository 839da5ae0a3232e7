"""``train_util.py``: render stems, prepare segments, build the HDF5 data sets, train the CDAEs or the
DRNN, calibrate.

The steps run in that order, any subset per call. Only argparse loads up front.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ..constants import CDAE_SOURCES, LEARNING_RATE
from ..data.mir1k import SPLITS
from ..training.settings import SETTINGS, Augment, DRNNSettings, JointSettings, TrainSettings, freezable
from .common import (
    EXIT_OK,
    add_output_flags,
    dropout_rate,
    finite_float,
    fraction,
    non_negative_float,
    positive_float,
    positive_int,
    progress_enabled,
    run,
    whole_number,
)

PROG = "train_util.py"
CDAE_ONLY = ("distribute", "plot_training", "calibrate", "sources")
"""Options of the CDAEs' MAE training (and its data), refused with the DRNN and the mask objective."""
MASKS_ONLY = ("val_dirs", "init_from", "steps", "eval_every", "drum_share", "freeze", "val_chain", "workers")
"""Options of ``--objective masks``, refused with the other trainers."""
EPOCHS_ONLY = ("epochs", "patience")
"""Options of the trainers that count epochs; ``--objective masks`` counts ``--steps``."""
DRNN_ONLY = (
    "val_singer",
    "all_clips",
    "gamma",
    "pitch_shift",
    "gain_db",
    "remix",
    "weight_decay",
    "dropout",
    "compress",
    "no_shift",
    "input_level",
)
"""Options of one architecture's training, refused with the other's (``--resume`` serves both)."""
SETTINGS_LABELS = {"cdae": "", "drnn": "with --arch drnn", "masks": "with --objective masks"}
TRAIN_OPTIONS = (
    "arch",
    "objective",
    "batch_size",
    "learning_rate",
    "train_seed",
    "resume",
    "distribute",
    "plot_training",
    *MASKS_ONLY,
    *EPOCHS_ONLY,
    *DRNN_ONLY,
)
STEP_OPTIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("tracks", "render_split", "max_seconds", "render_seed", "dry"), ("render_stems",)),
    "voices": ("render_stems", "make_song_clips"),
    **dict.fromkeys(("songs", "paired", "loops", "loop_clips"), ("make_song_clips",)),
    "drum_level": ("make_song_clips", "train"),
    "stem_dirs": ("prepare_stems", "train"),
    **dict.fromkeys(
        ("segment_duration", "segment_offset", "segment_limit", "track_limit", "layout", "augment"), ("prepare_stems",)
    ),
    "seed": ("create_hdf5",),
    "sources": ("create_hdf5", "train", "calibrate", "export_onnx"),
    "force": ("render_stems", "make_song_clips", "prepare_stems", "create_hdf5", "train"),
    **dict.fromkeys(TRAIN_OPTIONS, ("train",)),
}
"""Options of some steps only (argparse destinations -> those steps): given without any of them, a
usage error, since they would be ignored (--sources with --prepare-stems alone, --seed with --train)."""

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


def _default(field: str) -> str:
    """A training setting's defaults, for --help: the CDAE's, and where the DRNN's or the mask
    objective's differ."""
    values = [(kind, getattr(cls, field)) for kind, cls in SETTINGS.items() if field in cls.__dataclass_fields__]
    first = values[0][1]
    return "; ".join([f"default: {first:g}", *(f"{v:g} {SETTINGS_LABELS[k]}" for k, v in values[1:] if v != first)])


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
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
    steps.add_argument(
        "--make-song-clips",
        type=Path,
        metavar="OUT_DIR",
        help="MIR-1K-style clips for the DRNN from real multitracks (--songs), with --voices' voices over "
        "their accompaniments, into OUT_DIR (mixin/data/song_clips.py)",
    )
    steps.add_argument(
        "--prepare-stems", action="store_true", help="cut stems into mono 44.1 kHz segments in --data-dir"
    )
    steps.add_argument(
        "--create-hdf5", action="store_true", help="NSGT magnitudes of the segments -> data_<source>.hdf5"
    )
    steps.add_argument("--train", action="store_true", help="train the models into --model-dir")
    steps.add_argument(
        "--calibrate",
        action="store_true",
        help="measure each model's output gain on the HDF5 validation split into --model-dir's config.json "
        "(--train does this for the models it trains)",
    )
    steps.add_argument(
        "--export-onnx",
        action="store_true",
        help="write each model of --model-dir as model_<source>.onnx (model_drnn.onnx) beside it, so "
        "./xtract_mixin.py separates without TensorFlow (--train and --calibrate do this too)",
    )

    ren = p.add_argument_group("--render-stems")
    ren.add_argument("--tracks", type=positive_int, default=10, help="tracks to render (default: 10)")
    ren.add_argument(
        "--render-split",
        choices=SPLITS,
        default="train",
        help="which disjoint songs, SoundFonts and voices to use (default: train)",
    )
    ren.add_argument(
        "--voices",
        type=Path,
        metavar="DIR",
        help="MIR-1K-style clips whose right channel is sung over the tracks (also --make-song-clips)",
    )
    ren.add_argument("--max-seconds", type=positive_float, metavar="S", help="cut rendered tracks to at most S seconds")
    ren.add_argument("--render-seed", type=int, default=0, help="seed of the per-track variations (default: 0)")
    ren.add_argument("--dry", action="store_true", help="no stereo placement, EQ, compression or reverb on the parts")

    clips = p.add_argument_group("--make-song-clips")
    clips.add_argument(
        "--songs",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="track folders of stems (MUSDB18-HQ layout): sung tracks are cut into clips, every "
        "track's drums + other stems are accompaniment for --voices",
    )
    clips.add_argument(
        "--paired",
        type=whole_number,
        default=100,
        metavar="N",
        help="clips of a random --voices voice over a random stretch of accompaniment (default: 100)",
    )
    clips.add_argument(
        "--loops",
        type=Path,
        nargs="+",
        metavar="FILE",
        default=[],
        help="drum recordings (e.g. Debian's sonic-pi-samples loops) for --loop-clips",
    )
    clips.add_argument(
        "--loop-clips",
        type=whole_number,
        default=0,
        metavar="N",
        help="clips of a random --voices voice over a random --loops loop alone (default: 0)",
    )

    prep = p.add_argument_group("--prepare-stems")
    prep.add_argument("--stem-dirs", type=Path, nargs="+", metavar="DIR", help="folders of tracks (see below)")
    prep.add_argument(
        "--segment-duration",
        type=positive_float,
        default=30.0,
        metavar="S",
        help="segment length in seconds (default: 30)",
    )
    prep.add_argument(
        "--segment-offset", type=whole_number, default=0, metavar="N", help="skip each track's first N segments"
    )
    prep.add_argument("--segment-limit", type=positive_int, metavar="N", help="stop before segment N of each track")
    prep.add_argument("--track-limit", type=positive_int, metavar="N", help="use the first N tracks only")
    prep.add_argument(
        "--layout",
        choices=("auto", "multitrack", "mir1k"),
        default="auto",
        help="how to read --stem-dirs (default: auto)",
    )
    prep.add_argument(
        "--augment",
        type=whole_number,
        default=0,
        metavar="N",
        help="N extra copies of each segment: random gain per source, a source swapped in from another "
        "track, for voice/accompaniment clips the voice circularly shifted (default: 0)",
    )

    h5 = p.add_argument_group("--create-hdf5")
    h5.add_argument(
        "--seed", type=int, default=42, help="seed of the 80/10/10 split by track (default: 42; recorded in the files)"
    )

    tr = p.add_argument_group("--train")
    tr.add_argument(
        "--arch",
        choices=("cdae", "drnn"),
        default="cdae",
        help="cdae: MiXiN's three CDAEs from --data-dir's HDF5 files; drnn: Huang et al.'s DRNN from "
        "the MIR-1K-style clips of --stem-dirs (default: cdae)",
    )
    tr.add_argument(
        "--objective",
        choices=("mae", "masks"),
        default="mae",
        help="cdae only. mae: each CDAE alone, MAE of raw magnitudes from --data-dir's HDF5 files "
        "(MiXiN's); masks: the three together through the soft masks, on chunks drawn on the fly "
        "from the track folders of --stem-dirs, checkpoints chosen by SDR on --val-dirs (default: mae)",
    )
    tr.add_argument(
        "--val-dirs",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="--objective masks: folders of real multitrack recordings whose separation SDR picks the checkpoint",
    )
    tr.add_argument(
        "--init-from",
        type=Path,
        metavar="DIR",
        help="--objective masks: start from the CDAEs of this model directory (e.g. pretrained-models) "
        "instead of from scratch",
    )
    tr.add_argument(
        "--steps", type=positive_int, help=f"--objective masks: training steps in all ({_default('steps')})"
    )
    tr.add_argument(
        "--eval-every",
        type=positive_int,
        metavar="N",
        help=f"--objective masks: score --val-dirs every N steps ({_default('eval_every')})",
    )
    tr.add_argument(
        "--drum-level",
        type=finite_float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="--objective masks, --make-song-clips: draw the drums' level against the rest of each example "
        "(clip) from LOW..HIGH dB (records: about -3; multitracks and renders carry quieter drums); "
        "default: the stems' own balance",
    )
    tr.add_argument(
        "--drum-share",
        type=fraction,
        metavar="F",
        help=f"--objective masks: share of examples --drum-level applies to ({_default('drum_share')})",
    )
    tr.add_argument(
        "--freeze",
        metavar="SOURCES",
        help="--objective masks: comma-separated sources whose CDAE keeps the weights it starts from "
        "while the others learn (e.g. vocal: teach the harmonic/percussive pair new drums without "
        "moving the vocal model)",
    )
    tr.add_argument(
        "--val-chain",
        type=Path,
        metavar="DIR",
        help="--objective masks: score each checkpoint through the separation chain of this model "
        "directory's config.json (median-filtering blend, helper DRNN, vocal yield, Wiener filter; e.g. "
        "pretrained-models), as a user hears the CDAEs, write that chain into the chosen models' "
        "config.json, and train the vocal model as the chain runs it (its vocal_hears; default: the "
        "CDAEs alone, the vocal model hearing the mix)",
    )
    tr.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="--objective masks: processes drawing training batches (mixing stems, NSGT) while the "
        f"models learn; 1: one background thread ({_default('workers')})",
    )
    tr.add_argument("--epochs", type=positive_int, help=f"at most this many epochs ({_default('epochs')})")
    tr.add_argument(
        "--batch-size", type=positive_int, help=f"chunks (drnn: sequences) per batch ({_default('batch_size')})"
    )
    tr.add_argument(
        "--sources",
        help=f"comma-separated, some of {','.join(CDAE_SOURCES)}: the sources --create-hdf5 builds, --train "
        "trains and --calibrate calibrates (default: those the segments hold, those with an HDF5 file, "
        "those with a model)",
    )
    tr.add_argument(
        "--patience",
        type=positive_int,
        help=f"stop after this many epochs without a better validation loss, 1 or more ({_default('patience')})",
    )
    tr.add_argument(
        "--learning-rate",
        type=positive_float,
        help=f"Adam's learning rate (default: {LEARNING_RATE:g}; with --resume, the checkpoint's unless given)",
    )
    tr.add_argument(
        "--train-seed",
        type=int,
        metavar="N",
        help="seed of the training's random draws: initial weights, example order and augmentation "
        "(default: 0; give the same again with --resume)",
    )
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoints in --log-dir (drnn: its last weights and history)",
    )
    tr.add_argument(
        "--distribute", choices=("mirrored",), help="train under tf.distribute.MirroredStrategy (all local GPUs)"
    )
    tr.add_argument("--plot-training", action="store_true", help="also show the loss curves when a display exists")

    dr = p.add_argument_group("--train --arch drnn")
    val = dr.add_mutually_exclusive_group()
    val.add_argument(
        "--val-singer",
        metavar="NAME",
        help="leave one singer out: all clips of NAME (file names NAME_song_clip) validate, the other "
        "singers' clips train (default: every fifth song validates)",
    )
    val.add_argument(
        "--all-clips",
        action="store_true",
        help="train on every clip, no validation, keep the last epoch (epochs chosen by --val-singer runs)",
    )
    dr.add_argument("--gamma", type=fraction, help=f"weight of the discriminative term ({_default('gamma')})")
    dr.add_argument(
        "--pitch-shift",
        type=non_negative_float,
        metavar="ST",
        help=f"resample each clip's voice by a random -ST..ST semitones per epoch (default: {Augment.pitch:g})",
    )
    dr.add_argument(
        "--gain-db",
        type=non_negative_float,
        metavar="DB",
        help=f"random voice-to-music gain in -DB..DB dB per clip and epoch (default: {Augment.gain_db:g})",
    )
    dr.add_argument(
        "--remix",
        type=fraction,
        metavar="P",
        help=f"with probability P a clip's voice goes with another clip's music (default: {Augment.remix:g})",
    )
    dr.add_argument(
        "--dropout",
        type=dropout_rate,
        metavar="P",
        help=f"dropout after each hidden layer in training ({_default('dropout')})",
    )
    dr.add_argument(
        "--compress",
        type=positive_float,
        metavar="POWER",
        help=f"the hidden layers see the magnitudes ** POWER; 1: none, as the paper ({_default('compress')})",
    )
    dr.add_argument(
        "--weight-decay",
        type=non_negative_float,
        metavar="W",
        help=f"AdamW's decoupled weight decay W instead of plain Adam ({_default('weight_decay')})",
    )
    dr.add_argument("--no-shift", action="store_true", help="no circular shift of the voice against the music")
    dr.add_argument(
        "--input-level",
        type=positive_float,
        metavar="RMS",
        help="write into the model's config.json that it separates each piece scaled to this RMS "
        "(input normalised; e.g. 0.1: -20 dBFS, as the shipped helper), whatever the record's level; "
        "training is unchanged (default: pieces heard at their own level)",
    )

    p.add_argument("--data-dir", type=Path, default=Path("data"), help="segments and HDF5 files (default: ./data)")
    p.add_argument("--model-dir", type=Path, default=Path("model"), help="trained models (default: ./model)")
    p.add_argument(
        "--log-dir", type=Path, default=Path("logdir"), help="checkpoints, histories, loss curves (default: ./logdir)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace existing rendered tracks, song clips, segments or HDF5 files, and (--train without "
        "--resume) the earlier run in --model-dir and --log-dir: all its models and checkpoints are removed "
        "once the data checks pass, whatever --sources",
    )
    add_output_flags(p, quiet="no progress bars")
    return p


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not (
        args.render_stems
        or args.make_song_clips
        or args.prepare_stems
        or args.create_hdf5
        or args.train
        or args.calibrate
        or args.export_onnx
    ):
        parser.error(
            "nothing to do: give --render-stems, --make-song-clips, --prepare-stems, --create-hdf5, --train, "
            "--calibrate and/or --export-onnx"
        )
    if unused := _unused_options(argv, prog, args):
        parser.error("; ".join(unused))
    if args.make_song_clips and not args.songs:
        parser.error("--make-song-clips needs --songs")
    if args.make_song_clips and (args.paired or args.loop_clips) and not args.voices:
        parser.error("--make-song-clips needs --voices (or --paired 0 and --loop-clips 0)")
    if args.loop_clips and not args.loops:
        parser.error("--loop-clips needs --loops")
    if args.prepare_stems and not args.stem_dirs:
        parser.error("--prepare-stems needs --stem-dirs")
    if args.arch == "drnn":
        if args.train and not args.stem_dirs:
            parser.error("--train --arch drnn needs --stem-dirs with MIR-1K-style clips")
        given = _given(args, CDAE_ONLY) + (["--objective masks"] if args.objective == "masks" else [])
        if given:
            parser.error(f"{', '.join(given)}: for --arch cdae only")
    elif given := _given(args, DRNN_ONLY):
        parser.error(f"{', '.join(given)}: for --arch drnn only")
    masks = args.arch == "cdae" and args.objective == "masks"
    if not masks and (given := _given(args, MASKS_ONLY)):
        parser.error(f"{', '.join(given)}: for --objective masks only")
    if masks and (given := _given(args, EPOCHS_ONLY + CDAE_ONLY)):
        parser.error(f"{', '.join(given)}: not for --objective masks (it trains for --steps, from --stem-dirs)")
    if args.freeze is not None:
        frozen = tuple(s.strip() for s in args.freeze.split(",") if s.strip())
        if not frozen or not freezable(frozen):
            parser.error(f"--freeze: some of {','.join(CDAE_SOURCES)}, not all, not {args.freeze!r}")
        args.freeze = frozen
    if args.drum_level is not None and not (masks or args.make_song_clips):
        parser.error("--drum-level: for --objective masks or --make-song-clips only")
    if args.drum_level is not None and args.drum_level[0] > args.drum_level[1]:
        parser.error(f"--drum-level: LOW must not exceed HIGH, got {args.drum_level[0]:g} {args.drum_level[1]:g}")
    if args.train and args.objective == "masks" and not (args.stem_dirs and args.val_dirs):
        parser.error("--train --objective masks needs --stem-dirs (track folders) and --val-dirs")
    if args.stem_dirs and args.train and not args.prepare_stems and args.arch == "cdae" and args.objective == "mae":
        parser.error(
            "--stem-dirs: --train of the CDAEs reads --data-dir's HDF5 files (--prepare-stems and "
            "--create-hdf5 make them), or give --objective masks"
        )
    if args.sources is not None:  # for --create-hdf5, --train and --calibrate
        args.sources = [s.strip() for s in args.sources.split(",") if s.strip()]
        unknown = [s for s in args.sources if s not in CDAE_SOURCES]
        if unknown or not args.sources:
            parser.error(f"--sources: some of {','.join(CDAE_SOURCES)}, not {','.join(unknown) or 'none'}")
    return run(run_steps, args)


def _unused_options(argv: Sequence[str] | None, prog: str, args: argparse.Namespace) -> list[str]:
    """ "--flag: only with --step ..." for each option of :data:`STEP_OPTIONS` the command line gave
    without a step that uses it (the line is parsed again with those options' defaults unset, so
    that a default is never taken for a choice)."""
    bare = build_parser(prog)
    bare.set_defaults(**dict.fromkeys(STEP_OPTIONS))
    given = bare.parse_args(argv)
    return [
        f"{flag}: only with {' or '.join('--' + step.replace('_', '-') for step in steps)}"
        for (name, steps), flag in zip(STEP_OPTIONS.items(), _given(given, list(STEP_OPTIONS), every=True), strict=True)
        if flag and not any(getattr(args, step) for step in steps)
    ]


def _given(args: argparse.Namespace, names: Sequence[str], every: bool = False) -> list[str]:
    """The flags among ``names`` (argparse destinations) that the command line gave; with ``every``,
    one entry per name, "" for one it did not give."""
    flags = [
        f"--{n.replace('_', '-')}" if getattr(args, n) is not None and getattr(args, n) is not False else ""
        for n in names
    ]
    return flags if every else [f for f in flags if f]


def run_steps(args: argparse.Namespace) -> int:
    """The steps asked for, in order; each prints one summary line (per source)."""
    progress = progress_enabled(args)
    check_directories(args)
    if args.render_stems:
        render(args, progress)
    if args.make_song_clips:
        make_song_clips(args)
    if args.prepare_stems:
        prepare(args, progress)
    if args.create_hdf5:
        create_hdf5(args, progress)
    if args.train:
        check_fresh_run(args)
        trainer = train_drnn if args.arch == "drnn" else (train_masks if args.objective == "masks" else train_cdaes)
        trainer(args, progress)
    if args.calibrate and not args.train:  # --train calibrates what it trains
        calibrate(args)
    if args.export_onnx or args.train or args.calibrate:
        export_onnx(args)
    return EXIT_OK


def check_directories(args: argparse.Namespace) -> None:
    """A :class:`MixinError` if a directory the steps asked for write into is a file, or lies below
    one (``mkdir`` raised FileExistsError or NotADirectoryError, a traceback)."""
    from ..errors import MixinError

    mae = args.train and args.arch == "cdae" and args.objective == "mae"
    wanted = [
        ("--render-stems", args.render_stems, bool(args.render_stems)),
        ("--data-dir", args.data_dir, args.prepare_stems or args.create_hdf5 or mae or args.calibrate),
        ("--model-dir", args.model_dir, args.train or args.calibrate or args.export_onnx),
        ("--log-dir", args.log_dir, args.train),
    ]
    for flag, directory, used in wanted:
        for path in (directory, *directory.parents) if used else ():
            if path.exists():
                if not path.is_dir():
                    raise MixinError(path, f"is a file, not a directory ({flag} {directory})")
                break


def check_fresh_run(args: argparse.Namespace) -> None:
    """A :class:`MixinError` if a ``--train`` that does not ``--resume`` would replace another run's
    models (a ``config.json`` in ``--model-dir``) or checkpoints (anything in ``--log-dir``)
    without ``--force``: forgetting ``--resume`` must not cost a long run."""
    from ..errors import MixinError

    if args.resume or args.force:
        return
    if (args.model_dir / "config.json").exists():
        raise MixinError(
            args.model_dir, "already holds models: --force replaces them, --resume continues their training run"
        )
    if args.log_dir.is_dir() and any(args.log_dir.iterdir()):
        raise MixinError(
            args.log_dir, "already holds a training run: --resume continues it, --force starts a new one over it"
        )


def settings(args: argparse.Namespace, progress: bool) -> TrainSettings | DRNNSettings | JointSettings:
    """The training settings of the architecture and objective: their defaults, and the options given."""
    given = {
        name: getattr(args, name)
        for name in ("epochs", "batch_size", "patience", "learning_rate", "steps", "eval_every")
    }
    given["seed"] = args.train_seed
    kind = "masks" if args.arch == "cdae" and args.objective == "masks" else args.arch
    cls = SETTINGS[kind]
    values = {k: v for k, v in given.items() if v is not None and k in cls.__dataclass_fields__}
    values["replace"] = args.force and not args.resume  # a fresh run clears the one it replaces
    if kind == "masks":
        values.update(resume=args.resume, init_dir=args.init_from)
        if args.drum_level is not None:
            values["drum_level"] = tuple(args.drum_level)
        if args.drum_share is not None:
            values["drum_share"] = args.drum_share
        if args.freeze is not None:
            values["freeze"] = args.freeze
        if args.val_chain is not None:
            values["val_chain"] = args.val_chain
        if args.workers is not None:
            values["workers"] = args.workers
    elif kind == "cdae":
        values.update(resume=args.resume, distribute=args.distribute, plot=args.plot_training)
        values["verbose"] = (
            0 if args.quiet else (1 if progress else 2)
        )  # Keras: bars on a terminal, else a line an epoch
    else:
        values.update(
            {
                k: getattr(args, k)
                for k in ("gamma", "weight_decay", "dropout", "compress", "input_level")
                if getattr(args, k) is not None
            }
        )
        values.update(val_singer=args.val_singer, validate=not args.all_clips, resume=args.resume)
        augment = {"pitch": args.pitch_shift, "gain_db": args.gain_db, "remix": args.remix}
        values["augment"] = Augment(shift=not args.no_shift, **{k: v for k, v in augment.items() if v is not None})
        values["verbose"] = 0 if args.quiet else 1
    return cls(**values)


def render(args: argparse.Namespace, progress: bool) -> None:
    from ..data.render import render_stems

    written = render_stems(
        args.render_stems,
        args.tracks,
        seed=args.render_seed,
        split=args.render_split,
        voice_dir=args.voices,
        effects=not args.dry,
        max_seconds=args.max_seconds,
        force=args.force,
        progress=progress,
    )
    print(f"rendered {len(written)} tracks into {args.render_stems}/")


def make_song_clips(args: argparse.Namespace) -> None:
    from ..data.song_clips import make_song_clips

    level = tuple(args.drum_level) if args.drum_level is not None else None
    cut, paired, looped = make_song_clips(
        args.songs,
        args.voices,
        args.make_song_clips,
        args.paired,
        drum_level=level,
        loops=args.loops,
        loop_clips=args.loop_clips,
        force=args.force,
    )
    print(
        f"{cut} clips cut from sung tracks, {paired} voices over real accompaniment, {looped} over drum loops "
        f"-> {args.make_song_clips}/"
    )


def prepare(args: argparse.Namespace, progress: bool) -> None:
    from ..data.stems import prepare_stems

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


def create_hdf5(args: argparse.Namespace, progress: bool) -> None:
    from ..data.hdf5 import create_hdf5

    counts = create_hdf5(args.data_dir, args.sources, seed=args.seed, force=args.force, progress=progress)
    for source, c in counts.items():
        print(
            f"{args.data_dir}/data_{source}.hdf5: chunks train {c['train']}, "
            f"validation {c['validation']}, test {c['test']}"
        )


def train_cdaes(args: argparse.Namespace, progress: bool) -> None:
    from ..training.cdae import train

    results = train(args.data_dir, args.model_dir, args.log_dir, args.sources, settings(args, progress))
    for source, r in results.items():
        print(
            f"{source}: {r['epochs']} epochs, MAE train {r['train_mae']:.5f}, "
            f"validation {r['validation_mae']:.5f}, test {r['test_mae']:.5f}, gain {r['gain']:.3f} "
            f"-> {args.model_dir}/model_{source}.h5"
        )


def train_drnn(args: argparse.Namespace, progress: bool) -> None:
    from ..training.drnn import train_drnn

    r = train_drnn(args.stem_dirs, args.model_dir, args.log_dir, settings(args, progress))
    if args.all_clips:
        print(f"drnn: {r['epochs']} epochs on all {r['train_clips']} clips -> {args.model_dir}/")
    else:
        print(
            f"drnn: {r['epochs']} epochs (best {r['best_epoch']}); validation GNSDR {r['GNSDR']:.2f} dB, "
            f"GSIR {r['GSIR']:.2f}, GSAR {r['GSAR']:.2f} on {r['validation_clips']} clips -> {args.model_dir}/"
        )


def train_masks(args: argparse.Namespace, progress: bool) -> None:
    from ..training.joint import train_joint

    r = train_joint(
        args.stem_dirs, args.model_dir, args.log_dir, args.val_dirs, settings(args, progress), progress=progress
    )
    print(
        f"{r['steps']} steps on {r['training_seconds_of_audio'] / 3600:.2f} h of stems; best validation "
        f"SDR (mean of the sources) {r['best_validation_sdr']:.2f} dB -> {args.model_dir}/"
    )


def export_onnx(args: argparse.Namespace) -> None:
    """Refresh the ONNX exports of --model-dir: those of --sources where given; otherwise after
    --train (cdae objective) or --calibrate the sources just made, else (--export-onnx, the DRNN,
    training through the masks) all there."""
    from ..training.export import export_model_dir

    everything = args.arch == "drnn" or (args.train and args.objective == "masks")
    everything = everything or (args.export_onnx and args.sources is None)
    written = export_model_dir(args.model_dir, None if everything else args.sources)
    print("exported " + ", ".join(p.name for p in written) + f" -> {args.model_dir}/")


def calibrate(args: argparse.Namespace) -> None:
    from ..training.calibrate import calibrate

    gains = calibrate(args.model_dir, args.data_dir, args.sources)
    print("gains " + ", ".join(f"{s} {g:.3f}" for s, g in gains.items()) + f" -> {args.model_dir}/config.json")
