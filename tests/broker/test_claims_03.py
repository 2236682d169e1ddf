"""03's claim about ``declare=``: on redis:// a producer whose connection never declared the exchange loses
the message (kombu keeps an exchange's type per connection and routes as 'direct'); RabbitMQ and memory://
deliver it; declaring fixes redis."""
import uuid

import pytest
from conftest import declared
from kombu import Producer

from helpers.config import connect
from helpers.topology import SEED, Topology


def publish_one(url, topology, declare):
    """Publish video.upload from a connection of its own; how many copies reached video_queue."""
    with connect(url) as conn:
        # As the seed does: a Producer made without an exchange (so it declares none) names it per publish.
        Producer(conn.default_channel).publish({'file': 'movie.mp4'}, exchange=topology.exchange(),
                                               routing_key='video.upload', serializer='json', declare=declare)
    with connect(url) as conn:
        return topology.message_count(conn, 'video_queue')


@pytest.mark.broker
def test_an_undeclared_exchange_drops_messages_on_redis_only(broker_url):
    with declared(broker_url, Topology(f'test_{uuid.uuid4().hex[:10]}', SEED.bindings)) as topology:
        without = publish_one(broker_url, topology, declare=[])
        with_declare = publish_one(broker_url, topology, declare=[topology.exchange()])
    transport = broker_url.split(':', 1)[0]
    assert without == (0 if transport == 'redis' else 1), f'{transport}: {without} copies without declare='
    assert with_declare == without + 1
