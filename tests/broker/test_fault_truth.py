"""The truth about each broker under faults: connections dropped under load, every loss and duplicate explained.

Only this test process's own connections are dropped: on RabbitMQ with ``rabbitmqctl close_connection``
(connections from this process's local ports), on Redis with ``CLIENT KILL ID`` (client ids from this
process's local ports).  The test does not assert that nothing is lost: kombu's Redis transport can lose
a copy (below).  It asserts that every lost copy is *explained* by the event log, that RabbitMQ loses
nothing, and counts duplicates by cause.  Set FAULT_REPORT=path to append each run's figures as a JSON line.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import pytest
from conftest import BROKERS, declared, require_broker

from helpers import config
from helpers.events import ACKED, RECONNECTED, SETTLED, EventLog
from helpers.producer import Publisher
from helpers.reconcile import reconcile
from helpers.topology import SEED
from helpers.worker import Worker
from tools.redis_check import locate, with_places

from .test_faults import drop_my_connections, drop_my_redis_connections

pytestmark = [pytest.mark.slow, pytest.mark.broker]

#: Causes the log can name; 'unexplained', 'in_hand' and 'never_delivered' are not explanations of a fault.
EXPLAINED_DUPLICATES = {'publisher_retry', 'lost_ack', 'redelivered_after_drop'}
EXPLAINED_LOSSES = {'lost_with_connection', 'lost_while_fetching', 'held_unacked'}


def settle_or_go_quiet(log: EventLog, wanted: int, quiet: float = 4.0, limit: float = 60.0) -> None:
    """Return once ``wanted`` copies settled, or nothing settled for ``quiet`` s (a copy may be gone for good)."""
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        done = len({(e.queue, e.message_id) for e in log.events() if e.kind in SETTLED})
        if done >= wanted:
            return
        if done != last:
            last, since = done, time.monotonic()
        elif time.monotonic() - since > quiet:
            return
        time.sleep(0.1)  # polling the log's progress; the deadline, not this, bounds the wait


def run_with_drops(url: str, transport: str, messages: int = 1200, drops: int = 3) -> dict:
    """Publish ``messages`` into two workers and drop this process's connections ``drops`` times mid-stream."""
    drop = drop_my_connections if transport == 'amqp' else (lambda: drop_my_redis_connections(url))
    log = EventLog()
    with declared(url, SEED.renamed(f'truth_{uuid.uuid4().hex[:10]}')) as topology:
        workers = [Worker(url, topology=topology, log=log, name=f'{topology.exchange_name}-w{i}') for i in range(2)]
        errors: list[BaseException] = []

        def produce() -> None:
            try:
                with Publisher(url, topology=topology, log=log) as pub:
                    for n in range(messages):
                        pub.publish('video.upload' if n % 2 else 'user.login', {'n': n})
                        time.sleep(0.001)  # pacing, so the drops land while messages flow
            except BaseException as exc:
                errors.append(exc)
        producer = threading.Thread(target=produce, name='helpers-test-truth-producer')
        dropped = []
        try:
            for worker in workers:
                worker.start()
            producer.start()
            for round_ in range(1, drops + 1):
                log.wait_for(ACKED, round_ * messages // (drops + 1), timeout=60)
                dropped.append(drop())
            producer.join(timeout=120)
            assert not errors, f'the producer gave up: {errors[0]!r}'
            wanted = messages + messages // 2  # audit gets every message, video every other
            settle_or_go_quiet(log, wanted)
        finally:
            for worker in workers:
                worker.stop()
        rec = reconcile(topology, log, transport)
        lost = [(e.queue, e.message_id) for e in rec.explanations if e.problem == 'lost']
        places = locate(url, lost) if transport == 'redis' else {}
        rec = with_places(rec, places)  # a copy Redis still holds in its unacked hash is late, not gone
        where = Counter(places.values())
    return {'transport': transport, 'messages': messages, 'copies': rec.expected, 'faults': len(dropped),
            'connections_dropped': sum(dropped), 'reconnects': log.count(RECONNECTED),
            'lost': rec.lost, 'duplicates': rec.duplicates, 'unexpected': rec.unexpected,
            'lost_by_cause': rec.causes('lost'), 'duplicates_by_cause': rec.causes('duplicate'),
            'unconfirmed': rec.causes('unconfirmed'), 'lost_where_on_redis': dict(where),
            'table': rec.table()}


@pytest.mark.parametrize('transport', ['amqp', 'redis'])
def test_connection_drops_under_load_every_loss_and_duplicate_is_explained(transport):
    url = require_broker(BROKERS[transport])
    figures = run_with_drops(url, transport)
    print(f'\n{transport}: ' + json.dumps({k: v for k, v in figures.items() if k != 'table'}))
    print(figures['table'])
    if os.environ.get('FAULT_REPORT'):
        with open(os.environ['FAULT_REPORT'], 'a') as out:
            out.write(json.dumps({k: v for k, v in figures.items() if k != 'table'}) + '\n')
    assert figures['faults'] == 3 and figures['connections_dropped'] >= 3  # two workers and the publisher
    assert figures['reconnects'] >= 2
    assert figures['unexpected'] == 0
    # Duplicates are at least once's price on every broker; each must have its cause in the log: RabbitMQ
    # flags every requeued copy and the publisher logs every retry.  (The demo's 'no cause' duplicates
    # fit another program's copies with colliding ids on a shared vhost; this test's queues are its own.)
    assert set(figures['duplicates_by_cause']) <= EXPLAINED_DUPLICATES, figures['table']
    assert set(figures['lost_by_cause']) <= EXPLAINED_LOSSES, figures['table']
    if transport == 'amqp':
        assert figures['lost'] == 0, figures['table']  # RabbitMQ keeps an unacked message until it is acked


def _redis_command(sock: socket.socket, *words: str | bytes) -> None:
    parts = [w if isinstance(w, bytes) else w.encode() for w in words]
    sock.sendall(b''.join([f'*{len(parts)}\r\n'.encode()]
                          + [f'${len(p)}\r\n'.encode() + p + b'\r\n' for p in parts]))


def test_redis_loses_a_message_popped_for_a_connection_that_dies():
    """kombu's Redis transport takes a message with BRPOP: once popped, it is in no queue and no unacked hash.

    A consumer blocked in BRPOP whose connection dies after Redis popped the message for it, but
    before it read the reply, loses the message.  This is the window, made deterministic: the reply is
    never read.  (kombu PR 1733 closed it for a clean close only.)
    """
    import redis
    url = require_broker(BROKERS['redis'])
    name = f'truth_brpop_{uuid.uuid4().hex[:8]}'
    admin = redis.Redis.from_url(url)
    parts = urlsplit(url)
    db = (parts.path or '/0').lstrip('/') or '0'
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=5) as doomed:
            _redis_command(doomed, 'SELECT', db)
            assert doomed.recv(64).startswith(b'+OK')
            _redis_command(doomed, 'CLIENT', 'SETNAME', name)
            assert doomed.recv(64).startswith(b'+OK')
            _redis_command(doomed, 'BRPOP', name, '5')
            deadline = time.monotonic() + 5
            while not any(c.get('name') == name and c.get('cmd') == 'brpop' for c in admin.client_list()):
                assert time.monotonic() < deadline, 'the consumer never blocked in BRPOP'
                time.sleep(0.01)
            admin.lpush(name, b'{"body": "the only copy"}')  # what kombu's publish does to a queue
            deadline = time.monotonic() + 5
            while admin.llen(name):  # Redis hands the message to the blocked client at once
                assert time.monotonic() < deadline
                time.sleep(0.01)
            [mine] = [c['id'] for c in admin.client_list() if c.get('name') == name]
            admin.client_kill_filter(_id=mine)  # dies without reading the reply
        assert admin.llen(name) == 0
        assert not any(name.encode() in (v or b'') for v in admin.hvals('unacked'))
    finally:
        admin.delete(name)
        admin.close()


def test_redis_check_tells_a_delay_from_a_loss():
    from tools.redis_check import GONE, IN_QUEUE, UNACKED_HASH
    url = require_broker(BROKERS['redis'])
    log = EventLog()
    with declared(url, SEED.renamed(f'where_{uuid.uuid4().hex[:8]}')) as topology:
        audit, video = topology.queue_names
        with Publisher(url, topology=topology, log=log) as pub:
            held = pub.publish('video.upload', {'n': 1}).message_id
            waiting = pub.publish('user.login', {'n': 2}).message_id
        with config.connect(url) as conn:
            in_hand = topology.queue(video).bind(conn.default_channel).get(no_ack=False)  # delivered, not acked
            assert in_hand.properties['message_id'] == held
            where = locate(url, [(video, held), (audit, waiting), (video, 'never-sent')])
            in_hand.ack()
    assert where == {(video, held): UNACKED_HASH, (audit, waiting): IN_QUEUE, (video, 'never-sent'): GONE}
