"""What 04's prefetch lesson says about kombu's virtual transports, checked on memory:// and Redis.

The worker takes one message per poll whatever the prefetch, and since it acks each message before
it takes the next, it never holds more than one unacked message, even at prefetch 100.
"""
import pytest
from conftest import BROKERS, require_broker
from kombu.transport import memory, redis
from kombu.transport.virtual import base

from helpers.bench import bench_topology, fill, helpers_rate
from helpers.config import connect

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
