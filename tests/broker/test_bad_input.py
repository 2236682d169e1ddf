"""Bad input on real brokers: bad bodies quarantined with a reason, mistyped broker URLs told in one line."""
from __future__ import annotations

import json
import pickle
import uuid

import pytest
from conftest import declared

from helpers import config
from helpers.course_names import VIDEO_QUEUE
from helpers.events import ACKED, DELIVERED, QUARANTINED, EventLog
from helpers.producer import Publisher
from helpers.topology import SEED, Topology
from helpers.worker import Worker, WorkerError

ONE_MB = 1024 * 1024


def unique_seed() -> Topology:
    """SEED's bindings on a unique exchange and unique queues (queue names are global on a broker)."""
    return SEED.renamed(f'bad_{uuid.uuid4().hex[:10]}')


@pytest.fixture
def topology(broker_url):
    with declared(broker_url, unique_seed()) as topology:
        yield topology


# (what, body, content type, content encoding, words the quarantine reason must contain)
BAD_BODIES = [
    ('malformed JSON', b'{"file": ', 'application/json', 'utf-8', 'cannot decode'),
    ('invalid UTF-8', b'\xff\xfe{"file": 1}', 'application/json', 'utf-8', 'cannot decode'),
    ('plain text', b'movie.mp4 uploaded', 'text/plain', 'utf-8', 'text/plain'),
    ('pickle', pickle.dumps({'file': 'movie.mp4'}), 'application/x-python-serialize', 'binary', 'pickle'),
    ('raw bytes', bytes(range(256)), 'application/octet-stream', 'binary', 'octet-stream'),
    ('YAML', b'file: movie.mp4', 'application/x-yaml', 'utf-8', 'yaml'),
]


def read_dead_letters(url: str, topology: Topology) -> list:
    """Take every message off the dead-letter queue: (message id, headers, body bytes)."""
    parked = []
    with config.connect(url) as conn, conn.channel() as channel:
        queue = topology.dead_letter_queue().bind(channel)
        while (message := queue.get(no_ack=True)) is not None:
            body = message.body  # py-amqp hands over text when the encoding decodes it
            raw = body.encode(message.content_encoding) if isinstance(body, str) else bytes(body)
            parked.append((message.properties.get('message_id'), message.headers, raw))
    return sorted(parked, key=lambda item: item[0])


@pytest.mark.broker
def test_bad_bodies_are_quarantined_and_good_ones_around_them_are_kept(broker_url, topology):
    log = EventLog()
    [video] = [q for q in topology.queue_names if q.startswith(VIDEO_QUEUE)]
    sizes = {}
    with Worker(broker_url, [video], topology=topology, log=log, name=f'bad-{topology.exchange_name}',
                handlers=lambda body, d: sizes.setdefault(d.message_id, len(json.dumps(body)))), \
            Publisher(broker_url, topology=topology, log=log) as pub:
        good, bad = [pub.publish('video.upload', {'n': 0}).message_id], {}
        for what, body, content_type, encoding, _words in BAD_BODIES:
            bad[pub.publish_raw('video.upload', body, content_type, encoding).message_id] = what
            good.append(pub.publish('video.upload', {'after': what}).message_id)
        big = pub.publish('video.upload', {'blob': 'x' * ONE_MB}).message_id
        good.append(big)
        log.wait_for(ACKED, len(good), queue=video, timeout=60)
        log.wait_for(QUARANTINED, len(bad), queue=video, timeout=60)
        log.wait_settled(timeout=30)
    assert sorted(log.ids(ACKED, video)) == sorted(good)
    assert sizes[big] > ONE_MB
    reasons = {bad[e.message_id]: e.detail for e in log.events(QUARANTINED)}
    for what, _body, _type, _encoding, words in BAD_BODIES:
        assert words.lower() in reasons[what].lower() and '\n' not in reasons[what], (what, reasons[what])
    parked = read_dead_letters(broker_url, topology)
    assert [message_id for message_id, _h, _b in parked] == sorted(bad)
    originals = {what: body for what, body, *_rest in BAD_BODIES}
    for message_id, headers, body in parked:
        assert headers['x-outcome'] == QUARANTINED and headers['x-original-queue'] == video
        assert headers['x-reason'] == reasons[bad[message_id]]
        assert body == originals[bad[message_id]], f'{bad[message_id]} was changed on the way'


@pytest.mark.parametrize('url, says', [
    ('amqp://guest:guest@127.0.0.1:5673//', 'nothing answered'),
    ('redis://127.0.0.1:6380/0', 'is the broker running'),
    ('amqp://guest:gues@127.0.0.1:5672//', 'password was refused'),
])
def test_broker_url_typos_get_a_one_line_error(url, says):
    if 'gues@' in url:  # only meaningful when RabbitMQ is there to refuse the password
        from conftest import BROKERS, require_broker
        require_broker(BROKERS['amqp'])
    with pytest.raises(config.BrokerError, match=says) as caught:
        config.check_broker(url, timeout=3)
    assert '\n' not in str(caught.value) and 'gues@' not in str(caught.value).replace('***@', '')


def test_a_worker_on_a_mistyped_port_fails_to_start_clearly():
    worker = Worker('redis://127.0.0.1:6380/0', name='typo-port')
    with pytest.raises(WorkerError, match='could not start'):
        worker.start(timeout=6)
    assert not worker.is_running


def publish_bare(url: str, topology: Topology, routing_key: str, body: bytes, content_type: str | None) -> None:
    """Publish a message as a foreign client might: no message id, perhaps no content type."""
    with config.connect(url) as conn:
        channel = conn.default_channel
        topology.declare(conn)
        message = channel.prepare_message(body, content_type=content_type, content_encoding='utf-8' if content_type
                                          else None)
        channel.basic_publish(message, exchange=topology.exchange_name, routing_key=routing_key)


@pytest.mark.broker
def test_a_body_without_content_type_is_quarantined_under_one_made_up_id(broker_url, topology):
    from helpers.worker import MADE_UP_ID
    log = EventLog()
    with Worker(broker_url, topology=topology, log=log, name=f'bare-{topology.exchange_name}'):
        publish_bare(broker_url, topology, 'video.upload', b'{"file": "movie.mp4"}', None)
        publish_bare(broker_url, topology, 'video.upload', b'{"file": "other.mp4"}', 'application/json')
        log.wait_for(QUARANTINED, 2, timeout=30)
        log.wait_for(ACKED, 2, timeout=30)
        log.wait_settled(timeout=30)
    quarantined = log.events(QUARANTINED)
    assert sorted(e.queue for e in quarantined) == topology.queue_names
    assert all('no content type' in e.detail for e in quarantined)
    acked = log.events(ACKED)
    assert sorted(e.queue for e in acked) == topology.queue_names
    # Every copy of one message carries the same made-up id, and the log says it is made up.
    for events in (quarantined, acked):
        assert len({e.message_id for e in events}) == 1 and events[0].message_id.startswith('no-id-')
    assert {e.message_id for e in quarantined} != {e.message_id for e in acked}
    assert {e.detail for e in log.events(DELIVERED)} == {MADE_UP_ID}
    parked = read_dead_letters(broker_url, topology)
    assert [(mid, body) for mid, _h, body in parked] == [(quarantined[0].message_id, b'{"file": "movie.mp4"}')] * 2
    assert sorted(h['x-original-queue'] for _m, h, _b in parked) == topology.queue_names
