"""The base of the course's widget views: shown with a static snapshot, kept fresh by front-end ticks (03_producer).

A view holds its ipywidgets root in ``self.widget``.  Displaying it sends the live widget *and*
a static HTML snapshot (``snapshot_html()``), so a notebook opened without a kernel (JupyterLab,
Notebook 7, GitHub, nbviewer) shows a picture instead of ``VBox(children=…``.

Colab ignores widget state sent from a background thread until the main thread sends something.
So a live view also holds a hidden ``Ticker`` (a ``Play`` widget) that ticks in the browser: each
tick arrives as a comm message, handled where the kernel handles messages (its main thread, or in
JupyterLab with ipykernel 7 a subshell's thread), where the view's ``flush()`` re-sends whatever
worker threads changed since the last tick.  Setting
``HELPERS_DROP_THREAD_SENDS=1`` makes the views drop every send from other threads (what Colab
does), so tests can prove the ticks alone suffice.
Only ipywidgets API common to 7.7 (Colab) and 8 is used.
"""
from __future__ import annotations

import asyncio
import html
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable

import ipywidgets as widgets

__all__ = ['WidgetView', 'LIVE_CLASS', 'TICK_MS', 'Ticker', 'revive_tickers', 'handles_kernel_messages',
           'drop_thread_sends', 'SnapshotVBox', 'snapshot_frame', 'snapshot_button', 'snapshot_field', 'snapshot_pre']

#: The CSS class of a widget whose last value depends on the order worker threads ran in (a live log);
#: ``tools/execute.py`` keeps such a widget's stored state when nothing else changed.
LIVE_CLASS = 'helpers-live'

#: How often (ms) a live view's hidden ticker asks the kernel to flush worker-thread updates.
TICK_MS = 200


def _set(widget: widgets.Widget, name: str, value) -> None:
    """Set Play's ``name`` ('playing', 'repeat'): public in ipywidgets 8, '_'-prefixed in 7.7."""
    setattr(widget, name if widget.has_trait(name) else f'_{name}', value)


class Ticker:
    """A hidden ``Play`` widget (``.widget``) that the browser steps every ``interval_ms``.

    Each step reaches the kernel as a comm message, handled on a thread that handles kernel
    messages (see ``handles_kernel_messages``), which calls ``on_tick``.  The browser only starts
    playing when it *sees* ``playing`` change on a rendered view, and a page reload forgets it; so
    while running, the ticker is kicked (playing off, then on) whenever the main thread runs a cell
    or a view's button and no tick came lately.
    """

    def __init__(self, on_tick: Callable[[], None], interval_ms: int = TICK_MS) -> None:
        self.widget = widgets.Play(value=0, min=0, max=1000, step=1, interval=interval_ms,
                                   layout=widgets.Layout(display='none'))
        _set(self.widget, 'repeat', True)
        self.interval = interval_ms / 1000
        self.ticks = 0
        self.running = False
        self._last_tick = float('-inf')
        self._on_tick = on_tick
        self.widget.observe(self._tick, names='value')

    def _tick(self, _change) -> None:
        self.ticks += 1
        self._last_tick = time.monotonic()
        self._on_tick()

    def start(self) -> None:
        """Start ticking (and keep the browser ticking until ``stop``)."""
        self.running = True
        _LIVE.add(self)
        _watch_cells()
        self._kick()
        self._retry_soon()

    def revive(self) -> None:
        """Kick the browser's timer if it has not ticked for a while (main thread)."""
        if self.running and time.monotonic() - self._last_tick > 3 * self.interval + 0.5:
            self._kick()
            self._retry_soon()

    def _retry_soon(self) -> None:
        """Kick again shortly from the kernel's event loop (still the main thread) until a tick comes:
        a view displayed by the last cell run is usually drawn only after that cell's kick."""
        if self.ticks:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside a kernel's event loop (a script, a test)
            return
        for delay in (0.3, 1.0, 3.0):
            loop.call_later(delay, self._kick_if_silent)

    def _kick_if_silent(self) -> None:
        if self.running and not self.ticks:
            self._kick()

    def _kick(self) -> None:
        if self.widget.comm is not None:
            _set(self.widget, 'playing', False)
            _set(self.widget, 'playing', True)

    def stop(self) -> None:
        """Stop ticking: the browser stops its timer."""
        self.running = False
        _LIVE.discard(self)
        if self.widget.comm is not None:
            _set(self.widget, 'playing', False)


_LIVE: weakref.WeakSet[Ticker] = weakref.WeakSet()
_watching: list[bool] = []


def revive_tickers(*_args) -> None:
    """Kick every running ticker that has gone quiet (IPython calls it after each cell)."""
    for ticker in list(_LIVE):
        ticker.revive()


def _watch_cells() -> None:
    """Once per kernel: revive the tickers after every cell the main thread runs."""
    if _watching:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.events.register('post_run_cell', revive_tickers)
        _watching.append(True)


def handles_kernel_messages() -> bool:
    """True on a thread that runs cells and widget callbacks: the main thread, or an ipykernel 7
    subshell (JupyterLab may send widget messages to one); False on a worker's or a timer's thread."""
    thread = threading.current_thread()
    return thread is threading.main_thread() or type(thread).__name__ == 'SubshellThread'


def drop_thread_sends(parts: Iterable[widgets.Widget]) -> None:
    """If ``HELPERS_DROP_THREAD_SENDS`` is set, make ``parts`` drop state sent from other threads (as Colab)."""
    if os.environ.get('HELPERS_DROP_THREAD_SENDS', '') in ('', '0'):
        return
    for widget in parts:
        send = widget._send

        def _send(msg, buffers=None, _send=send):
            if handles_kernel_messages():
                _send(msg, buffers=buffers)
        widget._send = _send


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


def snapshot_pre(text: str) -> str:
    """Monospaced text, as the views' logs and explanations show it."""
    return f'<pre style="margin: 2px 0; font-size: 12px">{_esc(text)}</pre>'
