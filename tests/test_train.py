"""--train: streaming from HDF5, best model kept, resume, refusals, mirrored strategy."""

import csv
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from mixin.data.hdf5 import create_hdf5, hdf5_path
from mixin.data.stems import prepare_stems
from mixin.data.synth import write_musdb_track
from mixin.errors import MixinError
from mixin.training.cdae import TrainSettings, train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train")
    for i in range(3):
        write_musdb_track(root / "stems" / f"song{i}", 2.2, seed=10 + i)
    prepare_stems([root / "stems"], root / "data", segment_duration=1.1)
    create_hdf5(root / "data", seed=0)
    return root / "data"


@pytest.fixture(scope="module")
def instrumental_dir(tmp_path_factory) -> Path:
    """Stems without a vocal: --create-hdf5 builds the harmonic and percussive files only."""
    root = tmp_path_factory.mktemp("instrumental")
    for i in range(3):
        write_musdb_track(root / "stems" / f"song{i}", 2.2, seed=20 + i)
        (root / "stems" / f"song{i}" / "vocals.wav").unlink()
    prepare_stems([root / "stems"], root / "data", segment_duration=1.1)
    counts = create_hdf5(root / "data", seed=0)
    assert set(counts) == {"harmonic", "percussive"}
    assert not hdf5_path(root / "data", "vocal").exists()
    return root / "data"


def history(log_dir: Path, source: str) -> list[dict]:
    with (log_dir / f"{source}_history.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_trains_saves_best_and_reports(data_dir, tmp_path):
    settings = TrainSettings(epochs=3, batch_size=4, patience=5, learning_rate=3e-3, verbose=0)
    results = train(data_dir, tmp_path / "model", tmp_path / "logdir", ["vocal"], settings)
    r = results["vocal"]
    assert r["epochs"] == 3 and all(np.isfinite(r[f"{s}_mae"]) for s in ("train", "validation", "test"))
    rows = history(tmp_path / "logdir", "vocal")
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    best = min(float(row["val_loss"]) for row in rows)
    assert r["validation_mae"] == pytest.approx(best, rel=1e-3)  # the saved model is the best epoch's
    assert (tmp_path / "logdir" / "vocal_loss.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "model" / "config.json").exists()
    from mixin.separators import Separator

    sep = Separator.from_pretrained(tmp_path / "model")
    assert sep.sources == ("vocal",) and sep.trained
    # The output gain is calibrated on the validation split, recorded, and applied.
    import json

    gains = json.loads((tmp_path / "model" / "config.json").read_text())["gains"]
    assert set(gains) == {"vocal"} and gains["vocal"] == pytest.approx(r["gain"]) and r["gain"] > 0
    assert sep.gains.tolist() == pytest.approx([r["gain"]])
    with h5py.File(hdf5_path(data_dir, "vocal"), "r") as h5:
        x, y = h5["data-x-validation"][:, ..., 0], h5["data-y-validation"][:, ..., 0]
    assert sep.estimate(x)[0].sum() == pytest.approx(y.sum(), rel=1e-3)  # calibrated: unbiased in sum


@pytest.mark.slow
def test_resume_continues_from_checkpoint(data_dir, tmp_path, monkeypatch):
    import mixin.training.calibrate
    from mixin.registry import ModelConfig
    from mixin.training.cdae import UNFINISHED

    s1 = TrainSettings(epochs=1, batch_size=4, verbose=0)
    train(data_dir, tmp_path / "model", tmp_path / "logdir", ["percussive"], s1)
    first = history(tmp_path / "logdir", "percussive")
    assert ModelConfig.load(tmp_path / "model").trained

    # A run that fails after saving a new best model (here in calibration) leaves the directory
    # marked unfinished: not new weights beside the earlier run's gains, passing as trained.
    def failing(*args, **kwargs):
        raise MixinError(tmp_path / "model", "the model's estimates are all zero: no gain can be calibrated")

    monkeypatch.setattr(mixin.training.calibrate, "calibrate", failing)
    with pytest.raises(MixinError, match="all zero"):
        train(
            data_dir,
            tmp_path / "model",
            tmp_path / "logdir",
            ["percussive"],
            TrainSettings(epochs=1, batch_size=4, verbose=0, resume=True),
        )
    config = ModelConfig.load(tmp_path / "model")
    assert not config.trained and config.notes == UNFINISHED
    monkeypatch.undo()
    from mixin.backend import keras_module

    saved = keras_module().models.load_model(tmp_path / "logdir" / "percussive_last.keras")
    assert type(saved.optimizer).__name__ == "Adam" and int(saved.optimizer.iterations) > 0  # state kept for resuming
    assert float(saved.optimizer.learning_rate) == pytest.approx(1e-3)
    s2 = TrainSettings(epochs=2, batch_size=4, verbose=0, resume=True)  # keeps the checkpoint's rate
    train(data_dir, tmp_path / "model", tmp_path / "logdir", ["percussive"], s2)
    s3 = TrainSettings(epochs=3, batch_size=4, verbose=0, resume=True, learning_rate=2e-4)  # a new rate
    train(data_dir, tmp_path / "model", tmp_path / "logdir", ["percussive"], s3)
    rows = history(tmp_path / "logdir", "percussive")
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert rows[0] == first[0]
    resumed = keras_module().models.load_model(tmp_path / "logdir" / "percussive_last.keras")
    assert float(resumed.optimizer.learning_rate) == pytest.approx(2e-4)
    assert int(resumed.optimizer.iterations) > int(saved.optimizer.iterations)
    assert ModelConfig.load(tmp_path / "model").trained  # finished: trained again


def test_resume_without_checkpoint_is_an_error(data_dir, tmp_path):
    with pytest.raises(MixinError, match="no checkpoint to resume from"):
        train(data_dir, tmp_path / "m", tmp_path / "l", ["vocal"], TrainSettings(epochs=1, resume=True, verbose=0))


def test_sources_missing_from_the_data_are_refused_before_any_work(instrumental_dir, tmp_path):
    before = hdf5_path(instrumental_dir, "percussive").stat().st_mtime_ns
    with pytest.raises(
        MixinError, match=r"data: no prepared segment holds a vocal stem \(held: harmonic, percussive\)"
    ):
        create_hdf5(instrumental_dir, ["percussive", "vocal"], seed=0, force=True)
    assert hdf5_path(instrumental_dir, "percussive").stat().st_mtime_ns == before  # not rewritten first
    # --train checks every data file before the first model trains: a long run cannot die at its last source.
    with pytest.raises(MixinError, match=r"data_vocal.hdf5: not found: run --create-hdf5 first"):
        train(instrumental_dir, tmp_path / "m", tmp_path / "l", ["harmonic", "vocal"], TrainSettings(epochs=1))
    assert not (tmp_path / "m").exists() and not (tmp_path / "l").exists()
    with pytest.raises(MixinError, match=r"holds no data_<source>.hdf5 file: run --create-hdf5 first"):
        train(tmp_path, tmp_path / "m", tmp_path / "l")
    # A checkpoint that is not one is a one-line error, not a Keras traceback.
    (tmp_path / "l").mkdir()
    (tmp_path / "l" / "harmonic_last.keras").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(MixinError, match=r"harmonic_last.keras: cannot be read as a training checkpoint \("):
        train(instrumental_dir, tmp_path / "m", tmp_path / "l", ["harmonic"], TrainSettings(epochs=2, resume=True))


@pytest.mark.slow
def test_resume_starts_the_sources_a_stopped_run_had_not_reached(instrumental_dir, tmp_path):
    import json

    model, log = tmp_path / "model", tmp_path / "log"
    fast = dict(epochs=1, batch_size=4, verbose=0)
    train(instrumental_dir, model, log, ["harmonic"], TrainSettings(**fast))  # stopped before percussive
    results = train(instrumental_dir, model, log, None, TrainSettings(**fast, resume=True))
    assert {s: r["epochs"] for s, r in results.items()} == {"harmonic": 1, "percussive": 1}
    assert json.loads((model / "config.json").read_text())["sources"] == ["harmonic", "percussive"]
    # A model whose checkpoint is gone is not silently trained again from scratch.
    (log / "percussive_last.keras").unlink()
    with pytest.raises(MixinError, match=r"model_percussive.h5: has no checkpoint in .* to resume from"):
        train(instrumental_dir, model, log, None, TrainSettings(**fast, resume=True))


def test_refuses_hdf5_with_other_settings(data_dir, tmp_path):
    other = tmp_path / "data"
    other.mkdir()
    src = hdf5_path(data_dir, "vocal")
    dst = hdf5_path(other, "vocal")
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "a") as h5:
        h5.attrs["bands"] = 48
    with pytest.raises(MixinError, match=r"bands 48 \(need 96\)"):
        train(other, tmp_path / "m", tmp_path / "l", ["vocal"], TrainSettings(epochs=1, verbose=0))


def test_unknown_source(data_dir, tmp_path):
    with pytest.raises(MixinError, match="unknown source"):
        train(data_dir, tmp_path / "m", tmp_path / "l", ["bass"])


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(data_dir, tmp_path):
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from mixin.backend import keras_module
keras_module()
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from mixin.training.cdae import TrainSettings, _strategy, train
print("replicas", _strategy("mirrored").num_replicas_in_sync)
r = train({str(data_dir)!r}, {str(tmp_path / "model")!r}, {str(tmp_path / "log")!r}, ["harmonic"],
          TrainSettings(epochs=1, batch_size=4, distribute="mirrored", verbose=0))
print("mae", r["harmonic"]["test_mae"])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "replicas 2" in out.stdout
    assert (tmp_path / "model" / "model_harmonic.h5").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "arch", [["--arch", "cdae"], ["--arch", "drnn", "--stem-dirs", "x"], ["--objective", "masks", "--stem-dirs", "x"]]
)
def test_a_fresh_training_run_never_replaces_another_without_force(arch, tmp_path, capsys):
    """Forgetting --resume after a long interrupted run used to replace its checkpoint and models."""
    from mixin.cli.train import main

    models, logs = tmp_path / "model", tmp_path / "logdir"
    models.mkdir()
    (models / "config.json").write_text('{"arch": "cdae"}')
    argv = ["--train", *arch, *(["--val-dirs", "y"] if "masks" in arch else []), "--data-dir", "d"]
    argv += ["--model-dir", str(models)]
    argv += ["--log-dir", str(logs), "-q"]
    assert main(argv) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: {models}: already holds models: --force replaces them, --resume continues their training run"
    )
    (models / "config.json").unlink()
    logs.mkdir()
    (logs / "harmonic_last.keras").write_bytes(b"a long run's checkpoint")
    assert main(argv) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: {logs}: already holds a training run: --resume continues it, --force starts a new one over it"
    )
    assert (logs / "harmonic_last.keras").read_bytes() == b"a long run's checkpoint"


def test_calibrate_cli_updates_config_and_keeps_other_gains(data_dir, tmp_path):
    import json

    from mixin.cdae import build_cdae

    model_dir = tmp_path / "m"
    model_dir.mkdir()
    build_cdae().save(model_dir / "model_percussive.h5")
    (model_dir / "config.json").write_text('{"arch": "cdae", "sources": ["percussive"], "gains": {"vocal": 1.5}}')
    cli = [
        sys.executable,
        str(ROOT / "train_util.py"),
        "--calibrate",
        "--data-dir",
        str(data_dir),
        "--model-dir",
        str(model_dir),
    ]
    out = subprocess.run([*cli, "--sources", "percussive"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    gains = json.loads((model_dir / "config.json").read_text())["gains"]
    assert gains["vocal"] == 1.5 and gains["percussive"] > 0
    assert out.stdout.strip().splitlines() == [
        f"gains percussive {gains['percussive']:.3f} -> {model_dir}/config.json",
        f"exported model_percussive.onnx -> {model_dir}/",  # --calibrate refreshes the ONNX export too
    ]
    assert (model_dir / "model_percussive.onnx").exists()
    out = subprocess.run([*cli, "--sources", "harmonic"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert out.stderr.strip() == f"error: {model_dir / 'model_harmonic.h5'}: model file not found"


def test_calibrate_refuses_models_fed_normalised_input(tmp_path):
    """Calibrating a copy of the shipped models turned their vocal gain 1.5 into 4.5, fitted to
    raw magnitudes the models never get."""
    import shutil

    from mixin.errors import MixinError
    from mixin.training.calibrate import calibrate

    models = tmp_path / "m"
    models.mkdir()
    shutil.copy(ROOT / "pretrained-models" / "config.json", models / "config.json")
    before = (models / "config.json").read_text()
    with pytest.raises(MixinError, match="the models get normalised input: calibration fits raw-magnitude outputs"):
        calibrate(models, tmp_path / "no-data", ["vocal"])
    assert (models / "config.json").read_text() == before
    with pytest.raises(MixinError, match="drnn: holds a drnn model: calibration measures the CDAEs' output gains"):
        calibrate(ROOT / "pretrained-models" / "drnn", tmp_path / "no-data")


def test_source_gain_undoes_a_scaled_estimate():
    from mixin.training.calibrate import source_gain

    y = np.random.default_rng(0).random((5, 4, 3, 1)).astype(np.float32)
    assert source_gain(lambda x: 0.25 * x, y, y, batch=2) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="all zero"):
        source_gain(lambda x: 0 * x, y, y)


def test_cli_needs_a_step():
    out = subprocess.run([sys.executable, str(ROOT / "train_util.py")], capture_output=True, text=True)
    assert out.returncode == 2 and "nothing to do" in out.stderr


def test_cli_error_is_one_line(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "train_util.py"), "--create-hdf5", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == f"error: {tmp_path / 'segments.json'}: not found: run --prepare-stems first"


def test_patience_is_one_or_more(capsys):
    """--patience 0 was taken and stopped every run before its first epoch: the CDAE trainer then
    found no model, and the DRNN's wrote a config.json without one, which refused later runs."""
    from mixin.cli.train import main
    from mixin.training.common import EarlyStopping

    for arch in ("cdae", "drnn"):
        with pytest.raises(SystemExit) as exc:
            main(["--train", "--arch", arch, "--stem-dirs", "x", "--patience", "0"])
        assert exc.value.code == 2
        assert "argument --patience: must be a whole number >= 1, got 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="patience must be 1 or more, got 0"):
        EarlyStopping(0)
    stopping = EarlyStopping(1)
    assert stopping.update(1.0) and not stopping.stop
    assert not stopping.update(2.0) and stopping.stop


def test_a_directory_option_naming_a_file_is_a_one_line_error(tmp_path, capsys):
    """--data-dir, --model-dir or --log-dir naming a file (or a path below one) raised FileExistsError."""
    from mixin.cli.train import main

    afile = tmp_path / "afile"
    afile.write_text("mine")
    for argv, flag in (
        (["--prepare-stems", "--stem-dirs", str(tmp_path), "--data-dir", str(afile)], f"--data-dir {afile}"),
        (["--create-hdf5", "--data-dir", str(afile / "below")], f"--data-dir {afile / 'below'}"),
        (["--train", "--model-dir", str(afile), "--data-dir", str(tmp_path)], f"--model-dir {afile}"),
        (["--train", "--arch", "drnn", "--stem-dirs", str(tmp_path), "--log-dir", str(afile)], f"--log-dir {afile}"),
        (["--render-stems", str(afile)], f"--render-stems {afile}"),
    ):
        assert main([*argv, "-q"]) == 1
        assert capsys.readouterr().err.strip() == f"error: {afile}: is a file, not a directory ({flag})"
    assert afile.read_text() == "mine"


@pytest.mark.slow
def test_force_starts_afresh_over_every_source_of_the_earlier_run(instrumental_dir, tmp_path):
    """--train --force --sources harmonic over a run of other sources left that run's models: still
    listed in config.json, continued by a later --resume, and over an --objective masks directory
    relabelled "input: magnitude" with no gains."""
    import json

    from mixin.cli.train import build_parser, settings

    model, log = tmp_path / "model", tmp_path / "log"
    (log / "candidate").mkdir(parents=True)
    model.mkdir()
    for path in (model / "model_percussive.h5", model / "model_percussive.onnx", model / "model_vocal.h5"):
        path.write_bytes(b"an earlier run's")
    (model / "config.json").write_text('{"arch": "cdae", "sources": ["percussive", "vocal"], "input": "normalised"}')
    for name in ("percussive_last.keras", "percussive_history.csv", "checkpoint.npz", "joint_history.json"):
        (log / name).write_bytes(b"an earlier run's")
    (log / "candidate" / "model_vocal.h5").write_bytes(b"an earlier run's")
    for mine in (model / "README.txt", log / "notes.txt"):
        mine.write_text("mine")
    before = sorted(p.name for d in (model, log) for p in d.iterdir())
    fresh = dict(epochs=1, batch_size=4, verbose=0, replace=True)
    with pytest.raises(MixinError, match="data_vocal.hdf5: not found"):  # the data checks come first
        train(instrumental_dir, model, log, ["vocal"], TrainSettings(**fresh))
    assert sorted(p.name for d in (model, log) for p in d.iterdir()) == before
    train(instrumental_dir, model, log, ["harmonic"], TrainSettings(**fresh))
    config = json.loads((model / "config.json").read_text())
    assert config["sources"] == ["harmonic"] and config["input"] == "magnitude" and set(config["gains"]) == {"harmonic"}
    assert sorted(p.name for p in model.iterdir()) == ["README.txt", "config.json", "model_harmonic.h5"]
    assert not [p for p in log.iterdir() if "percussive" in p.name or p.name in ("candidate", "checkpoint.npz")]
    assert (log / "notes.txt").read_text() == "mine" and (log / "harmonic_last.keras").exists()
    parse = build_parser().parse_args
    assert settings(parse(["--train", "--force"]), False).replace
    assert not settings(parse(["--train", "--force", "--resume"]), False).replace
    assert settings(parse(["--train", "--arch", "drnn", "--stem-dirs", "x", "--force"]), False).replace


@pytest.mark.slow
def test_resume_refuses_data_made_again(tmp_path):
    """--create-hdf5 --force with another --seed, then --train --resume: the run went on on the new
    split, in which a song it had trained on was now the validation or test track."""
    from mixin.data.hdf5 import split_tracks

    for i in range(3):
        write_musdb_track(tmp_path / "stems" / f"song{i}", 2.2, seed=10 + i)
    data, model, log = tmp_path / "data", tmp_path / "model", tmp_path / "log"
    prepare_stems([tmp_path / "stems"], data, segment_duration=1.1)
    create_hdf5(data, ["percussive"], seed=0)
    train(data, model, log, ["percussive"], TrainSettings(epochs=1, batch_size=4, verbose=0))
    names = [f"song{i}" for i in range(3)]
    other = next(s for s in range(1, 50) if split_tracks(names, s) != split_tracks(names, 0))
    create_hdf5(data, ["percussive"], seed=other, force=True)
    resume = TrainSettings(epochs=2, batch_size=4, verbose=0, resume=True)
    with pytest.raises(
        MixinError, match=r"percussive_data.json: the checkpoint was trained on other data \(.*split_tracks"
    ):
        train(data, model, log, ["percussive"], resume)
    assert len(history(log, "percussive")) == 1
    create_hdf5(data, ["percussive"], seed=0, force=True)  # the data it had
    assert train(data, model, log, ["percussive"], resume)["percussive"]["epochs"] == 2
