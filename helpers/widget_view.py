"""The base of the course's widget views: shown by ``display``, closed by ``with`` (03_producer)."""
from __future__ import annotations

__all__ = ['WidgetView']


class WidgetView:
    """A view that holds its ipywidgets root in ``self.widget`` and frees it in ``close()``."""

    widget = None

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
