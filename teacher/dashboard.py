"""The teacher's dashboard in a notebook: one large row per learner, for a projector (teacher's guide).

``ClassDashboard`` is a thin view of ``teacher.classroom.status``: a table of
connections, consumers and messages ready/unacked per learner, learners with a
stuck queue or a worker still running marked in colour *and* in words.  It
redraws when Refresh is clicked (the main thread: Colab repaints that) and,
after ``watch(seconds)``, from a background thread until ``close()``.
"""
from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable

import ipywidgets as widgets

from helpers.views.snapshot import WidgetView, snapshot_button, snapshot_frame

from . import classroom
from .rabbitadmin import DEFAULT_API, admin_client

__all__ = ['ClassDashboard', 'dashboard_html']

STYLE = ('font-size: 20px; border-collapse: collapse; font-family: sans-serif;')
CELL = 'padding: 4px 14px; border-bottom: 1px solid #888; text-align: {align};'
FLAGGED = 'background: #ffd7d0; color: #5a0000;'
OK = 'background: #ddf5dd; color: #0b3d0b;'


def dashboard_html(statuses: list[classroom.LearnerStatus], when: str = '') -> str:
    """The table as HTML: one row per learner, its queues with messages listed under the flags."""
    head = ''.join(f'<th style="{CELL.format(align=align)}">{name}</th>' for name, align in
                   (('learner', 'left'), ('connections', 'right'), ('consumers', 'right'),
                    ('ready', 'right'), ('unacked', 'right'), ('look at', 'left')))
    rows = []
    for s in statuses:
        ready, unacked = sum(q.ready for q in s.queues), sum(q.unacked for q in s.queues)
        busy = [f'{q.name}: {q.ready} ready, {q.unacked} unacked' for q in s.queues if q.ready or q.unacked]
        notes = '<br>'.join(html.escape(text) for text in ['⚠ ' + f for f in s.flags] + busy) or 'ok'
        cells = [(s.learner.name, 'left'), (s.connections, 'right'), (s.consumers, 'right'), (ready, 'right'),
                 (unacked, 'right')]
        tds = ''.join(f'<td style="{CELL.format(align=align)}">{html.escape(str(value))}</td>'
                      for value, align in cells)
        rows.append(f'<tr style="{FLAGGED if s.flags else OK}" data-learner="{html.escape(s.learner.name)}">'
                    f'{tds}<td style="{CELL.format(align="left")}">{notes}</td></tr>')
    caption = f'<caption style="text-align: left">{len(statuses)} learners {html.escape(when)}</caption>'
    return f'<table style="{STYLE}">{caption}<tr>{head}</tr>{"".join(rows)}</table>'


class ClassDashboard(WidgetView):
    """The class at a glance: ``display`` it, click Refresh, or ``watch(5)`` to redraw every 5 s."""

    def __init__(self, learners: list[classroom.Learner], admin=None,
                 clock: Callable[[], str] = lambda: time.strftime('at %H:%M:%S')) -> None:
        self.learners = learners
        self.admin = admin if admin is not None else admin_client()
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._statuses: list[classroom.LearnerStatus] = []
        self.table = widgets.HTML()
        self.message = widgets.Label()
        self.refresh_button = widgets.Button(description='Refresh')
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.widget = self._root([widgets.HBox([self.refresh_button, self.message]), self.table])
        self.refresh()

    @classmethod
    def from_roster(cls, path: str = classroom.DEFAULT_ROSTER, api: str = DEFAULT_API, user: str = 'guest',
                    password: str = 'guest') -> ClassDashboard:
        """A dashboard of the learners in the roster file ``python -m teacher.classroom create`` wrote."""
        return cls(classroom.load_roster(path), admin_client(api, user, password))

    def refresh(self) -> list[classroom.LearnerStatus]:
        """Ask the broker once and redraw; a broker that does not answer is said in the message line."""
        with self._lock:
            try:
                statuses = classroom.status(self.admin, self.learners)
            except Exception as exc:  # the view says it; the next refresh tries again
                self.message.value = f'the broker did not answer: {exc}'
                return []
            self._statuses = statuses
            self.table.value = dashboard_html(statuses, self._clock())
            flagged = sum(bool(s.flags) for s in statuses)
            self.message.value = f'{flagged} of {len(statuses)} learners to look at' if flagged else 'all clear'
            return statuses

    def watch(self, seconds: float = 5.0) -> ClassDashboard:
        """Redraw every ``seconds`` from a background thread until ``close()``."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, args=(seconds,), name='helpers-dashboard',
                                            daemon=True)
            self._thread.start()
        return self

    def _watch(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            self.refresh()

    def close(self) -> None:
        """Stop watching and close the widgets."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.widget.close()

    def snapshot_html(self) -> str:
        """The dashboard as last drawn, without the time of the redraw."""
        with self._lock:
            header = f'{snapshot_button("Refresh")} <span>{html.escape(self.message.value)}</span>'
            return snapshot_frame(f'<div>{header}</div>{dashboard_html(self._statuses)}', 'class dashboard')

    def __repr__(self) -> str:
        return f'<ClassDashboard of {len(self.learners)} learners>'
