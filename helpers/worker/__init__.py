"""A worker that runs one handler per queue, acks after the work, and loses nothing (02_worker).

The seed tutorial ran one consumer over two queues, so its callback could not
tell which queue a message came from.  Here every queue has its own consumer
and its own handler.  A handler that raises is retried a bounded number of
times, then the message is dead-lettered with the reason; a body that cannot
be decoded (or is not JSON) is quarantined the same way instead of being
acked and dropped.  The worker records every outcome in an EventLog and never
prints.

Run it as a separate process (how a class scales out on RabbitMQ) with
``python -m helpers.worker``: ``helpers/worker/__main__.py`` runs the command line,
``helpers.worker_cli``, which imports this module (this module imports neither).
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any, NamedTuple, Union

from kombu import Consumer, Producer, serialization
from kombu.utils import json as kombu_json

from .. import config
from ..events import (
    ACKED,
    DEAD_LETTERED,
    DELIVERED,
    HANDLED_NOTE,
    QUARANTINED,
    RECONNECTED,
    REDELIVERED_NOTE,
    RETRIED,
    UNACKED,
    EventLog,
)
from ..runner import ThreadedConsumer
from ..topology import DEAD_LETTER_KEY, SEED, Topology

__all__ = ['Delivery', 'HANDLED_NOTE', 'Handler', 'MADE_UP_ID', 'REDELIVERED_NOTE', 'Worker', 'WorkerError',
           'made_up_id', 'running_workers', 'stop_all']


class Delivery(NamedTuple):
    """What a handler learns about the message it is handling (immutable)."""

    queue: str
    routing_key: str
    message_id: str
    attempt: int
    redelivered: bool
    headers: Mapping[str, Any]


_delivery = tuple.__new__  # Delivery(...) without the namedtuple's Python-level __new__ (the hot path)
# kombu decodes JSON with json.loads(body, object_hook=...), which builds a decoder for every message (a
# tenth of a memory:// worker's time); this one, with kombu's hook, is built once and gives the same values.
_JSON = json.JSONDecoder(object_hook=kombu_json.object_hook)
Handler = Callable[[Any, Delivery], Any]
Handlers = Union[Handler, Mapping[str, Handler], None]


class WorkerError(RuntimeError):
    """The worker could not start or stop; the message says why."""


def acknowledge(body: Any, delivery: Delivery) -> None:
    """The default handler: accept the message and do nothing else."""


MADE_UP_ID = 'the message had no id: this one is made up from its routing key and a digest of its body'


def made_up_id(routing_key: str, body: Any) -> str:
    """A stable id for a message that came without one: the same for every copy, in every queue."""
    data = body.encode('utf-8', 'surrogateescape') if isinstance(body, str) else bytes(body or b'')
    digest = hashlib.sha256(routing_key.encode('utf-8', 'surrogateescape') + b'\0' + data).hexdigest()
    return f'no-id-{digest[:16]}'


# What becomes of a message whose connection dropped before its ack, on each transport.
AGAIN = {
    'amqp': 'the broker delivers what was not acked again, flagged redelivered',
    'redis': "kombu's Redis transport delivers what was not acked again only if it is still in its unacked hash "
             '(at once when the channel closes cleanly, else after the visibility timeout); a message popped for '
             'a connection that died before reading it is lost',
    'memory': 'memory:// drops what was not acked when the channel closes',
}


_registry: dict[str, Worker] = {}
_registry_lock = threading.Lock()


def running_workers() -> list[Worker]:
    """The workers started in this process that are still running."""
    with _registry_lock:
        return [w for w in _registry.values() if w.is_running]


def stop_all() -> None:
    """Stop every worker started in this process."""
    for worker in running_workers():
        worker.stop()


class Worker(ThreadedConsumer):
    """Consume ``queues`` of ``topology`` with one handler per queue, in a thread or in the foreground.

    ``handlers`` is one callable for every queue or a ``{queue: callable}``
    mapping; a handler is called as ``handler(body, delivery)``.  Starting a
    worker whose ``name`` is already running stops the old one first, so
    re-running a notebook cell never leaves an orphan consumer behind.
    """

    def __init__(self, url: str | None = None, queues: Iterable[str] | None = None, *,
                 topology: Topology = SEED, handlers: Handlers = None, log: EventLog | None = None,
                 prefetch_count: int = 1, max_retries: int = 2, retry_delay: float = 0.0,
                 name: str = 'worker', accept: Iterable[str] = ('json',)) -> None:
        self.url = config.broker_url(url)
        self.transport = config.transport_of(self.url)
        self.topology = topology
        self.queue_names = list(queues) if queues is not None else topology.queue_names
        unknown = sorted(set(self.queue_names) - set(topology.queue_names))
        if unknown:
            raise ValueError(f'queues {unknown} are not in the topology; it has {topology.queue_names}')
        _check_settings(topology, prefetch_count, max_retries)
        self.handlers = self._handlers_by_queue(handlers)
        self.log = log if log is not None else EventLog()
        self.prefetch_count = prefetch_count
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.name = name
        self.accept = list(accept)
        self._json_once = _decodes_json_as_kombu(self.accept)
        self.connection = config.connect(self.url)
        self.connect_max_retries = 2
        super().__init__(f'worker {name!r}', f'helpers-worker-{name}')
        self._dead_letters: Producer | None = None

    def _handlers_by_queue(self, handlers: Handlers) -> dict[str, Handler]:
        if handlers is None or callable(handlers):
            return {queue: handlers or acknowledge for queue in self.queue_names}
        missing = [q for q in self.queue_names if q not in handlers]
        if missing:
            unknown = sorted(set(handlers) - set(self.queue_names))
            raise ValueError(f'no handler for queues {missing}: give one handler per queue in the handlers= table '
                             f'passed to Worker' + (f' (it names {unknown}, not queues of this topology: after a '
                             'rename in helpers/course_names.py, tools/names.py --rename OLD=NEW rewrites the '
                             "notebooks' tables)" if unknown else '')
                             + '; the demo takes its table from SEED_HANDLERS in helpers/course_names.py')
        return {queue: handlers[queue] for queue in self.queue_names}

    # -- kombu's ConsumerMixin hooks (they run in the worker's thread) ---------

    def get_consumers(self, Consumer: type[Consumer], channel) -> list[Consumer]:
        """One consumer per queue, each with a callback that knows its queue."""
        self.topology.dead_letter_queue().bind(channel).declare()
        self._close_dead_letters()  # after a reconnect the old one may be dead too
        if self.transport == 'amqp':  # a broker that refuses it should show now, not at the first failure
            self._dead_letter_producer()
        return [
            Consumer(queues=[self.topology.queue(name)], accept=self.accept,
                     prefetch_count=self.prefetch_count, on_message=partial(self._on_message, name))
            for name in self.queue_names
        ]

    def on_consume_ready(self, connection, channel, consumers, **kwargs) -> None:
        self.connect_max_retries = None  # once running, ride out broker restarts
        if self._ready.is_set():  # ready before: the connection was lost and is back
            why = f' ({config.one_line(self.last_error)})' if self.last_error else ''
            for queue in self.queue_names:
                self.log.record(RECONNECTED, '', '', queue,
                                f'worker {self.name!r} lost its broker connection{why} and reconnected; '
                                + AGAIN[self.transport])
        self._ready.set()

    @contextmanager
    def Consumer(self):
        """kombu's consumer set-up; a declare or consume the broker refuses before the first start ends the run."""
        try:
            with super().Consumer() as consuming:
                yield consuming
        except self.connection.channel_errors as exc:
            self.last_error = exc
            if self._ready.is_set():
                raise  # ConsumerMixin tries again
            # kombu would retry it for ever; the broker's reason will not change, so say it now.
            raise WorkerError(f'the broker refused to set up the queues: {config.one_line(exc)}') from exc

    @contextmanager
    def extra_context(self, connection, channel):
        """Remember why consuming stopped, so the reconnect can say so."""
        try:
            yield
        except Exception as exc:
            self.last_error = exc
            raise

    def on_connection_error(self, exc: BaseException, interval: float) -> None:
        self.last_error = exc
        if self.should_stop:
            raise WorkerError(f'worker {self.name!r} stopped while reconnecting: {exc}')

    def _dead_letter_producer(self) -> Producer:
        # Dead letters go out on a connection of their own.  On RabbitMQ the worker waits for the
        # broker's confirm before it acks the original, and while py-amqp waits it dispatches
        # whatever else arrives on that connection: on the consuming connection that would run
        # the next delivery inside this one, and two nested waits can both be answered by one
        # 'multiple' confirm, leaving the outer one waiting forever.  (kombu's ConsumerProducerMixin
        # was tried for this: its producer_connection retries a down broker with no hook for stop(),
        # so a worker asked to stop during an outage hung; see tests/broker/test_stop_during_outage.py.)
        if self._dead_letters is None:
            options = {'confirm_publish': True} if self.transport == 'amqp' else {}
            connection = config.connect(self.url, transport_options=options)
            self._dead_letters = Producer(connection.channel(), exchange=self.topology.dead_letter_exchange())
        return self._dead_letters

    def _close_dead_letters(self) -> None:
        producer, self._dead_letters = self._dead_letters, None
        if producer is not None:
            with suppress(Exception):  # a connection that is already dead has nothing to close
                producer.channel.connection.client.release()

    # -- the message path ------------------------------------------------------

    def _on_message(self, queue: str, message) -> None:
        """One delivery from ``queue``: record it, run the handler (retrying), ack after the work, record that.

        The worker's hot path, in one function: a body it cannot use, a handler that keeps failing and a
        connection lost mid-way each leave it for a method of their own.
        """
        info = message.delivery_info
        routing_key = info.get('routing_key') or ''
        message_id = message.properties.get('message_id')
        redelivered = bool(info.get('redelivered'))
        note = ''
        if redelivered or not message_id:
            message_id, note = self._identify(message, routing_key, message_id, redelivered)
        self.log.record(DELIVERED, message_id, routing_key, queue, note)
        handled = False  # once True, a failing ack cannot undo the work
        try:
            if self.accept and not message.content_type:
                # kombu passes a body without a content type through untouched, whatever ``accept`` says.
                self._park(message, queue, message_id, routing_key, QUARANTINED,
                           f'the message has no content type; this worker accepts only {", ".join(self.accept)}', 0)
                return
            try:
                body = self._decode(message)
            except Exception as exc:
                self._park(message, queue, message_id, routing_key, QUARANTINED,
                           f'cannot decode {message.content_type!r} body: {config.one_line(exc)}', 0)
                return
            handler, headers, attempt = self.handlers[queue], message.headers or {}, 0
            while True:
                attempt += 1
                try:
                    result = handler(body, _delivery(Delivery, (queue, routing_key, message_id, attempt, redelivered,
                                                                headers)))
                    break
                except Exception as exc:
                    if not self._retry(message, queue, message_id, routing_key, attempt, exc):
                        return  # dead-lettered
            handled = True
            message.ack()
            self.log.record(ACKED, message_id, routing_key, queue, '' if result is None else str(result))
        except self.connection.connection_errors as exc:  # from the ack or the dead-letter publish
            done = HANDLED_NOTE if handled else 'the connection dropped before the message was acked'
            self.log.record(UNACKED, message_id, routing_key, queue,
                            f'{done} ({config.one_line(exc)}); ' + AGAIN[self.transport])
            raise  # ConsumerMixin reconnects

    def _decode(self, message) -> Any:
        """The body as ``message.decode()`` gives it; JSON through the decoder built once."""
        body = message.body
        if self._json_once and body and message.content_type == 'application/json':
            try:
                return _JSON.decode(body if isinstance(body, str) else str(body, 'utf-8'))
            except Exception:  # it fails again below, with kombu's error
                pass
        return message.decode()

    @staticmethod
    def _identify(message, routing_key: str, message_id: str | None, redelivered: bool) -> tuple[str, str]:
        """The message id (made up if it has none) and the delivered event's note."""
        notes = [REDELIVERED_NOTE] if redelivered else []
        if not message_id:
            message_id = made_up_id(routing_key, message.body)
            notes.append(MADE_UP_ID)
        return message_id, '; '.join(notes)

    def _retry(self, message, queue: str, message_id: str, routing_key: str, attempt: int, exc: Exception) -> bool:
        """After the handler's ``attempt``-th failure: whether to try again (else the message is dead-lettered)."""
        reason = f'{type(exc).__name__}: {config.one_line(exc)}'
        if attempt > self.max_retries:
            self._park(message, queue, message_id, routing_key, DEAD_LETTERED,
                       f'handler failed {attempt} times; last error {reason}', attempt)
            return False
        self.log.record(RETRIED, message_id, routing_key, queue, reason)
        if self.retry_delay:
            time.sleep(self.retry_delay * attempt)
        return True

    def _park(self, message, queue: str, message_id: str, routing_key: str, kind: str,
              reason: str, attempts: int) -> None:
        """Publish the message, untouched, to the dead-letter queue with the reason; then ack it."""
        headers = {**(message.headers or {}), 'x-reason': reason, 'x-outcome': kind,
                   'x-original-queue': queue, 'x-original-routing-key': routing_key,
                   'x-attempts': attempts}
        self._dead_letter_producer().publish(
            message.body, routing_key=DEAD_LETTER_KEY, headers=headers, message_id=message_id,
            content_type=message.content_type or 'application/octet-stream',
            content_encoding=message.content_encoding or 'binary',
        )
        message.ack()
        self.log.record(kind, message_id, routing_key, queue, reason)

    # -- running in a background thread (ThreadedConsumer), one per name ---------

    Error = WorkerError

    def start(self, timeout: float = 30.0) -> Worker:
        """Consume in a background thread; return once consuming (stops a same-named worker first)."""
        with _registry_lock:
            previous = _registry.get(self.name)
        if previous is not None and previous is not self and previous.is_running:
            with suppress(WorkerError):  # its handler is stuck: stop() abandoned it, so start anyway
                previous.stop()
        super().start(timeout)
        with _registry_lock:
            _registry[self.name] = self
        return self

    def on_thread_end(self) -> None:
        self._close_dead_letters()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the message in hand, ack it, close the connection; return when the thread ended.

        A handler still running after ``timeout`` s is not waited for: the worker is abandoned (its
        daemon thread ends when the handler returns), it no longer blocks a worker of the same name,
        and WorkerError says so.
        """
        try:
            super().stop(timeout)
        except WorkerError as exc:
            raise WorkerError(f'{exc}: a handler is still running; the worker is abandoned and its thread '
                              'ends when the handler returns') from None
        finally:
            with _registry_lock:
                if _registry.get(self.name) is self:
                    del _registry[self.name]

    def __repr__(self) -> str:
        state = 'running' if self.is_running else 'stopped'
        return f'<Worker {self.name!r} {state} on {self.transport}: {", ".join(self.queue_names)}>'


def _decodes_json_as_kombu(accept: list[str]) -> bool:
    """Whether the worker accepts JSON and kombu decodes it with its own loads (then _JSON gives the same)."""
    return 'application/json' in serialization.prepare_accept_content(accept) \
        and serialization.registry._decoders.get('application/json') is kombu_json.loads


# AMQP carries a prefetch count in 16 bits (names: Topology.check_names).
MAX_PREFETCH = 65535


def _check_settings(topology: Topology, prefetch_count: int, max_retries: int) -> None:
    """Raise ValueError, in plain words, for a setting no broker would take."""
    if isinstance(prefetch_count, bool) or not isinstance(prefetch_count, int) \
            or not 0 <= prefetch_count <= MAX_PREFETCH:
        raise ValueError(f'prefetch count {prefetch_count!r} is out of range: give a whole number from 0 to '
                         f'{MAX_PREFETCH} (how many unacked messages a consumer may hold; 0 means no limit)')
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f'max_retries {max_retries!r} must be a whole number, 0 or more')
    topology.check_names()
