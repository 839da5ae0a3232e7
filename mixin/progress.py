"""Progress bars: tqdm on a terminal, a silent stand-in otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm


def progress_bar(enabled: bool, iterable: Any = None, **kwargs: Any) -> tqdm:
    """A tqdm bar (cleared when done) if ``enabled``, else tqdm's do-nothing form."""
    from tqdm import tqdm

    return tqdm(iterable, disable=not enabled, leave=False, **kwargs)
