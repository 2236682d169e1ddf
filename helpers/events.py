"""The thread-safe event log: the single source of truth every view reads (01_topology).

Producers and workers record what happens to each message; notebooks wait
for the events they expect, then print a sorted summary from the main thread.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from functools import partial
from operator import itemgetter
from typing import NamedTuple

__all__ = [
    'PUBLISHED', 'UNROUTABLE', 'DELIVERED', 'ACKED', 'RETRIED', 'DEAD_LETTERED', 'QUARANTINED',
    'UNACKED', 'RECONNECTED', 'KINDS', 'SETTLED', 'REDELIVERED_NOTE', 'HANDLED_NOTE', 'Event', 'EventLog',
]

logger = logging.getLogger(__name__)

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
#: A copy is *settled* in a queue once it has one of these outcomes there.  An unacked delivery is
#: not settled: the broker delivers the copy again (a new delivered event) and that one settles.
SETTLED = (ACKED, DEAD_LETTERED, QUARANTINED)
KINDS = (PUBLISHED, UNROUTABLE, DELIVERED, ACKED, RETRIED, DEAD_LETTERED, QUARANTINED, UNACKED, RECONNECTED)


class Event(NamedTuple):
    """One thing that happened to one message (queue is '' for producer events)."""

    kind: str
    message_id: str
    routing_key: str
    queue: str
    time: float
    detail: str


_as_event = partial(tuple.__new__, Event)  # a recorded tuple as an Event (in C; Event._make is Python)
_kind_of = itemgetter(0)                    # an event's kind
_queue_and_kind = itemgetter(3, 0)          # an event's (queue, kind)
_monotonic = time.monotonic
_new_bell = threading.Lock
_NEVER = float('inf')

#: While events stream in without satisfying its condition, a waiting thread lets them gather before it looks
#: again, 1 ms the first time, then twice as long each time up to GATHER_SECONDS: a fast worker then wakes it
#: some twenty times a second instead of once per event (each wake-up takes the interpreter lock from the worker:
#: on memory://, which never gives it up, by a forced switch, which on a busy machine can cost milliseconds).
GATHER_SECONDS = 0.05


class EventLog:
    """An append-only, thread-safe list of events with counts, waiting and summaries.

    ``record`` appends a plain tuple and does nothing else unless someone listens or waits: one list
    append is atomic in Python, so the threads that record never wait for each other or for a reader.
    Readers count what was recorded since they last looked, under a lock, and get ``Event`` values
    made as they read.  The log keeps plain tuples of strings and a float, which Python's garbage
    collector stops tracking: a log of 300,000 events (a 50,000-message full run) kept as Events
    made every full collection walk them all, and the run slowed as it grew.
    A thread waiting in ``watch`` hangs a bell (a held lock) that the next ``record`` rings.
    """

    def __init__(self) -> None:
        self._events: list[tuple] = []  # (kind, message_id, routing_key, queue, time, detail), as recorded
        self._counted = 0
        self._lock = threading.RLock()  # readers only; re-entrant: a watch condition may call count()
        self._tally: Counter[tuple[str, str]] = Counter()  # (queue, kind) -> n, of the first _counted events
        self._kinds: Counter[str] = Counter()                # kind -> n
        self._bells: list = []  # (size, held lock) per thread waiting in watch(): released once the log has size events
        self._ring_at = _NEVER  # the smallest such size
        self._listeners: list[Callable[[Event], None]] = []

    def record(self, kind: str, message_id: str, routing_key: str = '', queue: str = '',
               detail: str = '') -> None:
        """Append one event and wake anyone waiting or listening."""
        # The worker's hot path (two events per message): keep it to an append.
        entry = (kind, message_id, routing_key, queue, _monotonic(), detail)
        self._events.append(entry)
        if self._bells and len(self._events) >= self._ring_at:
            self._ring()
        if self._listeners:
            self._tell(_as_event(entry))

    def _tell(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken view must never break a worker, nor go unnoticed
                logger.exception('an event listener failed on %s %s', event.kind, event.message_id)

    def _ring(self) -> None:
        with self._lock:
            size = len(self._events)
            due = [bell for at, bell in self._bells if at <= size]
            self._bells = [(at, bell) for at, bell in self._bells if at > size]
            self._ring_at = min((at for at, _bell in self._bells), default=_NEVER)
        for bell in due:
            bell.release()

    def _catch_up(self) -> int:
        """Count what was recorded since the last look; the number of events (call with the lock held)."""
        start, end = self._counted, len(self._events)
        if end > start:
            new = self._events[start:end]
            self._kinds.update(map(_kind_of, new))
            self._tally.update(map(_queue_and_kind, new))
            self._counted = end
        return end

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener(event)`` on every new event (from the recording thread)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def clear(self) -> None:
        """Forget every event."""
        with self._lock:
            self._events.clear()
            self._tally.clear()
            self._kinds.clear()
            self._counted = 0

    def __len__(self) -> int:
        return len(self._events)

    def events(self, kind: str | None = None, queue: str | None = None) -> list[Event]:
        """A snapshot of the events, optionally only one kind and/or one queue."""
        snapshot = self._events[:]
        if kind is None and queue is None:
            return list(map(_as_event, snapshot))
        return [_as_event(e) for e in snapshot if (kind is None or e[0] == kind) and (queue is None or e[3] == queue)]

    def count(self, kind: str | None = None, queue: str | None = None) -> int:
        """How many events of this kind (and queue) there are, from the running counts."""
        with self._lock:
            total = self._catch_up()
            if kind is None:
                return total if queue is None else sum(
                    n for (q, _k), n in self._tally.items() if q == queue)
            return self._kinds[kind] if queue is None else self._tally[queue, kind]

    def settled(self, queues: Iterable[str] | None = None) -> int:
        """How many copies have been settled (acked, dead-lettered or quarantined), in ``queues`` or anywhere."""
        return self._total(SETTLED, queues)

    def ids(self, kind: str, queue: str | None = None) -> list[str]:
        """The message ids of the matching events, in the order they happened."""
        return [e.message_id for e in self.events(kind, queue)]

    def watch(self, condition: Callable[[EventLog], bool], timeout: float, at_least: int = 0) -> bool:
        """Block until ``condition(self)`` is true or ``timeout`` s have passed; whether it is true.

        The condition is checked once now and again after new events: at once after the first, then,
        while events keep coming, after a pause that grows to GATHER_SECONDS.  It should be cheap:
        ``count``, ``settled`` and ``len`` are.  A condition that cannot hold before the log has
        ``at_least`` events is looked at again only then (or at the timeout): the thread sleeps
        through the events before, taking no time from the threads that record them.
        """
        deadline = _monotonic() + timeout
        pause = 0.0
        while True:
            bell = _new_bell()
            bell.acquire()
            with self._lock:  # the bell hangs before the check: an event recorded after it rings it
                at = max(at_least, len(self._events) + 1)
                self._ring_at = min(self._ring_at, at)
                self._bells.append((at, bell))
                if condition(self):
                    self._hang_up(bell)
                    return True
            remaining = deadline - _monotonic()
            if remaining <= 0:
                with self._lock:
                    self._hang_up(bell)
                return False
            if pause:  # events are streaming in: let more gather before looking again
                time.sleep(min(pause, remaining))
            began = _monotonic()
            if bell.acquire(timeout=max(0.0, deadline - began)):
                streaming = _monotonic() - began < GATHER_SECONDS
                pause = min(max(2 * pause, 0.001), GATHER_SECONDS) if streaming else 0.0
            else:
                with self._lock:
                    self._hang_up(bell)

    def _hang_up(self, bell) -> None:
        """Take an unrung bell down (call with the lock held)."""
        self._bells = [(at, hung) for at, hung in self._bells if hung is not bell]
        self._ring_at = min((at for at, _bell in self._bells), default=_NEVER)

    def wait_until(self, condition: Callable[[EventLog], bool], timeout: float = 10.0,
                   what: str = 'the expected events') -> None:
        """Block until ``condition(self)`` is true; raise TimeoutError after ``timeout`` s."""
        if not self.watch(condition, timeout):
            raise TimeoutError(f'waited {timeout:g} s for {what}; the log has {self.counts()}')

    def wait_for(self, kind: str, count: int, queue: str | None = None,
                 timeout: float = 10.0) -> None:
        """Block until at least ``count`` events of ``kind`` (in ``queue``) are logged."""
        where = f' in {queue}' if queue else ''
        if not self.watch(lambda log: log.count(kind, queue) >= count, timeout, at_least=count):
            raise TimeoutError(f'waited {timeout:g} s for {count} {kind!r} events{where}; the log has {self.counts()}')

    def wait_settled(self, queues: Iterable[str] | None = None, timeout: float = 10.0) -> None:
        """Block until no delivery is in progress: each one settled, or ended unacked (it comes again)."""
        queues = None if queues is None else tuple(queues)
        self.wait_until(lambda log: log._total((*SETTLED, UNACKED), queues) >= log._total((DELIVERED,), queues),
                        timeout, what='every delivered message to be settled')

    def _total(self, kinds: Iterable[str], queues: Iterable[str] | None) -> int:
        """Events of any of ``kinds``, in ``queues`` (None: any queue); O(1) per kind and queue."""
        with self._lock:
            self._catch_up()
            if queues is None:
                return sum(self._kinds[kind] for kind in kinds)
            return sum(self._tally[queue, kind] for kind in kinds for queue in queues)

    def counts(self) -> dict[tuple[str, str], int]:
        """{(queue, kind): n}, sorted; producer events have queue ''."""
        with self._lock:
            self._catch_up()
            return dict(sorted(self._tally.items()))

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
