"""Reconciliation: every published message settled once in every queue the topology routes it to."""

import pytest

from helpers import solutions
from helpers.causes import CAUSES
from helpers.course_names import AUDIT_QUEUE, THUMBNAIL_QUEUE, VIDEO_QUEUE
from helpers.events import ACKED, DEAD_LETTERED, DELIVERED, PUBLISHED, QUARANTINED, RECONNECTED, UNACKED, EventLog
from helpers.fullrun import MEDIA_EVENTS, scenario
from helpers.reconcile import Unaccounted, reconcile, wait_accounted
from helpers.topology import MEDIA, SEED, virtual_matches

# (events after publishing m1 'video.upload' and m2 'user.login' on SEED, expected per-queue counters)
CASES = [
    pytest.param([('m1', VIDEO_QUEUE, ACKED), ('m1', AUDIT_QUEUE, ACKED), ('m2', AUDIT_QUEUE, ACKED)],
                 {AUDIT_QUEUE: dict(expected=2, acked=2, lost=0), VIDEO_QUEUE: dict(expected=1, acked=1, lost=0)},
                 True, id='all settled'),
    pytest.param([('m1', VIDEO_QUEUE, ACKED), ('m2', AUDIT_QUEUE, ACKED)],
                 {AUDIT_QUEUE: dict(expected=2, acked=1, lost=1)}, False, id='one copy lost'),
    pytest.param([('m1', VIDEO_QUEUE, DEAD_LETTERED), ('m1', AUDIT_QUEUE, ACKED),
                  ('m2', AUDIT_QUEUE, QUARANTINED)],
                 {VIDEO_QUEUE: dict(dead_lettered=1, lost=0), AUDIT_QUEUE: dict(quarantined=1, lost=0)},
                 True, id='dead-lettered and quarantined count as settled'),
    pytest.param([('m1', VIDEO_QUEUE, ACKED), ('m1', VIDEO_QUEUE, ACKED), ('m1', AUDIT_QUEUE, ACKED),
                  ('m2', AUDIT_QUEUE, ACKED)],
                 {VIDEO_QUEUE: dict(acked=2, duplicates=1, lost=0)}, False, id='acked twice is a duplicate'),
    pytest.param([('m1', VIDEO_QUEUE, ACKED), ('m1', AUDIT_QUEUE, ACKED), ('m2', AUDIT_QUEUE, ACKED),
                  ('m2', VIDEO_QUEUE, ACKED)],
                 {VIDEO_QUEUE: dict(expected=1, unexpected=1, lost=0)}, False, id='settled where not routed'),
]


@pytest.mark.parametrize(('outcomes', 'wanted', 'ok'), CASES)
def test_reconcile_counts(outcomes, wanted, ok):
    log = EventLog()
    log.record(PUBLISHED, 'm1', 'video.upload')
    log.record(PUBLISHED, 'm2', 'user.login')
    for message_id, queue, kind in outcomes:
        key = 'video.upload' if message_id == 'm1' else 'user.login'
        log.record(DELIVERED, message_id, key, queue)
        log.record(kind, message_id, key, queue)
    result = reconcile(SEED, log)
    for queue, counters in wanted.items():
        tally = result.queue(queue)
        assert {name: getattr(tally, name) for name in counters} == counters, queue
    assert result.ok is ok
    assert result.published == 2


def test_table_is_deterministic_and_has_a_total_row():
    log = EventLog()
    log.record(PUBLISHED, 'm1', 'video.upload')
    for queue in (VIDEO_QUEUE, AUDIT_QUEUE):
        log.record(DELIVERED, 'm1', 'video.upload', queue)
        log.record(ACKED, 'm1', 'video.upload', queue)
    table = reconcile(SEED, log).table()
    assert table == reconcile(SEED, log).table()
    lines = table.splitlines()
    assert lines[0] == 'published: 1, unroutable: 0'
    assert [line.split()[0] for line in lines[3:5]] == sorted([AUDIT_QUEUE, VIDEO_QUEUE])
    assert lines[-2].split()[:2] == ['total', '2'] and lines[-1].startswith('✅')


def test_scenario_is_seeded_and_routes_alike_on_every_transport():
    assert scenario(50, seed=7) == scenario(50, seed=7) != scenario(50, seed=8)
    keys = {key for key, _weight in MEDIA_EVENTS}
    assert {key for key, _payload in scenario(300)} == keys
    for key in keys:  # a key the virtual transports route differently would show up as lost/unexpected
        virtual = sorted(q for q, binding in MEDIA.bindings if virtual_matches(binding, key))
        assert sorted(set(virtual)) == MEDIA.route(key), key


def test_notebook_04_solution_passes_its_self_check():
    import contextlib
    import io
    from pathlib import Path

    import nbformat

    notebook = nbformat.read(Path(__file__).resolve().parents[2] / 'notebooks' / '04_full_run.ipynb', as_version=4)
    [check] = [cell.source for cell in notebook.cells if 'self-check' in cell.metadata.get('tags', [])]
    # What the cells above the self-check define that it uses; it runs a short full run on memory://.
    namespace = {'EventLog': EventLog, 'MEDIA': MEDIA, 'URL': 'memory://', 'find_lost': lambda topology, log: []}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(check, '04_full_run.ipynb', 'exec'), namespace)  # defines the check (the answer cell calls it)
        print(namespace['check_find_lost'](namespace['find_lost']))
        exec(compile(solutions.nb04_full_run, 'nb04_full_run.py', 'exec'), namespace)
    first, second = out.getvalue().splitlines()
    assert first.startswith('❌') and second.startswith('✅')


# (events after publishing m1 'video.upload' on SEED, the problem in video_queue, its cause)
STORIES = [
    pytest.param([(PUBLISHED, 'republished after a connection error (Connection reset)', ''),
                  (DELIVERED, '', 'v'), (ACKED, '', 'v'), (DELIVERED, '', 'v'), (ACKED, '', 'v')],
                 'duplicate', 'publisher_retry', id='publisher retry'),
    pytest.param([(PUBLISHED, '', ''), (DELIVERED, '', 'v'), (UNACKED, 'the connection dropped', 'v'),
                  (RECONNECTED, '', 'v'), (DELIVERED, '', 'v'), (ACKED, '', 'v'), (ACKED, '', 'v')],
                 'duplicate', 'lost_ack', id='lost ack'),
    pytest.param([(PUBLISHED, '', ''), (DELIVERED, '', 'v'), (ACKED, '', 'v'), (RECONNECTED, '', 'v'),
                  (DELIVERED, '', 'v'), (ACKED, '', 'v')],
                 'duplicate', 'redelivered_after_drop', id='redelivered after a drop'),
    pytest.param([(PUBLISHED, '', ''), (DELIVERED, '', 'v'), (ACKED, '', 'v'), (DELIVERED, '', 'v'),
                  (ACKED, '', 'v')],
                 'duplicate', 'unexplained', id='no cause in the log'),
    pytest.param([(PUBLISHED, '', ''), (DELIVERED, '', 'v'), (UNACKED, 'the connection dropped', 'v'),
                  (RECONNECTED, '', 'v')],
                 'lost', 'lost_with_connection', id='delivered to a connection that died'),
    pytest.param([(PUBLISHED, '', ''), (RECONNECTED, '', 'v')], 'lost', 'lost_while_fetching',
                 id='never delivered, a connection dropped'),
    pytest.param([(PUBLISHED, '', ''), (DELIVERED, '', 'v')], 'lost', 'in_hand', id='still in hand'),
    pytest.param([(PUBLISHED, '', '')], 'lost', 'never_delivered', id='never delivered'),
]


@pytest.mark.parametrize(('story', 'problem', 'cause'), STORIES)
def test_every_duplicate_and_lost_copy_is_explained_from_the_log(story, problem, cause):
    log = EventLog()
    for kind, detail, queue in story:
        queue = VIDEO_QUEUE if queue else ''
        log.record(kind, '' if kind == RECONNECTED else 'm1', 'video.upload', queue, detail)
    log.record(DELIVERED, 'm1', 'video.upload', AUDIT_QUEUE)
    log.record(ACKED, 'm1', 'video.upload', AUDIT_QUEUE)
    result = reconcile(SEED, log, 'redis')
    [why] = result.explanations
    assert (why.problem, why.queue, why.message_id, why.cause) == (problem, VIDEO_QUEUE, 'm1', cause)
    assert result.causes(problem) == {cause: 1}
    assert why.words == CAUSES[cause].format(broker='redis ')
    assert why.last_known.startswith('published +0.00 s')
    table = result.table()
    assert f'{"duplicates" if problem == "duplicate" else "lost"} by cause:' in table and why.words in table
    assert result.as_dict()['causes'][problem + 's' if problem == 'duplicate' else 'lost'] == {cause: 1}
    if cause in ('lost_with_connection', 'lost_while_fetching'):
        assert 'lost with a dropped redis connection' in why.words


def test_a_timeout_names_the_missing_copies_and_what_the_log_last_knew():
    log = EventLog()
    log.record(PUBLISHED, 'm1', 'video.upload')
    log.record(DELIVERED, 'm1', 'video.upload', AUDIT_QUEUE)
    log.record(ACKED, 'm1', 'video.upload', AUDIT_QUEUE)
    log.record(DELIVERED, 'm1', 'video.upload', VIDEO_QUEUE)
    with pytest.raises(Unaccounted) as caught:
        wait_accounted(SEED, log, timeout=0.05)
    message = str(caught.value)
    assert 'is a worker running' not in message
    assert f'{VIDEO_QUEUE} m1: delivered, and the handler has not finished with it' in message
    assert 'delivered +' in message
    assert caught.value.reconciliation.lost == 1


def test_demo_json_prints_its_object_when_the_run_fails(monkeypatch, capsys):
    import json

    from helpers import demo

    def stalled_run(url, messages, workers, producers, *, log, **_options):
        log.record(PUBLISHED, 'r1p1-0001', 'video.upload.hd')
        return wait_accounted(MEDIA, log, timeout=0.01)
    monkeypatch.setattr(demo, 'full_run', stalled_run)
    assert demo.main(['--broker', 'memory://', '--json']) == 2
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report['ok'] is False and report['lost'] == 3 and 'have not settled' in report['error']
    assert report['causes']['lost'] == {'never_delivered': 3}
    assert {e['queue'] for e in report['explanations']} == {AUDIT_QUEUE, THUMBNAIL_QUEUE, VIDEO_QUEUE}
    assert err.splitlines()[-1].startswith('error: after')  # after the progress bars


def test_a_copy_handled_whose_ack_is_in_doubt_is_unconfirmed_not_lost():
    from helpers.events import HANDLED_NOTE
    log = EventLog()
    log.record(PUBLISHED, 'm1', 'user.login')
    log.record(DELIVERED, 'm1', 'user.login', AUDIT_QUEUE)
    log.record(UNACKED, 'm1', 'user.login', AUDIT_QUEUE, f'{HANDLED_NOTE} (Connection reset); ...')
    result = wait_accounted(SEED, log, timeout=5, grace=0.05)
    assert result.lost == 0 and result.ok
    assert result.causes('unconfirmed') == {'ack_unconfirmed': 1}
    assert 'handled, ack unconfirmed by cause:' in result.table()


def test_a_redelivery_the_broker_flags_is_a_lost_ack():
    from helpers.events import REDELIVERED_NOTE
    log = EventLog()
    log.record(PUBLISHED, 'm1', 'user.login')
    for detail in ('', REDELIVERED_NOTE):
        log.record(DELIVERED, 'm1', 'user.login', AUDIT_QUEUE, detail)
        log.record(ACKED, 'm1', 'user.login', AUDIT_QUEUE)
    assert reconcile(SEED, log).causes('duplicate') == {'lost_ack': 1}


def test_demo_text_shows_the_accounts_and_causes_when_the_run_fails(monkeypatch, capsys):
    from helpers import demo

    def stalled_run(url, messages, workers, producers, *, log, **_options):
        log.record(PUBLISHED, 'r1p1-0001', 'user.login')
        return wait_accounted(MEDIA, log, timeout=0.01)
    monkeypatch.setattr(demo, 'full_run', stalled_run)
    assert demo.main(['--broker', 'memory://', '--messages', '1']) == 2
    out, err = capsys.readouterr()
    assert '== 3. Reconciliation (the run did not finish)' in out
    assert 'lost by cause:' in out and 'never delivered' in out
    assert 'is a worker running' not in out + err


def test_a_flagged_redelivery_logged_before_the_first_ack_is_still_a_lost_ack():
    """Two workers, two threads: another worker got the requeued copy before the first ack was logged."""
    from helpers.events import REDELIVERED_NOTE
    log = EventLog()
    log.record(PUBLISHED, 'm1', 'user.login')
    log.record(DELIVERED, 'm1', 'user.login', AUDIT_QUEUE)
    log.record(DELIVERED, 'm1', 'user.login', AUDIT_QUEUE, REDELIVERED_NOTE)
    log.record(ACKED, 'm1', 'user.login', AUDIT_QUEUE)
    log.record(ACKED, 'm1', 'user.login', AUDIT_QUEUE)
    assert reconcile(SEED, log).causes('duplicate') == {'lost_ack': 1}


def test_the_verdict_is_the_tables_line_after_the_totals():
    log = EventLog()
    for kind, queue in [(PUBLISHED, ''), (DELIVERED, VIDEO_QUEUE), (ACKED, VIDEO_QUEUE), (ACKED, VIDEO_QUEUE)]:
        log.record(kind, 'm1', 'video.upload', queue)  # acked twice in video_queue, never in audit_queue
    result = reconcile(SEED, log)
    lines = result.table().splitlines()
    assert result.verdict() == '❌ NOT reconciled: lost 1, duplicates 1, unexpected 0'
    assert lines[lines.index(result.verdict()) - 1].startswith('total')


def test_demo_json_prints_its_object_also_when_a_publisher_gives_up(monkeypatch, capsys):
    """Not only a timeout: any failure of the run (here the broker's connection error) ends in the JSON object."""
    import json

    from kombu.exceptions import OperationalError

    from helpers import demo

    def failing_run(url, messages, workers, producers, *, log, **_options):
        log.record(PUBLISHED, 'r1p1-0001', 'user.login')
        log.record(DELIVERED, 'r1p1-0001', 'user.login', AUDIT_QUEUE)
        log.record(ACKED, 'r1p1-0001', 'user.login', AUDIT_QUEUE)
        raise OperationalError('[Errno 111] Connection refused')
    monkeypatch.setattr(demo, 'full_run', failing_run)
    assert demo.main(['--broker', 'memory://', '--json']) == 2
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report['ok'] is False and report['error'] == 'OperationalError: [Errno 111] Connection refused'
    assert report['published'] == 1 and report['acked'] == 1 and report['lost'] == 1  # user_queue never got it
    assert err.splitlines()[-1] == 'error: OperationalError: [Errno 111] Connection refused'


def test_a_copy_another_program_published_is_unexpected_and_named_not_a_duplicate():
    log = EventLog()
    log.record(PUBLISHED, 'r1p1-aaaaaa-0001', 'user.login')
    for mid in ('r1p1-aaaaaa-0001', 'r1p1-bbbbbb-0001'):  # ours, then the other program's, in the same queue
        log.record(DELIVERED, mid, 'user.login', AUDIT_QUEUE)
        log.record(ACKED, mid, 'user.login', AUDIT_QUEUE)
    log.record(PUBLISHED, 'm2', 'user.login.extra')  # SEED routes user.login.extra to audit_queue only
    log.record(DELIVERED, 'm2', 'user.login.extra', VIDEO_QUEUE)
    log.record(ACKED, 'm2', 'user.login.extra', VIDEO_QUEUE)
    result = reconcile(SEED, log)
    assert result.duplicates == 0 and result.unexpected == 2
    assert result.causes('unexpected') == {'misrouted': 1, 'not_published': 1}
    [foreign] = [e for e in result.explanations if e.cause == 'not_published']
    assert (foreign.queue, foreign.message_id) == (AUDIT_QUEUE, 'r1p1-bbbbbb-0001')
    assert 'another program publishes to these queues' in foreign.words
    assert 'never published' in foreign.last_known
    assert 'unexpected by cause:' in result.table()
    assert result.as_dict()['causes']['unexpected'] == {'misrouted': 1, 'not_published': 1}


def test_a_lost_copy_redis_still_holds_gets_the_cause_of_where_it_is():
    from tools.redis_check import GONE, IN_QUEUE, UNACKED_HASH, with_places
    log = EventLog()
    for mid in ('m1', 'm2', 'm3'):
        log.record(PUBLISHED, mid, 'user.login')  # SEED routes user.login to audit_queue only
    log.record(RECONNECTED, '', '', AUDIT_QUEUE, 'worker w1 lost its broker connection')
    rec = reconcile(SEED, log, 'redis')
    assert rec.causes('lost') == {'lost_while_fetching': 3}
    where = {(AUDIT_QUEUE, 'm1'): UNACKED_HASH, (AUDIT_QUEUE, 'm2'): IN_QUEUE, (AUDIT_QUEUE, 'm3'): GONE}
    placed = with_places(rec, where)
    assert placed.causes('lost') == {'held_unacked': 1, 'lost_while_fetching': 1, 'still_queued': 1}
    assert placed.lost == 3  # still not settled in this run: the counts stay, the words change
    [held] = [e for e in placed.explanations if e.message_id == 'm1']
    assert 'comes back after the visibility timeout' in held.words and 'not lost for good' in held.words
