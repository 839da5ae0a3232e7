"""The command lines' shared rules and the commands added with them: 'mixin COMMAND',
link-songs, sweep-mask-power, per-architecture training defaults, evaluation errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import noise, write_audio
from mixin.cli import COMMANDS
from mixin.cli import main as mixin_main
from mixin.data.synth import write_musdb_track
from mixin.errors import MixinError

ROOT = Path(__file__).resolve().parents[1]


def mixin(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mixin", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.slow
def test_mixin_command_lists_and_runs_each_command():
    out = mixin("--help")
    assert out.returncode == 0 and all(name in out.stdout for name in COMMANDS)
    for name in COMMANDS:
        sub = mixin(name, "--help")
        assert sub.returncode == 0 and sub.stdout.startswith(f"usage: mixin {name} "), sub.stderr
    bad = mixin("explode")
    assert bad.returncode == 2 and "invalid choice: 'explode'" in bad.stderr
    assert mixin().returncode == 2


def test_mixin_separate_in_process(tmp_path, model_dir, capsys):
    src = write_audio(tmp_path / "a.wav", noise(0.3))
    assert mixin_main(["separate", str(src), "--pretrained-model-dir", str(model_dir), "-q"]) == 0
    assert sorted(p.name for p in tmp_path.glob("a_*.wav")) == ["a_harmonic.wav", "a_percussive.wav", "a_vocal.wav"]


def test_link_songs_command(tmp_path):
    src = tmp_path / "clips"
    src.mkdir()
    for song in range(1, 6):
        for clip in (1, 2):
            sf.write(str(src / f"amy_{song}_{clip:02d}.wav"), np.zeros((100, 2)), 16000)
    out = mixin("link-songs", "validation", str(src), str(tmp_path / "val"))
    assert out.returncode == 0 and out.stdout.strip() == f"linked 2 clips into {tmp_path / 'val'}"
    assert sorted(p.name for p in (tmp_path / "val").iterdir()) == ["amy_5_01.wav", "amy_5_02.wav"]
    missing = mixin("link-songs", "train", str(tmp_path / "nowhere"), str(tmp_path / "t"))
    assert (
        missing.returncode == 1 and missing.stderr.strip() == f"error: {tmp_path / 'nowhere'}: clip directory not found"
    )
    again = mixin("link-songs", "train", str(src), str(tmp_path / "val"))  # links only: an earlier call's
    assert again.returncode == 0 and len(list((tmp_path / "val").iterdir())) == 8
    onto_clips = mixin("link-songs", "train", str(src), str(src))  # before: removed every clip, "linked 0"
    assert onto_clips.returncode == 1
    message = "holds files that are not links; give a new or link-only directory"
    assert onto_clips.stderr.strip() == f"error: {src}: {message}"
    assert len(list(src.iterdir())) == 10


def test_a_file_where_a_directory_belongs_says_so(tmp_path, monkeypatch, capsys):
    """A file given as TRACKS_DIR, --estimates-dir or --stem-dirs was "... directory not found",
    though it is there."""
    from mixin.cli.evaluate import main as evaluate
    from mixin.cli.train import main as train

    monkeypatch.chdir(tmp_path)
    song = write_audio(tmp_path / "somefile.wav", noise(0.2))
    write_musdb_track(tmp_path / "tracks" / "song", 1.0, seed=3)
    for command, args in (
        (evaluate, [str(song), "--out", "R", "-q"]),
        (evaluate, [str(tmp_path / "tracks"), "--systems", "mixture", "--estimates-dir", str(song), "-q"]),
        (train, ["--prepare-stems", "--stem-dirs", str(song), "--data-dir", "data", "-q"]),
    ):
        assert command(args) == 1
        assert capsys.readouterr().err == f"error: {song}: is a file, not a directory\n"
    assert evaluate([str(tmp_path / "nowhere"), "-q"]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'nowhere'}: tracks directory not found\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["somefile.wav", "tracks"]


def test_training_defaults_follow_the_architecture():
    from mixin.cli.train import build_parser, settings
    from mixin.training.settings import DRNNSettings, JointSettings, TrainSettings

    parse = build_parser().parse_args
    assert settings(parse(["--train"]), False) == TrainSettings(verbose=2)
    assert settings(parse(["--train", "--arch", "drnn", "--stem-dirs", "x"]), False) == DRNNSettings(verbose=1)
    given = settings(parse(["--train", "--arch", "drnn", "--stem-dirs", "x", "--epochs", "7", "-q"]), False)
    assert (given.epochs, given.batch_size, given.patience, given.verbose) == (7, 16, 8, 0)
    masks = ["--train", "--objective", "masks", "--stem-dirs", "x", "--val-dirs", "y"]
    assert settings(parse(masks), False) == JointSettings()
    assert settings(parse([*masks, "--steps", "9", "--resume"]), False) == JointSettings(steps=9, resume=True)


@pytest.mark.parametrize("flag", ["--calibrate", "--plot-training"])
def test_cdae_only_training_options_are_refused_for_the_drnn(flag):
    out = subprocess.run(
        [sys.executable, str(ROOT / "train_util.py"), "--train", "--arch", "drnn", "--stem-dirs", "x", flag],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and f"{flag}: for --arch cdae only" in out.stderr


@pytest.mark.parametrize("flag", [["--val-singer", "amy"], ["--all-clips"], ["--gamma", "0"], ["--no-shift"]])
def test_drnn_only_training_options_are_refused_for_the_cdaes(flag, capsys):
    from mixin.cli.train import main

    with pytest.raises(SystemExit) as exit_:
        main(["--train", *flag])
    assert exit_.value.code == 2 and f"{flag[0]}: for --arch drnn only" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--train", "--drum-level", "-6", "0"], "--drum-level: for --objective masks or --make-song-clips only"),
        (
            ["--train", "--arch", "drnn", "--stem-dirs", "x", "--drum-share", "0.5"],
            "--drum-share: for --objective masks only",
        ),
        (["--train", "--stem-dirs", "x", "--freeze", "vocal"], "--freeze: for --objective masks only"),
        (
            ["--train", "--stem-dirs", "x", "--val-chain", "pretrained-models"],
            "--val-chain: for --objective masks only",
        ),
        (
            ["--train", "--objective", "masks", "--stem-dirs", "x", "--val-dirs", "y", "--freeze", "vocal,drums"],
            "--freeze: some of harmonic,percussive,vocal, not all, not 'vocal,drums'",
        ),
        (
            ["--train", "--objective", "masks", "--stem-dirs", "x", "--val-dirs", "y", "--drum-level", "0", "-6"],
            "--drum-level: LOW must not exceed HIGH, got 0 -6",
        ),
        (
            ["--train", "--objective", "masks", "--stem-dirs", "x", "--val-dirs", "y", "--drum-share", "1.5"],
            "--drum-share: must be in [0, 1], got 1.5",
        ),
        (["--train", "--arch", "drnn", "--stem-dirs", "x", "--remix", "3"], "--remix: must be in [0, 1], got 3"),
        (["--train", "--arch", "drnn", "--stem-dirs", "x", "--gamma", "-1"], "--gamma: must be in [0, 1], got -1"),
        (["--train", "--arch", "drnn", "--stem-dirs", "x", "--dropout", "1"], "--dropout: must be in [0, 1), got 1"),
        (["--train", "--arch", "drnn", "--stem-dirs", "x", "--compress", "0"], "--compress: must be positive, got 0"),
        (
            ["--train", "--arch", "drnn", "--stem-dirs", "x", "--pitch-shift", "-2"],
            "--pitch-shift: must be 0 or more, got -2",
        ),
        (
            ["--train", "--arch", "drnn", "--stem-dirs", "x", "--weight-decay", "inf"],
            "--weight-decay: must be a finite number, got inf",
        ),
        (["--train", "--stem-dirs", "x", "--workers", "4"], "--workers: for --objective masks only"),
        (
            ["--train", "--objective", "masks", "--stem-dirs", "x", "--val-dirs", "y", "--workers", "0"],
            "--workers: must be a whole number >= 1, got 0",
        ),
        (["--train", "--steps", "500"], "--steps: for --objective masks only"),
        (["--train", "--init-from", "pretrained-models", "--eval-every", "5"], "--init-from, --eval-every: for --obj"),
        (["--train", "--arch", "drnn", "--stem-dirs", "x", "--val-dirs", "y"], "--val-dirs: for --objective masks"),
        (["--train", "--arch", "drnn", "--stem-dirs", "x", "--sources", "vocal"], "--sources: for --arch cdae only"),
        (
            ["--train", "--objective", "masks", "--stem-dirs", "x", "--val-dirs", "y", "--epochs", "3"],
            "--epochs: not for --objective masks (it trains for --steps, from --stem-dirs)",
        ),
        (
            ["--train", "--objective", "masks", "--stem-dirs", "x", "--val-dirs", "y", "--sources", "vocal"],
            "--sources: not for --objective masks",
        ),
        (
            ["--train", "--objective", "masks", "--stem-dirs", "x", "--val-dirs", "y", "--distribute", "mirrored"],
            "--distribute: not for --objective masks",
        ),
        (["--create-hdf5", "--sources", "vocal,bass"], "--sources: some of harmonic,percussive,vocal, not bass"),
        (["--create-hdf5", "--sources", ","], "--sources: some of harmonic,percussive,vocal, not none"),
        (["--render-stems", "r", "--tracks", "-1"], "--tracks: must be a whole number >= 1, got -1"),
        (["--render-stems", "r", "--max-seconds", "nan"], "--max-seconds: must be a finite number, got nan"),
        (["--prepare-stems", "--stem-dirs", "x", "--segment-duration", "0"], "--segment-duration: must be positive"),
        (["--prepare-stems", "--stem-dirs", "x", "--segment-offset", "-2"], "--segment-offset: must be a whole"),
        (["--prepare-stems", "--stem-dirs", "x", "--augment", "-1"], "--augment: must be a whole number >= 0"),
        (["--make-song-clips", "c", "--songs", "x", "--paired", "-1"], "--paired: must be a whole number >= 0"),
        (
            ["--make-song-clips", "c", "--songs", "x", "--paired", "0", "--drum-level", "nan", "0"],
            "--drum-level: must be a finite number, got nan",
        ),
        (["--train", "--stem-dirs", "x", "--arch", "drnn", "--batch-size", "0"], "--batch-size: must be a whole"),
        (["--train", "--stem-dirs", "x", "--arch", "drnn", "--epochs", "0"], "--epochs: must be a whole number >= 1"),
        (["--train", "--stem-dirs", "x", "--arch", "drnn", "--learning-rate", "-1"], "--learning-rate: must be"),
        (
            ["--train", "--objective", "masks", "--stem-dirs", "x", "--val-dirs", "y", "--steps", "0"],
            "--steps: must be a whole number >= 1, got 0",
        ),
    ],
)
def test_train_options_are_checked(argv, message, capsys):
    from mixin.cli.train import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_drum_level_options_reach_the_joint_settings():
    from mixin.cli.train import build_parser, settings

    args = build_parser().parse_args(
        [
            "--train",
            "--objective",
            "masks",
            "--stem-dirs",
            "x",
            "--val-dirs",
            "y",
            "--drum-level",
            "-6",
            "0",
            "--drum-share",
            "1",
            "--workers",
            "3",
        ]
    )
    args.arch, args.objective = "cdae", "masks"
    got = settings(args, progress=False)
    assert got.drum_level == (-6.0, 0.0) and got.drum_share == 1.0 and got.workers == 3
    plain = settings(build_parser().parse_args(["--train", "--objective", "masks"]), progress=False)
    assert plain.drum_level is None and plain.workers == 1


@pytest.mark.parametrize("arch, objective", [("cdae", "mae"), ("cdae", "masks"), ("drnn", "mae")])
def test_train_seed_reaches_every_trainer(arch, objective):
    from mixin.cli.train import build_parser, settings

    base = ["--train", "--arch", arch, "--objective", objective]
    seeded = settings(build_parser().parse_args([*base, "--train-seed", "7"]), progress=False)
    plain = settings(build_parser().parse_args(base), progress=False)
    assert (seeded.seed, plain.seed) == (7, 0)


def test_error_while_scoring_is_one_line_and_traceback_with_verbose(tmp_path, monkeypatch, capsys):
    from mixin.cli.evaluate import main
    from mixin.evaluation import systems

    write_musdb_track(tmp_path / "tracks" / "song", 1.0, seed=3)

    def broken(track, system, estimates):
        raise MixinError(track.name, "museval is not installed (pip install museval)")

    monkeypatch.setattr(systems, "score_track", broken)
    args = [str(tmp_path / "tracks"), "--systems", "mixture", "--out", str(tmp_path / "report"), "-q"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err == "error: song: museval is not installed (pip install museval)\n"
    assert main([*args, "-v"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("error: song: museval is not installed (pip install museval)\n")


def test_mask_power_table_names_the_best_mean():
    from mixin.evaluation.mask_power import best_power, table

    results = {
        0.5: {"harmonic": 1.0, "percussive": 2.0, "vocal": 3.0},
        1.0: {"harmonic": 2.0, "percussive": 2.0, "vocal": 3.5},
    }
    assert best_power(results) == 1.0
    assert table(results).splitlines() == [
        "| mask power | harmonic | percussive | vocal | mean |",
        "|---:|---:|---:|---:|---:|",
        "| 0.5 | 1.00 | 2.00 | 3.00 | 2.00 |",
        "| 1 | 2.00 | 2.00 | 3.50 | 2.50 |",
        "best mean SDR: mask power 1",
    ]


@pytest.mark.slow
def test_sweep_mask_power_on_the_development_tracks(tmp_path, model_dir):
    from mixin.data.hdf5 import create_hdf5
    from mixin.data.stems import prepare_stems
    from mixin.evaluation.mask_power import development_tracks

    stems = tmp_path / "stems"
    for i in range(3):
        write_musdb_track(stems / f"song{i}", 1.2, seed=20 + i)
    prepare_stems([stems], tmp_path / "data", segment_duration=1.2)
    create_hdf5(tmp_path / "data", sources=["harmonic"], seed=0)
    dev = development_tracks(tmp_path / "data")
    assert len(dev) == 2 and set(dev) < {"song0", "song1", "song2"}
    out = mixin(
        "sweep-mask-power",
        str(stems),
        "--development",
        str(tmp_path / "data"),
        "--pretrained-model-dir",
        str(model_dir),
        "--powers",
        "1,2",
        "--out",
        str(tmp_path / "sweep"),
        "-q",
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("| mask power | harmonic | percussive | vocal | mean |") and len(lines) == 5
    assert lines[-1] in ("best mean SDR: mask power 1", "best mean SDR: mask power 2")
    for p in ("p1", "p2"):
        scored = {s["track"] for s in json.loads((tmp_path / "sweep" / p / "results.json").read_text())["scores"]}
        assert scored == set(dev)


def test_sweep_mask_power_refuses_to_replace_reports_and_empty_powers(tmp_path, capsys):
    """Run twice, the sweep replaced OUT/p1/* without a word; --powers '' or ',,' ended in an
    IndexError traceback."""
    from mixin.cli.sweep_mask_power import main

    write_musdb_track(tmp_path / "tracks" / "song", 1.0, seed=3)
    (tmp_path / "mp" / "p1").mkdir(parents=True)
    (tmp_path / "mp" / "p1" / "results.md").write_text("an earlier sweep's")
    args = [str(tmp_path / "tracks"), "--out", str(tmp_path / "mp"), "-q"]
    assert main([*args, "--powers", "0.5,1"]) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'mp' / 'p1'}: already holds a report (results.md): --force replaces it\n"
    )
    assert (tmp_path / "mp" / "p1" / "results.md").read_text() == "an earlier sweep's"
    assert not (tmp_path / "mp" / "p0.5").exists()
    for empty in ("", ",,"):
        with pytest.raises(SystemExit) as exit_:
            main([*args, "--powers", empty, "--force"])
        assert exit_.value.code == 2
        assert "argument --powers: give one or more positive numbers" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--prepare-stems", "--stem-dirs", "x", "--sources", "vocal"],
            "--sources: only with --create-hdf5 or --train or --calibrate or --export-onnx",
        ),
        (["--prepare-stems", "--stem-dirs", "x", "--epochs", "3"], "--epochs: only with --train"),
        (["--train", "--seed", "42"], "--seed: only with --create-hdf5"),  # the default, given: still ignored
        (["--train", "--stem-dirs", "x"], "--stem-dirs: --train of the CDAEs reads --data-dir's HDF5 files"),
        (["--create-hdf5", "--loop-clips", "0", "--augment", "1"], "--loop-clips: only with --make-song-clips; --aug"),
        (["--calibrate", "--force"], "--force: only with --render-stems or --make-song-clips or --prepare-stems"),
        (["--export-onnx", "--arch", "drnn", "--val-singer", "amy"], "--arch: only with --train; --val-singer: only"),
    ],
)
def test_options_of_steps_not_asked_for_are_usage_errors(argv, message, capsys):
    """They were ignored: --sources and --epochs with --prepare-stems alone, --seed with --train."""
    from mixin.cli.train import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_export_onnx_exports_the_sources_asked_for(model_dir, tmp_path, capsys):
    """--export-onnx --sources vocal exported every model."""
    import shutil

    from mixin.cli.train import main

    shutil.copytree(model_dir, tmp_path / "m")
    assert main(["--export-onnx", "--sources", "vocal", "--model-dir", str(tmp_path / "m"), "-q"]) == 0
    assert capsys.readouterr().out.strip() == f"exported model_vocal.onnx -> {tmp_path / 'm'}/"
    assert sorted(p.name for p in (tmp_path / "m").glob("*.onnx")) == ["model_vocal.onnx"]
