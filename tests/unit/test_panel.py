"""The control panel: garbage in the boxes publishes nothing, each click publishes once, counters match the log."""
import re
import threading
import uuid
from collections import Counter

import ipywidgets as widgets
import pytest
from colab_sends import dropping

from helpers import config
from helpers.course_names import AUDIT_QUEUE, VIDEO_QUEUE
from helpers.events import ACKED, DELIVERED, PUBLISHED, QUARANTINED
from helpers.producer import Publisher
from helpers.topology import MEDIA, RoutingKeyError, Topology
from helpers.views.panel import ControlPanel, PayloadError, counter_text, log_line, parse_payload, shorten
from helpers.worker import Worker


@pytest.fixture
def private(memory_url):
    """A topology whose queue names no other test uses, deleted afterwards (for tests nobody consumes)."""
    tag = uuid.uuid4().hex[:8]
    topo = Topology(f'panel_{tag}', ((f'video_{tag}', 'video.#'), (f'audit_{tag}', '#')))
    yield topo
    with config.connect(memory_url) as conn:
        topo.delete(conn)


@pytest.fixture
def panel(memory_url, private, log):
    panel = ControlPanel(memory_url, topology=private, log=log)
    yield panel
    panel.close()


@pytest.mark.parametrize('typed, says', [
    ('', 'routing key is empty'),
    ('video upload', 'contains a space'),
    (' video.upload', 'contains a space'),
    ('video.*', 'wildcards only work in binding keys'),
    ('#', 'wildcards only work in binding keys'),
    ('video.up*', 'are not patterns here'),
    ('video..upload', 'empty word'),
    ('video.', 'empty word'),
    ('v' * 300, 'at most 255'),
])
def test_bad_routing_key_in_the_box_publishes_nothing(panel, log, typed, says):
    panel.key_box.value = typed
    panel.publish_button.click()
    assert panel.message.startswith('⚠ nothing published:') and says in panel.message
    assert says in panel.status.value
    assert log.count(PUBLISHED) == 0 and panel.last_receipt is None


@pytest.mark.parametrize('payload, says', [
    ('{file: movie.mp4}', 'not valid JSON'),
    ("{'file': 'movie.mp4'}", 'not valid JSON'),
    ('', 'payload is empty'),
    ('   ', 'payload is empty'),
    ('[1, 2]', 'payload is an array, not an object'),
    ('"movie.mp4"', 'payload is text (a JSON string), not an object'),
    ('42', 'payload is a number, not an object'),
    ('true', 'payload is true/false, not an object'),
    ('null', 'payload is null, not an object'),
    ('{"n": NaN}', 'contains NaN, which is not JSON'),
    ('{"n": Infinity}', 'contains Infinity, which is not JSON'),
    ('{"n": -Infinity}', 'contains -Infinity, which is not JSON'),
    ('{"a": "' + 'x' * 3000 + '"}', 'keep it under'),
])
def test_bad_payload_publishes_nothing(panel, log, payload, says):
    panel.payload_box.value = payload
    panel.buttons['video.upload'].click()
    assert panel.message.startswith('⚠ nothing published:') and says in panel.message
    assert log.count(PUBLISHED) == 0


@pytest.mark.parametrize('text, expected', [
    ('{}', {}),
    ('{"file": "movie.mp4"}', {'file': 'movie.mp4'}),
    (' {"user": "admin", "n": 2} ', {'user': 'admin', 'n': 2}),
])
def test_parse_payload_accepts_json_objects(text, expected):
    assert parse_payload(text) == expected


@pytest.mark.parametrize('payload', ['[1, 2]', '"x"', '42', 'null', '{"n": NaN}'])
def test_payload_errors_name_no_python_types(payload):
    with pytest.raises(PayloadError) as raised:
        parse_payload(payload)
    assert not re.search(r'\b(NoneType|str|list|int|float|dict)\b', str(raised.value))


def test_enter_in_the_key_box_publishes(panel, log):
    """The browser sends {'event': 'submit'} when Enter is pressed in a Text widget; it arrives on the comm."""
    panel.key_box.value = 'video.upload'
    panel.key_box.comm.handle_msg({'content': {'data': {'method': 'custom', 'content': {'event': 'submit'}}},
                                   'buffers': []})
    assert [e.routing_key for e in log.events(PUBLISHED)] == ['video.upload']
    assert panel.message.startswith('published video.upload')


def test_labels_are_shown_in_full(panel):
    assert panel.key_box.style.description_width == 'initial'
    assert panel.payload_box.style.description_width == 'initial'


def test_long_details_are_shortened_in_the_log():
    from helpers.events import Event
    event = Event(QUARANTINED, 'm1', 'user.login', AUDIT_QUEUE, 0.0, 'bad body: ' + 'x' * 2000)
    line = log_line(event)
    assert len(line) < 200 and line.endswith('… (+1930 characters))')
    assert shorten('two\nlines') == 'two lines'


def test_snapshot_is_static_html_of_what_is_shown(panel):
    snap = panel.snapshot_html()
    assert 'Routing key:' in snap and 'video.upload' in snap and '(no events yet)' in snap
    assert snap == panel.snapshot_html()  # deterministic
    bundle = panel._repr_mimebundle_()
    assert bundle['text/html'] == snap
    assert bundle['application/vnd.jupyter.widget-view+json']['model_id'] == panel.widget.model_id
    assert bundle['text/plain'].startswith('<ControlPanel for ')


def test_the_ticker_flushes_worker_thread_draws_on_the_main_thread(panel, log, private):
    sent = []
    shown = [panel.status, *panel.counters.values(), panel.log_view]  # the widgets a worker thread draws into
    for widget in shown:
        widget.send_state = lambda key=None, widget=widget: sent.append((widget, key))
    panel.ticker.widget.value += 1  # a tick with nothing new: nothing re-sent
    assert sent == [] and panel.flushes == 0
    worker = threading.Thread(target=log.record, args=(ACKED, 'm1', 'video.upload', private.queue_names[0]),
                              name='helpers-test-worker')
    worker.start()
    worker.join()
    sent.clear()  # the worker thread's own sends (which Colab would ignore)
    panel.ticker.widget.value += 1  # the front end's tick, handled on the main thread
    assert panel.flushes == 1 and {key for _w, key in sent} == {'value'}
    assert {w for w, _key in sent} == set(shown)
    panel.ticker.widget.value += 1
    assert panel.flushes == 1  # nothing new since


def test_a_callback_on_another_thread_publishes_with_its_own_publisher(memory_url, private, log):
    """JupyterLab may run widget callbacks on an ipykernel subshell's thread, not the panel's."""
    panel = ControlPanel(memory_url, topology=private, log=log)
    receipts = []
    other = threading.Thread(target=lambda: receipts.append(panel.publish('user.login')), name='helpers-test-subshell')
    other.start()
    other.join()
    assert receipts[0] is not None and receipts[0].message_id.startswith(f'{panel.publisher.name}.2-')
    assert panel.publish('user.login').message_id.startswith(f'{panel.publisher.name}-')
    panel.close()
    assert panel.publisher.connection.connected is False


def test_closing_the_panel_closes_every_threads_publisher(memory_url, private, log):
    made = []

    def factory():
        made.append(Publisher(memory_url, topology=private, log=log, name=f'sub{len(made) + 1}'))
        return made[-1]

    panel = ControlPanel(factory, topology=private, log=log)
    other = threading.Thread(target=panel.publish, args=('user.login',), name='helpers-test-subshell')
    other.start()
    other.join()
    assert [p.name for p in made] == ['sub1', 'sub2'] and panel.publisher is made[0]
    assert [e.message_id.split('-')[0] for e in log.events(PUBLISHED)] == ['sub2']
    panel.close()
    assert [p.connection.connected for p in made] == [False, False]


def test_closing_stops_the_ticker(memory_url, private, log):
    panel = ControlPanel(memory_url, topology=private, log=log)
    playing = 'playing' if panel.ticker.widget.has_trait('playing') else '_playing'
    assert getattr(panel.ticker.widget, playing) and panel.ticker.running
    panel.close()
    assert not panel.ticker.running and not panel.ticker.widget.comm


def test_parse_payload_error_type():
    with pytest.raises(PayloadError, match='e.g.'):
        parse_payload('nope')


def test_buttons_are_named_by_routing_key(memory_url, log):  # nothing is published
    keys = ['video.upload', 'video.transcode.hd', 'user.login']
    with ControlPanel(memory_url, topology=MEDIA, log=log, routing_keys=keys) as panel:
        assert list(panel.buttons) == keys
        assert [b.description for b in panel.buttons.values()] == keys
        assert list(panel.counters) == MEDIA.queue_names
        assert panel.publish_button.description == 'Publish'


@pytest.mark.parametrize('kwargs, error, says', [
    ({'routing_keys': ['video.*']}, RoutingKeyError, 'wildcards'),
    ({'queues': ['nope_queue']}, ValueError, 'not in the topology'),
    ({'max_lines': 0}, ValueError, 'at least 1'),
])
def test_bad_panel_arguments_fail_early(memory_url, log, kwargs, error, says):
    with pytest.raises(error, match=says):
        ControlPanel(memory_url, log=log, **kwargs)


def test_factory_must_share_the_log(memory_url, private, log):
    with pytest.raises(ValueError, match="panel's log"):
        ControlPanel(lambda: Publisher(memory_url, topology=private), topology=private, log=log)
    with ControlPanel(lambda: Publisher(memory_url, topology=private, log=log), topology=private,
                      log=log) as panel:
        assert panel.publish('user.login').routed


@pytest.mark.parametrize('broker_url', ['memory'], indirect=True)
def test_worker_thread_updates_reach_the_widgets(memory_url, unique_topology, log):
    with ControlPanel(memory_url, topology=unique_topology, log=log) as panel, \
            Worker(memory_url, topology=unique_topology, log=log, queues=[VIDEO_QUEUE]):
        panel.payload_box.value = '{"file": "a.mp4"}'
        panel.buttons['video.upload'].click()
        log.wait_for(ACKED, 1)
        panel.wait_drawn()
        assert panel.counters[VIDEO_QUEUE].value == f'{VIDEO_QUEUE}: 1 acked'
        assert 'video.upload' in panel.log_view.value


@pytest.mark.parametrize('kinds, text', [
    ({}, 'q: 0 acked'),
    ({'acked': 2, 'delivered': 3}, 'q: 2 acked (1 in flight)'),
    ({'acked': 1, 'delivered': 3, 'dead_lettered': 1, 'quarantined': 1},
     'q: 1 acked (1 dead-lettered, 1 quarantined)'),
])
def test_counter_text(kinds, text):
    from collections import Counter
    assert counter_text('q', Counter({('q', k): n for k, n in kinds.items()})) == text


@pytest.mark.parametrize('broker_url', ['memory'], indirect=True)
def test_quarantined_messages_show_in_the_counter(broker_url, unique_topology, log):
    with ControlPanel(broker_url, topology=unique_topology, log=log) as panel, \
            Worker(broker_url, topology=unique_topology, log=log, queues=[AUDIT_QUEUE]), \
            Publisher(broker_url, topology=unique_topology, log=log) as pub:
        pub.publish_raw('user.login', b'{oops', 'application/json')
        log.wait_for(QUARANTINED, 1)
        panel.wait_drawn()
        assert panel.counts()[AUDIT_QUEUE] == f'{AUDIT_QUEUE}: 0 acked (1 quarantined)'


def test_close_leaves_no_threads_and_stops_following(memory_url, private, log):
    before = set(threading.enumerate())
    panel = ControlPanel(memory_url, topology=private, log=log)
    panel.buttons['user.login'].click()
    panel.close()
    panel.close()  # twice is fine
    assert set(threading.enumerate()) <= before
    assert panel.closed and all(not b.comm for b in panel.buttons.values())
    log.record(PUBLISHED, 'after-close', 'user.login')
    assert 'after-close' not in panel.log_view.value
    with pytest.raises(RuntimeError, match='closed'):
        panel.publish('user.login')


def test_an_event_recorded_during_refresh_is_not_lost(memory_url, private, log):
    """refresh() snapshots the log; an event a worker records at that moment must still be drawn."""
    panel = ControlPanel(memory_url, topology=private, log=log)
    snapshot = log.events

    def events_then_a_worker_records(*args, **kwargs):
        events = snapshot(*args, **kwargs)
        worker = threading.Thread(target=log.record, args=(ACKED, 'late', 'video.upload', private.queue_names[0]),
                                  name='helpers-test-late-event')
        worker.start()
        worker.join(0.5)  # with the fix the worker waits for refresh() to finish; without it, it is done
        return events
    try:
        log.events = events_then_a_worker_records
        panel.refresh()
        log.events = snapshot
        panel.wait_drawn(timeout=5)
        assert any('late' in line for line in panel.lines())
    finally:
        log.events = snapshot
        panel.close()


def test_thread_sends_can_be_dropped_as_colab_does(memory_url, private, log, monkeypatch):
    """Sends dropped off the kernel's threads (colab_sends): a worker's updates never leave; the main thread's do."""
    monkeypatch.setattr(widgets.Widget, '_send', dropping(widgets.Widget._send))
    panel = ControlPanel(memory_url, topology=private, log=log)
    label = panel.counters[private.queue_names[0]]
    sent = []
    label.comm.send = lambda data=None, buffers=None, **kw: sent.append(data['state'])
    worker = threading.Thread(target=setattr, args=(label, 'value', 'from a worker'), name='helpers-test-worker')
    worker.start()
    worker.join()
    assert sent == [] and label.value == 'from a worker'
    label.value = 'from the main thread'
    assert sent == [{'value': 'from the main thread'}]
    panel.close()


def test_a_silent_ticker_is_kicked_until_it_ticks(memory_url, private, log):
    """The browser starts a Play only when it sees 'playing' change: a ticker that never ticked is kicked again."""
    panel = ControlPanel(memory_url, topology=private, log=log)
    ticker = panel.ticker
    name = 'playing' if ticker.widget.has_trait('playing') else '_playing'
    changes = []
    ticker.widget.observe(lambda change: changes.append(change['new']), names=name)
    ticker.revive()  # never ticked: off, then on again
    assert changes == [False, True]
    ticker.widget.value += 1  # a tick from the browser
    ticker.revive()
    assert changes == [False, True] and ticker.ticks == 1
    panel.close()
    assert changes[-1] is False


def test_a_dict_payload_is_published_as_json_and_shown_in_the_box(panel, log):
    published = panel.publish('video.transcode.hd', {'file': 'cat.mp4', 'height': 720})
    assert published is not None and log.count(PUBLISHED) == 1
    assert panel.payload_box.value == '{"file": "cat.mp4", "height": 720}'
    assert 'by AMQP rules →' in panel.message


@pytest.mark.parametrize('payload, says', [
    ({'file': object()}, 'cannot be written as JSON'),
    ({'height': float('nan')}, 'cannot be written as JSON'),
    ([1, 2], 'not an object'),
])
def test_a_python_value_json_cannot_hold_is_a_warning_not_a_trait_error(panel, log, payload, says):
    before = panel.payload_box.value
    assert panel.publish('video.upload', payload) is None
    assert panel.message.startswith('⚠ nothing published:') and says in panel.message
    assert log.count(PUBLISHED) == 0
    if says == 'cannot be written as JSON':
        assert panel.payload_box.value == before  # the box keeps what it had


def test_set_payload_refuses_what_json_cannot_hold(panel):
    with pytest.raises(PayloadError, match='cannot be written as JSON'):
        panel.set_payload({'when': {1, 2}})
    assert panel.set_payload({'file': 'a.mp4'}) == '{"file": "a.mp4"}'


def test_an_event_drawn_by_a_refresh_is_not_counted_again_by_its_listener(memory_url, private, log):
    # A refresh that snapshots the log after an event was recorded but before the panel's listener ran
    # has drawn it already; the log hands the listener a new Event object, equal in value.
    queue = private.queue_names[0]
    early = []  # subscribed before the panel: runs first, as the race's main-thread refresh would
    log.subscribe(lambda event: early and early[0].refresh())
    panel = ControlPanel(memory_url, topology=private, log=log)
    early.append(panel)
    try:
        log.record(DELIVERED, 'm1', 'video.upload', queue)
        log.record(ACKED, 'm1', 'video.upload', queue)
        assert panel.counts()[queue] == counter_text(queue, Counter({(queue, DELIVERED): 1, (queue, ACKED): 1}))
    finally:
        panel.close()
