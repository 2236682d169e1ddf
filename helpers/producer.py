"""A publisher that validates keys, declares what it publishes to, and predicts where a message goes (01_topology).

The seed's producer never declared the exchange, so on ``redis://`` the
exchange routed as ``direct`` and dropped every message.  This one declares
the exchange and the queues (so messages published before a worker starts
are kept), uses a connection of its own, waits for publisher confirms on
RabbitMQ and retries on connection errors.  Use one Publisher per thread.

What ``publish`` returns is a *prediction*: the queues that AMQP's matching
rules (``Topology.route``) say get a copy, computed from the course's own
topology, not observed on the broker.  On ``memory://`` and ``redis://``
kombu's topic matching differs (a bare ``video`` reaches no ``video.#``
queue there), and a queue bound by someone else is not in the topology.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any, NamedTuple

from kombu import Producer
from kombu.utils import json

from . import config
from .events import PUBLISHED, UNROUTABLE, EventLog
from .topology import SEED, Topology, validate_routing_key

__all__ = ['Published', 'Receipt', 'Publisher']

# Up to about 15 s of retries: long enough to ride out a broker restart (RabbitMQ with its management
# plugin is back after 7-8 s here), short enough that an unreachable broker still gets a clear error.
RETRY_POLICY = {'max_retries': 10, 'interval_start': 0, 'interval_step': 0.5, 'interval_max': 2}
_publisher_numbers = itertools.count(1)


class Published(NamedTuple):
    """One published message: its id, its key, and the queues predicted to get a copy (by AMQP rules).

    The prediction comes from the topology, not from the broker: see the module docstring.
    """

    message_id: str
    routing_key: str
    predicted_queues: tuple[str, ...]

    @property
    def queues(self) -> tuple[str, ...]:
        """The predicted queues (the name older code uses)."""
        return self.predicted_queues

    @property
    def routed(self) -> bool:
        """True when AMQP rules route the key to at least one queue of the topology."""
        return bool(self.predicted_queues)


#: The earlier name of ``Published``, kept so older code still imports.
Receipt = Published


class Publisher:
    """Publish JSON messages with ids to a topology's exchange, from one thread."""

    def __init__(self, url: str | None = None, *, topology: Topology = SEED, log: EventLog | None = None,
                 confirm: bool = True, name: str | None = None, validate: bool = True) -> None:
        self.url = config.broker_url(url)
        self.transport = config.transport_of(self.url)
        self.topology = topology
        self.log = log if log is not None else EventLog()
        self.name = name or f'p{next(_publisher_numbers)}'
        self.validate = validate
        self.confirm = confirm and self.transport == 'amqp'
        options = {'confirm_publish': True} if self.confirm else {}
        self.connection = config.connect(self.url, transport_options=options)
        self._owner = threading.get_ident()
        self._numbers = itertools.count(1)
        self._producer: Producer | None = None
        self._retry_reason = ''
        # Declaring the queues too means a message sent before any worker is
        # consuming waits in its queue instead of being dropped as unroutable.
        self._declare = [topology.exchange(), *topology.queues()]

    @property
    def producer(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(self.connection.default_channel, exchange=self.topology.exchange())
        return self._producer

    def next_id(self) -> str:
        """A new message id, unique in this process: '<publisher name>-<number>'."""
        return f'{self.name}-{next(self._numbers):04d}'

    def publish(self, routing_key: str, payload: Any = None, *, message_id: str | None = None,
                serializer: str = 'json', **properties) -> Published:
        """Publish ``payload`` with ``routing_key``; return its id and the queues predicted to get a copy."""
        self._check_thread()
        if self.validate:
            validate_routing_key(routing_key)
        payload = payload if payload is not None else {}
        if serializer == 'json':
            # Serialize here, with kombu's encoder, refusing NaN and Infinity: Python would write them
            # as bare NaN/Infinity, which is not JSON, and other consumers would choke on it.
            try:
                payload = json.dumps(payload, allow_nan=False)
            except ValueError as exc:
                raise ValueError(f'payload for {routing_key!r} cannot be sent as JSON: {exc} '
                                 '(NaN and Infinity are not JSON; send null or a string instead)') from None
            properties = {'content_type': 'application/json', 'content_encoding': 'utf-8', **properties}
            serializer = None
        message_id = message_id or self.next_id()
        self.producer.publish(
            payload, routing_key=routing_key, serializer=serializer,
            message_id=message_id, declare=self._undeclared(), retry=True, retry_policy=self._retry_policy(),
            **properties,
        )
        return self._published(message_id, routing_key)

    def publish_raw(self, routing_key: str, body: bytes, content_type: str,
                    content_encoding: str = 'utf-8', *, message_id: str | None = None) -> Published:
        """Publish bytes as they are (for showing what a worker does with bad input)."""
        self._check_thread()
        message_id = message_id or self.next_id()
        self.producer.publish(
            body, routing_key=routing_key, content_type=content_type, content_encoding=content_encoding,
            message_id=message_id, declare=self._undeclared(), retry=True, retry_policy=self._retry_policy(),
        )
        return self._published(message_id, routing_key)

    def _undeclared(self) -> list:
        """The entities this connection has not declared yet (kombu forgets them when it reconnects).

        kombu skips an entity it has declared, but only after copying and wrapping it for retries,
        which costs more than the publish itself; asking its cache first keeps a publish cheap.
        """
        declared = self.connection.declared_entities
        return [entity for entity in self._declare if hash(entity) not in declared]

    def _retry_policy(self) -> dict:
        self._retry_reason = ''

        def note(exc: BaseException, interval: float) -> None:
            self._retry_reason = config.one_line(exc)
        return {**RETRY_POLICY, 'errback': note}

    def _published(self, message_id: str, routing_key: str) -> Published:
        queues = tuple(self.topology.route(routing_key))
        # A publish that had to be retried may have reached the broker the first time too: at-least-once
        # publishing can make a duplicate that is not flagged 'redelivered'.  Say so in the log.
        detail = f'republished after a connection error ({self._retry_reason})' if self._retry_reason else ''
        self.log.record(PUBLISHED, message_id, routing_key, detail=detail)
        if not queues:
            self.log.record(UNROUTABLE, message_id, routing_key,
                            detail=f'by AMQP rules no queue of {self.topology.exchange_name!r} matches it')
        return Published(message_id, routing_key, queues)

    def _check_thread(self) -> None:
        if threading.get_ident() != self._owner:
            raise RuntimeError(
                f'publisher {self.name!r} belongs to another thread: kombu connections are not '
                'thread-safe, so create one Publisher per thread'
            )

    def close(self) -> None:
        """Release the connection."""
        self.connection.release()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'<Publisher {self.name!r} on {self.transport} to {self.topology.exchange_name!r}>'
