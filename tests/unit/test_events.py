"""The event log: running counts agree with the events, waits wake on events, broken listeners are logged."""
from __future__ import annotations

import logging
import threading

import pytest

from helpers.events import ACKED, DEAD_LETTERED, DELIVERED, PUBLISHED, QUARANTINED, SETTLED, UNACKED, EventLog


def _filled() -> EventLog:
    log = EventLog()
    log.record(PUBLISHED, 'm1', 'video.upload')
    log.record(PUBLISHED, 'm2', 'user.login')
    for queue, kind, mid in [('video_queue', DELIVERED, 'm1'), ('video_queue', ACKED, 'm1'),
                             ('audit_queue', DELIVERED, 'm1'), ('audit_queue', UNACKED, 'm1'),
                             ('audit_queue', DELIVERED, 'm1'), ('audit_queue', DEAD_LETTERED, 'm1'),
                             ('audit_queue', DELIVERED, 'm2'), ('audit_queue', QUARANTINED, 'm2')]:
        log.record(kind, mid, queue=queue)
    return log


def test_running_counts_agree_with_the_events():
    log = _filled()
    events = log.events()
    for kind in (None, PUBLISHED, DELIVERED, ACKED, UNACKED, DEAD_LETTERED, QUARANTINED):
        for queue in (None, '', 'video_queue', 'audit_queue', 'nowhere'):
            scanned = sum(1 for e in events if (kind is None or e.kind == kind) and (queue is None or e.queue == queue))
            assert log.count(kind, queue) == scanned, (kind, queue)
    assert log.counts() == {('', PUBLISHED): 2, ('audit_queue', DEAD_LETTERED): 1, ('audit_queue', DELIVERED): 3,
                            ('audit_queue', QUARANTINED): 1, ('audit_queue', UNACKED): 1,
                            ('video_queue', ACKED): 1, ('video_queue', DELIVERED): 1}


def test_settled_means_acked_dead_lettered_or_quarantined_not_unacked():
    log = _filled()
    assert SETTLED == (ACKED, DEAD_LETTERED, QUARANTINED)
    assert log.settled() == 3
    assert log.settled(['audit_queue']) == 2
    log.wait_settled(timeout=0)  # 4 deliveries: 3 settled, 1 unacked (delivered again): none in progress


def test_wait_settled_times_out_while_a_delivery_is_in_progress():
    log = _filled()
    log.record(DELIVERED, 'm3', queue='video_queue')
    with pytest.raises(TimeoutError, match='settled'):
        log.wait_settled(timeout=0)
    log.wait_settled(queues=['audit_queue'], timeout=0)  # the delivery in progress is in another queue


def test_clear_resets_the_counts():
    log = _filled()
    log.clear()
    assert (len(log), log.count(ACKED), log.settled(), log.counts()) == (0, 0, 0, {})


def test_wait_for_wakes_when_another_thread_records_the_event():
    log = EventLog()
    waiting = threading.Event()
    log.subscribe(lambda event: None)

    def record_when_waited_on() -> None:
        waiting.wait()
        log.record(ACKED, 'm1', queue='q')

    thread = threading.Thread(target=record_when_waited_on, name='helpers-test-recorder')
    thread.start()
    # The watch's condition tells the recorder it is now waiting; the recorder's event must wake it.
    assert log.watch(lambda lg: (waiting.set(), lg.count(ACKED, 'q') >= 1)[1], timeout=30)
    thread.join()


def test_watch_says_false_when_the_condition_never_holds():
    assert EventLog().watch(lambda lg: lg.count(ACKED) > 0, timeout=0) is False


def test_a_failing_listener_is_logged_and_the_others_still_hear(caplog):
    log = EventLog()
    heard = []

    def broken(event):
        raise RuntimeError('view is gone')

    log.subscribe(broken)
    log.subscribe(heard.append)
    with caplog.at_level(logging.ERROR, logger='helpers.events'):
        log.record(ACKED, 'm1', queue='q')
    assert [e.message_id for e in heard] == ['m1'] and len(log) == 1
    assert 'an event listener failed on acked m1' in caplog.text and 'view is gone' in caplog.text
