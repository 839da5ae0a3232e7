"""The package installs like its peers: every subpackage and the shipped models are in the
wheel's file list, and the console command is declared."""

import fnmatch
import json
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_every_package_is_listed():
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "mixin").rglob("__init__.py")}
    # the models' folder, and drnn/ in it: a name Python could import, which setuptools warns about
    # unless it is listed (a folder such as drnn-songs/ is data of its parent)
    assert set(SETUPTOOLS["packages"]) == found | {"mixin.pretrained_models", "mixin.pretrained_models.drnn"}


def test_the_shipped_models_go_into_the_package():
    from mixin.registry import ModelConfig, default_model_dir

    models = ROOT / SETUPTOOLS["package-dir"]["mixin.pretrained_models"]
    assert models == default_model_dir()  # in a checkout: the repository's pretrained-models/
    patterns = [  # each package's patterns, relative to the models' folder
        "/".join([*package.split(".")[2:], pattern])
        for package, package_patterns in SETUPTOOLS["package-data"].items()
        for pattern in package_patterns
    ]
    needed = set()
    for config_path in models.rglob("config.json"):
        config = ModelConfig(**json.loads(config_path.read_text()))
        needed |= {config_path} | {config.model_path(config_path.parent, s) for s in config.sources}
    assert len(needed) == 8  # three CDAEs, two DRNNs (the second architecture, the vocal helper), three configs
    for path in needed:
        rel = path.relative_to(models).as_posix()
        assert any(fnmatch.fnmatch(rel, p) for p in patterns), f"{rel} would not be installed"


def test_console_command():
    assert PYPROJECT["project"]["scripts"] == {"mixin": "mixin.cli:main"}
