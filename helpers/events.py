"""The thread-safe event log: the single source of truth every view reads (01_topology).

Producers and workers record what happens to each message; notebooks wait
for the events they expect, then print a sorted summary from the main thread.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Callable, NamedTuple

__all__ = [
    'PUBLISHED', 'UNROUTABLE', 'DELIVERED', 'ACKED', 'RETRIED', 'DEAD_LETTERED', 'QUARANTINED',
    'UNACKED', 'RECONNECTED', 'KINDS', 'REDELIVERED_NOTE', 'HANDLED_NOTE', 'Event', 'EventLog',
]

PUBLISHED = 'published'          # a producer handed the message to the exchange
UNROUTABLE = 'unroutable'        # ...and no queue was bound to receive it
DELIVERED = 'delivered'          # a worker received it from a queue
ACKED = 'acked'                  # the handler finished and the message was acknowledged
RETRIED = 'retried'              # the handler raised; the message will be tried again
DEAD_LETTERED = 'dead_lettered'  # the handler kept failing; parked with the reason
QUARANTINED = 'quarantined'      # the body could not be decoded or was not allowed
UNACKED = 'unacked'              # the connection dropped before the ack went out; it will come again
RECONNECTED = 'reconnected'      # a worker lost its broker connection and consumes this queue again
# Details a worker gives a delivered or unacked event, read by the reconciliation.
REDELIVERED_NOTE = 'redelivered: the broker delivered it before and did not get an ack'
HANDLED_NOTE = 'handled, but the connection dropped while acking; whether the ack arrived is unknown'
KINDS = (PUBLISHED, UNROUTABLE, DELIVERED, ACKED, RETRIED, DEAD_LETTERED, QUARANTINED, UNACKED, RECONNECTED)


class Event(NamedTuple):
    """One thing that happened to one message (queue is '' for producer events)."""

    kind: str
    message_id: str
    routing_key: str
    queue: str
    time: float
    detail: str


_new_event = tuple.__new__  # Event(...) without the namedtuple's Python-level __new__
_monotonic = time.monotonic


class EventLog:
    """An append-only, thread-safe list of events with waiting and summaries."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        # Re-entrant: a wait_until condition may call events() or count().
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._waiting = 0  # threads inside wait_until; record() only notifies when there are some
        self._listeners: list[Callable[[Event], None]] = []

    def record(self, kind: str, message_id: str, routing_key: str = '', queue: str = '',
               detail: str = '') -> Event:
        """Append one event and wake anyone waiting; returns the event."""
        # The worker's hot path (two events per message): keep it lean.
        event = _new_event(Event, (kind, message_id, routing_key, queue, _monotonic(), detail))
        # list.append is atomic, and a reader copies the list in one step (both under the GIL);
        # the lock is only needed to wake threads blocked in wait_until, which count themselves
        # in _waiting before they look at the events.
        self._events.append(event)
        if self._waiting:
            with self._changed:
                self._changed.notify_all()
        if self._listeners:
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:  # a broken view must never break a worker
                    pass
        return event

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener(event)`` on every new event (from the recording thread)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def clear(self) -> None:
        """Forget every event."""
        with self._changed:
            self._events.clear()

    def __len__(self) -> int:
        return len(self._events)

    def events(self, kind: str | None = None, queue: str | None = None) -> list[Event]:
        """A snapshot of the events, optionally only one kind and/or one queue."""
        with self._changed:
            snapshot = list(self._events)
        return [e for e in snapshot
                if (kind is None or e.kind == kind) and (queue is None or e.queue == queue)]

    def count(self, kind: str | None = None, queue: str | None = None) -> int:
        """How many events of this kind (and queue) there are."""
        return len(self.events(kind, queue))

    def ids(self, kind: str, queue: str | None = None) -> list[str]:
        """The message ids of the matching events, in the order they happened."""
        return [e.message_id for e in self.events(kind, queue)]

    def wait_until(self, condition: Callable[[EventLog], bool], timeout: float = 10.0,
                   what: str = 'the expected events') -> None:
        """Block until ``condition(self)`` is true; raise TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._waiting += 1
            try:
                while not condition(self):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError(f'waited {timeout:g} s for {what}; the log has {self.counts()}')
                    self._changed.wait(remaining)
            finally:
                self._waiting -= 1

    def wait_for(self, kind: str, count: int, queue: str | None = None,
                 timeout: float = 10.0) -> None:
        """Block until at least ``count`` events of ``kind`` (in ``queue``) are logged."""
        where = f' in {queue}' if queue else ''
        self.wait_until(lambda log: log._count_locked(kind, queue) >= count, timeout,
                        what=f'{count} {kind!r} events{where}')

    def wait_settled(self, queues: Iterable[str] | None = None, timeout: float = 10.0) -> None:
        """Block until every delivery has ended: acked, dead-lettered, quarantined or unacked (it comes again)."""
        def settled(log: EventLog) -> bool:
            tally = Counter(e.kind for e in log._events
                            if queues is None or e.queue in queues)
            done = tally[ACKED] + tally[DEAD_LETTERED] + tally[QUARANTINED] + tally[UNACKED]
            return done >= tally[DELIVERED]
        self.wait_until(settled, timeout, what='every delivered message to be settled')

    def _count_locked(self, kind: str, queue: str | None) -> int:
        return sum(1 for e in self._events if e.kind == kind and (queue is None or e.queue == queue))

    def counts(self) -> dict[tuple[str, str], int]:
        """{(queue, kind): n}, sorted; producer events have queue ''."""
        tally = Counter((e.queue, e.kind) for e in self._events)
        return dict(sorted(tally.items()))

    def per_queue(self, kind: str) -> dict[str, int]:
        """{queue: number of ``kind`` events}, sorted by queue."""
        tally = Counter(e.queue for e in self.events(kind))
        return dict(sorted(tally.items()))

    def summary(self, queues: Iterable[str] | None = None) -> str:
        """A deterministic table: one row per queue, one column per kind that occurred."""
        events = self.events()
        names = sorted(set(queues or ()) | {e.queue for e in events if e.queue})
        kinds = [k for k in KINDS if k not in (PUBLISHED, UNROUTABLE)
                 and any(e.kind == k for e in events)] or [DELIVERED, ACKED]
        tally = Counter((e.queue, e.kind) for e in events)
        width = max([len('queue'), *map(len, names)])
        lines = [f'published: {tally["", PUBLISHED]}, unroutable: {tally["", UNROUTABLE]}',
                 'queue'.ljust(width) + ''.join(f'  {k:>13}' for k in kinds)]
        for name in names:
            lines.append(name.ljust(width) + ''.join(f'  {tally[name, k]:>13}' for k in kinds))
        return '\n'.join(lines)

    def routes(self) -> dict[str, list[str]]:
        """{routing key: sorted queues that received it}, from delivered events."""
        seen: dict[str, set[str]] = {}
        for e in self.events(DELIVERED):
            seen.setdefault(e.routing_key, set()).add(e.queue)
        return {key: sorted(queues) for key, queues in sorted(seen.items())}
