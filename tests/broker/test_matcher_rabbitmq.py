"""helpers.topology.matches against the real thing: RabbitMQ delivers exactly where it says.

One temporary topic exchange, one queue per binding key, every routing key published once
with publisher confirms (so it has reached every queue when publish returns), then each
queue drained with basic_get: the set of (binding key, routing key) pairs that arrived is
compared with matches().  The same experiment on memory:// and redis:// shows that kombu's
virtual transports follow helpers.topology.virtual_matches instead.
"""
from __future__ import annotations

import uuid

import pytest
from conftest import BROKERS, require_broker
from kombu import Connection, Exchange, Producer, Queue
from matcher_cases import BINDING_KEYS, PAIRS, ROUTING_KEYS

from helpers.topology import matches, virtual_matches


def deliveries(url: str, binding_keys=BINDING_KEYS, routing_keys=ROUTING_KEYS) -> set[tuple[str, str]]:
    """Publish every routing key once and return the (binding key, routing key) pairs that arrived."""
    name = f'test_matcher_{uuid.uuid4().hex[:10]}'
    exchange = Exchange(name, type='topic', durable=False, auto_delete=False)
    queues = {key: Queue(f'{name}.q{i}', exchange=exchange, routing_key=key, durable=False,
                         auto_delete=False, exclusive=False)
              for i, key in enumerate(binding_keys)}
    arrived = set()
    with Connection(url, transport_options={'confirm_publish': True}, connect_timeout=5) as conn:
        channel = conn.channel()
        try:
            exchange(channel).declare()
            for queue in queues.values():
                queue(channel).declare()
            producer = Producer(channel, exchange=exchange, serializer='json')
            for index, routing_key in enumerate(routing_keys):
                # With confirms, publish returns once the broker has put the message in every queue.
                producer.publish({'index': index}, routing_key=routing_key, retry=False)
            for binding_key, queue in queues.items():
                bound = queue(channel)
                while (message := bound.get(no_ack=True)) is not None:
                    routing_key = routing_keys[message.payload['index']]
                    assert (binding_key, routing_key) not in arrived, 'delivered twice to one queue'
                    arrived.add((binding_key, routing_key))
        finally:
            for queue in queues.values():
                queue(channel).delete()
            exchange(channel).delete()
            channel.close()
    return arrived


@pytest.mark.broker
def test_matches_agrees_with_rabbitmq():
    """One table: every (binding key, routing key) pair RabbitMQ delivers is one matches() accepts, and back."""
    arrived = deliveries(require_broker(BROKERS['amqp']))
    wrong = [(b, r, matches(b, r)) for b, r in PAIRS if matches(b, r) is not ((b, r) in arrived)]
    assert not wrong, f'{len(wrong)} of {len(PAIRS)} pairs disagree (binding, key, matches()): {wrong[:20]}'


@pytest.mark.broker
@pytest.mark.parametrize('transport', ['memory', 'redis'])
def test_virtual_transports_route_like_virtual_matches(transport):
    arrived = deliveries(require_broker(BROKERS[transport]))
    expected = {(b, r) for b, r in PAIRS if virtual_matches(b, r)}
    assert arrived == expected
    assert arrived != {(b, r) for b, r in PAIRS if matches(b, r)}
