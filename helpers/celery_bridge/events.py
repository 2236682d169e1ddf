"""Celery's task signals recorded in the course's EventLog, so every view works for a Celery run (06_celery).

Signals fire in the process and thread where things happen: publishing in
the notebook, task execution in the worker's thread.  A worker thread named
``helpers-celery-<queue>`` (see ``helpers.celery_bridge.workers``) consumes one
queue, so the thread's name says which queue a task came from: Celery itself
does not tell a task which queue delivered it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from celery import signals

from ..events import ACKED, DEAD_LETTERED, DELIVERED, PUBLISHED, RETRIED, EventLog

__all__ = ['THREAD_PREFIX', 'CeleryEvents', 'current_queue']

THREAD_PREFIX = 'helpers-celery-'


def current_queue() -> str:
    """The queue the current worker thread consumes ('' outside a course worker thread)."""
    name = threading.current_thread().name
    return name[len(THREAD_PREFIX):] if name.startswith(THREAD_PREFIX) else ''


def _routing_key(task) -> str:
    return (task.request.delivery_info or {}).get('routing_key') or ''


class CeleryEvents:
    """Record Celery's publish, run, retry, success and failure signals in ``log``; a context manager.

    ``queue`` names the queue for worker-side events; by default the current
    worker thread's queue (``current_queue``).  A worker process passes its
    own ``-Q`` queue instead.
    """

    def __init__(self, log: EventLog, queue: Callable[[], str] = current_queue) -> None:
        self.log = log
        self.queue = queue
        self._receivers = [
            (signals.before_task_publish, self._published),
            (signals.task_prerun, self._delivered),
            (signals.task_success, self._acked),
            (signals.task_retry, self._retried),
            (signals.task_failure, self._failed),
        ]
        self.connected = False

    def connect(self) -> CeleryEvents:
        """Start recording (idempotent)."""
        if not self.connected:
            for signal, receiver in self._receivers:
                signal.connect(receiver, weak=False)
            self.connected = True
        return self

    def disconnect(self) -> None:
        """Stop recording."""
        for signal, receiver in self._receivers:
            signal.disconnect(receiver)
        self.connected = False

    def __enter__(self) -> CeleryEvents:
        return self.connect()

    def __exit__(self, *exc_info) -> None:
        self.disconnect()

    # -- receivers (they run in the publishing or the worker's thread) ---------

    def _published(self, sender=None, headers=None, routing_key='', **_kw) -> None:
        headers = headers or {}
        if headers.get('retries'):  # Celery re-publishes a retried task: task_retry records it
            return
        self.log.record(PUBLISHED, headers.get('id', ''), routing_key or '', '', sender or '')

    def _delivered(self, task_id=None, task=None, **_kw) -> None:
        if task.request.retries:  # a retry is the same copy tried again, as in the course's Worker
            return
        self.log.record(DELIVERED, task_id, _routing_key(task), self.queue(), task.name)

    def _acked(self, sender=None, result=None, **_kw) -> None:
        self.log.record(ACKED, sender.request.id, _routing_key(sender), self.queue(),
                        '' if result is None else str(result))

    def _retried(self, sender=None, request=None, reason=None, **_kw) -> None:
        info = getattr(request, 'delivery_info', None) or {}
        self.log.record(RETRIED, request.id, info.get('routing_key') or '', self.queue(), str(reason))

    def _failed(self, sender=None, task_id=None, exception=None, **_kw) -> None:
        tries = sender.request.retries + 1
        self.log.record(DEAD_LETTERED, task_id, _routing_key(sender), self.queue(),
                        f'failed after {tries} tries: {type(exception).__name__}: {exception}; '
                        'acked (Celery\'s default: gone from the broker) or, with late acks, rejected')
