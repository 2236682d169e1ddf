"""LAB_NAMESPACE: each learner's exchanges and queues on a shared broker, the course's names everywhere else."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from helpers import config, namespace
from helpers.course_names import AUDIT_QUEUE, SEED_EXCHANGE, THUMBNAIL_QUEUE, VIDEO_QUEUE
from helpers.events import ACKED, DEAD_LETTERED, EventLog
from helpers.processes import worker_command
from helpers.producer import Publisher
from helpers.topology import MEDIA, SEED, Topology
from helpers.worker import Worker
from helpers.worker_cli import custom_topology

ROOT = Path(__file__).resolve().parents[2]

# Every topology the course declares: 01-03's seed, 03's video_only, 04's media, 05's, and a bench's.
COURSE_TOPOLOGIES = [
    SEED, MEDIA,
    Topology('video_only', (('video_only_queue', 'video.#'),)),
    Topology('scaling_out', (('transcode_queue', 'video.#'),)),
    Topology('bench_0123456789', (('bench_0123456789', 'bench.#'),), durable=False),
]


def broker_names(topology: Topology) -> list[str]:
    """Every exchange and queue name ``topology`` puts on the broker."""
    return [entity.name for entity in topology.entities()]


@pytest.mark.parametrize('value, expected', [(None, ''), ('', ''), ('  ', ''), ('ada', 'ada'),
                                             ('s07', 's07'), ('team-b_2', 'team-b_2')])
def test_current_reads_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv('LAB_NAMESPACE', raising=False)
    else:
        monkeypatch.setenv('LAB_NAMESPACE', value)
    assert namespace.current() == expected


@pytest.mark.parametrize('bad', ['ada lovelace', 'ada.b', 'x' * 41, 'amq-ada', 'é', 'a/b'])
def test_a_bad_namespace_is_refused_with_the_variable_named(monkeypatch, bad):
    monkeypatch.setenv('LAB_NAMESPACE', bad)
    with pytest.raises(namespace.NamespaceError, match='LAB_NAMESPACE'):
        SEED.exchange()


def test_unset_keeps_the_course_names(monkeypatch):
    monkeypatch.delenv('LAB_NAMESPACE', raising=False)
    assert broker_names(SEED) == [SEED_EXCHANGE, f'{SEED_EXCHANGE}.dlx', AUDIT_QUEUE, VIDEO_QUEUE,
                                  f'{SEED_EXCHANGE}.dead_letters']


def test_a_namespace_prefixes_every_broker_name(monkeypatch):
    monkeypatch.setenv('LAB_NAMESPACE', 'ada')
    assert broker_names(SEED) == [f'ada.{SEED_EXCHANGE}', f'ada.{SEED_EXCHANGE}.dlx',
                                  f'ada.{SEED_EXCHANGE}.{AUDIT_QUEUE}', f'ada.{SEED_EXCHANGE}.{VIDEO_QUEUE}',
                                  f'ada.{SEED_EXCHANGE}.dead_letters']
    queue = SEED.queue(VIDEO_QUEUE)
    assert [b.exchange.name for b in queue.bindings] == [f'ada.{SEED_EXCHANGE}']
    assert SEED.dead_letter_queue().exchange.name == f'ada.{SEED_EXCHANGE}.dlx'


def test_the_course_names_stay_what_the_cells_show(monkeypatch):
    monkeypatch.setenv('LAB_NAMESPACE', 'ada')
    assert SEED.queue_names == sorted([AUDIT_QUEUE, VIDEO_QUEUE])
    assert SEED.exchange_name == SEED_EXCHANGE
    assert SEED.dead_letter_queue_name == f'{SEED_EXCHANGE}.dead_letters'
    assert SEED.describe()['queues'] == {AUDIT_QUEUE: ['#'], VIDEO_QUEUE: ['video.#']}
    assert MEDIA.route('video.upload.hd') == sorted([AUDIT_QUEUE, THUMBNAIL_QUEUE, VIDEO_QUEUE])


def test_no_two_course_topologies_share_a_broker_name(monkeypatch):
    monkeypatch.setenv('LAB_NAMESPACE', 'ada')
    names = [name for topology in COURSE_TOPOLOGIES for name in broker_names(topology)]
    assert len(names) == len(set(names)), sorted(names)
    assert all(name.startswith('ada.') for name in names)


def test_two_learners_never_share_a_broker_name(monkeypatch):
    mine = {}
    for learner in ('ada', 'bob'):
        monkeypatch.setenv('LAB_NAMESPACE', learner)
        mine[learner] = {name for topology in COURSE_TOPOLOGIES for name in broker_names(topology)}
    assert not mine['ada'] & mine['bob']


def test_the_cli_worker_maps_its_custom_topology(monkeypatch):
    """05's processes get logical names on their command line and LAB_NAMESPACE from the environment."""
    monkeypatch.setenv('LAB_NAMESPACE', 'ada')
    work = Topology('scaling_out', (('transcode_queue', 'video.#'),))
    command = worker_command(work)
    assert 'scaling_out' in command and 'transcode_queue=video.#' in command
    topo = custom_topology(SEED, 'scaling_out', ['transcode_queue=video.#'])
    assert topo.queue('transcode_queue').name == 'ada.scaling_out.transcode_queue'


def test_owner_finds_the_learner_of_a_broker_name():
    assert namespace.owner(f'ada.{SEED_EXCHANGE}.{VIDEO_QUEUE}', ['ad', 'ada', 'bob']) == 'ada'
    assert namespace.owner(VIDEO_QUEUE, ['ada']) == ''


def test_two_learners_on_one_memory_broker_keep_their_messages(monkeypatch, memory_url):
    """Same notebook-level code, two namespaces: ada's waiting message never reaches bob's worker."""
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv('LAB_NAMESPACE', f'ada{tag}')
    with config.connect(memory_url) as conn:
        SEED.reset(conn)
    with Publisher(memory_url) as publisher:
        publisher.publish('video.upload', {'file': 'ada.mp4'}, message_id='ada-1')

    monkeypatch.setenv('LAB_NAMESPACE', f'bob{tag}')
    with config.connect(memory_url) as conn:
        SEED.reset(conn)
    log = EventLog()
    with Worker(memory_url, handlers=lambda body, d: None, log=log, name='ns-bob'), Publisher(memory_url) as pub:
        pub.publish('video.upload', {'file': 'bob.mp4'}, message_id='bob-1')
        log.wait_for(ACKED, 2)
    assert sorted((e.message_id, e.queue) for e in log.events(ACKED)) == [('bob-1', AUDIT_QUEUE),
                                                                         ('bob-1', VIDEO_QUEUE)]
    with config.connect(memory_url) as conn:
        assert SEED.message_count(conn, VIDEO_QUEUE) == 0
        monkeypatch.setenv('LAB_NAMESPACE', f'ada{tag}')
        assert SEED.message_count(conn, VIDEO_QUEUE) == 1
        SEED.delete(conn)
        monkeypatch.setenv('LAB_NAMESPACE', f'bob{tag}')
        SEED.delete(conn)


def test_dead_letters_go_to_the_learners_own_queue(monkeypatch, memory_url):
    monkeypatch.setenv('LAB_NAMESPACE', f'ada{uuid.uuid4().hex[:8]}')
    log = EventLog()
    with config.connect(memory_url) as conn:
        SEED.reset(conn)

    def fail(body, delivery):
        raise ValueError('no file')
    with Worker(memory_url, queues=[VIDEO_QUEUE], handlers=fail, log=log, max_retries=0, name='ns-dl'), \
            Publisher(memory_url, log=log) as publisher:
        publisher.publish('video.upload', {}, message_id='bad')
        log.wait_for(DEAD_LETTERED, 1)
    with config.connect(memory_url) as conn, conn.channel() as channel:
        parked = SEED.dead_letter_queue().bind(channel).get(no_ack=True)
        assert parked.headers['x-original-queue'] == VIDEO_QUEUE
        SEED.delete(conn)


def test_a_learners_rabbitmq_connections_carry_their_namespace(monkeypatch):
    """The teacher's dashboard tells learners on one vhost apart by connection name."""
    monkeypatch.setenv('LAB_NAMESPACE', 'ada')
    amqp = config.connect('amqp://guest:guest@127.0.0.1:5672//')
    assert amqp.transport_options['client_properties'] == {'connection_name': 'lab:ada'}
    assert 'client_properties' not in config.connect('memory://').transport_options
    monkeypatch.delenv('LAB_NAMESPACE')
    assert 'client_properties' not in config.connect('amqp://guest:guest@127.0.0.1:5672//').transport_options
