"""What 04's prefetch lesson says, checked: kombu's virtual transports on memory:// and Redis; RabbitMQ across a delay.

The worker takes one message per poll whatever the prefetch, and since it acks each message before
it takes the next, it never holds more than one unacked message, even at prefetch 100.
"""
import statistics

import pytest
from conftest import BROKERS, require_broker
from kombu.transport import memory, redis
from kombu.transport.virtual import base

from helpers.bench import bench_topology, fill, helpers_rate, prefetch_rates
from helpers.config import connect

from .tcp_forward import TcpForward

POLL = {'memory': (memory.Channel, '_get'), 'redis': (redis.Channel, '_brpop_read')}


@pytest.mark.broker
@pytest.mark.parametrize('transport', sorted(POLL))
def test_a_virtual_transport_hands_over_one_message_per_poll_and_the_worker_holds_one(transport, monkeypatch):
    url = require_broker(BROKERS[transport])
    polls, held = [], []
    channel_class, poll_name = POLL[transport]
    poll = getattr(channel_class, poll_name)
    qos_class = channel_class.QoS
    append = qos_class.append

    def counting_poll(self, *args, **kwargs):
        polls.append(1)
        return poll(self, *args, **kwargs)

    def watching_append(self, message, delivery_tag):
        append(self, message, delivery_tag)
        held.append(len(self._delivered) - len(self._dirty))

    monkeypatch.setattr(channel_class, poll_name, counting_poll)
    monkeypatch.setattr(qos_class, 'append', watching_append)
    assert issubclass(qos_class, base.QoS)
    topology = bench_topology()
    try:
        fill(url, topology, 200)
        helpers_rate(url, topology, 200, prefetch=100)
    finally:
        with connect(url) as conn:
            topology.delete(conn)
    assert len(held) == 200  # every message went through the channel's prefetch bookkeeping
    assert max(held) == 1    # ...and the worker never held a second one, though prefetch allowed 100
    assert len(polls) >= 200  # one message per poll: at least as many polls as messages


@pytest.mark.broker
def test_across_a_1_ms_round_trip_prefetch_1_holds_rabbitmq_under_1000_a_second_and_100_lifts_it():
    """04's prefetch claim, measured: each direction delayed 0.5 ms, as on a local network."""
    with TcpForward(require_broker(BROKERS['amqp']), delay=0.0005) as forward:
        rates = prefetch_rates(forward.url, (1, 100), messages=200, repeat=3)
    one, hundred = statistics.median(rates[1]), statistics.median(rates[100])
    assert one < 1000, rates
    assert hundred > 2 * one, rates
