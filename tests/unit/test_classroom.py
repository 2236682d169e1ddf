"""The teacher's classroom tools: learners' places, the dashboard's numbers and flags, clean-up."""
from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from conftest import IN_CI

from helpers import classroom, config, namespace
from helpers.classroom import QueueStatus
from helpers.events import EventLog
from helpers.producer import Publisher
from helpers.rabbitadmin import AdminError, ManagementAPI, RabbitmqCtl
from helpers.topology import SEED
from helpers.worker import Worker


class FakeAdmin:
    """The admin clients' calls, on dictionaries."""

    def __init__(self):
        self.vhosts_, self.users, self.permissions = {'/'}, {}, {}
        self.queue_rows, self.exchange_rows, self.connection_rows = [], [], []

    def vhosts(self):
        return sorted(self.vhosts_)

    def add_vhost(self, vhost):
        self.vhosts_.add(vhost)

    def delete_vhost(self, vhost):
        self.vhosts_.discard(vhost)

    def add_user(self, user, password):
        self.users[user] = password

    def delete_user(self, user):
        self.users.pop(user, None)

    def set_permissions(self, vhost, user, configure='.*', write='.*', read='.*'):
        self.permissions[vhost, user] = (configure, write, read)

    def queues(self, vhost=None):
        return [q for q in self.queue_rows if vhost in (None, q['vhost'])]

    def delete_queue(self, vhost, name):
        self.queue_rows = [q for q in self.queue_rows if (q['vhost'], q['name']) != (vhost, name)]

    def exchanges(self, vhost):
        return [name for v, name in self.exchange_rows if v == vhost]

    def delete_exchange(self, vhost, name):
        self.exchange_rows.remove((vhost, name))

    def connections(self, vhost=None):
        return [c for c in self.connection_rows if vhost in (None, c['vhost'])]


def queue(vhost, name, ready=0, unacked=0, consumers=0):
    return {'vhost': vhost, 'name': name, 'messages_ready': ready, 'messages_unacknowledged': unacked,
            'consumers': consumers}


def test_vhost_mode_gives_each_learner_a_vhost_a_user_and_a_password():
    learners = classroom.plan(3, 'vhosts', prefix='class_', host='rabbit.school')
    assert [lr.name for lr in learners] == ['class_01', 'class_02', 'class_03']
    assert learners[0].url.startswith('amqp://class_01:') and learners[0].url.endswith('@rabbit.school:5672/class_01')
    assert len({config.safe_url(lr.url) for lr in learners}) == 3
    assert len({lr.url for lr in learners}) == 3  # different passwords too
    assert learners[0].env_line == f'BROKER_URL={learners[0].url}'
    admin = FakeAdmin()
    classroom.create(admin, learners)
    assert admin.vhosts() == ['/', 'class_01', 'class_02', 'class_03']
    assert admin.users['class_02'] in learners[1].url
    assert admin.permissions['class_03', 'class_03'] == ('.*', '.*', '.*')
    classroom.remove(admin, learners)
    assert admin.vhosts() == ['/'] and admin.users == {}


def test_namespace_mode_needs_no_admin_and_shares_the_teachers_url():
    url = 'amqp://class:pw@rabbit.school:5672/course'
    learners = classroom.plan(2, 'namespaces', url=url)
    assert [lr.env_line for lr in learners] == [f'BROKER_URL={url} LAB_NAMESPACE=class_01',
                                                f'BROKER_URL={url} LAB_NAMESPACE=class_02']
    assert {lr.vhost for lr in learners} == {'course'}
    admin = FakeAdmin()
    classroom.create(admin, learners)
    assert admin.vhosts() == ['/'] and admin.users == {}


@pytest.mark.parametrize('args, message', [
    ((2, 'rooms'), 'choose one of'), ((0, 'vhosts'), '1 to 999'), ((2, 'namespaces'), '--url'),
])
def test_bad_plans_say_what_to_do(args, message):
    with pytest.raises(ValueError, match=message):
        classroom.plan(*args)


def test_a_prefix_that_cannot_be_a_namespace_is_refused():
    with pytest.raises(namespace.NamespaceError):
        classroom.plan(2, 'namespaces', prefix='class ', url='amqp://h/v')


def test_remove_in_namespace_mode_deletes_only_that_learners_names():
    admin = FakeAdmin()
    admin.queue_rows = [queue('course', 'class_01.media_exchange.video_queue'),
                        queue('course', 'class_011.media_exchange.video_queue'),
                        queue('course', 'video_queue')]
    admin.exchange_rows = [('course', 'class_01.media_exchange'), ('course', 'amq.topic')]
    [first] = classroom.plan(1, 'namespaces', url='amqp://u:p@h/course')
    assert classroom.remove(admin, [first]) == ['1 queues and 1 exchanges of class_01']
    assert [q['name'] for q in admin.queue_rows] == ['class_011.media_exchange.video_queue', 'video_queue']
    assert admin.exchange_rows == [('course', 'amq.topic')]


def test_status_counts_each_learners_connections_and_queues_and_flags_trouble():
    admin = FakeAdmin()
    ada, bob = classroom.plan(2, 'namespaces', url='amqp://u:p@h/course')
    admin.queue_rows = [queue('course', 'class_01.media_exchange.video_queue', ready=3),
                        queue('course', 'class_01.media_exchange.audit_queue', unacked=1, consumers=1),
                        queue('course', 'class_02.media_events.user_queue')]
    admin.connection_rows = [{'vhost': 'course', 'user': 'u', 'name': 'c1', 'user_provided_name': 'lab:class_01'},
                             {'vhost': 'course', 'user': 'u', 'name': 'c2', 'user_provided_name': 'lab:class_01'},
                             {'vhost': 'course', 'user': 'u', 'name': 'c3', 'user_provided_name': ''}]
    first, second = classroom.status(admin, [ada, bob])
    assert first.connections == 2 and first.consumers == 1
    assert first.queues == (QueueStatus('media_exchange/audit_queue', 0, 1, 1),
                            QueueStatus('media_exchange/video_queue', 3, 0, 0))
    assert first.flags == ['stuck: media_exchange/video_queue (3 waiting, no consumer)',
                           'worker running: 1 consumer(s)']
    assert second.connections == 0 and second.flags == []
    text = classroom.table([first, second])
    assert 'class_01' in text and '⚠ stuck' in text and 'class_02' in text
    assert text.splitlines()[-1].startswith('class_02') and text.splitlines()[-1].endswith('ok')


def test_status_in_vhost_mode_counts_by_vhost():
    admin = FakeAdmin()
    [ada] = classroom.plan(1, 'vhosts')
    admin.queue_rows = [queue('class_01', 'video_queue', ready=0, consumers=2), queue('other', 'video_queue', 9)]
    admin.connection_rows = [{'vhost': 'class_01', 'user': 'class_01', 'name': 'c', 'user_provided_name': ''}]
    [seen] = classroom.status(admin, [ada])
    assert (seen.connections, seen.consumers, seen.queues[0].name) == (1, 2, 'video_queue')


def test_the_roster_round_trips_and_a_missing_one_says_how_to_make_it(tmp_path):
    learners = classroom.plan(2, 'vhosts')
    classroom.save_roster(tmp_path / 'class.json', learners)
    assert classroom.load_roster(tmp_path / 'class.json') == learners
    with pytest.raises(ValueError, match='create N'):
        classroom.load_roster(tmp_path / 'none.json')


def test_the_cli_prints_one_line_per_learner(tmp_path, capsys):
    roster = tmp_path / 'class.json'
    assert classroom.main(['--roster', str(roster), 'create', '2', '--mode', 'namespaces',
                           '--url', 'amqp://u:p@h/course']) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ['class_01: BROKER_URL=amqp://u:p@h/course LAB_NAMESPACE=class_01',
                   'class_02: BROKER_URL=amqp://u:p@h/course LAB_NAMESPACE=class_02']
    assert classroom.main(['--roster', str(tmp_path / 'none.json'), 'status']) == 2


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


# -- against the real management plugin ----------------------------------------------------------

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
        assert 'stuck: video_queue (1 waiting, no consumer)' in seen.flags
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
    monkeypatch.setenv('LAB_NAMESPACE', learners[1].namespace)
    try:
        with config.connect(url) as conn:
            SEED.reset(conn)
            with Worker(url, log=EventLog(), name='class-ns-test'):
                _wait_for(lambda: classroom.status(real_api, learners)[1].consumers == 2, 'bob consuming')
                # Connections are listed on their own statistics tick, which can come after the consumers'.
                _wait_for(lambda: classroom.status(real_api, learners)[1].connections >= 1, 'bob\'s connection')
                ada, bob = classroom.status(real_api, learners)
                assert ada.queues == () and ada.connections == 0
                assert [q.name for q in bob.queues] == ['media_exchange/audit_queue', 'media_exchange/dead_letters',
                                                        'media_exchange/video_queue']
                assert bob.connections >= 1
    finally:
        classroom.remove(real_api, learners)
    mine = f'{learners[1].namespace}.'
    assert not [q for q in real_api.queues(learners[1].vhost) if q['name'].startswith(mine)]
    assert not [e for e in real_api.exchanges(learners[1].vhost) if e.startswith(mine)]
