"""The teacher's classroom tools: learners' places, the dashboard's numbers and flags, clean-up."""
from __future__ import annotations

import pytest

from helpers import config, namespace
from teacher import classroom
from teacher.classroom import QueueStatus


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


# -- against the real management plugin ----------------------------------------------------------
