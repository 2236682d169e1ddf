"""The Celery bridge (06_celery): the generated configuration routes as the Topology does, a Celery run
reconciles on every broker, and on RabbitMQ a task whose worker is killed is redelivered."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from conftest import BROKERS, declared, require_broker
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import config
from helpers.celery_app import TASK_KEYS, celery_config, celery_route, make_app
from helpers.celery_bridge.events import CeleryEvents
from helpers.celery_bridge.workers import CeleryWorker, celery_command, course_queue
from helpers.course_names import AUDIO_QUEUE, AUDIT_QUEUE, MEDIA_EXCHANGE, USER_QUEUE, VIDEO_QUEUE
from helpers.events import ACKED, DEAD_LETTERED, DELIVERED, PUBLISHED, EventLog
from helpers.processes import WorkerProcess
from helpers.reconcile import reconcile, wait_accounted
from helpers.topology import MEDIA, RoutingKeyError, Topology, matches

ROOT = Path(__file__).resolve().parents[2]
WORDS = st.sampled_from(['video', 'image', 'audio', 'user', 'upload', 'login', 'hd', 'png', 'x'])
KEYS = st.lists(WORDS, min_size=1, max_size=5).map('.'.join)


def celery_routes(topology: Topology, routing_key: str) -> list[str]:
    """The queues Celery's generated task_queues bind for ``routing_key`` (AMQP matching)."""
    queues = celery_config(topology, 'memory://')['task_queues']
    return sorted({topology.course_name(q.name) for q in queues for b in q.bindings
                   if matches(b.routing_key, routing_key)})


@settings(max_examples=300, deadline=None)
@given(KEYS)
def test_celery_queues_route_every_key_as_the_topology_does(routing_key):
    assert celery_routes(MEDIA, routing_key) == MEDIA.route(routing_key)


def test_celery_queues_are_the_topologys_queues_on_its_topic_exchange():
    queues = celery_config(MEDIA, 'memory://')['task_queues']
    assert sorted(MEDIA.course_name(q.name) for q in queues) == MEDIA.queue_names
    exchange = (MEDIA.broker_exchange_name, 'topic')
    for queue in queues:
        assert {(b.exchange.name, b.exchange.type) for b in queue.bindings} == {exchange}
        keys = MEDIA.binding_keys(MEDIA.course_name(queue.name))
        assert sorted(b.routing_key for b in queue.bindings) == sorted(keys)


def test_under_a_namespace_celery_gets_the_broker_names():
    media = MEDIA.in_namespace('ada')
    settings = celery_config(media, 'memory://')
    assert sorted(q.name for q in settings['task_queues']) == [f'ada.{MEDIA_EXCHANGE}.{q}' for q in MEDIA.queue_names]
    assert {b.exchange.name for q in settings['task_queues'] for b in q.bindings} == {f'ada.{MEDIA_EXCHANGE}'}
    assert settings['task_default_exchange'] == f'ada.{MEDIA_EXCHANGE}'
    assert settings['task_default_queue'] == f'ada.{MEDIA_EXCHANGE}.{AUDIO_QUEUE}'
    assert {route['exchange'] for route in settings['task_routes'].values()} == {f'ada.{MEDIA_EXCHANGE}'}
    assert media.course_name(f'ada.{MEDIA_EXCHANGE}.{VIDEO_QUEUE}') == VIDEO_QUEUE
    assert media.course_name(f'ada.{MEDIA_EXCHANGE}') == MEDIA_EXCHANGE
    with pytest.raises(ValueError, match=f"not a broker name of the '{MEDIA_EXCHANGE}' topology"):
        media.course_name(f'bob.{MEDIA_EXCHANGE}.{VIDEO_QUEUE}')


def test_a_worker_takes_the_course_names_and_consumes_the_broker_names():
    media = MEDIA.in_namespace('ada')
    worker = CeleryWorker([VIDEO_QUEUE, USER_QUEUE], 'memory://', topology=media)
    assert worker.label == f'{VIDEO_QUEUE},{USER_QUEUE}'
    assert worker.broker_queues == [f'ada.{MEDIA_EXCHANGE}.{VIDEO_QUEUE}', f'ada.{MEDIA_EXCHANGE}.{USER_QUEUE}']
    assert course_queue(media, f'ada.{MEDIA_EXCHANGE}.{VIDEO_QUEUE}') == course_queue(media, VIDEO_QUEUE) == VIDEO_QUEUE
    assert course_queue(MEDIA, f'bob.{MEDIA_EXCHANGE}.{VIDEO_QUEUE}') is None


def test_a_worker_process_for_an_unknown_queue_is_refused_with_the_queues_named():
    proc = subprocess.run([sys.executable, '-m', 'helpers.celery_bridge.workers', '-Q', 'nope_queue'], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={**os.environ, 'BROKER_URL': 'memory://'})
    assert proc.returncode == 2
    assert '-Q nope_queue: not a queue of the MEDIA topology' in proc.stderr and VIDEO_QUEUE in proc.stderr


@pytest.mark.parametrize('task_name', sorted(TASK_KEYS))
def test_task_routes_by_name(task_name):
    assert celery_route(make_app(MEDIA, 'memory://'), task_name) == TASK_KEYS[task_name]


def test_an_explicit_routing_key_wins_and_is_validated():
    app = make_app(MEDIA, 'memory://')
    assert celery_route(app, 'media.process', routing_key='image.upload.png') == 'image.upload.png'
    with pytest.raises(RoutingKeyError, match='wildcards only work in binding keys'):
        celery_route(app, 'media.process', routing_key='video.#')


def test_a_worker_for_an_unknown_queue_is_refused():
    with pytest.raises(ValueError, match='not in the Celery configuration'):
        CeleryWorker(['nope_queue'], 'memory://')


@pytest.mark.parametrize('name', sorted(BROKERS))
def test_a_celery_run_reconciles(name):
    url = require_broker(BROKERS[name])
    log = EventLog()
    with declared(url, MEDIA), CeleryEvents(log):
        app = make_app(MEDIA, url)
        crew = [CeleryWorker([queue], url).start() for queue in MEDIA.queue_names]
        try:
            sent = [app.tasks['media.process'].apply_async(({'n': n, 'corrupt': n == 3},), routing_key=key).id
                    for n, key in enumerate(['video.upload.hd', 'image.upload.png', 'user.login', 'audio.x'])]
            app.tasks['media.transcode'].delay('a.mp4')
            result = wait_accounted(MEDIA, log, timeout=30)
        finally:
            CeleryWorker.stop_all(crew)
    assert result.published == 5 and result.ok and result.lost == 0, result.table()
    assert result.expected == 3 + 3 + 2 + 2 + 2
    # the corrupt one (audio.x → audio_queue, audit_queue) failed in both queues, and only there
    failed = {(e.message_id, e.queue) for e in log.events(DEAD_LETTERED)}
    assert failed == {(sent[3], AUDIO_QUEUE), (sent[3], AUDIT_QUEUE)}
    assert log.count(DELIVERED) == result.expected and log.count(ACKED) == result.expected - 2


def test_the_event_bridge_records_nothing_once_disconnected():
    log = EventLog()
    events = CeleryEvents(log).connect()
    events.disconnect()
    app = make_app(MEDIA, 'memory://')
    with declared('memory://', MEDIA):
        app.tasks['media.transcode'].delay('x.mp4')
    assert len(log) == 0


def test_a_task_whose_worker_is_killed_is_redelivered_on_rabbitmq():
    url = require_broker(BROKERS['amqp'])
    topology = MEDIA
    processes = []
    with declared(url, topology):
        app = make_app(topology, url)
        try:
            first = WorkerProcess(celery_command(VIDEO_QUEUE, sys.executable), 'c1', url, lambda: None)
            processes.append(first)
            first.wait_ready(60)
            job = app.tasks['media.transcode'].delay(f'{uuid.uuid4().hex[:6]}.mp4', 5).id
            first.log.wait_until(lambda lg: job in lg.ids(DELIVERED), timeout=30, what='the task to start')
            first.kill()
            second = WorkerProcess(celery_command(VIDEO_QUEUE, sys.executable), 'c2', url, lambda: None)
            processes.append(second)
            second.wait_ready(60)
            second.log.wait_until(lambda lg: job in lg.ids(ACKED), timeout=30, what='the redelivered task')
        finally:
            for process in processes:
                process.kill()
    done = next(e for e in second.log.events(ACKED) if e.message_id == job)
    assert done.detail.endswith('(redelivered)') and job not in first.log.ids(ACKED)


def test_a_retry_through_the_topic_exchange_is_copied_again():
    """06's claim: one failure in each of video_queue and audit_queue makes four second tries."""
    log = EventLog()
    with declared('memory://', MEDIA), CeleryEvents(log):
        app = make_app(MEDIA, 'memory://')
        crew = [CeleryWorker([queue], 'memory://').start() for queue in (AUDIT_QUEUE, VIDEO_QUEUE)]
        try:
            app.tasks['media.flaky'].delay('clip.mp4', fail_times=1, countdown=0.05)
            log.wait_for(ACKED, 4, timeout=30)
        finally:
            CeleryWorker.stop_all(crew)
    assert log.per_queue(ACKED) == {AUDIT_QUEUE: 2, VIDEO_QUEUE: 2}
    assert log.per_queue('retried') == {AUDIT_QUEUE: 1, VIDEO_QUEUE: 1}
    rec = reconcile(MEDIA, log)
    assert rec.duplicates == 2 and rec.causes('duplicate') == {'task_retry': 2}


def test_stopped_celery_workers_leave_no_thread_behind():
    before = set(threading.enumerate())
    with declared('memory://', MEDIA):
        crew = [CeleryWorker([queue], 'memory://').start() for queue in MEDIA.queue_names]
        assert all(worker.is_running for worker in crew)
        CeleryWorker.stop_all(crew)
    left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == [] and not any(worker.is_running for worker in crew)


def test_the_celery_full_run_reconciles_the_seeded_scenario():
    from helpers.fullrun import scenario
    from tools.celery_fullrun import celery_full_run
    result = celery_full_run('memory://', 60, corrupt_rate=0.1)
    rec = result.reconciliation
    corrupt = sum(1 for _key, payload in scenario(60, 4, 0.1) if payload.get('corrupt'))
    assert rec.ok and rec.published == 60 and corrupt > 0
    assert rec.expected == sum(len(MEDIA.route(key)) for key, _payload in scenario(60))
    assert rec.dead_lettered == sum(len(MEDIA.route(key)) for key, p in scenario(60, 4, 0.1) if p.get('corrupt'))


@pytest.mark.parametrize('name', ['memory', 'amqp'])
def test_celery_runs_in_two_namespaces_on_one_broker_do_not_cross(name):
    """Learner a's tasks wait in a's queues while b's workers run on every queue; then a's workers run only a's."""
    url = require_broker(BROKERS[name])
    tag = uuid.uuid4().hex[:6]
    media_a, media_b = MEDIA.in_namespace(f'a{tag}'), MEDIA.in_namespace(f'b{tag}')
    log_a = EventLog()
    with config.connect(url) as conn:
        media_a.reset(conn)
    with CeleryEvents(log_a):
        app_a = make_app(media_a, url)
        a_ids = [app_a.tasks['media.transcode'].delay(f'a{n}.mp4').id for n in range(3)]

    log_b = EventLog()
    with declared(url, media_b), CeleryEvents(log_b):
        app_b = make_app(media_b, url)
        crew = [CeleryWorker([queue], url, topology=media_b).start() for queue in MEDIA.queue_names]
        try:
            b_ids = [app_b.tasks['media.transcode'].delay(f'b{n}.mp4').id for n in range(3)]
            result_b = wait_accounted(media_b, log_b, timeout=30)
        finally:
            CeleryWorker.stop_all(crew)
    assert result_b.ok and sorted(log_b.ids(ACKED)) == sorted(b_ids * 2), result_b.table()

    try:
        with config.connect(url) as conn:  # b's workers, consuming every queue, left a's tasks alone
            assert {q: media_a.message_count(conn, q) for q in (AUDIT_QUEUE, VIDEO_QUEUE)} == \
                {AUDIT_QUEUE: 3, VIDEO_QUEUE: 3}
        with CeleryEvents(log_a):
            crew = [CeleryWorker([queue], url, topology=media_a).start() for queue in MEDIA.queue_names]
            try:
                result_a = wait_accounted(media_a, log_a, timeout=30)
            finally:
                CeleryWorker.stop_all(crew)
    finally:
        with config.connect(url) as conn:
            media_a.delete(conn)
    assert result_a.ok and sorted(log_a.ids(ACKED)) == sorted(a_ids * 2), result_a.table()
    assert sorted(log_a.ids(PUBLISHED)) == sorted(a_ids)


@pytest.mark.broker
def test_two_learners_celery_full_runs_at_once_on_one_rabbitmq_vhost_never_cross():
    """Two `python -m tools.celery_fullrun` at the same time, one LAB_NAMESPACE each, on one vhost."""
    url = require_broker(BROKERS['amqp'])
    tag = uuid.uuid4().hex[:6]
    procs = {ns: subprocess.Popen([sys.executable, '-m', 'tools.celery_fullrun', '--broker', url,
                                   '--messages', '60', '--json'], cwd=ROOT, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env={**os.environ, 'LAB_NAMESPACE': ns})
             for ns in (f'a{tag}', f'b{tag}')}
    runs = {}
    try:
        for ns, proc in procs.items():
            out, err = proc.communicate(timeout=180)
            runs[ns] = json.loads(out.strip().splitlines()[-1]) if out.strip() else err
    finally:
        for ns, proc in procs.items():
            proc.kill()
            proc.communicate()
            with config.connect(url) as conn:
                MEDIA.in_namespace(ns).delete(conn)  # the full run leaves its topology declared, as 04's does
    for ns, run in runs.items():
        assert isinstance(run, dict), run
        assert (run['published'], run['lost'], run['duplicates'], run['unexpected']) == (60, 0, 0, 0), (ns, run)
        assert run['acked'] + run['dead_lettered'] == run['expected'], (ns, run)
