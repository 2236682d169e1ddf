"""06_celery's claims about Celery's own routing, checked on each broker: where a call lands (task_routes,
apply_async, the default queue), broadcast queues, what a task's delivery info holds, when Celery acks,
dead-lettering a failed task on RabbitMQ, and the exercise's check (its wrong answers ❌, its right ones ✅)."""
from __future__ import annotations

import re
import runpy
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from celery import Celery
from celery.exceptions import Reject
from conftest import BROKERS, declared, require_broker
from kombu import Exchange, Queue, binding
from kombu.common import Broadcast

from helpers import config
from helpers.celery_app import landing, make_app
from helpers.celery_bridge.events import CeleryEvents
from helpers.celery_bridge.workers import CeleryWorker, quiet_celery_logging
from helpers.course_names import USER_QUEUE
from helpers.events import ACKED, DEAD_LETTERED, EventLog
from helpers.topology import MEDIA

ROOT = Path(__file__).resolve().parents[2]
quiet_celery_logging()


def work(*args, **kwargs):
    """A task that does nothing: only where it is sent matters."""


def lab_app(url: str, tag: str) -> Celery:
    """06's lab: four queues on a topic exchange, routes by name, glob, regex and a router function."""
    media = Exchange(f'lab_media_{tag}', type='topic')
    name = f'lab_{tag}_'.__add__
    queues = [Queue(name('video'), media, routing_key='video.#'), Queue(name('image'), media, routing_key='image.#'),
              Queue(name('thumbnail'), bindings=[binding(media, routing_key='video.upload.*'),
                                                 binding(media, routing_key='image.upload.*')]),
              Queue(name('user'), media, routing_key='user.*')]

    def route_user_tasks(task_name, args, kwargs, options, task=None, **kw):
        if task_name.startswith('lab.user.'):
            return {'exchange': media.name, 'routing_key': 'user.' + task_name.rsplit('.', 1)[1]}
        return None

    app = Celery('lab', broker=url, set_as_current=False)
    app.conf.update(task_queues=queues, task_default_queue=f'celery_{tag}', task_routes=[route_user_tasks, {
        'lab.transcode': {'exchange': media.name, 'routing_key': 'video.transcode'},
        'lab.image.*': {'queue': name('image')},
        re.compile(r'^lab\.(thumbnail|preview)$'): {'queue': name('thumbnail')}}])
    for task in ['lab.transcode', 'lab.image.resize', 'lab.thumbnail', 'lab.user.signup', 'lab.cleanup']:
        app.task(name=task, shared=False)(work)
    return app


CASES = [  # (task, apply_async options, where it lands) — 06's two tables
    ('lab.transcode', {}, ['video']),
    ('lab.image.resize', {}, ['image']),
    ('lab.thumbnail', {}, ['thumbnail']),
    ('lab.user.signup', {}, ['user']),
    ('lab.cleanup', {}, ['celery']),
    ('lab.transcode', {'routing_key': 'image.resize'}, ['image']),
    ('lab.image.resize', {'queue': 'user'}, ['user']),
    ('lab.transcode', {'queue': 'user'}, ['video']),
    ('lab.cleanup', {'routing_key': 'video.transcode'}, ['celery']),  # a routing key alone is ignored
    ('lab.cleanup', {'exchange': 'media', 'routing_key': 'video.transcode'}, ['video']),
    ('lab.cleanup', {'queue': 'video', 'routing_key': 'image.upload.png'}, ['image', 'thumbnail']),
]


@pytest.mark.parametrize('name', sorted(BROKERS))
def test_where_celery_calls_land_is_the_same_on_every_broker(name):
    url = require_broker(BROKERS[name])
    tag = uuid.uuid4().hex[:6]
    app = lab_app(url, tag)
    short = {f'lab_{tag}_{q}': q for q in ('video', 'image', 'thumbnail', 'user')} | {f'celery_{tag}': 'celery'}
    long = {v: k for k, v in short.items()} | {'media': f'lab_media_{tag}'}
    try:
        for task, options, want in CASES:
            options = {k: long.get(v, v) if k in ('queue', 'exchange') else v for k, v in options.items()}
            got = landing(app, lambda task=task, options=options: app.tasks[task].apply_async(**options))
            assert sorted(short[q] for q in got) == want and set(got.values()) == {1}, (task, options, got)
    finally:
        with config.connect(url) as conn:
            for queue in [*app.amqp.queues.values(), Queue(f'celery_{tag}')]:
                with conn.channel() as channel:
                    try:
                        queue.bind(channel).delete()
                    except conn.channel_errors:
                        pass


@pytest.mark.parametrize('name', sorted(BROKERS))
def test_a_broadcast_call_reaches_every_workers_queue_except_on_redis(name):
    url = require_broker(BROKERS[name])
    tag = uuid.uuid4().hex[:6]

    def worker_app():
        app = Celery('lab', broker=url, set_as_current=False)
        app.conf.update(task_queues=[Broadcast(f'lab_reload_{tag}')], task_default_queue=f'celery_{tag}',
                        task_routes={'lab.reload': {'queue': f'lab_reload_{tag}', 'exchange': f'lab_reload_{tag}'}})
        app.task(name='lab.reload', shared=False)(work)
        return app

    one, two = worker_app(), worker_app()
    try:
        got = landing(one, lambda: one.tasks['lab.reload'].delay(), others=[two])
    finally:
        with config.connect(url) as conn:
            for queue in [*one.amqp.queues.values(), *two.amqp.queues.values()]:
                with conn.channel() as channel:
                    queue.bind(channel).delete()
    bcast = sorted(n for n in got if n.startswith('bcast.'))
    if name == 'redis':  # fanout is Redis pub/sub there: nothing waits for a worker not listening
        assert got == {}
    else:
        assert len(bcast) == 2 and all(got[n] == 1 for n in bcast), got


@pytest.mark.parametrize('name', sorted(BROKERS))
def test_delivery_info_has_exchange_key_priority_and_redelivered_but_no_queue(name):
    url = require_broker(BROKERS[name])
    log = EventLog()
    with declared(url, MEDIA), CeleryEvents(log), CeleryWorker([USER_QUEUE], url):
        make_app(MEDIA, url).tasks['media.process'].apply_async(({'n': 0, 'peek': True},), routing_key='user.peek')
        log.wait_for(ACKED, 1, timeout=30)
    [event] = log.events(ACKED)
    assert event.detail == repr({'exchange': MEDIA.broker_exchange_name, 'priority': 0, 'redelivered': False,
                                 'routing_key': 'user.peek'})


@pytest.mark.parametrize('name', ['memory', 'amqp'])
def test_celery_acks_a_task_just_before_it_runs_and_leaves_prefetched_ones_unacked(name):
    """Celery's default (acks_late=False): Request.on_accepted acks as the task starts; prefetched ones wait."""
    url = require_broker(BROKERS[name])
    tag = uuid.uuid4().hex[:6]
    jobs = Queue(f'jobs_{tag}', Exchange(f'jobs_{tag}', type='direct'), routing_key='jobs')
    app = Celery('lab', broker=url, set_as_current=False)
    app.conf.update(task_queues=[jobs], task_default_queue=jobs.name, task_ignore_result=True,
                    broker_transport_options=config.TRANSPORT_OPTIONS[name], worker_prefetch_multiplier=4)
    seen, release = {}, threading.Event()

    @app.task(name='lab.hold', shared=False, bind=True)
    def hold(self, n):
        seen.setdefault('ran', []).append(n)
        if n == 0:  # the first task: is its own message acked while it runs?
            channel = worker._controller.consumer.task_consumer.channel
            if name == 'memory':  # kombu's virtual QoS: delivered messages, and those acked since
                qos = channel.qos
                seen['acked'] = [qos._delivered[tag].headers['id'] for tag in qos._dirty if tag in qos._delivered]
            with config.connect(url) as conn:  # on RabbitMQ the other two are in the worker's hands by now
                time.sleep(0.3)
                seen['ready'] = jobs.bind(conn.default_channel).queue_declare().message_count
            worker.request_stop()
            release.wait(10)

    with declared_queue(url, jobs):
        ids = [hold.delay(n).id for n in range(3)]  # all three wait before the worker starts
        worker = CeleryWorker([jobs.name], url, topology=None, app=app)
        worker.start()
        deadline = time.monotonic() + 10
        while 'ready' not in seen and time.monotonic() < deadline:
            time.sleep(0.02)
        release.set()
        worker.stop()
        with config.connect(url) as conn:
            left = jobs.bind(conn.default_channel).queue_declare().message_count
    if name == 'memory':
        assert seen['acked'] == [ids[0]], (seen, ids)  # acked before its body ran
    else:  # while task 0 ran, the other two had left the queue too: prefetched by the worker (not acked:
        # Celery acks in Request.on_accepted, when the pool starts a task)
        assert seen['ready'] == 0 and left == 0 and seen['ran'] == [0, 1, 2], (seen, left)


@contextmanager
def declared_queue(url: str, queue: Queue):
    """``queue`` declared for the with-block, deleted after it."""
    with config.connect(url) as conn:
        queue.bind(conn.default_channel).declare()
    try:
        yield queue
    finally:
        with config.connect(url) as conn:
            queue.bind(conn.default_channel).delete()


def test_a_failed_task_is_dead_lettered_only_with_late_acks_and_a_dead_letter_exchange_on_rabbitmq():
    url = require_broker(BROKERS['amqp'])
    tag = uuid.uuid4().hex[:6]
    dead = Exchange(f'lab_dead_{tag}', type='direct')
    jobs = Queue(f'lab_jobs_{tag}', Exchange(f'lab_jobs_{tag}', type='direct'), routing_key='jobs',
                 queue_arguments={'x-dead-letter-exchange': dead.name, 'x-dead-letter-routing-key': 'failed'})
    failed = Queue(f'lab_failed_{tag}', dead, routing_key='failed')
    app = Celery('lab', broker=url, set_as_current=False)
    app.conf.update(task_queues=[jobs, failed], task_default_queue=jobs.name, task_ignore_result=True)

    def fails(n):
        raise ValueError(n)

    def refuses(n):
        raise Reject(n, requeue=False)

    tasks = [app.task(name='lab.fail', shared=False)(fails),
             app.task(name='lab.fail_late', shared=False, acks_late=True, acks_on_failure_or_timeout=False)(fails),
             app.task(name='lab.refuse', shared=False, acks_late=True)(refuses),
             app.task(name='lab.refuse_early', shared=False)(refuses)]
    log = EventLog()
    try:
        assert landing(app, lambda: None) == {}
        with CeleryEvents(log), CeleryWorker([jobs.name], url, topology=None, app=app):
            for n, task in enumerate(tasks):
                task.delay(n)
            log.wait_for(DEAD_LETTERED, 4, timeout=30)
            parked = []
            with app.connection_for_write() as conn, conn.SimpleQueue(failed) as dead_letters:
                for _ in range(3):
                    try:
                        message = dead_letters.get(timeout=2)
                    except dead_letters.Empty:
                        break
                    parked.append((message.headers['task'], message.headers['x-death'][0]['reason']))
                    message.ack()
        assert sorted(parked) == [('lab.fail_late', 'rejected'), ('lab.refuse', 'rejected')]
    finally:
        with config.connect(url) as conn:
            for entity in (jobs, failed, dead, jobs.exchange):
                with conn.channel() as channel:
                    entity.bind(channel).delete()


def _exercise_namespace() -> dict:
    """The globals 06's answer cell sees: the imports above it, URL, and the self-check cell."""
    nb = nbformat.read(ROOT / 'notebooks' / '06_celery.ipynb', as_version=4)
    [check] = [c for c in nb.cells if 'self-check' in c.metadata.get('tags', [])]
    names = {'re': re, 'Exchange': Exchange, 'Queue': Queue, 'binding': binding, 'URL': config.broker_url()}
    exec(compile(check.source, '06 self-check', 'exec'), names)
    return names


@pytest.mark.parametrize('name', sorted(BROKERS))
def test_the_exercise_check_grades_on_the_broker(name, monkeypatch, capsys):
    url = require_broker(BROKERS[name])
    monkeypatch.setenv('BROKER_URL', url)
    exercise = runpy.run_path(str(ROOT / 'tests' / 'exercises' / 'nb06_celery.py'))
    solution = (ROOT / 'helpers' / 'solutions' / 'nb06_celery.py').read_text()
    for source, want in exercise['WRONG']:
        names = _exercise_namespace()
        capsys.readouterr()  # the self-check cell's own table
        exec(source, names)
        out = capsys.readouterr().out
        assert out.startswith('❌') and want in out and 'Traceback' not in out, (source, out)
    for source in (exercise['OWN'], solution):
        names = _exercise_namespace()
        capsys.readouterr()
        exec(source, names)
        out = capsys.readouterr().out
        assert out.startswith('✅'), out
