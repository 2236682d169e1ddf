"""Progress bars on stderr for long runs (python -m helpers.demo; also benchmarks.compare).

tqdm draws a text bar on stderr in a terminal (stdout stays free for ``--json``)
and, through ``tqdm.auto``, a widget bar when called from a notebook.
"""
from __future__ import annotations

import sys

from tqdm.auto import tqdm

__all__ = ['Bars']


class Bars:
    """Named progress bars, shown at 0 as soon as they are made; ``update(name=done)`` moves them.

    ``bars`` maps a name to (total or None when not known yet, unit).
    """

    def __init__(self, bars: dict[str, tuple[int | None, str]], file=None) -> None:
        width = max(map(len, bars), default=0)
        self._bars = {name: tqdm(total=total, desc=f'{name:<{width}}', unit=unit, file=file or sys.stderr,
                                 dynamic_ncols=True, leave=True)
                      for name, (total, unit) in bars.items()}

    def update(self, **done: int) -> None:
        """Set each named bar to an absolute count (never backwards)."""
        for name, value in done.items():
            bar = self._bars[name]
            if value > bar.n:
                bar.update(value - bar.n)

    def total(self, name: str, total: int) -> None:
        """Set a bar's total once it is known."""
        bar = self._bars[name]
        if bar.total != total:
            bar.total = total
            bar.refresh()

    def close(self) -> None:
        """Finish every bar (draws its final state)."""
        for bar in self._bars.values():
            bar.close()

    def __enter__(self) -> Bars:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
