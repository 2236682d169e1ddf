"""Where a message is on Redis: still in a queue, held in kombu's unacked hash, or gone (04_full_run, faults).

kombu's Redis transport keeps a queue as a Redis list and a delivered, not yet acked message in the
hash ``unacked``.  A copy the event log cannot account for is in one of those, or nowhere: popped by
BRPOP for a connection that died before reading it.  Looking tells a delay from a loss.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

from . import config

__all__ = ['IN_QUEUE', 'UNACKED_HASH', 'GONE', 'locate']

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
