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
    with pytest.raises(namespace.NamespaceError, match='LAB_NAMESPACE'):
        SEED.in_namespace(bad)
    monkeypatch.setenv('LAB_NAMESPACE', bad)
    with pytest.raises(namespace.NamespaceError, match='LAB_NAMESPACE'):
        Topology('video_only', (('video_only_queue', 'video.#'),))


def test_unset_keeps_the_course_names(monkeypatch):
    monkeypatch.delenv('LAB_NAMESPACE', raising=False)
    for seed in (SEED.in_namespace(''), Topology(SEED_EXCHANGE, SEED.bindings)):
        assert seed.namespace == ''
        assert broker_names(seed) == [SEED_EXCHANGE, f'{SEED_EXCHANGE}.dlx', AUDIT_QUEUE, VIDEO_QUEUE,
                                      f'{SEED_EXCHANGE}.dead_letters']


def test_a_namespace_prefixes_every_broker_name():
    seed = SEED.in_namespace('ada')
    assert broker_names(seed) == [f'ada.{SEED_EXCHANGE}', f'ada.{SEED_EXCHANGE}.dlx',
                                  f'ada.{SEED_EXCHANGE}.{AUDIT_QUEUE}', f'ada.{SEED_EXCHANGE}.{VIDEO_QUEUE}',
                                  f'ada.{SEED_EXCHANGE}.dead_letters']
    queue = seed.queue(VIDEO_QUEUE)
    assert [b.exchange.name for b in queue.bindings] == [f'ada.{SEED_EXCHANGE}']
    assert seed.dead_letter_queue().exchange.name == f'ada.{SEED_EXCHANGE}.dlx'


def test_the_course_names_stay_what_the_cells_show():
    seed = SEED.in_namespace('ada')
    assert seed.queue_names == sorted([AUDIT_QUEUE, VIDEO_QUEUE])
    assert seed.exchange_name == SEED_EXCHANGE
    assert seed.dead_letter_queue_name == f'{SEED_EXCHANGE}.dead_letters'
    assert seed.describe()['queues'] == {AUDIT_QUEUE: ['#'], VIDEO_QUEUE: ['video.#']}
    assert MEDIA.in_namespace('ada').route('video.upload.hd') == sorted([AUDIT_QUEUE, THUMBNAIL_QUEUE, VIDEO_QUEUE])


def test_a_topology_keeps_the_namespace_it_was_built_with(monkeypatch):
    """A Topology is a value: what $LAB_NAMESPACE says later (another learner, unset, even invalid) changes nothing."""
    monkeypatch.setenv('LAB_NAMESPACE', 'ada')
    built = Topology('video_only', (('video_only_queue', 'video.#'),))
    copies = [built, built.renamed('t1'), custom_topology(built, 'scaling_out', ['transcode_queue=video.#'])]
    assert [topology.namespace for topology in copies] == ['ada'] * 3
    before = [broker_names(topology) for topology in copies]
    assert all(name.startswith('ada.') for names in before for name in names)
    for later in ('bob', '', 'ada lovelace'):  # a re-read of the last one would raise NamespaceError
        monkeypatch.setenv('LAB_NAMESPACE', later)
        assert [broker_names(topology) for topology in copies] == before
        assert built.course_name('ada.video_only.video_only_queue') == 'video_only_queue'
        assert [b.exchange.name for b in built.queue('video_only_queue').bindings] == ['ada.video_only']
    assert built.in_namespace('bob').broker_queue_name('video_only_queue') == 'bob.video_only.video_only_queue'
    assert built.in_namespace('').broker_exchange_name == 'video_only'
    assert built.in_namespace('bob') != built and built.in_namespace('bob').in_namespace('ada') == built


def test_no_two_course_topologies_share_a_broker_name():
    names = [name for topology in COURSE_TOPOLOGIES for name in broker_names(topology.in_namespace('ada'))]
    assert len(names) == len(set(names)), sorted(names)
    assert all(name.startswith('ada.') for name in names)


def test_two_learners_never_share_a_broker_name():
    mine = {learner: {name for topology in COURSE_TOPOLOGIES for name in broker_names(topology.in_namespace(learner))}
            for learner in ('ada', 'bob')}
    assert not mine['ada'] & mine['bob']


def test_the_cli_worker_maps_its_custom_topology(monkeypatch):
    """05's processes get course names on their command line and LAB_NAMESPACE from the environment."""
    work = Topology('scaling_out', (('transcode_queue', 'video.#'),), namespace='ada')
    command = worker_command(work)
    assert 'scaling_out' in command and 'transcode_queue=video.#' in command
    monkeypatch.setenv('LAB_NAMESPACE', 'ada')  # as WorkerFleet sets it for its processes
    topo = custom_topology(Topology(SEED_EXCHANGE, SEED.bindings), 'scaling_out', ['transcode_queue=video.#'])
    assert topo.queue('transcode_queue').name == 'ada.scaling_out.transcode_queue'


def test_owner_finds_the_learner_of_a_broker_name():
    assert namespace.owner(f'ada.{SEED_EXCHANGE}.{VIDEO_QUEUE}', ['ad', 'ada', 'bob']) == 'ada'
    assert namespace.owner(VIDEO_QUEUE, ['ada']) == ''


def test_two_learners_on_one_memory_broker_keep_their_messages(monkeypatch, memory_url):
    """Same notebook-level code, two namespaces: ada's waiting message never reaches bob's worker."""
    tag = uuid.uuid4().hex[:8]
    ada, bob = SEED.in_namespace(f'ada{tag}'), SEED.in_namespace(f'bob{tag}')
    with config.connect(memory_url) as conn:
        ada.reset(conn)
    with Publisher(memory_url, topology=ada) as publisher:
        publisher.publish('video.upload', {'file': 'ada.mp4'}, message_id='ada-1')

    with config.connect(memory_url) as conn:
        bob.reset(conn)
    log = EventLog()
    with Worker(memory_url, topology=bob, handlers=lambda body, d: None, log=log, name='ns-bob'), \
            Publisher(memory_url, topology=bob) as pub:
        pub.publish('video.upload', {'file': 'bob.mp4'}, message_id='bob-1')
        log.wait_for(ACKED, 2)
    assert sorted((e.message_id, e.queue) for e in log.events(ACKED)) == [('bob-1', AUDIT_QUEUE),
                                                                         ('bob-1', VIDEO_QUEUE)]
    with config.connect(memory_url) as conn:
        assert bob.message_count(conn, VIDEO_QUEUE) == 0
        assert ada.message_count(conn, VIDEO_QUEUE) == 1
        ada.delete(conn)
        bob.delete(conn)


def test_dead_letters_go_to_the_learners_own_queue(memory_url):
    seed = SEED.in_namespace(f'ada{uuid.uuid4().hex[:8]}')
    log = EventLog()
    with config.connect(memory_url) as conn:
        seed.reset(conn)

    def fail(body, delivery):
        raise ValueError('no file')
    with Worker(memory_url, queues=[VIDEO_QUEUE], topology=seed, handlers=fail, log=log, max_retries=0,
                name='ns-dl'), Publisher(memory_url, topology=seed, log=log) as publisher:
        publisher.publish('video.upload', {}, message_id='bad')
        log.wait_for(DEAD_LETTERED, 1)
    with config.connect(memory_url) as conn, conn.channel() as channel:
        parked = seed.dead_letter_queue().bind(channel).get(no_ack=True)
        assert parked.headers['x-original-queue'] == VIDEO_QUEUE
        assert seed.dead_letter_queue().name.startswith('ada')
        seed.delete(conn)


def test_a_learners_rabbitmq_connections_carry_their_namespace(monkeypatch):
    """The teacher's dashboard tells learners on one vhost apart by connection name."""
    monkeypatch.setenv('LAB_NAMESPACE', 'ada')
    amqp = config.connect('amqp://guest:guest@127.0.0.1:5672//')
    assert amqp.transport_options['client_properties'] == {'connection_name': 'lab:ada'}
    assert 'client_properties' not in config.connect('memory://').transport_options
    monkeypatch.delenv('LAB_NAMESPACE')
    assert 'client_properties' not in config.connect('amqp://guest:guest@127.0.0.1:5672//').transport_options
