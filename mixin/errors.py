"""The one exception type the command-line tools turn into a one-line message."""

from __future__ import annotations

from pathlib import Path


class MixinError(Exception):
    """A user-facing failure about one file: ``str()`` gives ``"<file>: <cause>"``."""

    def __init__(self, path: str | Path | None, cause: str) -> None:
        self.path = None if path is None else Path(path)
        self.cause = cause
        super().__init__(cause if path is None else f"{path}: {cause}")
