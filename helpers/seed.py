"""The seed tutorial's worker, rebuilt as a specimen to study: it records instead of printing (02_worker).

``SeedWorker`` keeps the tutorial's design on purpose, bugs included: one
``Consumer`` over both queues, one callback that picks a branch with
``'video' in routing_key`` and ``'audit' in routing_key``, ``prefetch_count=1``,
an ack at the very end, and an exception handler that only reports.  So a
``video.upload`` message is transcoded twice (a copy arrives from each queue),
the audit branch never runs (no routing key contains "audit"), the callback
cannot say which queue a message came from, and a failing message is never
acked.  Each step is recorded in an EventLog (queue ``'?'``: the callback
cannot know it) so a notebook can show all of this.  Use ``helpers.worker.Worker``
for real work.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import config
from .events import ACKED, DELIVERED, EventLog
from .runner import ThreadedConsumer
from .topology import SEED, Topology

__all__ = ['UNKNOWN_QUEUE', 'TRANSCODED', 'AUDITED', 'FAILED', 'SEED_MESSAGES', 'SeedWorker']

UNKNOWN_QUEUE = '?'      # what the seed's callback knows about where a message came from
TRANSCODED = 'transcoded'  # the video branch ran
AUDITED = 'audited'        # the audit branch ran (it never does)
FAILED = 'failed'          # the callback raised: reported, not acked, not retried

#: The two messages the seed publishes: (routing key, payload).  Ids are fixed so outputs are stable.
SEED_MESSAGES = (
    ('video.upload', {'id': 'seed0001', 'file': 'movie.mp4'}),
    ('user.login', {'id': 'seed0002', 'user': 'admin'}),
)

class SeedWorker(ThreadedConsumer):
    """The tutorial's worker: one consumer over every queue, one callback, branches on the routing key."""

    def __init__(self, url: str | None = None, *, topology: Topology = SEED, log: EventLog | None = None,
                 transcode: Callable[[dict], Any] | None = None) -> None:
        self.topology = topology
        self.log = log if log is not None else EventLog()
        self.transcode = transcode or (lambda payload: None)  # the seed slept 0.5 s here
        self.url = config.broker_url(url)
        self.connection = config.connect(self.url)
        super().__init__('the seed worker', 'helpers-seed-worker')

    def get_consumers(self, Consumer, channel) -> list:
        """The seed's design: ONE consumer over all the queues, with one callback."""
        return [Consumer(queues=self.topology.queues(), accept=['json'], prefetch_count=1,
                         callbacks=[self.process_task])]

    def process_task(self, body: Any, message) -> None:
        """The seed's callback: which branch runs depends only on words in the routing key."""
        routing_key = message.delivery_info.get('routing_key') or ''
        task_id = body.get('id', '?') if isinstance(body, dict) else '?'
        self.log.record(DELIVERED, task_id, routing_key, UNKNOWN_QUEUE)
        try:
            if 'video' in routing_key:
                self.transcode(body)
                self.log.record(TRANSCODED, task_id, routing_key, UNKNOWN_QUEUE)
            if 'audit' in routing_key:
                self.log.record(AUDITED, task_id, routing_key, UNKNOWN_QUEUE)
            message.ack()
            self.log.record(ACKED, task_id, routing_key, UNKNOWN_QUEUE)
        except Exception as exc:  # the seed logs the error and does nothing else: no ack, no reject
            self.log.record(FAILED, task_id, routing_key, UNKNOWN_QUEUE, f'{type(exc).__name__}: {exc}')

    # -- a background thread, as in the seed (but one that can be stopped and joined: ThreadedConsumer) --

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the thread to stop and wait for it (the seed set should_stop and never waited)."""
        # 15 s, not the Worker's 5: stuck on an unacked message, a seed worker on RabbitMQ once took over 5 s to
        # end under a class's load (load average 29 on 2 cores).  join() returns as soon as the thread ends.
        super().stop(timeout)
        self.connection.release()
