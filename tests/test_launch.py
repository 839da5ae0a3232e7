"""The checkout's scripts run under the .venv beside them when the Python that started them lacks
the dependencies (the shebang finds the system Python), else fail with a one-line error."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mixin import launch

ROOT = Path(__file__).resolve().parents[1]


def test_missing_finds_without_importing():
    assert launch.missing(["os", "json"]) is None
    assert launch.missing(["os", "mixin_no_such_package", "json"]) == "mixin_no_such_package"
    assert launch.missing(["mixin_no_such_package.sub"]) == "mixin_no_such_package.sub"
    assert launch.missing(launch.DEPENDENCIES) is None  # the tests' own Python has them


def test_dependencies_are_requirements_txt():
    """Each package separating needs sends a Python without it to the .venv (one of them missing
    used to end in a ModuleNotFoundError traceback instead)."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    required = {line.split(">")[0].split("=")[0].strip() for line in lines if line.strip() and line[0] != "#"}
    assert set(launch.DEPENDENCIES) == required


class Relaunched(Exception):
    pass


@pytest.fixture
def script(tmp_path, monkeypatch):
    path = tmp_path / "tool.py"
    path.write_text("")
    monkeypatch.setattr(sys, "argv", [str(path), "song.wav", "--force"])
    monkeypatch.delenv(launch.RELAUNCHED, raising=False)

    def execv(program, args):
        raise Relaunched(program, args)

    monkeypatch.setattr(os, "execv", execv)
    return path


def test_relaunches_under_the_venv_beside_the_script(script):
    python = script.parent / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    python.chmod(0o755)
    launch.ensure(script, ["os"])  # nothing missing: nothing happens
    with pytest.raises(Relaunched) as caught:
        launch.ensure(script, ["mixin_no_such_package"])
    assert caught.value.args == (str(python), [str(python), str(script), "song.wav", "--force"])
    assert os.environ[launch.RELAUNCHED] == "1"
    with pytest.raises(SystemExit) as exited:  # relaunched and still missing: no loop
        launch.ensure(script, ["mixin_no_such_package"])
    assert exited.value.code == 2


def test_without_a_venv_one_line_error(script, capsys):
    with pytest.raises(SystemExit) as exited:
        launch.ensure(script, ["os", "mixin_no_such_package"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("tool.py: error: ") and "lacks the Python package 'mixin_no_such_package'" in err
    assert "bash scripts/run.sh setup" in err


def test_a_venv_python_this_user_cannot_run_is_one_line_too(script, capsys, monkeypatch):
    """A .venv whose Python sits under a folder the user may not enter (a venv made by root from
    /root's pyenv, run as another user) ended in a PermissionError traceback from the launcher."""
    python = script.parent / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    python.chmod(0o644)
    setup = "; set up with 'bash scripts/run.sh setup' (then .venv/bin/python runs it) or "
    setup += "'pip install -r requirements.txt'\n"
    lacks = f"tool.py: error: {sys.executable} lacks the Python package 'mixin_no_such_package'"
    with pytest.raises(SystemExit) as exited:
        launch.ensure(script, ["mixin_no_such_package"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"{lacks}, and {python} cannot be run (not executable by this user){setup}"
    python.chmod(0o755)
    real_is_file = Path.is_file

    def denied(self):
        if self == python:
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_file(self)

    monkeypatch.setattr(Path, "is_file", denied)
    with pytest.raises(SystemExit) as exited:
        launch.ensure(script, ["mixin_no_such_package"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"{lacks}, and {python} cannot be run (Permission denied){setup}"
    monkeypatch.setattr(Path, "is_file", real_is_file)

    def broken(program, args):
        raise OSError(8, "Exec format error")

    monkeypatch.setattr(os, "execv", broken)
    with pytest.raises(SystemExit) as exited:
        launch.ensure(script, ["mixin_no_such_package"])
    assert exited.value.code == 2 and launch.RELAUNCHED not in os.environ
    assert capsys.readouterr().err == f"{lacks}, and {python} cannot be run (Exec format error){setup}"


def test_each_script_names_the_requirements_it_needs(script, capsys, monkeypatch):
    """Training and evaluation need requirements-train.txt too (README's table): their error
    suggested requirements.txt alone, after which they failed again on TensorFlow or museval."""
    monkeypatch.setattr(launch, "missing", lambda modules: "numpy")
    train = "pip install -r requirements.txt -r requirements-train.txt"
    for module, install in (
        ("mixin.cli.separate", "pip install -r requirements.txt"),
        ("mixin.cli.train", train),
        ("mixin.cli.evaluate", train),
    ):
        with pytest.raises(SystemExit) as exited:
            launch.load_main(module, script)
        assert exited.value.code == 2
        assert capsys.readouterr().err.endswith(f" or '{install}'\n"), module
    for name, module in (("train_util.py", "mixin.cli.train"), ("eval_mixin.py", "mixin.cli.evaluate")):
        assert f'load_main("{module}", __file__)' in (ROOT / name).read_text()
    assert "ensure(__file__, install=TRAINING)" in (ROOT / "test_e2e.py").read_text()


def test_a_script_started_without_site_packages(tmp_path):
    """``python -S``: no site-packages, as the system Python without the dependencies."""
    env = {k: v for k, v in os.environ.items() if k != launch.RELAUNCHED}
    run = subprocess.run(
        [sys.executable, "-S", str(ROOT / "xtract_mixin.py"), "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    if launch.venv_python(ROOT / "xtract_mixin.py").is_file():  # as after scripts/run.sh: relaunched
        assert run.returncode == 0 and run.stdout.startswith("usage: xtract_mixin.py")
    else:  # a pip-installed environment without .venv: the one-line error
        assert run.returncode == 2 and "lacks the Python package 'numpy'" in run.stderr
