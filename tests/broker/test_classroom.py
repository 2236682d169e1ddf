"""The classroom tools against a management API over HTTP (a fake one, then RabbitMQ's) and rabbitmqctl."""
from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from conftest import IN_CI

from helpers import config
from helpers.course_names import AUDIT_QUEUE, SEED_EXCHANGE, VIDEO_QUEUE
from helpers.events import EventLog
from helpers.producer import Publisher
from helpers.topology import SEED
from helpers.worker import Worker
from teacher import classroom
from teacher.rabbitadmin import AdminError, ManagementAPI, RabbitmqCtl


class FakeAPI(BaseHTTPRequestHandler):
    """A management API that records each call and answers from ``answers``."""

    calls: list = []
    answers: dict = {}

    def _handle(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        self.calls.append((self.command, self.path, self.headers.get('Authorization'),
                           json.loads(body) if body else None))
        status, answer = self.answers.get((self.command, self.path.split('?')[0]), (404, {'error': 'not_found'}))
        data = json.dumps(answer).encode() if answer is not None else b''
        self.send_response(status)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_DELETE = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_api():
    FakeAPI.calls, FakeAPI.answers = [], {}
    server = HTTPServer(('127.0.0.1', 0), FakeAPI)
    thread = threading.Thread(target=server.serve_forever, name='fake-management-api', daemon=True)
    thread.start()
    yield ManagementAPI(f'http://127.0.0.1:{server.server_port}', 'teacher', 's3cret')
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_management_client_encodes_names_and_sends_credentials(fake_api):
    FakeAPI.answers = {('PUT', '/api/vhosts/class_01'): (201, None),
                       ('PUT', '/api/permissions/class_01/class_01'): (201, None),
                       ('GET', '/api/queues/a%2Fb'): (200, [{'vhost': 'a/b', 'name': 'q', 'messages_ready': 2}])}
    fake_api.add_vhost('class_01')
    fake_api.set_permissions('class_01', 'class_01')
    assert fake_api.queues('a/b') == [{'vhost': 'a/b', 'name': 'q', 'messages_ready': 2,
                                       'messages_unacknowledged': 0, 'consumers': 0}]
    token = 'Basic ' + base64.b64encode(b'teacher:s3cret').decode()
    assert [(m, p.split('?')[0], a) for m, p, a, _ in FakeAPI.calls] == [
        ('PUT', '/api/vhosts/class_01', token), ('PUT', '/api/permissions/class_01/class_01', token),
        ('GET', '/api/queues/a%2Fb', token)]
    assert FakeAPI.calls[1][3] == {'configure': '.*', 'write': '.*', 'read': '.*'}


def test_deleting_what_is_gone_is_fine_but_other_errors_are_told(fake_api):
    fake_api.delete_vhost('class_gone')  # 404: already gone
    FakeAPI.answers = {('PUT', '/api/users/class_01'): (401, {'error': 'not_authorised'})}
    with pytest.raises(AdminError, match='HTTP 401'):
        fake_api.add_user('class_01', 'pw')


def test_an_api_that_does_not_answer_says_how_to_enable_it():
    api = ManagementAPI('http://127.0.0.1:1', timeout=2)
    assert not api.available()
    with pytest.raises(AdminError, match='rabbitmq-plugins enable rabbitmq_management'):
        api.vhosts()


@pytest.fixture
def real_api():
    api = ManagementAPI()
    if not api.available():
        if IN_CI:
            pytest.fail('CI=true and the management API must answer (.ci/setup enables it)')
        pytest.skip('the RabbitMQ management API does not answer on 127.0.0.1:15672')
    return api


def _wait_for(condition, what, timeout=15.0):
    """The management API shows a change after its next statistics tick: poll, bounded."""
    import time
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f'the management API never showed {what}')
        time.sleep(0.2)


@pytest.mark.broker
def test_a_real_class_of_two_vhosts_is_made_watched_and_removed(real_api, monkeypatch):
    tag = uuid.uuid4().hex[:4]
    learners = classroom.plan(2, 'vhosts', prefix=f'class_t{tag}_')
    try:
        classroom.create(real_api, learners)
        assert {lr.vhost for lr in learners} <= set(real_api.vhosts())
        monkeypatch.delenv('LAB_NAMESPACE', raising=False)
        ada = learners[0]
        with config.connect(ada.url) as conn:
            SEED.reset(conn)
        with Publisher(ada.url) as publisher:
            publisher.publish('video.upload', {'file': 'a.mp4'})
        _wait_for(lambda: classroom.status(real_api, learners)[0].flags, 'a stuck queue')
        [seen, other] = classroom.status(real_api, learners)
        assert f'stuck: {VIDEO_QUEUE} (1 waiting, no consumer)' in seen.flags
        assert other.flags == [] and other.queues == ()
        with Worker(ada.url, log=EventLog(), name='class-test'):
            _wait_for(lambda: classroom.status(real_api, learners)[0].consumers == 2, 'two consumers')
            # Connections are listed on their own statistics tick, which can come after the consumers'.
            _wait_for(lambda: classroom.status(real_api, learners)[0].connections >= 1, 'the worker\'s connection')
    finally:
        classroom.remove(real_api, learners)
    assert not {lr.vhost for lr in learners} & set(real_api.vhosts())


@pytest.fixture(params=['api', 'rabbitmqctl'])
def real_admin(request):
    """The management API, then the rabbitmqctl fallback."""
    if request.param == 'api':
        return request.getfixturevalue('real_api')
    ctl = RabbitmqCtl()
    if not ctl.available():
        if IN_CI:
            pytest.fail('CI=true and rabbitmqctl must run here')
        pytest.skip('rabbitmqctl does not run here (not on the broker host, or not allowed)')
    return ctl


@pytest.mark.broker
def test_namespaces_on_one_real_vhost_are_told_apart_and_removed(real_admin, monkeypatch):
    from conftest import BROKERS, require_broker
    real_api = real_admin
    url = require_broker(BROKERS['amqp'])
    tag = uuid.uuid4().hex[:4]
    learners = classroom.plan(2, 'namespaces', prefix=f'class_t{tag}_', url=url)
    monkeypatch.setenv('LAB_NAMESPACE', learners[1].namespace)  # names the worker's connection (helpers.config)
    seed = SEED.in_namespace(learners[1].namespace)
    try:
        with config.connect(url) as conn:
            seed.reset(conn)
            with Worker(url, topology=seed, log=EventLog(), name='class-ns-test'):
                _wait_for(lambda: classroom.status(real_api, learners)[1].consumers == 2, 'bob consuming')
                # Connections are listed on their own statistics tick, which can come after the consumers'.
                _wait_for(lambda: classroom.status(real_api, learners)[1].connections >= 1, 'bob\'s connection')
                ada, bob = classroom.status(real_api, learners)
                assert ada.queues == () and ada.connections == 0
                assert [q.name for q in bob.queues] == sorted([f'{SEED_EXCHANGE}/{AUDIT_QUEUE}',
                                                               f'{SEED_EXCHANGE}/dead_letters',
                                                               f'{SEED_EXCHANGE}/{VIDEO_QUEUE}'])
                assert bob.connections >= 1
    finally:
        classroom.remove(real_api, learners)
    mine = f'{learners[1].namespace}.'
    assert not [q for q in real_api.queues(learners[1].vhost) if q['name'].startswith(mine)]
    assert not [e for e in real_api.exchanges(learners[1].vhost) if e.startswith(mine)]
