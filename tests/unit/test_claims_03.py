"""A claim of 03_producer checked in-process: kombu declares an entity once per connection."""
import uuid

from conftest import declared
from kombu import Producer

from helpers.config import connect
from helpers.course_names import VIDEO_QUEUE
from helpers.topology import SEED, Topology


def test_kombu_declares_an_entity_once_per_connection(memory_url, monkeypatch):
    topology = Topology(f'test_{uuid.uuid4().hex[:10]}', SEED.bindings)
    with declared(memory_url, topology), connect(memory_url) as conn:
        channel = conn.default_channel
        calls = []
        declare_exchange = channel.exchange_declare
        monkeypatch.setattr(channel, 'exchange_declare', lambda *a, **k: calls.append(a) or declare_exchange(*a, **k))
        producer = Producer(channel, exchange=topology.exchange(), auto_declare=False)
        for _ in range(3):
            producer.publish({'file': 'movie.mp4'}, routing_key='video.upload', declare=[topology.exchange()])
        assert len(calls) == 1
        assert topology.message_count(conn, VIDEO_QUEUE) == 3
