"""The course's topology as Celery configuration, and a few media tasks (06_celery).

``celery_config`` turns a ``Topology`` into Celery settings: the same topic
exchange, the same queues with the same binding keys (``task_queues``), and
``task_routes`` that give every task a routing key.  Under ``LAB_NAMESPACE``
Celery gets the broker's names; workers and event logs keep the course's.  ``make_app`` builds a
Celery app from them with the media tasks registered.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from celery import Celery

from . import config
from .topology import MEDIA, Topology, validate_routing_key

__all__ = ['TASK_KEYS', 'MediaTaskError', 'celery_config', 'make_app', 'celery_route', 'landing', 'landed_in']

#: Each media task and the routing key it is published with unless the caller gives another.
TASK_KEYS = {
    'media.transcode': 'video.transcode.requested',
    'media.resize': 'image.resize.requested',
    'media.normalize': 'audio.normalize.requested',
    'media.welcome': 'user.signup',
    'media.process': 'media.process',  # the generic one: callers give it the event's routing key
    'media.flaky': 'video.transcode.flaky',
}


class MediaTaskError(RuntimeError):
    """A media task failed on purpose (the payload asked it to)."""


def celery_config(topology: Topology = MEDIA, url: str | None = None) -> dict[str, Any]:
    """Celery settings that declare ``topology`` and route every media task into its exchange.

    The settings hold the broker's names (``LAB_NAMESPACE``, see helpers.namespace);
    ``topology.course_name`` turns one back into the course's name.
    """
    url = config.broker_url(url)
    exchange = topology.exchange()
    routes = {name: {'exchange': exchange.name, 'routing_key': key,
                     # Declaring the exchange on every publish: on redis:// a connection that never
                     # declared it treats it as a direct exchange and drops the message silently.
                     'declare': [exchange]}
              for name, key in TASK_KEYS.items()}
    return {
        'broker_url': url,
        'broker_transport_options': dict(config.TRANSPORT_OPTIONS[config.transport_of(url)]),
        'broker_connection_retry_on_startup': True,
        'task_queues': topology.queues(),
        'task_default_exchange': exchange.name,
        'task_default_exchange_type': 'topic',
        'task_default_queue': topology.broker_queue_name(topology.queue_names[0]),
        'task_default_routing_key': 'task.unrouted',
        'task_create_missing_queues': False,
        'task_routes': routes,
        'task_ignore_result': True,          # no result backend: the event log is where outcomes go
        'task_acks_late': True,              # ack after the work, as the course's Worker does
        'task_reject_on_worker_lost': True,  # a worker that dies mid-task gives the message back
        'worker_prefetch_multiplier': 1,     # hold one message at a time, like prefetch_count=1
        'worker_hijack_root_logger': False,  # keep Celery's logging out of notebook cells
        'worker_redirect_stdouts': False,
        'worker_enable_remote_control': False,  # no pidbox exchange and queues left on the broker
        'task_serializer': 'json', 'accept_content': ['json'],
    }


def celery_route(app: Celery, task_name: str, routing_key: str | None = None) -> str:
    """The routing key a call of ``task_name`` is published with (``routing_key`` wins when given).

    Raises RoutingKeyError for a key that is not a concrete routing key (a wildcard, a space...).
    """
    if routing_key is None:
        route = app.amqp.router.route({}, task_name)
        routing_key = route.get('routing_key') or app.conf.task_default_routing_key
    return validate_routing_key(routing_key)


def make_app(topology: Topology = MEDIA, url: str | None = None, name: str = 'media') -> Celery:
    """A Celery app configured by ``celery_config`` with the media tasks registered."""
    app = Celery(name, set_as_current=False)
    app.conf.update(celery_config(topology, url))
    _register_tasks(app)
    return app


def _register_tasks(app: Celery) -> None:
    """The media tasks: short, and each says which routing key brought it."""
    def where(task) -> str:
        info = task.request.delivery_info or {}
        again = ' (redelivered)' if info.get('redelivered') else ''
        return f"{info.get('routing_key')}{again}"

    @app.task(name='media.transcode', bind=True, shared=False, lazy=False)
    def transcode(self, file: str, seconds: float = 0.0) -> str:
        """'Transcode' a video: sleep ``seconds`` (the work), then report."""
        if seconds:
            time.sleep(seconds)
        return f'transcoded {file} via {where(self)}'

    @app.task(name='media.resize', bind=True, shared=False, lazy=False)
    def resize(self, file: str) -> str:
        return f'resized {file} via {where(self)}'

    @app.task(name='media.normalize', bind=True, shared=False, lazy=False)
    def normalize(self, file: str) -> str:
        return f'normalized {file} via {where(self)}'

    @app.task(name='media.welcome', bind=True, shared=False, lazy=False)
    def welcome(self, user: str) -> str:
        return f'welcomed {user} via {where(self)}'

    @app.task(name='media.process', bind=True, shared=False, lazy=False)
    def process(self, payload: dict) -> str:
        """Handle any media event; a payload with ``"corrupt": true`` fails, ``"seconds"`` sleeps.

        With ``"peek": true`` it returns what Celery told it about its delivery (``request.delivery_info``).
        """
        if payload.get('peek'):
            return repr(dict(sorted((self.request.delivery_info or {}).items())))
        if payload.get('seconds'):
            time.sleep(payload['seconds'])
        if payload.get('corrupt'):
            raise MediaTaskError(f'event #{payload.get("n")}: the file is corrupt')
        return f'processed #{payload.get("n")} via {where(self)}'

    @app.task(name='media.flaky', bind=True, shared=False, lazy=False, max_retries=2)
    def flaky(self, file: str, fail_times: int = 1, countdown: float = 0.2) -> str:
        """Fail the first ``fail_times`` tries; Celery retries after ``countdown`` s without blocking the worker."""
        if self.request.retries < fail_times:
            raise self.retry(exc=MediaTaskError(f'{file}: storage not ready (try {self.request.retries + 1})'),
                             countdown=countdown)
        return f'{file} done on try {self.request.retries + 1}'


def landing(app: Celery, send: Callable[[], Any], *, others: Iterable[Celery] = ()) -> dict[str, int]:
    """Where the messages ``send()`` publishes through ``app`` land: ``{queue: messages}``, read on the broker.

    Every queue ``app`` (and each app in ``others``) knows -- ``task_queues`` and any Celery creates while
    sending, such as the default ``celery`` queue -- is declared and emptied first, then counted after
    ``send()`` and emptied again.  No worker runs, so nothing is consumed: the counts are the broker's
    routing.  RabbitMQ routes a message a moment after the publish returns: the counts are read until
    they stay the same.
    """
    apps = [app, *others]
    try:
        # Celery makes its default queue when a call first needs it: make it now, so it is declared
        # below on the publishing connection (kombu remembers what a connection declared and would skip
        # it, even if the queue has been deleted since).
        app.amqp.queues[app.conf.task_default_queue]
    except KeyError:  # task_create_missing_queues=False and no such queue: nothing to make
        pass
    _each_queue(apps, purge=True)
    with app.producer_or_acquire() as producer:
        # Declared again on the connection the tasks are published on: on redis:// a connection knows an
        # exchange's type only if it declared the exchange itself (else it routes as 'direct').
        for queue in app.amqp.queues.values():
            queue.bind(producer.channel).declare()
    send()
    counts = _each_queue(apps, purge=False, declared=True)
    if config.transport_of(app.conf.broker_url) == 'amqp':
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            time.sleep(0.05)
            again = _each_queue(apps, purge=False, declared=True)
            if again == counts:
                break
            counts = again
    _each_queue(apps, purge=True, declared=True)
    return {name: n for name, n in counts.items() if n}


def landed_in(app: Celery, send: Callable[[], Any], *, others: Iterable[Celery] = (),
              topology: Topology = MEDIA) -> str:
    """``landing`` as one line: the queues (``topology``'s course names where they are its queues), copies if > 1."""
    def short(name: str) -> str:
        try:
            return topology.course_name(name)
        except ValueError:
            return name
    got = landing(app, send, others=others)
    return ', '.join(short(q) + (f' ×{n}' if n > 1 else '') for q, n in sorted(got.items())) or '(no queue)'


def _each_queue(apps: list[Celery], purge: bool, declared: bool = False) -> dict[str, int]:
    """Declare each queue the ``apps`` know; return its message count (then empty it when ``purge``)."""
    counts = {}
    with apps[0].connection_for_write() as conn:
        for app in apps:
            for name, queue in sorted(app.amqp.queues.items()):
                with conn.channel() as channel:
                    bound = queue.bind(channel)
                    if not declared:
                        bound.declare()  # the queue, its exchange(s) and its bindings
                    # Not passive: redis:// cannot passively declare a queue that is empty.
                    counts[name] = bound.queue_declare().message_count or 0
                    if purge and counts[name]:
                        bound.purge()
    return counts
