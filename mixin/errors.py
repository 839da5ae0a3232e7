"""The one exception type the command-line tools turn into a one-line message."""

from __future__ import annotations

from pathlib import Path


class MixinError(Exception):
    """A user-facing failure about one file: ``str()`` gives ``"<file>: <cause>"``."""

    def __init__(self, path: str | Path | None, cause: str) -> None:
        self.path = None if path is None else Path(path)
        self.cause = cause
        super().__init__(cause if path is None else f"{path}: {cause}")


def no_directory(path: str | Path, what: str) -> MixinError:
    """The error for ``path`` where a ``what`` (e.g. "tracks directory") must be: a file or other
    non-directory said as such, else ``"<what> not found"``."""
    path = Path(path)
    if path.is_file():
        return MixinError(path, "is a file, not a directory")
    if path.exists():
        return MixinError(path, "is not a directory")
    return MixinError(path, f"{what} not found")
