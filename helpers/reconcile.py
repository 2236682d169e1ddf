"""Account for every message: what should have reached each queue, and what became of it (04_full_run).

``reconcile`` reads only the event log.  For every published message the
topology says (with the AMQP matcher) which queues should get a copy; each
copy must end up settled exactly once in its queue: acked, dead-lettered or
quarantined.  A copy that never settled is *lost*; a message id acked twice
in one queue is a *duplicate*; a copy settled in a queue the topology did not
route it to is *unexpected* (a virtual transport matching a wildcard
differently from RabbitMQ).  Every duplicate, lost and unexpected copy is explained
from the log by ``causes.explain``.
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .causes import Explanation, explain
from .events import (
    ACKED,
    DEAD_LETTERED,
    DELIVERED,
    HANDLED_NOTE,
    PUBLISHED,
    QUARANTINED,
    SETTLED,
    UNACKED,
    UNROUTABLE,
    Event,
    EventLog,
)
from .topology import Topology

__all__ = ['TABLE_COLUMNS', 'QueueTally', 'Reconciliation', 'Unaccounted', 'reconcile',
           'expected_copies', 'wait_accounted']

#: The table's columns, in order (attribute names of QueueTally).
TABLE_COLUMNS = ('expected', 'delivered', 'acked', 'dead_lettered', 'quarantined', 'duplicates', 'unexpected',
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
        return {name: getattr(self, name) for name in TABLE_COLUMNS}


@dataclass(frozen=True)
class Reconciliation:
    """The accounts of a whole run: totals and one QueueTally per queue (sorted by name)."""

    published: int
    unroutable: int
    queues: tuple[QueueTally, ...]
    explanations: tuple[Explanation, ...] = ()

    def causes(self, problem: str) -> dict[str, int]:
        """{cause: copies} for 'duplicate' (extra acks), 'lost', 'unexpected' or 'unconfirmed', sorted by cause."""
        tally: Counter = Counter()
        for item in self.explanations:
            if item.problem == problem:
                tally[item.cause] += item.extra if problem == 'duplicate' else 1
        return dict(sorted(tally.items()))

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
            **{column: self._total(column) for column in TABLE_COLUMNS},
            'queues': {tally.queue: tally.as_dict() for tally in self.queues},
            'ok': self.ok,
            'causes': {'duplicates': self.causes('duplicate'), 'lost': self.causes('lost'),
                       'unexpected': self.causes('unexpected'), 'unconfirmed': self.causes('unconfirmed')},
            'explanations': [item.as_dict() for item in self.explanations],
        }

    def table(self) -> str:
        """A deterministic text table: one row per queue, a total row, and a verdict line."""
        width = max([len('queue'), len('total'), *(len(t.queue) for t in self.queues)])
        heads = [c.replace('_', '-') for c in TABLE_COLUMNS]
        sizes = [max(len(h), 5) for h in heads]
        rule = '-' * (width + sum(size + 2 for size in sizes))
        lines = [f'published: {self.published}, unroutable: {self.unroutable}',
                 'queue'.ljust(width) + ''.join(f'  {h:>{s}}' for h, s in zip(heads, sizes)), rule]
        for tally in self.queues:
            lines.append(tally.queue.ljust(width)
                         + ''.join(f'  {getattr(tally, c):>{s}}' for c, s in zip(TABLE_COLUMNS, sizes)))
        lines.append(rule)
        lines.append('total'.ljust(width) + ''.join(f'  {self._total(c):>{s}}' for c, s in zip(TABLE_COLUMNS, sizes)))
        lines.append(self.verdict())
        lines += self.why_lines()
        return '\n'.join(lines)

    def verdict(self) -> str:
        """One line: ✅ when every message is accounted for, else ❌ with the lost, duplicate and unexpected counts."""
        if self.ok:
            return '✅ every message accounted for'
        return f'❌ NOT reconciled: lost {self.lost}, duplicates {self.duplicates}, unexpected {self.unexpected}'

    def why_lines(self, limit: int = 10) -> list[str]:
        """Each duplicate's and lost copy's cause, counted, then up to ``limit`` copies by name."""
        lines = []
        titles = (('duplicate', 'duplicates'), ('lost', 'lost'), ('unexpected', 'unexpected'),
                  ('unconfirmed', 'handled, ack unconfirmed'))
        for problem, title in titles:
            causes = self.causes(problem)
            if not causes:
                continue
            lines.append(f'{title} by cause:')
            words = {e.cause: e.words for e in self.explanations if e.problem == problem}
            lines += [f'  {n:>5}  {words[cause]}' for cause, n in causes.items()]
        shown = self.explanations[:limit]
        if shown:
            lines.append('the copies:' if len(shown) == len(self.explanations)
                         else f'the first {len(shown)} of {len(self.explanations)} copies:')
            lines += [f'  {item}' for item in shown]
        return lines

    def __str__(self) -> str:
        return self.table()


def expected_copies(topology: Topology, published: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """{queue: message ids the topology routes there}, from (message id, routing key) pairs."""
    expected: dict[str, set[str]] = {name: set() for name in topology.queue_names}
    for message_id, routing_key in published:
        for queue in topology.route(routing_key):
            expected[queue].add(message_id)
    return expected


def _published(events: Iterable[Event]) -> list[tuple[str, str]]:
    return [(event.message_id, event.routing_key) for event in events if event.kind == PUBLISHED]


def reconcile(topology: Topology, log: EventLog, transport: str = '') -> Reconciliation:
    """Compare what ``topology`` routes (from the published events in ``log``) with what the workers did.

    ``transport`` ('amqp', 'redis', ...) only sharpens the words of the causes.
    """
    events = log.events()
    expected = expected_copies(topology, _published(events))
    kinds = Counter()
    tally: Counter = Counter()
    settled: dict[str, set[str]] = defaultdict(set)
    handled: dict[str, set[str]] = defaultdict(set)  # handled, then the connection dropped while acking
    acks: dict[str, Counter] = defaultdict(Counter)
    for event in events:
        kinds[event.kind] += 1
        if event.queue and event.kind != PUBLISHED:
            tally[event.queue, event.kind] += 1
            if event.kind in SETTLED:
                settled[event.queue].add(event.message_id)
            if event.kind == ACKED:
                acks[event.queue][event.message_id] += 1
            elif event.kind == UNACKED and event.detail.startswith(HANDLED_NOTE):
                handled[event.queue].add(event.message_id)
    names = sorted(set(expected) | set(settled))
    rows = []
    problems = [('duplicate', name, mid, n - 1) for name in names for mid, n in sorted(acks[name].items()) if n > 1]
    for name in names:
        wanted, done = expected.get(name, set()), settled.get(name, set())
        unsettled = wanted - done
        problems += [('unconfirmed' if mid in handled[name] else 'lost', name, mid, 0) for mid in sorted(unsettled)]
        problems += [('unexpected', name, mid, 0) for mid in sorted(done - wanted)]
        rows.append(QueueTally(
            queue=name, expected=len(wanted), delivered=tally[name, DELIVERED], acked=tally[name, ACKED],
            dead_lettered=tally[name, DEAD_LETTERED], quarantined=tally[name, QUARANTINED],
            duplicates=sum(n - 1 for n in acks[name].values() if n > 1),
            unexpected=len(done - wanted), lost=len(unsettled - handled[name]),
        ))
    explanations = tuple(explain(problems, events, transport)) if problems else ()
    return Reconciliation(kinds[PUBLISHED], kinds[UNROUTABLE], tuple(rows), explanations)


class Unaccounted(TimeoutError):
    """``wait_accounted`` gave up: some copies never settled; ``reconciliation`` says which, and why."""

    def __init__(self, message: str, reconciliation: Reconciliation) -> None:
        super().__init__(message)
        self.reconciliation = reconciliation


def wait_accounted(topology: Topology, log: EventLog, timeout: float = 30.0, every: float = 0.2,
                   progress: Callable[[int, int], None] | None = None, transport: str = '',
                   grace: float = 2.0) -> Reconciliation:
    """Wait until every expected copy has settled; return the reconciliation, or raise Unaccounted.

    Call it once the producers have finished publishing.  The wait is on the log's running
    counts (O(1) per event); ``progress(settled, expected)`` is called from this thread about
    every ``every`` s.  A copy that was handled but whose ack may not have arrived (an unacked
    event) is waited for ``grace`` s of quiet (the broker may deliver it again), then reported
    as unconfirmed rather than lost.
    """
    deadline = time.monotonic() + timeout
    wanted = sum(len(ids) for ids in expected_copies(topology, _published(log.events(PUBLISHED))).values())
    # Counts of events, not of copies: reaching ``wanted`` is when the reconciliation is worth reading.
    seen = -1
    while True:
        ready = log.watch(lambda lg, seen=seen: lg.settled() + lg.count(UNACKED) >= wanted and len(lg) != seen,
                          min(every, max(0.0, deadline - time.monotonic())))
        if progress is not None:
            progress(min(log.settled(), wanted), wanted)
        if ready:
            seen = len(log)
            result = reconcile(topology, log, transport)
            events = log.events()
            quiet = time.monotonic() - (events[-1].time if events else 0.0)
            if result.lost == 0 and (not result.causes('unconfirmed') or quiet > grace):
                return result
            if result.lost == 0:  # only unconfirmed copies: look again once the grace has passed
                log.watch(lambda lg, seen=seen: len(lg) != seen, min(grace - quiet, deadline - time.monotonic()))
                seen = -1
        if time.monotonic() > deadline:
            result = reconcile(topology, log, transport)
            missing = [item for item in result.explanations if item.problem == 'lost']
            shown = '; '.join(str(item) for item in missing[:5])
            more = f' (and {len(missing) - 5} more)' if len(missing) > 5 else ''
            raise Unaccounted(f'after {timeout:g} s, {result.lost} expected copies have not settled: {shown}{more}',
                              result)
