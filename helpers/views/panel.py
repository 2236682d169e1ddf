"""A control panel: buttons and a routing-key box that publish, counters and a live log per queue (03_producer).

``ControlPanel`` is a thin view.  It publishes with a Publisher it owns (made
on the main thread, where button callbacks run), and shows what the EventLog
says: one counter per queue and the last few events.  Worker threads update
it through the log's ``subscribe`` hook, writing widget values under a lock;
``refresh()`` redraws everything from the log on the main thread.  Colab does
not repaint changes sent by other threads, so a hidden ticker (see
``repaint``) has the main thread re-send them a few times a second.
Enter in the routing-key box publishes, like the Publish button.
Only ipywidgets API common to 7.7 (Colab) and 8 is used.
"""
from __future__ import annotations

import html
import itertools
import json
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any, Optional, Union

import ipywidgets as widgets

from ..course_names import SEED_BUTTONS
from ..events import ACKED, DEAD_LETTERED, DELIVERED, PUBLISHED, QUARANTINED, Event, EventLog
from ..producer import Published, Publisher
from ..topology import SEED, TopicKeyError, Topology, validate_routing_key
from .repaint import Ticker, handles_kernel_messages, revive_tickers
from .snapshot import LIVE_CLASS, WidgetView, pre, snapshot_button, snapshot_field, snapshot_frame

__all__ = ['DEFAULT_PAYLOAD', 'PayloadError', 'ControlPanel', 'parse_payload', 'json_kind', 'counter_text',
           'log_line', 'shorten']

#: What the payload box holds at first: the seed tutorial's video upload.
DEFAULT_PAYLOAD = '{"file": "movie.mp4"}'
MAX_PAYLOAD_CHARS = 2000
#: The longest detail (e.g. a handler's error quoting a payload) a line of the panel's log shows.
MAX_DETAIL_CHARS = 80
NOTHING_YET = '(no events yet)'
READY = 'Click a button, or type a routing key and press Enter or Publish.'
#: Widget descriptions are shown in full (the default width cuts "Routing key:" to "Routing k…").
_FULL_LABEL = {'description_width': 'initial'}


def _wrapping() -> widgets.Layout:
    """A row layout that wraps onto the next line instead of cutting off (7 queues do not fit)."""
    return widgets.Layout(flex_flow='row wrap')

PublisherSource = Union[str, Callable[[], Publisher], None]
_panel_numbers = itertools.count(1)


class PayloadError(ValueError):
    """The payload box does not hold a JSON object."""


def json_kind(value: Any) -> str:
    """What JSON calls ``value``'s type, in plain words: object, array, text, number, true/false, null."""
    if isinstance(value, dict):
        return 'an object'
    if isinstance(value, list):
        return 'an array'
    if isinstance(value, str):
        return 'text (a JSON string)'
    if isinstance(value, bool):
        return 'true/false'
    if value is None:
        return 'null'
    return 'a number'


def _refuse_constant(name: str):
    raise PayloadError(f'payload contains {name}, which is not JSON: write a number or null instead')


def parse_payload(text: str) -> dict[str, Any]:
    """The JSON object typed in the payload box, or PayloadError saying how to fix it."""
    example = 'write a JSON object, e.g. {"file": "movie.mp4"}'
    if len(text) > MAX_PAYLOAD_CHARS:
        raise PayloadError(f'payload is {len(text)} characters long; keep it under {MAX_PAYLOAD_CHARS}')
    if not text.strip():
        raise PayloadError(f'payload is empty: {example} (or {{}} for none)')
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except PayloadError:
        raise
    except ValueError as exc:
        raise PayloadError(f'payload is not valid JSON ({exc}): {example}') from None
    if not isinstance(value, dict):
        raise PayloadError(f'payload is {json_kind(value)}, not an object: {example}')
    return value


def shorten(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with '…' and the number left out."""
    flat = ' '.join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    return f'{cut}… (+{len(flat) - limit} characters)'


def counter_text(queue: str, tally: Counter) -> str:
    """One counter's text, e.g. 'video_queue: 3 acked' (+ dead-lettered, quarantined, in flight)."""
    text = f'{queue}: {tally[queue, ACKED]} acked'
    parked = {'dead-lettered': tally[queue, DEAD_LETTERED], 'quarantined': tally[queue, QUARANTINED]}
    in_flight = tally[queue, DELIVERED] - tally[queue, ACKED] - sum(parked.values())
    extras = [f'{n} {label}' for label, n in parked.items() if n]
    if in_flight > 0:
        extras.append(f'{in_flight} in flight')
    return text + (f' ({", ".join(extras)})' if extras else '')


def log_line(event: Event, queue_width: int = 12) -> str:
    """One line of the live log: kind, queue, routing key, message id and any detail."""
    line = f'{event.kind:<13} {event.queue or "-":<{queue_width}} {event.routing_key:<20} {event.message_id}'
    return line + (f'  ({shorten(event.detail)})' if event.detail else '')


class ControlPanel(WidgetView):
    """Buttons that publish, a routing-key box, payload, per-queue counters and a live log.

    ``publisher`` is a broker URL (None: ``BROKER_URL`` or ``memory://``) or a
    callable returning a Publisher that records into ``log``.  Display the
    panel (or ``panel.widget``); call ``close()`` when done.

    A kombu connection belongs to one thread, and JupyterLab may run a widget's
    callback on an ipykernel subshell's thread rather than the main one: the
    panel publishes with one Publisher per thread (``self.publisher`` is the
    first, made where the panel was), all closed with the panel.
    """

    def __init__(self, publisher: PublisherSource = None, topology: Topology = SEED,
                 log: Optional[EventLog] = None, routing_keys: Iterable[str] = SEED_BUTTONS,
                 queues: Optional[Iterable[str]] = None, max_lines: int = 10,
                 payload: str = DEFAULT_PAYLOAD) -> None:
        self.topology = topology
        self.log = log if log is not None else EventLog()
        self.routing_keys = [validate_routing_key(key) for key in routing_keys]
        self.queues = list(queues) if queues is not None else topology.queue_names
        unknown = sorted(set(self.queues) - set(topology.queue_names))
        if unknown:
            raise ValueError(f'queues {unknown} are not in the topology; it has {topology.queue_names}')
        if max_lines < 1:
            raise ValueError(f'max_lines is {max_lines}: show at least 1 line')
        self._source = publisher
        self.publisher = self._make_publisher(publisher, f'panel{next(_panel_numbers)}')
        self._publishers = {threading.get_ident(): self.publisher}
        self.last_receipt: Optional[Published] = None
        self._lock = threading.Lock()
        self._drawn = threading.Condition(self._lock)
        self._tally: Counter = Counter()
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._seen: set[Event] = set()  # events drawn; Events compare by value (the log hands out new ones)
        self._queue_width = max(len(q) for q in [*topology.queue_names, 'queue'])
        self._closed = False
        self._unflushed = False
        self.flushes = 0  # how often the ticker re-sent worker-thread updates
        self._build_widgets(payload)
        self._unsubscribe: Optional[Callable[[], None]] = self.log.subscribe(self._on_event)
        self.refresh()

    def _make_publisher(self, source: PublisherSource, name: str) -> Publisher:
        if callable(source):
            publisher = source()
            if publisher.log is not self.log:
                publisher.close()
                raise ValueError('the publisher factory must return a Publisher recording into the '
                                 "panel's log: Publisher(url, topology=..., log=log)")
            return publisher
        return Publisher(source, topology=self.topology, log=self.log, name=name)

    def _publisher_here(self) -> Publisher:
        """This thread's Publisher (made on first use: 'panel1', then 'panel1.2', 'panel1.3', ...)."""
        ident = threading.get_ident()
        with self._lock:
            publisher = self._publishers.get(ident)
            if publisher is None:
                name = f'{self.publisher.name}.{len(self._publishers) + 1}'
                publisher = self._publishers[ident] = self._make_publisher(self._source, name)
        return publisher

    def _build_widgets(self, payload: str) -> None:
        self.buttons = {key: widgets.Button(description=key, tooltip=f'publish a message with routing key {key}')
                        for key in self.routing_keys}
        self.key_box = widgets.Text(value='', placeholder='any routing key, e.g. video.transcode.hd',
                                    description='Routing key:', style=_FULL_LABEL)
        self.publish_button = widgets.Button(description='Publish', button_style='primary',
                                             tooltip='publish with the routing key typed in the box')
        self.refresh_button = widgets.Button(description='Refresh', tooltip='redraw counters and log')
        self.payload_box = widgets.Textarea(value=payload, description='Payload:',
                                            placeholder='a JSON object, e.g. {"file": "movie.mp4"}',
                                            style=_FULL_LABEL, layout=widgets.Layout(width='36em', height='4em'))
        self.message = READY
        self.status = widgets.HTML(value=_status_html(READY))
        self.counters = {queue: widgets.Label(value=counter_text(queue, Counter()),
                                              layout=widgets.Layout(margin='0 2em 0 0'))
                         for queue in self.queues}
        self.log_view = widgets.HTML(value=pre(NOTHING_YET))
        self.log_view.add_class(LIVE_CLASS)  # arrival order of concurrent events: see tools/execute.py
        for key, button in self.buttons.items():
            button.on_click(lambda _button, key=key: self.publish(key))
        self.publish_button.on_click(lambda _button: self.publish(self.key_box.value))
        self.key_box.on_msg(self._on_key_box_msg)  # Enter sends {'event': 'submit'} (7.7 and 8)
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.ticker = Ticker(self.flush)
        self.widget = self._root([
            widgets.HBox(list(self.buttons.values()), layout=_wrapping()),
            widgets.HBox([self.key_box, self.publish_button]),
            self.payload_box,
            self.status,
            widgets.HBox(list(self.counters.values()), layout=_wrapping()),
            self.log_view,
            self.refresh_button,
            self.ticker.widget,
        ])
        self.ticker.start()

    def _shown_values(self) -> list[widgets.Widget]:
        """The widgets whose ``value`` the panel draws into."""
        return [self.status, *self.counters.values(), self.log_view]

    def _on_key_box_msg(self, _widget, content, _buffers) -> None:
        if content.get('event') == 'submit':
            self.publish(self.key_box.value)

    # -- publishing (main thread: button callbacks and notebook code) ----------

    def publish(self, routing_key: str, payload: Any = None) -> Optional[Published]:
        """Validate the key and the payload, publish once, show where it should go; None if refused.

        ``payload`` is JSON text or a Python dict (None: the payload box); a dict is shown in the box as JSON.
        """
        if self._closed:
            raise RuntimeError('this panel is closed: make a new ControlPanel')
        revive_tickers()  # a click is a main-thread moment: wake a ticker the browser forgot
        try:
            validate_routing_key(routing_key)
            if payload is not None and not isinstance(payload, str):
                payload = self.set_payload(payload)
            body = parse_payload(self.payload_box.value if payload is None else payload)
        except (TopicKeyError, PayloadError) as exc:
            self._set_status(f'⚠ nothing published: {exc}')
            return None
        try:
            receipt = self._publisher_here().publish(routing_key, body)
        except Exception as exc:  # a broker problem: say so in the panel, never a traceback in a cell
            self._set_status(f'⚠ publish failed: {type(exc).__name__}: {exc}')
            return None
        self.last_receipt = receipt
        where = (', '.join(receipt.predicted_queues) if receipt.predicted_queues
                 else 'no queue (an AMQP broker drops it: nothing is bound to match it)')
        self._set_status(f'published {routing_key} as {receipt.message_id}; by AMQP rules → {where}')
        self.refresh()
        return receipt

    def set_payload(self, payload: Any) -> str:
        """Put ``payload`` in the payload box: JSON text as it is, a dict (or other value) as JSON text.

        Raises PayloadError (never a widget TraitError) for a value JSON cannot hold.
        """
        if isinstance(payload, str):
            text = payload
        else:
            try:
                text = json.dumps(payload, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise PayloadError(f'payload {shorten(repr(payload), 40)} cannot be written as JSON ({exc}): '
                                   'use a dict of text, numbers, true/false, null, lists and dicts') from None
        self.payload_box.value = text
        return text

    def _set_status(self, text: str) -> None:
        with self._lock:
            self.message = text
            self.status.value = _status_html(text)

    # -- drawing (any thread; one writer at a time) -----------------------------

    def _on_event(self, event: Event) -> None:
        """Called by whichever thread recorded ``event`` (often the worker's)."""
        with self._lock:
            if self._closed or event in self._seen:
                return
            self._take(event)
            self._draw()

    def _take(self, event: Event) -> None:
        self._seen.add(event)
        self._tally[event.queue, event.kind] += 1
        if event.kind == PUBLISHED or event.queue == '' or event.queue in self.queues:
            self._lines.append(log_line(event, self._queue_width))

    def _draw(self) -> None:
        for queue, label in self.counters.items():
            label.value = counter_text(queue, self._tally)
        self.log_view.value = pre('\n'.join(self._lines) or NOTHING_YET)
        if not handles_kernel_messages():
            self._unflushed = True
        self._drawn.notify_all()

    def flush(self) -> None:
        """Re-send what worker threads drew since the last flush (main thread: the ticker calls it)."""
        with self._lock:
            if self._closed or not self._unflushed:
                return
            self._unflushed = False
            for widget in self._shown_values():
                widget.send_state('value')
            self.flushes += 1

    def refresh(self) -> ControlPanel:
        """Redraw counters and log from the whole event log (call it from the main thread)."""
        with self._lock:
            if self._closed:
                return self
            # Snapshot under the lock: an event recorded meanwhile either is in the snapshot or its
            # listener waits for the lock and draws it after us; outside, it could be lost for good.
            events = self.log.events()
            self._tally.clear()
            self._lines.clear()
            self._seen.clear()
            for event in events:
                self._take(event)
            self._draw()
        return self

    def wait_drawn(self, timeout: float = 5.0) -> ControlPanel:
        """Block until the panel shows every event in the log (worker threads draw it)."""
        def drawn() -> bool:
            return self._closed or len(self._seen) >= len(self.log)
        with self._drawn:
            if not self._drawn.wait_for(drawn, timeout):
                raise TimeoutError(f'the panel shows {len(self._seen)} of {len(self.log)} events '
                                   f'after {timeout:g} s')
        return self

    def snapshot_html(self) -> str:
        """The panel as static HTML: buttons, boxes, status, counters and log as shown now."""
        with self._lock:
            counters = [label.value for label in self.counters.values()]
            lines = '\n'.join(self._lines) or NOTHING_YET
            message = self.message
        rows = [
            ''.join(snapshot_button(key) for key in self.routing_keys),
            snapshot_field('Routing key:', self.key_box.value, self.key_box.placeholder)
            + snapshot_button('Publish', primary=True),
            snapshot_field('Payload:', self.payload_box.value, self.payload_box.placeholder),
            _status_html(message),
            ' '.join(f'<span style="margin-right: 2em">{html.escape(text, quote=False)}</span>' for text in counters),
            pre(lines, margin='2px 0'),
        ]
        return snapshot_frame(''.join(f'<div>{row}</div>' for row in rows), 'control panel')

    def counts(self) -> dict[str, str]:
        """{queue: counter text} as shown right now."""
        with self._lock:
            return {queue: label.value for queue, label in self.counters.items()}

    def lines(self) -> list[str]:
        """The live log's lines as shown right now (at most ``max_lines``)."""
        with self._lock:
            return list(self._lines)

    # -- lifetime ---------------------------------------------------------------

    def close(self) -> None:
        """Stop following the log, release the publisher's connection, close the widgets."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            self._drawn.notify_all()
        if unsubscribe is not None:
            unsubscribe()
        self.ticker.stop()
        for publisher in self._publishers.values():
            publisher.close()
        for widget in _walk(self.widget):
            for part in (getattr(widget, 'style', None), getattr(widget, 'layout', None), widget):
                if part is not None:
                    part.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        state = 'closed' if self._closed else 'open'
        return f'<ControlPanel for {self.topology.exchange_name} ({state}): {", ".join(self.routing_keys)}>'


#: Red mixed with the theme's text colour: dark red on light pages, light red on dark ones (>= 4.5:1).
WARNING_STYLE = ('color: #b42318; '
                 'color: color-mix(in srgb, var(--jp-error-color1, #c92a2a) 70%, var(--jp-ui-font-color1, #1f2328))')




def _status_html(text: str) -> str:
    """The status line: the theme's text colour, or its error colour darkened/lightened to stay readable."""
    style = f' style="{WARNING_STYLE}"' if text.startswith('⚠') else ''
    return f'<span{style}>{html.escape(text, quote=False)}</span>'


def _walk(widget: widgets.Widget) -> list[widgets.Widget]:
    """``widget`` and everything inside it, children first."""
    found = []
    for child in getattr(widget, 'children', ()):
        found.extend(_walk(child))
    return [*found, widget]
