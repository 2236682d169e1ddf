"""The views' static snapshots: a widget view displayed with a plain-HTML picture of itself (01_topology).

A view holds its ipywidgets root in ``self.widget``.  Displaying it sends the live widget *and*
a static HTML snapshot (``snapshot_html()``), so a notebook opened without a kernel (JupyterLab,
Notebook 7, GitHub, nbviewer) shows a picture instead of ``VBox(children=…``.
"""
from __future__ import annotations

import html

import ipywidgets as widgets

__all__ = ['WidgetView', 'LIVE_CLASS', 'SnapshotVBox', 'snapshot_frame', 'snapshot_button', 'snapshot_field', 'pre']

#: The CSS class of a widget whose last value depends on the order worker threads ran in (a live log);
#: ``tools/execute.py`` keeps such a widget's stored state when nothing else changed.
LIVE_CLASS = 'helpers-live'


class WidgetView:
    """A view that holds its ipywidgets root in ``self.widget`` and frees it in ``close()``."""

    widget = None

    def close(self) -> None:
        raise NotImplementedError

    def snapshot_html(self) -> str:
        """A static HTML picture of the view as it is now (deterministic: no ids, no times)."""
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """The live widget, with the snapshot for front ends that cannot show it."""
        return _bundle(self.widget, self)

    def _root(self, children: list[widgets.Widget]) -> widgets.VBox:
        """The view's root: a VBox that, displayed on its own, also carries this view's snapshot."""
        return SnapshotVBox(children, view=self)


def _bundle(widget: widgets.Widget, view: WidgetView) -> dict:
    bundle = {'text/html': view.snapshot_html(), 'text/plain': repr(view)}
    if getattr(widget, 'comm', None) is not None:  # a closed view shows its snapshot only
        bundle['application/vnd.jupyter.widget-view+json'] = {
            'version_major': 2, 'version_minor': 0, 'model_id': widget.model_id}
    return bundle


class SnapshotVBox(widgets.VBox):
    """A VBox displayed with its view's static snapshot (so ``view.widget`` shows a picture too)."""

    def __init__(self, children, view: WidgetView, **kwargs) -> None:
        super().__init__(children, **kwargs)
        self._snapshot_view = view

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:  # ipywidgets 8
        return _bundle(self, self._snapshot_view)

    def _ipython_display_(self, **kwargs) -> None:  # ipywidgets 7.7 displays widgets this way
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)


# -- static snapshots: plain HTML with inline styles.  Each colour comes twice: a light hex, kept
# by JupyterLab's sanitizer (a notebook opened before it is run), then the theme variable, which
# wins where styles are not sanitized.  Plain text inherits the page's colour.

def _themed(prop: str, variable: str, fallback: str) -> str:
    return f'{prop}: {fallback}; {prop}: var({variable}, {fallback})'


_CHIP = 'display: inline-block; padding: 3px 12px; margin: 2px 4px 2px 0; border-radius: 2px; '
_BUTTON = (_CHIP + _themed('background', '--jp-layout-color3', '#e0e0e0') + '; '
           + _themed('color', '--jp-ui-font-color1', '#1f2328'))
_PRIMARY = (_CHIP + _themed('background', '--jp-brand-color1', '#1976d2') + '; '
            + _themed('color', '--jp-ui-inverse-font-color1', '#ffffff'))
_FIELD = ('display: inline-block; min-width: 16em; padding: 2px 6px; margin: 2px 4px 2px 0; white-space: pre; '
          + 'border: 1px solid #bdbdbd; border: 1px solid var(--jp-border-color1, #bdbdbd); '
          + _themed('background', '--jp-layout-color1', '#ffffff') + '; '
          + _themed('color', '--jp-ui-font-color1', '#1f2328'))


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def snapshot_frame(inner: str, what: str) -> str:
    """The snapshot's outer box, with a caption saying it is a picture of ``what``."""
    return (f'<div class="helpers-snapshot" title="a picture of the {_esc(what)}: run the notebook to use it" '
            'style="font-size: 13px; line-height: 1.5">'
            f'{inner}</div>')


def snapshot_button(text: str, primary: bool = False) -> str:
    """Something that looks like a widget button (a span: nothing to click in a picture)."""
    return f'<span style="{_PRIMARY if primary else _BUTTON}">{_esc(text)}</span>'


def snapshot_field(label: str, value: str, placeholder: str = '') -> str:
    """A label and a text box showing ``value`` (or the placeholder, dimmed)."""
    shown = _esc(value) if value else f'<span style="opacity: 0.75">{_esc(placeholder)}</span>'
    return f'<span style="margin-right: 6px">{_esc(label)}</span><span style="{_FIELD}">{shown}</span>'


def pre(text: str, margin: str = '0') -> str:
    """Monospaced text, as the views' logs and explanations show it (live, or in a snapshot)."""
    return f'<pre style="margin: {margin}; font-size: 12px">{_esc(text)}</pre>'
