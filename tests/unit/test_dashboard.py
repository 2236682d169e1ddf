"""The teacher's dashboard view: the table says who to look at, in colour and in words."""
from __future__ import annotations

import threading

from teacher import classroom
from teacher.dashboard import ClassDashboard, dashboard_html

from .test_classroom import FakeAdmin, queue


def a_class():
    admin = FakeAdmin()
    learners = classroom.plan(2, 'namespaces', url='amqp://u:p@h/course')
    admin.queue_rows = [queue('course', 'class_01.media_exchange.video_queue', ready=4)]
    return admin, learners


def test_the_table_names_the_stuck_learner_and_its_queue():
    admin, learners = a_class()
    text = dashboard_html(classroom.status(admin, learners), 'at 10:00:00')
    assert text.count('<tr style=') == 2
    stuck_row, fine_row = text.split('data-learner=')[1:]
    assert stuck_row.startswith('"class_01"') and '⚠ stuck: media_exchange/video_queue (4 waiting' in stuck_row
    assert '#ffd7d0' in text.split('data-learner="class_01"')[0].rsplit('<tr', 1)[1]
    assert fine_row.startswith('"class_02"') and '>ok</td>' in fine_row
    assert '2 learners at 10:00:00' in text


def test_names_are_escaped():
    admin = FakeAdmin()
    learner = classroom.Learner('<b>x</b>', 'amqp://h/v', 'v', namespace='x')
    assert '<b>x</b>' not in dashboard_html(classroom.status(admin, [learner]))


def test_refresh_redraws_from_the_broker_and_a_silent_broker_is_said():
    admin, learners = a_class()
    board = ClassDashboard(learners, admin, clock=lambda: '')
    assert board.message.value == '1 of 2 learners to look at'
    admin.queue_rows = []
    board.refresh_button.click()
    assert board.message.value == 'all clear' and '⚠' not in board.table.value

    def broken(vhost=None):
        raise OSError('connection refused')
    admin.queues = broken
    assert board.refresh() == []
    assert 'did not answer: connection refused' in board.message.value
    board.close()


def test_watch_redraws_from_a_thread_until_closed():
    admin, learners = a_class()
    redrawn = threading.Event()
    calls = []

    def queues(vhost=None):
        calls.append(vhost)
        if len(calls) > 2:
            redrawn.set()
        return []
    admin.queues = queues
    before = set(threading.enumerate())
    board = ClassDashboard(learners, admin, clock=lambda: '').watch(0.01)
    [watcher] = [t for t in threading.enumerate() if t not in before]
    assert watcher.name == 'helpers-dashboard'
    assert redrawn.wait(10)
    board.close()
    assert not watcher.is_alive()


def test_displayed_board_carries_a_snapshot_of_its_last_drawing():
    admin, learners = a_class()
    board = ClassDashboard(learners, admin, clock=lambda: 'at 10:00:00')
    bundle = board._repr_mimebundle_()
    assert 'application/vnd.jupyter.widget-view+json' in bundle
    picture = bundle['text/html']
    assert 'helpers-snapshot' in picture and '1 of 2 learners to look at' in picture
    assert 'data-learner="class_01"' in picture and 'at 10:00:00' not in picture
    board.close()
    assert 'application/vnd.jupyter.widget-view+json' not in board._repr_mimebundle_()
