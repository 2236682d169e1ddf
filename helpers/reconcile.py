"""Account for every message: what should have reached each queue, and what became of it (04_full_run).

``reconcile`` reads only the event log.  For every published message the
topology says (with the AMQP matcher) which queues should get a copy; each
copy must end up settled exactly once in its queue: acked, dead-lettered or
quarantined.  A copy that never settled is *lost*; a message id acked twice
in one queue is a *duplicate*; a copy settled in a queue the topology did not
route it to is *unexpected* (a virtual transport matching a wildcard
differently from RabbitMQ).
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from .events import ACKED, DEAD_LETTERED, DELIVERED, PUBLISHED, QUARANTINED, UNROUTABLE, EventLog
from .topology import Topology

__all__ = ['COLUMNS', 'SETTLED', 'QueueTally', 'Reconciliation', 'reconcile', 'expected_copies', 'wait_accounted']

SETTLED = (ACKED, DEAD_LETTERED, QUARANTINED)

#: The table's columns, in order (attribute names of QueueTally).
COLUMNS = ('expected', 'delivered', 'acked', 'dead_lettered', 'quarantined', 'duplicates', 'unexpected',
           'lost')


@dataclass(frozen=True)
class QueueTally:
    """The accounts of one queue."""

    queue: str
    expected: int       # copies the topology routes here, from the published routing keys
    delivered: int      # deliveries the workers received (a redelivery counts again)
    acked: int
    dead_lettered: int
    quarantined: int
    duplicates: int     # extra acks of a message id already acked in this queue
    unexpected: int     # message ids settled here that the topology did not route here
    lost: int           # expected copies never settled

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict (column order)."""
        return {name: getattr(self, name) for name in COLUMNS}


@dataclass(frozen=True)
class Reconciliation:
    """The accounts of a whole run: totals and one QueueTally per queue (sorted by name)."""

    published: int
    unroutable: int
    queues: tuple[QueueTally, ...]

    def _total(self, column: str) -> int:
        return sum(getattr(tally, column) for tally in self.queues)

    @property
    def expected(self) -> int:
        return self._total('expected')

    @property
    def acked(self) -> int:
        return self._total('acked')

    @property
    def dead_lettered(self) -> int:
        return self._total('dead_lettered')

    @property
    def quarantined(self) -> int:
        return self._total('quarantined')

    @property
    def duplicates(self) -> int:
        return self._total('duplicates')

    @property
    def unexpected(self) -> int:
        return self._total('unexpected')

    @property
    def lost(self) -> int:
        return self._total('lost')

    @property
    def ok(self) -> bool:
        """True when every copy settled exactly once, where the topology routed it."""
        return self.lost == 0 and self.duplicates == 0 and self.unexpected == 0

    def queue(self, name: str) -> QueueTally:
        """The tally of one queue."""
        for tally in self.queues:
            if tally.queue == name:
                return tally
        raise KeyError(f'no queue {name!r} in this reconciliation; queues: {[t.queue for t in self.queues]}')

    def as_dict(self) -> dict:
        """Totals and per-queue counters as plain data (for JSON)."""
        return {
            'published': self.published, 'unroutable': self.unroutable,
            **{column: self._total(column) for column in COLUMNS},
            'queues': {tally.queue: tally.as_dict() for tally in self.queues},
        }

    def table(self) -> str:
        """A deterministic text table: one row per queue, a total row, and a verdict line."""
        width = max([len('queue'), len('total'), *(len(t.queue) for t in self.queues)])
        heads = [c.replace('_', '-') for c in COLUMNS]
        sizes = [max(len(h), 5) for h in heads]
        rule = '-' * (width + sum(size + 2 for size in sizes))
        lines = [f'published: {self.published}, unroutable: {self.unroutable}',
                 'queue'.ljust(width) + ''.join(f'  {h:>{s}}' for h, s in zip(heads, sizes)), rule]
        for tally in self.queues:
            lines.append(tally.queue.ljust(width)
                         + ''.join(f'  {getattr(tally, c):>{s}}' for c, s in zip(COLUMNS, sizes)))
        lines.append(rule)
        lines.append('total'.ljust(width) + ''.join(f'  {self._total(c):>{s}}' for c, s in zip(COLUMNS, sizes)))
        verdict = ('every message accounted for' if self.ok else
                   f'NOT reconciled: lost {self.lost}, duplicates {self.duplicates}, unexpected {self.unexpected}')
        lines.append(f'{"✅" if self.ok else "❌"} {verdict}')
        return '\n'.join(lines)

    def __str__(self) -> str:
        return self.table()


def expected_copies(topology: Topology, log: EventLog) -> dict[str, set[str]]:
    """{queue: message ids the topology routes there}, from the published events."""
    expected: dict[str, set[str]] = {name: set() for name in topology.queue_names}
    for event in log.events(PUBLISHED):
        for queue in topology.route(event.routing_key):
            expected[queue].add(event.message_id)
    return expected


def reconcile(topology: Topology, log: EventLog) -> Reconciliation:
    """Compare what ``topology`` routes (from the published events in ``log``) with what the workers did."""
    events = log.events()
    expected: dict[str, set[str]] = {name: set() for name in topology.queue_names}
    kinds = Counter()
    tally: Counter = Counter()
    settled: dict[str, set[str]] = defaultdict(set)
    acks: dict[str, Counter] = defaultdict(Counter)
    for event in events:
        kinds[event.kind] += 1
        if event.kind == PUBLISHED:
            for queue in topology.route(event.routing_key):
                expected[queue].add(event.message_id)
        elif event.queue:
            tally[event.queue, event.kind] += 1
            if event.kind in SETTLED:
                settled[event.queue].add(event.message_id)
            if event.kind == ACKED:
                acks[event.queue][event.message_id] += 1
    names = sorted(set(expected) | set(settled))
    rows = []
    for name in names:
        wanted, done = expected.get(name, set()), settled.get(name, set())
        rows.append(QueueTally(
            queue=name, expected=len(wanted), delivered=tally[name, DELIVERED], acked=tally[name, ACKED],
            dead_lettered=tally[name, DEAD_LETTERED], quarantined=tally[name, QUARANTINED],
            duplicates=sum(n - 1 for n in acks[name].values() if n > 1),
            unexpected=len(done - wanted), lost=len(wanted - done),
        ))
    return Reconciliation(kinds[PUBLISHED], kinds[UNROUTABLE], tuple(rows))


def wait_accounted(topology: Topology, log: EventLog, timeout: float = 30.0, poll: float = 0.02,
                   progress: Callable[[int, int], None] | None = None) -> Reconciliation:
    """Wait until every expected copy has settled; return the reconciliation, or raise TimeoutError.

    Call it once the producers have finished publishing; ``progress(settled, expected)``
    is called (from this thread) after every look at the log.
    """
    deadline = time.monotonic() + timeout
    wanted = sum(len(ids) for ids in expected_copies(topology, log).values())
    while True:
        done = sum(1 for event in log.events() if event.kind in SETTLED)
        if progress is not None:
            progress(min(done, wanted), wanted)
        if done >= wanted:
            result = reconcile(topology, log)
            if result.lost == 0:
                return result
        if time.monotonic() > deadline:
            result = reconcile(topology, log)
            raise TimeoutError(f'after {timeout:g} s, {result.lost} expected copies are still unsettled '
                               '(is a worker running on every queue?)\n' + result.table())
        time.sleep(poll)
