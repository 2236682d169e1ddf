"""Widgets changed by worker threads, repainted where the front end ignores such sends (01_topology).

Colab ignores widget state sent from a background thread until the main thread sends something.
So a live view holds a hidden ``Ticker`` (a ``Play`` widget) that ticks in the browser: each tick
arrives as a comm message, handled where the kernel handles messages (its main thread, or in
JupyterLab with ipykernel 7 a subshell's thread), where the view's ``flush()`` re-sends whatever
worker threads changed since the last tick.  Only ipywidgets API common to 7.7 (Colab) and 8 is used.
"""
from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable

import ipywidgets as widgets

__all__ = ['TICK_MS', 'Ticker', 'revive_tickers', 'handles_kernel_messages']

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
