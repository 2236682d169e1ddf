"""Why a copy was duplicated, lost or unexpected: the causes the event log shows, in plain words (04_full_run).

``reconcile`` finds the copies that did not settle exactly once where the topology routes them; ``explain``
reads each one's story from the log (its deliveries, the acks cut off, the connections that dropped, a
publisher's or a Celery task's retry) and names its cause, so a fault is never just a count.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .events import DELIVERED, PUBLISHED, RECONNECTED, REDELIVERED_NOTE, RETRIED, UNACKED, Event

__all__ = ['CAUSES', 'Explanation', 'explain']


#: Why a copy was duplicated or lost, in plain words ({broker} names the broker when it is known).
CAUSES = {
    # duplicates
    'publisher_retry': 'publisher retry after a connection error: the first attempt reached the broker too',
    'lost_ack': 'redelivery after a lost ack: the connection dropped before the ack reached the broker',
    'redelivered_after_drop': "redelivery after the worker's connection dropped: its ack never reached the broker",
    'task_retry': 'a retry published the message again (a Celery task retry): every queue its key reaches '
                  'got a new copy',
    # handled, but not known to be acked
    'ack_unconfirmed': 'handled, but its connection dropped while acking, and the broker did not deliver it again: '
                       'the ack most likely arrived',
    # lost copies
    'lost_with_connection': 'lost with a dropped {broker}connection: delivered to a worker whose connection then '
                            'died before the ack, and never delivered again',
    'lost_while_fetching': 'lost with a dropped {broker}connection: never delivered; a connection consuming this '
                           'queue dropped after it was published (on redis:// a message popped for a connection '
                           'that dies is gone)',
    'held_unacked': "not lost for good: its connection died before the worker got it, and kombu's Redis transport "
                    'holds it in its unacked hash; it comes back after the visibility timeout (1 h by default)',
    'still_queued': 'still in its queue on the broker: no worker took it before the run gave up',
    'in_hand': 'delivered, and the handler has not finished with it',
    'never_delivered': 'never delivered: still in the queue, or no worker consumes this queue',
    # unexpected copies
    'not_published': 'settled here, but this run never published it: another program publishes to these queues '
                     '(a vhost or Redis database shared with it)',
    'misrouted': 'published by this run, but RabbitMQ would not route its key here: the transport matched a '
                 'binding differently',
    # either
    'unexplained': 'the log holds no cause',
}


@dataclass(frozen=True)
class Explanation:
    """Why one copy (a message id in a queue) was duplicated or lost, and what the log last knew of it."""

    problem: str      # 'duplicate', 'lost', 'unexpected' or 'unconfirmed' (handled; the ack's arrival unknown)
    queue: str
    message_id: str
    cause: str        # a key of CAUSES
    extra: int        # for a duplicate: how many extra acks
    last_known: str   # the copy's last events, in plain words
    broker: str = ''  # the transport, when known: names the connection that dropped

    @property
    def words(self) -> str:
        """The cause in plain words."""
        return CAUSES[self.cause].format(broker=f'{self.broker} ' if self.broker else '')

    def as_dict(self) -> dict:
        """The explanation as plain data (for JSON)."""
        return {'problem': self.problem, 'queue': self.queue, 'message_id': self.message_id, 'cause': self.cause,
                'extra': self.extra, 'why': self.words, 'last_known': self.last_known}

    def __str__(self) -> str:
        times = f' ×{self.extra + 1}' if self.problem == 'duplicate' else ''  # noqa: RUF001 (a times sign)
        return f'{self.queue} {self.message_id}{times}: {self.words} [log: {self.last_known}]'


def explain(problems: list[tuple[str, str, str, int]], events: list[Event], broker: str) -> list[Explanation]:
    """One Explanation per duplicated or lost copy, read from the events."""
    wanted = {(queue, mid) for _p, queue, mid, _n in problems}
    ids = {mid for _q, mid in wanted}
    history: dict[tuple[str, str], list[Event]] = defaultdict(list)
    published: dict[str, Event] = {}
    drops: dict[str, list[float]] = defaultdict(list)  # queue: times a worker on it reconnected
    for event in events:
        if event.kind == RECONNECTED:
            drops[event.queue].append(event.time)
        elif event.kind == PUBLISHED and event.message_id in ids:
            published[event.message_id] = event
        elif (event.queue, event.message_id) in wanted:
            history[event.queue, event.message_id].append(event)
    start = events[0].time if events else 0.0
    result = []
    for problem, queue, mid, extra in problems:
        story = history[queue, mid]
        sent = published.get(mid)
        if problem == 'duplicate':
            cause = _duplicate_cause(story, sent, drops[queue])
        elif problem == 'unconfirmed':
            cause = 'ack_unconfirmed'
        elif problem == 'unexpected':
            cause = 'misrouted' if sent is not None else 'not_published'
        else:
            cause = _lost_cause(story, sent, drops[queue])
        result.append(Explanation(problem, queue, mid, cause, extra, _last_known(sent, story, drops[queue], start),
                                  broker))
    return result


def _duplicate_cause(story: list[Event], sent: Event | None, drops: list[float]) -> str:
    if any(e.kind == UNACKED for e in story):
        return 'lost_ack'
    if sent is not None and sent.detail.startswith('republished'):
        return 'publisher_retry'
    # Workers run in threads of their own: the second delivery may be logged before the first ack.
    deliveries = [e for e in story if e.kind == DELIVERED]
    if any(e.detail.startswith(REDELIVERED_NOTE) for e in deliveries):
        return 'lost_ack'  # the broker says so: it delivered the message before and got no ack
    if any(e.kind == RETRIED for e in story):
        return 'task_retry'  # the course's Worker retries inside one delivery; a Celery retry publishes again
    if len(deliveries) > 1 and any(deliveries[0].time <= t <= deliveries[1].time for t in drops):
        return 'redelivered_after_drop'
    return 'unexplained'


def _lost_cause(story: list[Event], sent: Event | None, drops: list[float]) -> str:
    delivered = [e.time for e in story if e.kind == DELIVERED]
    if delivered:
        if any(e.kind == UNACKED for e in story) or any(t >= delivered[-1] for t in drops):
            return 'lost_with_connection'
        return 'in_hand'
    after = sent.time if sent is not None else float('-inf')
    if any(t >= after for t in drops):
        return 'lost_while_fetching'
    return 'never_delivered'


def _last_known(sent: Event | None, story: list[Event], drops: list[float], start: float) -> str:
    """The copy's events, and the connection drops on its queue after the last of them, in a few words."""
    steps = [f'published +{sent.time - start:.2f} s'] if sent is not None else ['never published']
    if sent is not None and sent.detail:
        steps[0] += ' (republished)'
    steps += [f'{e.kind} +{e.time - start:.2f} s' for e in story]
    last = story[-1].time if story else (sent.time if sent is not None else start)
    later = [t for t in drops if t >= last]
    if later:
        steps.append(f'then {len(later)} reconnect{"s" if len(later) > 1 else ""} on the queue '
                     f'(first +{later[0] - start:.2f} s)')
    return ', '.join(steps)
