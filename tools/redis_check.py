"""Where a message is on Redis: still in a queue, held in kombu's unacked hash, or gone (project: fault forensics).

kombu's Redis transport keeps a queue as a Redis list and a delivered, not yet acked message in the
hash ``unacked``.  A copy the event log cannot account for is in one of those, or nowhere: popped by
BRPOP for a connection that died before reading it.  Looking tells a delay from a loss.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping

from helpers import config
from helpers.reconcile import Reconciliation

__all__ = ['IN_QUEUE', 'UNACKED_HASH', 'GONE', 'locate', 'with_places']

IN_QUEUE = 'still in its queue'
UNACKED_HASH = "held in kombu's unacked hash: it comes back after the visibility timeout"
GONE = 'in no queue and not in the unacked hash: lost'


def _message_id(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return ''
    if isinstance(data, list):  # the unacked hash stores [message, exchange, routing key]
        data = data[0] if data else {}
    return str((data.get('properties') or {}).get('message_id', '')) if isinstance(data, dict) else ''


def locate(url: str, copies: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """{(queue, message id): where it is} for copies on the Redis broker at ``url``."""
    copies = list(copies)
    if not copies:
        return {}
    with config.connect(url) as conn:
        client = conn.default_channel.client
        held = {_message_id(raw) for raw in client.hvals('unacked')}
        waiting = {queue: {_message_id(raw) for raw in client.lrange(queue, 0, -1)}
                   for queue in {queue for queue, _id in copies}}
    return {(queue, mid): IN_QUEUE if mid in waiting[queue] else UNACKED_HASH if mid in held else GONE
            for queue, mid in copies}


#: The cause a lost copy gets once Redis has been asked where it is (GONE keeps the log's cause).
PLACE_CAUSES = {UNACKED_HASH: 'held_unacked', IN_QUEUE: 'still_queued'}


def with_places(rec: Reconciliation, where: Mapping[tuple[str, str], str]) -> Reconciliation:
    """``rec`` with the cause of each lost copy that ``locate`` found still on Redis set to where it is."""
    explanations = tuple(
        dataclasses.replace(item, cause=PLACE_CAUSES[where[item.queue, item.message_id]])
        if item.problem == 'lost' and where.get((item.queue, item.message_id)) in PLACE_CAUSES else item
        for item in rec.explanations)
    return dataclasses.replace(rec, explanations=explanations)
