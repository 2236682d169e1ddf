"""Celery workers for the notebook: in a background thread, or as a ``celery worker -Q`` process (06_celery).

``CeleryWorker`` runs Celery's own ``WorkController`` (solo pool) in a thread
named after its queues; it never prints and keeps Celery's logging out of
notebook cells.  ``python -m helpers.celery_bridge.workers -Q QUEUE --json`` runs a
Celery worker process whose task signals come out as one JSON line each, the
format ``helpers.processes.WorkerProcess`` reads.  Both take the course's queue
names and consume the queues' broker names (``LAB_NAMESPACE``).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable

from celery import Celery, signals
from celery.bootsteps import CLOSE
from celery.worker import WorkController

from .. import config
from ..celery_app import make_app
from ..events import EventLog
from ..topology import MEDIA, Topology
from ..worker_cli import READY, STOPPED, event_fields, event_line
from .events import THREAD_PREFIX, CeleryEvents

__all__ = ['CeleryWorker', 'course_queue', 'quiet_celery_logging', 'celery_command', 'main']


def course_queue(topology: Topology, name: str) -> str | None:
    """The course's name of ``topology``'s queue called ``name`` here or on the broker (None if no such queue)."""
    if name in topology.queue_names:
        return name
    return {topology.broker_queue_name(queue): queue for queue in topology.queue_names}.get(name)


def quiet_celery_logging() -> None:
    """Keep Celery's (and kombu's) log records out of notebook output: threads scatter them."""
    config.quiet_kombu_logging('celery', 'billiard')


class _ThreadWorkController(WorkController):
    """Celery's worker, made to live in a thread next to others of its kind."""

    def __init__(self, *args, **kwargs) -> None:
        self.consuming = threading.Event()
        super().__init__(*args, **kwargs)

    def should_use_eventloop(self) -> bool:
        # kombu's event loop (hub) is one per process: two workers in one process must not share it.
        return False

    def on_consumer_ready(self, consumer) -> None:
        super().on_consumer_ready(consumer)
        if isinstance(self.timer, threading.Thread):
            # Tasks with a countdown run in the worker's timer thread: name it after the worker's
            # thread, so the event log knows their queue (see helpers.celery_bridge.events.current_queue).
            self.timer.name = threading.current_thread().name
        self.consuming.set()


class CeleryWorker:
    """One Celery worker consuming ``queues`` in a background thread (one task at a time).

    ``queues`` are the course's names of ``topology``'s queues; the worker
    consumes their broker names.  Each worker gets a Celery app of its own,
    because a worker narrows its app's queue list to the queues it consumes.
    With ``topology=None`` and an ``app`` of your own, ``queues`` are the
    names in that app's ``task_queues``, consumed as they are.
    """

    def __init__(self, queues: Iterable[str], url: str | None = None, *, topology: Topology | None = MEDIA,
                 app: Celery | None = None, name: str | None = None) -> None:
        self.queues = list(queues)
        self.label = name or ','.join(self.queues)
        if topology is None and app is None:
            raise ValueError('CeleryWorker(topology=None) needs the Celery app whose queues it consumes: app=...')
        self.app = app or make_app(topology, url)
        # Not the lesson, and a thread must not print: Celery keeps its hands off logging and stdout.
        self.app.conf.update(worker_hijack_root_logger=False, worker_redirect_stdouts=False,
                             worker_enable_remote_control=False)
        self.broker_queues = ([topology.broker_queue_name(queue) for queue in self.queues] if topology
                              else list(self.queues))
        unknown = sorted(q for q, b in zip(self.queues, self.broker_queues) if b not in self.app.amqp.queues)
        if unknown:
            have = sorted((topology and course_queue(topology, b)) or b for b in self.app.amqp.queues)
            raise ValueError(f'queues {unknown} are not in the Celery configuration; it has {have}')
        self._controller: _ThreadWorkController | None = None
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 20.0) -> CeleryWorker:
        """Start consuming in a thread; return once Celery's consumer is ready."""
        if self.is_running:
            return self
        quiet_celery_logging()
        self._controller = _ThreadWorkController(
            app=self.app, hostname=f'{self.label}@notebook', pool='solo', concurrency=1, queues=self.broker_queues,
            without_heartbeat=True, without_mingle=True, without_gossip=True, loglevel='WARNING')
        self._thread = threading.Thread(target=self._run, name=f'{THREAD_PREFIX}{self.label}', daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._controller.consuming.wait(0.02):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f'Celery worker {self.label!r} did not start: {self.error or "timed out"}')
        return self

    def _run(self) -> None:
        try:
            # The solo pool runs tasks through Celery's *current* app: per thread, else the default app
            # (the timer thread runs tasks with a countdown). Every app here has the same tasks.
            self.app.set_current()
            self.app.set_default()
            self._controller.start()
        except BaseException as exc:  # kept for start()/stop() to report; a thread must not print
            self.error = exc

    def request_stop(self) -> None:
        """Ask the worker to finish the task in hand and leave its loop (returns at once).

        Only a flag is set here: closing the worker's connection from this thread while its own
        thread reads from it can block both on RabbitMQ and Redis.
        """
        consumer = getattr(self._controller, 'consumer', None)
        if consumer is not None and consumer.blueprint is not None:
            consumer.blueprint.state = CLOSE  # Celery's consume loop runs while this is RUN

    def stop(self, timeout: float = 15.0) -> None:
        """Stop and wait for the thread to end (Celery checks for a stop every 2 s at most), then close."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f'Celery worker {self.label!r} did not stop within {timeout:g} s')
        if self._controller is not None:
            controller, self._controller = self._controller, None
            controller.stop(in_sighandler=False)  # its thread has ended: closing here is safe

    def __enter__(self) -> CeleryWorker:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f'<CeleryWorker {self.label!r} {"running" if self.is_running else "stopped"}>'

    @staticmethod
    def stop_all(workers: Iterable[CeleryWorker], timeout: float = 15.0) -> None:
        """Ask every worker to stop, then wait for them all (stops in parallel)."""
        workers = list(workers)
        for worker in workers:
            worker.request_stop()
        for worker in workers:
            worker.stop(timeout)


def celery_command(queue: str, python: str = 'python') -> list[str]:
    """The command line of a Celery worker process for ``queue`` (broker and namespace: from the environment)."""
    return [python, '-m', 'helpers.celery_bridge.workers', '-Q', queue]


def main(argv: list[str] | None = None) -> int:
    """Run ``celery worker -Q QUEUE`` for the MEDIA topology, its task signals printed as JSON lines."""
    parser = argparse.ArgumentParser(prog='python -m helpers.celery_bridge.workers', description=main.__doc__)
    parser.add_argument('-Q', '--queues', required=True,
                        help="the queue to consume: its course name (video_queue) or its broker name")
    parser.add_argument('--json', action='store_true', help='one JSON object per line (always on)')
    parser.add_argument('--stop-on-eof', action='store_true', help='stop when standard input closes')
    args = parser.parse_args(argv)
    queue = course_queue(MEDIA, args.queues)
    if queue is None:
        parser.error(f'-Q {args.queues}: not a queue of the MEDIA topology; its queues: {", ".join(MEDIA.queue_names)}')
    app = make_app(MEDIA, config.broker_url())
    log = EventLog()

    def say(kind: str, **fields) -> None:
        print(event_line(kind, queue, **fields), flush=True)  # the course worker's JSON lines (worker_cli)

    log.subscribe(lambda e: say(e.kind, **event_fields(e)))
    CeleryEvents(log, queue=lambda: queue).connect()
    signals.worker_ready.connect(lambda **_kw: say(READY, queues=[queue]), weak=False)
    signals.worker_shutdown.connect(lambda **_kw: say(STOPPED), weak=False)
    if args.stop_on_eof:
        def watch_stdin() -> None:
            sys.stdin.read()
            os.kill(os.getpid(), signal.SIGTERM)  # Celery's warm shutdown: finish the task in hand
        threading.Thread(target=watch_stdin, daemon=True).start()
    # The same as: celery -A ... worker -Q QUEUE -n QUEUE@%h -P solo --without-mingle --without-gossip
    app.Worker(queues=[MEDIA.broker_queue_name(queue)], hostname=f'{queue}@%h', pool='solo', concurrency=1, quiet=True,
               without_mingle=True, without_gossip=True, without_heartbeat=True, loglevel='WARNING').start()
    return 0


if __name__ == '__main__':
    sys.exit(main())
