"""A live SVG routing diagram: exchange, bindings, queues and counters from the event log (01_topology).

``render_svg`` is a pure function of a topology and an event log (the same
log always gives the same SVG, with no message ids or times in it, so
notebook outputs stay stable).  ``LiveDiagram`` keeps an ``ipywidgets.HTML``
showing it up to date while a worker runs; ``svg.Picture(render_svg(...))`` shows a static one.
Shown inline, the SVG takes the notebook theme's colours; as a picture (an
``<img>``, which is what a notebook opened without a kernel shows) it is light.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from ..events import ACKED, DEAD_LETTERED, DELIVERED, PUBLISHED, QUARANTINED, UNROUTABLE, Event, EventLog
from ..topology import Topology, matches
from . import svg
from .repaint import Ticker, handles_kernel_messages
from .snapshot import LIVE_CLASS, WidgetView, snapshot_frame
from .svg import FONT, MONO, svg_img
from .svg import attr as _attr
from .svg import n as _n
from .svg import text as _text

__all__ = ['BOX_COLUMNS', 'LastRoute', 'last_route', 'render_svg', 'LiveDiagram']

#: The per-queue counters shown in each queue box: (event kind, column label).
BOX_COLUMNS = ((DELIVERED, 'delivered'), (ACKED, 'acked'), (DEAD_LETTERED, 'dead-lettered'),
           (QUARANTINED, 'quarantined'))

DEFAULT_WIDTH = 940

# Colours follow the notebook's theme: each is (a light-theme hex, a CSS value built from
# JupyterLab's theme variables).  The hex is the SVG attribute, read where CSS is not (an <img>, a
# file); the CSS value is the element's style, read by JupyterLab and Notebook 7 (light and dark).
# Accents are mixed with the theme's text colour, so they darken on light pages and lighten on dark
# ones; text keeps a contrast of at least 4.5:1 on both.
_TEXT = f'var(--jp-ui-font-color1, {svg.INK})'
_PAGE = f'var(--jp-layout-color1, {svg.PAGE})'


def _accent(hex_: str, share: int = 60) -> tuple[str, str]:
    return hex_, f'color-mix(in srgb, {hex_} {share}%, {_TEXT})'


def _tint(hex_: str, light: str, share: int = 14) -> tuple[str, str]:
    return light, f'color-mix(in srgb, {hex_} {share}%, {_PAGE})'


INK = (svg.INK, _TEXT)
MUTED = ('#57606a', f'color-mix(in srgb, {_TEXT} 75%, {_PAGE})')  # secondary text, still >= 4.5:1
PAGE = (svg.PAGE, _PAGE)
EDGE = ('#c3cad3', 'var(--jp-border-color1, #c3cad3)')
LIT, BAD, WARN = _accent(svg.ACCENT), _accent('#b42318', 45), _accent('#8a5a12', 45)
EXCHANGE_FILL, EXCHANGE_STROKE = _tint('#3b6fd1', '#e7f0ff'), ('#3b6fd1', 'var(--jp-brand-color1, #3b6fd1)')
QUEUE_FILL = ('#f6f8fa', f'color-mix(in srgb, var(--jp-layout-color2, #f6f8fa) 50%, {_PAGE})')
QUEUE_STROKE = ('#8c959f', 'var(--jp-border-color1, #8c959f)')
LIT_FILL, DLQ_FILL, DLQ_STROKE = _tint('#e8590c', '#fff1e6', 10), _tint('#c92a2a', '#fdf3f3', 8), _accent('#d08c8c', 60)


def _paint(attribute: str, colour: tuple[str, str]) -> str:
    """``fill="#hex"`` for plain SVG readers plus the themed CSS value as a style (which wins)."""
    return f'{attribute}="{colour[0]}" style="{attribute}:{colour[1]}"'


MARGIN, HEADER, ROW_GAP, DLQ_GAP = 16, 30, 14, 34
EXCHANGE_H, COL_W, NAME_PAD, BINDING_GAP = 64, 86, 14, 20
BODY_MIN = 168  # room for the last-message label above the exchange and the status below it


@dataclass(frozen=True)
class LastRoute:
    """Where the most recent message went: its routing key, the lit queues and a status word."""

    routing_key: str | None  # None: nothing published yet
    queues: tuple[str, ...]
    status: str  # 'none', 'routed' (not yet delivered), 'delivered' or 'unroutable'


def last_route(topology: Topology, events: list[Event]) -> LastRoute:
    """The route of the most recently published message (or delivered, if none was published)."""
    latest = next((e for e in reversed(events) if e.kind == PUBLISHED), None)
    latest = latest or next((e for e in reversed(events) if e.kind == DELIVERED), None)
    if latest is None:
        return LastRoute(None, (), 'none')
    mine = [e for e in events if e.message_id == latest.message_id]
    known = set(topology.queue_names)
    delivered = sorted({e.queue for e in mine if e.kind == DELIVERED and e.queue in known})
    if delivered:
        return LastRoute(latest.routing_key, tuple(delivered), 'delivered')
    routed = [] if any(e.kind == UNROUTABLE for e in mine) else topology.route(latest.routing_key)
    return LastRoute(latest.routing_key, tuple(routed), 'routed' if routed else 'unroutable')


def _lit_bindings(topology: Topology, route: LastRoute) -> set[tuple[str, str]]:
    """The (queue, binding key) edges to highlight for ``route``."""
    lit: set[tuple[str, str]] = set()
    key = route.routing_key or ''
    for queue in route.queues:
        keys = topology.binding_keys(queue)
        # A delivery the AMQP matcher cannot explain (a message published with
        # other bindings in place) lights every binding of its queue, never none.
        chosen = [k for k in keys if matches(k, key)] or keys
        lit.update((queue, k) for k in chosen)
    return lit


# -- SVG text helpers ------------------------------------------------------------

def _attrs(**values) -> str:
    """Keyword arguments as SVG attributes, in order ('data_x' becomes 'data-x', 'class_' 'class')."""
    return ' '.join(f'{key.rstrip("_").replace("_", "-")}="{_attr(value)}"' for key, value in values.items())


def _width_of(text: str, size: float, mono: bool = False) -> float:
    """A generous estimate of how wide ``text`` is drawn at font ``size``."""
    return len(text) * size * (0.62 if mono else 0.6)


def _label(x: float, y: float, text: str, *, size: float = 12, fill: tuple[str, str] = INK, anchor: str = 'start',
           weight: str = 'normal', mono: bool = False) -> str:
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" {_paint("fill", fill)} '
            f'text-anchor="{anchor}" font-weight="{weight}" font-family="{MONO if mono else FONT}">'
            f'{_text(text)}</text>')


def _rect(x: float, y: float, w: float, h: float, *, fill: tuple[str, str], stroke: tuple[str, str],
          width: float = 1.5,
          radius: float = 8, dash: str = '') -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ''
    return (f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="{_n(radius)}" '
            f'fill="{fill[0]}" stroke="{stroke[0]}" style="fill:{fill[1]};stroke:{stroke[1]}" '
            f'stroke-width="{_n(width)}"{dashed}/>')


def _arrowhead(x: float, y: float, colour: tuple[str, str], size: float, down: bool = False) -> str:
    if down:
        points = [(x, y), (x - size * 0.6, y - size), (x + size * 0.6, y - size)]
    else:
        points = [(x, y), (x - size, y - size * 0.6), (x - size, y + size * 0.6)]
    return f'<polygon points="{" ".join(f"{_n(a)},{_n(b)}" for a, b in points)}" {_paint("fill", colour)}/>'


# -- the drawing -----------------------------------------------------------------

@dataclass(frozen=True)
class _Layout:
    width: float
    height: float
    top: float  # top of the body (below title and column headers)
    body: float  # height of the body (queues; the exchange is centred in it)
    ex_x: float
    ex_w: float
    q_x: float
    q_w: float
    name_w: float
    straight: float  # length of the straight end of each edge, where its label sits
    rows: tuple[tuple[str, float, float], ...]  # (queue, top, height)
    dlq_y: float


def _layout(topology: Topology, width: float, title: str | None) -> _Layout:
    names = topology.queue_names
    # The dead-letter queue's name may run into its (empty) delivered/acked columns.
    name_w = max([130.0, *(_width_of(name, 13) + 2 * NAME_PAD for name in names)])
    q_w = name_w + COL_W * len(BOX_COLUMNS) + 10
    ex_w = max(170.0, _width_of(topology.exchange_name, 14) + 28)
    keys = [key for _queue, key in topology.bindings] or ['']
    straight = max(_width_of(key or '""', 11.5, mono=True) for key in keys) + 34
    width = max(float(width), MARGIN * 2 + ex_w + straight + 90 + q_w)
    top = MARGIN + (30 if title else 0) + HEADER
    rows, y = [], 0.0
    for name in names:
        height = max(44.0, BINDING_GAP * len(topology.binding_keys(name)) + 16)
        rows.append((name, y, height))
        y += height + ROW_GAP
    span = max(y - ROW_GAP, 0.0)
    body = max(span, BODY_MIN)
    shift = top + (body - span) / 2
    rows = [(name, shift + y0, h) for name, y0, h in rows]
    dlq_y = shift + span + DLQ_GAP
    height = max(top + body, dlq_y + 44) + MARGIN
    return _Layout(width, height, top, body, MARGIN, ex_w, width - MARGIN - q_w, q_w,
                   name_w, straight, tuple(rows), dlq_y)


def _exchange(topology: Topology, lay: _Layout, route: LastRoute, published: int) -> list[str]:
    x, w = lay.ex_x, lay.ex_w
    y = lay.top + (lay.body - EXCHANGE_H) / 2
    cx = x + w / 2
    status_fill = {'unroutable': BAD, 'none': MUTED}.get(route.status, LIT)
    data = _attrs(data_exchange=topology.exchange_name, data_published=published,
                  data_last_routing_key=route.routing_key or '', data_last_status=route.status)
    parts = [f'<g class="exchange" {data}>',
             _rect(x, y, w, EXCHANGE_H, fill=EXCHANGE_FILL, stroke=EXCHANGE_STROKE, width=2),
             _label(cx, y + 28, topology.exchange_name, size=14, anchor='middle', weight='bold'),
             _label(cx, y + 47, 'topic exchange', size=11, fill=MUTED, anchor='middle')]
    if route.routing_key is None:
        parts.append(_label(cx, y - 16, 'no message yet', size=12, fill=MUTED, anchor='middle'))
    else:
        parts += [_label(cx, y - 44, 'last message', size=11, fill=MUTED, anchor='middle'),
                  '<g class="last-key">', _label(cx, y - 26, route.routing_key or '""', size=13.5,
                                                 fill=status_fill, anchor='middle', weight='bold',
                                                 mono=True), '</g>',
                  f'<line x1="{_n(cx)}" y1="{_n(y - 20)}" x2="{_n(cx)}" y2="{_n(y - 8)}" '
                  f'{_paint("stroke", status_fill)} stroke-width="2.5"/>',
                  _arrowhead(cx, y - 1, status_fill, 8, down=True)]
        count = len(route.queues)
        plural = 'queue' if count == 1 else 'queues'
        lines = {'delivered': (f'delivered to {count} {plural}', ''),
                 'routed': (f'routed to {count} {plural}', 'not delivered yet'),
                 'unroutable': ('\u2717 no queue bound', 'the message is dropped')}[route.status]
        parts.append(f'<g class="status" {_attrs(data_status=route.status)}>')
        parts.append(_label(cx, y + EXCHANGE_H + 22, lines[0], size=12.5, fill=status_fill,
                            anchor='middle', weight='bold'))
        if lines[1]:
            parts.append(_label(cx, y + EXCHANGE_H + 39, lines[1], size=11, fill=MUTED, anchor='middle'))
        parts.append('</g>')
    parts.append('</g>')
    return parts


def _edges(topology: Topology, lay: _Layout, lit: set[tuple[str, str]]) -> list[str]:
    ends = []
    for name, row_y, row_h in lay.rows:
        keys = topology.binding_keys(name)
        first = row_y + row_h / 2 - BINDING_GAP * (len(keys) - 1) / 2
        ends += [(name, key, first + BINDING_GAP * i) for i, key in enumerate(keys)]
    ex_top = lay.top + (lay.body - EXCHANGE_H) / 2
    x0, x1 = lay.ex_x + lay.ex_w, lay.q_x - 2
    bend_end = x1 - lay.straight
    dark, bright = [], []  # lit edges are drawn last, on top
    for i, (name, key, y1) in enumerate(ends):
        y0 = ex_top + 12 + (EXCHANGE_H - 24) * (i + 1) / (len(ends) + 1)
        on = (name, key) in lit
        colour, stroke = (LIT, 3.5) if on else (EDGE, 1.6)
        mid = (bend_end - x0) / 2
        label = key or '""'
        label_w = _width_of(label, 11.5, mono=True) + 10
        lx = x1 - 14 - label_w
        (bright if on else dark).append(
            f'<g class="edge" {_attrs(data_queue=name, data_binding_key=key, data_lit=str(on).lower())}>'
            f'<path d="M{_n(x0)},{_n(y0)} C{_n(x0 + mid)},{_n(y0)} {_n(bend_end - mid)},{_n(y1)} '
            f'{_n(bend_end)},{_n(y1)} L{_n(x1 - 8)},{_n(y1)}" fill="none" {_paint("stroke", colour)} '
            f'stroke-width="{_n(stroke)}" stroke-linecap="round"/>'
            + _arrowhead(x1, y1, colour, 9 if on else 7)
            + _rect(lx, y1 - 8.5, label_w, 17, fill=PAGE, stroke=colour, width=1.2 if on else 1,
                    radius=4)
            + _label(lx + label_w / 2, y1 + 4, label, size=11.5, fill=LIT if on else MUTED,
                     anchor='middle', weight='bold' if on else 'normal', mono=True)
            + '</g>')
    return dark + bright


def _counter_cells(lay: _Layout, y: float, values: list[int], first: int = 0) -> list[str]:
    cells = []
    for (kind, _label_text), (col, value) in list(zip(BOX_COLUMNS, enumerate(values)))[first:]:
        fill = MUTED if not value else {DEAD_LETTERED: BAD, QUARANTINED: WARN}.get(kind, INK)
        right = lay.q_x + lay.name_w + COL_W * (col + 1) - 8
        cells.append(_label(right, y, str(value), size=15, fill=fill, anchor='end', weight='bold'))
    return cells


def _queues(lay: _Layout, tally: Counter, route: LastRoute) -> list[str]:
    parts = [_label(lay.q_x + NAME_PAD, lay.top - 10, 'queue', size=11, fill=MUTED)]
    for col, (_kind, text) in enumerate(BOX_COLUMNS):
        right = lay.q_x + lay.name_w + COL_W * (col + 1) - 8
        parts.append(_label(right, lay.top - 10, text, size=11, fill=MUTED, anchor='end'))
    for name, y, h in lay.rows:
        on = name in route.queues
        values = [tally[name, kind] for kind, _text in BOX_COLUMNS]
        data = {f'data_{text.replace("-", "_")}': v for (_kind, text), v in zip(BOX_COLUMNS, values)}
        parts.append(f'<g class="queue" {_attrs(data_queue=name, data_lit=str(on).lower(), **data)}>')
        parts.append(_rect(lay.q_x, y, lay.q_w, h, fill=LIT_FILL if on else QUEUE_FILL,
                           stroke=LIT if on else QUEUE_STROKE, width=2.5 if on else 1.5))
        parts.append(_label(lay.q_x + NAME_PAD, y + h / 2 + 4.5, name, size=13, weight='bold'))
        parts += _counter_cells(lay, y + h / 2 + 5.5, values)
        parts.append('</g>')
    return parts


def _dead_letters(topology: Topology, lay: _Layout, tally: Counter, kinds: Counter) -> list[str]:
    name, y = topology.dead_letter_queue_name, lay.dlq_y
    values = [tally[name, DELIVERED], tally[name, ACKED], kinds[DEAD_LETTERED], kinds[QUARANTINED]]
    data = {f'data_{text.replace("-", "_")}': v for (_kind, text), v in zip(BOX_COLUMNS, values)}
    x = lay.q_x + NAME_PAD + 6
    last_bottom = lay.rows[-1][1] + lay.rows[-1][2] if lay.rows else lay.top
    return [f'<g class="dead-letter-queue" {_attrs(data_queue=name, **data)}>',
            f'<line x1="{_n(x)}" y1="{_n(last_bottom + 3)}" x2="{_n(x)}" y2="{_n(y - 8)}" '
            f'{_paint("stroke", DLQ_STROKE)} stroke-width="1.6" stroke-dasharray="4 3"/>',
            _arrowhead(x, y - 1, DLQ_STROKE, 7, down=True),
            _label(x + 10, (last_bottom + y) / 2 + 4, 'rejected and undecodable messages, with the reason',
                   size=11, fill=MUTED),
            _rect(lay.q_x, y, lay.q_w, 44, fill=DLQ_FILL, stroke=DLQ_STROKE, dash='6 4'),
            _label(lay.q_x + NAME_PAD, y + 19, name, size=13, weight='bold'),
            _label(lay.q_x + NAME_PAD, y + 35, 'dead letters of every queue', size=10.5, fill=MUTED),
            *_counter_cells(lay, y + 27.5, values, first=2),
            '</g>']


def render_svg(topology: Topology, log: EventLog, *, width: float = DEFAULT_WIDTH,
               title: str | None = None) -> str:
    """Draw ``topology`` with the counters of ``log`` and the last message's route lit, as SVG text.

    ``width`` grows if the names need more room.  Pure and deterministic: the
    same topology and events always give the same text.
    """
    events = log.events()
    tally = Counter((e.queue, e.kind) for e in events)
    kinds = Counter(e.kind for e in events)
    route = last_route(topology, events)
    lay = _layout(topology, width, title)
    root = _attrs(xmlns='http://www.w3.org/2000/svg', width=_n(lay.width), height=_n(lay.height),
                  viewBox=f'0 0 {_n(lay.width)} {_n(lay.height)}', role='img',
                  style='max-width:100%;height:auto', class_='routing-diagram',
                  data_exchange=topology.exchange_name, data_published=kinds[PUBLISHED],
                  data_unroutable=kinds[UNROUTABLE])
    parts = [f'<svg {root}>',
             f'<title>{_text(title or f"Routing through {topology.exchange_name}")}</title>',
             '<rect width="100%" height="100%" rx="6" ' + _paint('fill', PAGE) + '/>']
    if title:
        parts.append(_label(MARGIN, MARGIN + 16, title, size=16, weight='bold'))
    parts += _edges(topology, lay, _lit_bindings(topology, route))
    parts += _exchange(topology, lay, route, kinds[PUBLISHED])
    parts += _queues(lay, tally, route)
    parts += _dead_letters(topology, lay, tally, kinds)
    parts.append('</svg>')
    return '\n'.join(parts)


# -- showing it in a notebook ----------------------------------------------------

class LiveDiagram(WidgetView):
    """An ``ipywidgets.HTML`` (``.html``, inside ``.widget``) that redraws the diagram as the log grows.

    ``follow(log)`` redraws from the thread that records events, at most once
    every ``min_interval`` seconds, and always draws the final state (a timer
    thread catches the last events of a burst).  While following, a hidden
    ticker has the main thread re-send those redraws (Colab ignores sends from
    other threads).  ``refresh()`` redraws from the main thread; ``close()``
    stops following.
    """

    def __init__(self, topology: Topology, log: EventLog | None = None, *,
                 width: float = DEFAULT_WIDTH, title: str | None = None) -> None:
        import ipywidgets  # only the view needs widgets

        self.topology, self.width, self.title = topology, width, title
        self.log = log if log is not None else EventLog()  # an empty log is falsy
        self.renders = 0
        self.error: Exception | None = None
        self._lock = threading.Lock()  # guards the follow state below
        self._draw_lock = threading.Lock()  # one render at a time, assigned in order
        self._timer: threading.Timer | None = None  # a redraw that is due
        self._drawing: threading.Thread | None = None  # the timer thread while it redraws
        self._unsubscribe = None
        self._min_interval = 0.1
        self._last_draw = float('-inf')
        self._unflushed = False
        self.flushes = 0  # how often the ticker re-sent a worker-thread redraw
        self.html = ipywidgets.HTML(value=self._render())
        self.html.add_class(LIVE_CLASS)  # the last route lit is whichever thread came last: see tools/execute.py
        self.ticker = Ticker(self.flush)
        self.widget = self._root([self.html, self.ticker.widget])

    def _render(self) -> str:
        return render_svg(self.topology, self.log, width=self.width, title=self.title)

    def refresh(self) -> LiveDiagram:
        """Redraw now from the whole log (call it from the main thread)."""
        with self._draw_lock:
            self.html.value = self._render()
            self.renders += 1
            if not handles_kernel_messages():
                self._unflushed = True
        return self

    def flush(self) -> None:
        """Re-send a redraw that a worker thread made (main thread: the ticker calls it)."""
        with self._draw_lock:
            if not self._unflushed:
                return
            self._unflushed = False
            self.html.send_state('value')
            self.flushes += 1

    def snapshot_html(self) -> str:
        """The diagram as it is drawn now, as an ``<img>`` (see ``svg_img``)."""
        return snapshot_frame(svg_img(self.html.value), 'routing diagram')

    @property
    def following(self) -> bool:
        """True while subscribed to an event log."""
        return self._unsubscribe is not None

    def follow(self, log: EventLog | None = None, min_interval: float = 0.1) -> LiveDiagram:
        """Redraw whenever ``log`` records an event, at most every ``min_interval`` seconds."""
        if min_interval < 0:
            raise ValueError(f'min_interval is {min_interval}: use 0 or more seconds')
        self.close()
        self.log = log if log is not None else self.log
        with self._lock:
            self._min_interval = min_interval
            self._unsubscribe = self.log.subscribe(self._on_event)
        self.ticker.start()
        return self.refresh()

    def _on_event(self, _event: Event) -> None:
        now = time.monotonic()
        with self._lock:
            if self._unsubscribe is None or self._timer is not None:
                return  # not following, or a redraw is already due and will see this event
            wait = self._last_draw + self._min_interval - now
            if wait > 0:
                self._timer = threading.Timer(wait, self._on_timer)
                self._timer.name = 'helpers-diagram-redraw'
                self._timer.daemon = True
                self._timer.start()
                return
            self._last_draw = now
        self._draw_quietly()

    def _on_timer(self) -> None:
        with self._lock:
            if self._timer is not threading.current_thread():
                return  # cancelled by close()
            self._timer = None  # from here on, new events schedule a new redraw
            self._drawing = threading.current_thread()
            self._last_draw = time.monotonic()
        self._draw_quietly()

    def _draw_quietly(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # a background thread must not print a traceback into a cell
            self.error = exc

    def wait_drawn(self, timeout: float = 5.0) -> LiveDiagram:
        """Block until no redraw is pending or running, so the widget shows every recorded event."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                threads = [t for t in (self._timer, self._drawing)
                           if t is not None and t.is_alive() and t is not threading.current_thread()]
            if not threads:
                return self
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f'the diagram did not redraw within {timeout:g} s')
            threads[0].join(remaining)

    def close(self) -> None:
        """Stop following the log, stop any pending redraw, and draw the final state."""
        with self._lock:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            timer, self._timer = self._timer, None
        if unsubscribe is None and timer is None and self._drawing is None:
            return
        if unsubscribe is not None:
            unsubscribe()
            self.ticker.stop()
        if timer is not None:
            timer.cancel()
        for thread in (timer, self._drawing):
            if thread is not None and thread is not threading.current_thread():
                thread.join()
        self._drawing = None
        self.refresh()

    def __repr__(self) -> str:
        state = 'following' if self.following else 'idle'
        return f'<LiveDiagram of {self.topology.exchange_name} ({state})>'
