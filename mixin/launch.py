"""The checkout's scripts (``./xtract_mixin.py`` and friends) run with the project's ``.venv``.

Their ``#!/usr/bin/env python3`` finds the system Python, which after ``bash scripts/run.sh``
lacks the dependencies (they live in ``.venv`` beside the scripts): without this, the README's
``./xtract_mixin.py song.wav`` ended in a ModuleNotFoundError traceback. Standard library only:
it runs before anything that needs the dependencies is imported.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

RELAUNCHED = "MIXIN_RELAUNCHED"
"""Set in the environment of the relaunched script, so that it never relaunches again."""

DEPENDENCIES = ("numpy", "scipy", "soundfile", "soxr", "ducc0", "onnxruntime", "tqdm", "bottleneck")
"""The modules of ``requirements.txt``, which every script needs sooner or later (found, not
imported: ``--help`` stays instant); one missing means this is not the Python set up for it."""


SEPARATING = "pip install -r requirements.txt"
"""How to install what separating needs (``./xtract_mixin.py``)."""
TRAINING = "pip install -r requirements.txt -r requirements-train.txt"
"""How to install what training and evaluation need on top (TensorFlow, museval, ...)."""
INSTALL = {"mixin.cli.train": TRAINING, "mixin.cli.evaluate": TRAINING}
"""The install line each command's error suggests, by module (the others: :data:`SEPARATING`)."""


def venv_python(script: str | Path) -> Path:
    """The Python of the ``.venv`` beside ``script`` (which may not exist)."""
    return Path(script).resolve().parent / ".venv" / "bin" / "python"


def missing(modules: Iterable[str]) -> str | None:
    """The first of ``modules`` that this Python cannot find, or None."""
    for module in modules:
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except ModuleNotFoundError:  # its parent package is missing
            return module
    return None


def ensure(script: str | Path, modules: Iterable[str] = DEPENDENCIES, install: str = SEPARATING) -> None:
    """Where this Python lacks one of ``modules``, run ``script`` again (same arguments) under the
    ``.venv`` beside it, replacing this process; with no such ``.venv``, one whose Python this user
    cannot run (the error says why), or already relaunched, exit with status 2 and a one-line error
    saying how to set up (``install``: the pip command for what ``script`` needs)."""
    name = missing(modules)
    if name is None:
        return
    python = venv_python(script)
    unusable = ""  # why the .venv's Python, there, cannot run the script
    if not os.environ.get(RELAUNCHED):
        try:
            there = python.is_file()
            if there and not os.access(python, os.X_OK):
                unusable = "not executable by this user"
            elif there:
                os.environ[RELAUNCHED] = "1"
                os.execv(str(python), [str(python), str(script), *sys.argv[1:]])
        except OSError as exc:  # a folder on its path this user may not enter, a broken interpreter
            os.environ.pop(RELAUNCHED, None)
            unusable = exc.strerror or str(exc)
    venv = f", and {python} cannot be run ({unusable})" if unusable else ""
    print(
        f"{Path(script).name}: error: {sys.executable} lacks the Python package {name!r}{venv}; set up with "
        f"'bash scripts/run.sh setup' (then .venv/bin/python runs it) or '{install}'",
        file=sys.stderr,
    )
    raise SystemExit(2)


def load_main(module: str, script: str | Path) -> Callable[[], int]:
    """``module``'s ``main``, once :func:`ensure` found the dependencies."""
    ensure(script, install=INSTALL.get(module, SEPARATING))
    return importlib.import_module(module).main
