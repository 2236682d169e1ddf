"""The SVG routing diagram: counters from the event log, the last route lit, and the live widget."""
from __future__ import annotations

import base64
import threading
import xml.etree.ElementTree as ET

import pytest

from helpers.course_names import AUDIT_QUEUE, MEDIA_EXCHANGE, THUMBNAIL_QUEUE, VIDEO_QUEUE
from helpers.events import (
    ACKED,
    DEAD_LETTERED,
    DELIVERED,
    PUBLISHED,
    QUARANTINED,
    RETRIED,
    UNROUTABLE,
    EventLog,
)
from helpers.topology import MEDIA, SEED, Topology
from helpers.views.diagram import BOX_COLUMNS, LiveDiagram, last_route, render_svg
from helpers.views.svg import Picture

SVG = '{http://www.w3.org/2000/svg}'
SHOP = Topology('shop', (('orders', 'order.*'),))  # no catch-all: most keys are unroutable


def publish(log: EventLog, message_id: str, key: str, topology: Topology, *outcomes: str,
            deliver: bool = True) -> None:
    """Record what a producer and workers would: published, then per routed queue delivered + outcome."""
    log.record(PUBLISHED, message_id, key)
    queues = topology.route(key)
    if not queues:
        log.record(UNROUTABLE, message_id, key)
    for queue in queues if deliver else ():
        log.record(DELIVERED, message_id, key, queue)
        for outcome in outcomes or (ACKED,):
            log.record(outcome, message_id, key, queue)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f'{SVG}svg'
    return root


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f'{SVG}g') if g.get('class') == cls]


def counters(element: ET.Element) -> dict[str, int]:
    return {text: int(element.get(f'data-{text}')) for _kind, text in BOX_COLUMNS}


def queue_counts(root: ET.Element) -> dict[str, dict[str, int]]:
    return {g.get('data-queue'): counters(g) for g in groups(root, 'queue')}


def lit_edges(root: ET.Element) -> set[tuple[str, str]]:
    return {(g.get('data-queue'), g.get('data-binding-key'))
            for g in groups(root, 'edge') if g.get('data-lit') == 'true'}


def exchange(root: ET.Element) -> ET.Element:
    (found,) = groups(root, 'exchange')
    return found


def all_text(element: ET.Element) -> str:
    return ' '.join(t.text or '' for t in element.iter(f'{SVG}text'))


# -- structure -------------------------------------------------------------------

@pytest.mark.parametrize('topology', [SEED, MEDIA, SHOP], ids=lambda t: t.exchange_name)
def test_one_box_per_queue_and_one_edge_per_binding(topology):
    root = parse(render_svg(topology, EventLog()))
    assert [g.get('data-queue') for g in groups(root, 'queue')] == topology.queue_names
    edges = [(g.get('data-queue'), g.get('data-binding-key')) for g in groups(root, 'edge')]
    assert sorted(edges) == sorted(topology.bindings)
    (dlq,) = groups(root, 'dead-letter-queue')
    assert dlq.get('data-queue') == topology.dead_letter_queue_name
    assert exchange(root).get('data-exchange') == topology.exchange_name


def test_media_queue_with_two_bindings_has_two_edges():
    root = parse(render_svg(MEDIA, EventLog()))
    keys = sorted(g.get('data-binding-key') for g in groups(root, 'edge')
                  if g.get('data-queue') == THUMBNAIL_QUEUE)
    assert keys == ['image.upload.*', 'video.upload.*']


def test_empty_log_shows_no_message_and_zero_counts():
    root = parse(render_svg(MEDIA, EventLog()))
    assert exchange(root).get('data-last-status') == 'none'
    assert 'no message yet' in all_text(root)
    assert lit_edges(root) == set()
    assert all(v == 0 for counts in queue_counts(root).values() for v in counts.values())


@pytest.mark.parametrize('asked, grows', [(200, True), (2000, False)])
def test_width_grows_only_when_the_names_need_it(asked, grows):
    root = parse(render_svg(MEDIA, EventLog(), width=asked))
    width = float(root.get('width'))
    assert (width > asked) if grows else (width == asked)
    assert root.get('viewBox') == f'0 0 {root.get("width")} {root.get("height")}'


def test_title_is_drawn():
    root = parse(render_svg(SEED, EventLog(), title='Seed routing'))
    assert 'Seed routing' in all_text(root)
    assert root.find(f'{SVG}title').text == 'Seed routing'


# -- counters --------------------------------------------------------------------

def scripted_log(topology: Topology) -> EventLog:
    log = EventLog()
    publish(log, 'm1', 'video.upload', topology)
    publish(log, 'm2', 'image.upload.png', topology)
    publish(log, 'm3', 'user.signup', topology, RETRIED, DEAD_LETTERED)
    publish(log, 'm4', 'audio.encode', topology, QUARANTINED)
    publish(log, 'm5', 'video.upload.hd', topology, RETRIED, ACKED)
    publish(log, 'm6', 'video.upload', topology, deliver=False)  # still on its way
    return log


@pytest.mark.parametrize('topology', [SEED, MEDIA], ids=lambda t: t.exchange_name)
def test_queue_counters_equal_the_event_log(topology):
    log = scripted_log(topology)
    counts = queue_counts(parse(render_svg(topology, log)))
    assert set(counts) == set(topology.queue_names)
    for queue in topology.queue_names:
        assert counts[queue] == {text: log.count(kind, queue) for kind, text in BOX_COLUMNS}, queue
    assert sum(c['delivered'] for c in counts.values()) == log.count(DELIVERED) > 0


@pytest.mark.parametrize('topology', [SEED, MEDIA], ids=lambda t: t.exchange_name)
def test_dead_letter_box_totals_every_queue(topology):
    log = scripted_log(topology)
    root = parse(render_svg(topology, log))
    (dlq,) = groups(root, 'dead-letter-queue')
    assert counters(dlq)['dead-lettered'] == log.count(DEAD_LETTERED) > 0
    assert counters(dlq)['quarantined'] == log.count(QUARANTINED)
    assert root.get('data-published') == str(log.count(PUBLISHED))


# -- the last route --------------------------------------------------------------

# (topology, scripted messages (id, key, delivered to), lit edges, status)
ROUTES = [
    (SEED, [('a', 'video.upload', None)], {(VIDEO_QUEUE, 'video.#'), (AUDIT_QUEUE, '#')}, 'routed'),
    (SEED, [('a', 'video.upload', [VIDEO_QUEUE])], {(VIDEO_QUEUE, 'video.#')}, 'delivered'),
    (SEED, [('a', 'image.upload', [AUDIT_QUEUE])], {(AUDIT_QUEUE, '#')}, 'delivered'),
    (SEED, [('a', 'video.upload', [VIDEO_QUEUE, AUDIT_QUEUE]), ('b', 'user.signup', None)],
     {(AUDIT_QUEUE, '#')}, 'routed'),
    # only the binding that matched is lit, not every binding of the queue
    (MEDIA, [('a', 'video.upload.mp4', None)],
     {(VIDEO_QUEUE, 'video.#'), (THUMBNAIL_QUEUE, 'video.upload.*'), (AUDIT_QUEUE, '#')}, 'routed'),
    (MEDIA, [('a', 'image.upload.png', [THUMBNAIL_QUEUE])],
     {(THUMBNAIL_QUEUE, 'image.upload.*')}, 'delivered'),
    # a delivery no binding explains (the bindings changed since) lights all edges of its queue
    (MEDIA, [('a', 'video.upload', [THUMBNAIL_QUEUE])],
     {(THUMBNAIL_QUEUE, 'video.upload.*'), (THUMBNAIL_QUEUE, 'image.upload.*')}, 'delivered'),
    (SHOP, [('a', 'order.paid', ['orders']), ('b', 'invoice.sent', None)], set(), 'unroutable'),
    (SHOP, [('a', 'invoice.sent', None), ('b', 'order.paid', None)], {('orders', 'order.*')}, 'routed'),
]


def script(log: EventLog, messages) -> None:
    for message_id, key, delivered in messages:
        log.record(PUBLISHED, message_id, key)
        for queue in delivered or ():
            log.record(DELIVERED, message_id, key, queue)


@pytest.mark.parametrize('topology, messages, lit, status', ROUTES)
def test_last_message_route_is_lit(topology, messages, lit, status):
    log = EventLog()
    script(log, messages)
    root = parse(render_svg(topology, log))
    assert lit_edges(root) == lit
    assert exchange(root).get('data-last-status') == status
    assert exchange(root).get('data-last-routing-key') == messages[-1][1]
    lit_queues = {g.get('data-queue') for g in groups(root, 'queue') if g.get('data-lit') == 'true'}
    assert lit_queues == {queue for queue, _key in lit}


@pytest.mark.parametrize('key', ['video.upload', 'video', 'image.upload.png', 'user.signup',
                                 'user.signup.extra', 'audio', 'nothing.at.all'])
def test_lit_queues_before_delivery_are_the_topology_route(key):
    log = EventLog()
    log.record(PUBLISHED, 'only', key)
    root = parse(render_svg(MEDIA, log))
    assert sorted({queue for queue, _key in lit_edges(root)}) == MEDIA.route(key)


def test_delivery_without_a_publish_event_still_lights_its_route():
    log = EventLog()
    log.record(DELIVERED, 'a', 'video.upload', VIDEO_QUEUE)
    assert last_route(SEED, log.events()).queues == (VIDEO_QUEUE,)


@pytest.mark.parametrize('record_unroutable', [True, False])
def test_unroutable_last_message_is_shown(record_unroutable):
    log = EventLog()
    publish(log, 'a', 'order.paid', SHOP)
    log.record(PUBLISHED, 'b', 'invoice.sent')
    if record_unroutable:
        log.record(UNROUTABLE, 'b', 'invoice.sent')
    root = parse(render_svg(SHOP, log))
    assert lit_edges(root) == set()
    assert exchange(root).get('data-last-status') == 'unroutable'
    assert 'no queue bound' in all_text(root)
    assert queue_counts(root)['orders']['delivered'] == 1  # the earlier message still counts


# -- text --------------------------------------------------------------------------

def test_text_is_escaped():
    topology = Topology('ex<&>"', (('q&1', 'a.<&>'), ('q"2', '#')))
    log = EventLog()
    log.record(PUBLISHED, 'm', 'a.<&>"\'')
    log.record(DELIVERED, 'm', 'a.<&>"\'', 'q&1')
    svg = render_svg(topology, log, title='<script>alert(1)</script>')
    assert '<script>' not in svg
    root = parse(svg)
    assert exchange(root).get('data-last-routing-key') == 'a.<&>"\''
    assert exchange(root).get('data-exchange') == 'ex<&>"'
    (key,) = groups(root, 'last-key')
    assert all_text(key) == 'a.<&>"\''
    assert lit_edges(root) == {('q&1', 'a.<&>')}
    assert set(queue_counts(root)) == {'q&1', 'q"2'}
    assert '<script>alert(1)</script>' in all_text(root)


def test_control_characters_do_not_break_the_xml():
    log = EventLog()
    log.record(PUBLISHED, 'm', 'bad\x00key\x1b')
    root = parse(render_svg(SEED, log))
    assert exchange(root).get('data-last-status') == 'routed'


def test_same_events_give_the_same_svg_whatever_the_ids_and_times():
    first, second = EventLog(), EventLog()
    for log, prefix in ((first, 'x'), (second, 'y')):
        for n, key in enumerate(['video.upload', 'image.upload', 'video.transcode']):
            publish(log, f'{prefix}-{n}', key, SEED)
    assert render_svg(SEED, first) == render_svg(SEED, second) == render_svg(SEED, first)
    assert 'x-0' not in render_svg(SEED, first)


# -- showing it ----------------------------------------------------------------------

def test_the_diagram_shows_as_a_picture_with_a_stable_repr():
    log = scripted_log(SEED)
    shown = Picture(render_svg(SEED, log))
    assert parse(shown.svg) is not None
    img = ET.fromstring(shown._repr_html_())  # an <img> shrinks and survives sanitizers
    assert base64.b64decode(img.get('src').split(',', 1)[1]).decode() == render_svg(SEED, log)
    assert repr(shown) == repr(Picture(render_svg(SEED, scripted_log(SEED)))) == f'[picture: {img.get("alt")}]'


def test_live_diagram_is_an_html_widget_showing_the_svg():
    ipywidgets = pytest.importorskip('ipywidgets')
    log = scripted_log(MEDIA)
    diagram = LiveDiagram(MEDIA, log, title='t')
    assert isinstance(diagram.html, ipywidgets.HTML)
    assert diagram.html.value == render_svg(MEDIA, log, title='t')
    publish(log, 'later', 'user.signup', MEDIA)
    assert diagram.refresh().html.value == render_svg(MEDIA, log, title='t')
    assert repr(diagram) == f'<LiveDiagram of {MEDIA_EXCHANGE} (idle)>'


def test_an_empty_log_passed_in_is_the_one_followed():
    pytest.importorskip('ipywidgets')
    log = EventLog()
    diagram = LiveDiagram(SEED, log)
    assert diagram.log is log


def diagram_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith('helpers-diagram')]


def test_follow_redraws_from_the_recording_thread_and_close_stops_it():
    pytest.importorskip('ipywidgets')
    log = EventLog()
    diagram = LiveDiagram(SEED).follow(log, min_interval=0.02)
    assert diagram.following

    def produce():
        for n in range(300):
            publish(log, f'm{n}', ('video.upload', 'image.upload')[n % 2], SEED)

    producer = threading.Thread(target=produce, name='helpers-test-producer')
    producer.start()
    producer.join()
    diagram.wait_drawn()
    assert diagram.html.value == render_svg(SEED, log)
    assert queue_counts(parse(diagram.html.value))[AUDIT_QUEUE]['acked'] == 300
    diagram.close()
    assert not diagram.following and diagram.error is None
    assert diagram_threads() == []
    renders = diagram.renders
    publish(log, 'after', 'video.upload', SEED)
    assert diagram.renders == renders  # no longer following


def test_throttled_burst_still_shows_the_final_state():
    pytest.importorskip('ipywidgets')
    log = EventLog()
    with LiveDiagram(MEDIA).follow(log, min_interval=0.05) as diagram:
        for n in range(2000):
            publish(log, f'm{n}', 'video.upload.mp4', MEDIA)
        diagram.wait_drawn()
        assert diagram.html.value == render_svg(MEDIA, log)
    assert diagram_threads() == []


def test_close_cancels_the_pending_redraw_and_draws_the_final_state():
    pytest.importorskip('ipywidgets')
    log = EventLog()
    diagram = LiveDiagram(SEED).follow(log, min_interval=3600)  # the timer would never fire in time
    assert diagram.renders == 1
    for n in range(1000):
        publish(log, f'm{n}', 'video.upload', SEED)
    assert diagram.renders == 2  # the first event drew at once, the rest wait for the timer
    assert diagram_threads() == ['helpers-diagram-redraw']
    diagram.close()
    assert diagram_threads() == []
    assert diagram.renders == 3
    assert diagram.html.value == render_svg(SEED, log)


def test_follow_again_replaces_the_subscription():
    pytest.importorskip('ipywidgets')
    first, second = EventLog(), EventLog()
    diagram = LiveDiagram(SEED).follow(first, min_interval=3600).follow(second, min_interval=3600)
    renders = diagram.renders
    publish(first, 'old', 'video.upload', SEED)
    assert diagram.renders == renders
    publish(second, 'new', 'video.upload', SEED, deliver=False)
    assert diagram.renders == renders + 1
    diagram.close()
    diagram.close()  # closing twice is harmless
    assert diagram.html.value == render_svg(SEED, second)


def test_negative_interval_is_refused():
    pytest.importorskip('ipywidgets')
    with pytest.raises(ValueError, match='0 or more seconds'):
        LiveDiagram(SEED).follow(EventLog(), min_interval=-1)


def test_live_diagram_snapshot_and_ticker(log):
    diagram = LiveDiagram(SEED).follow(log, min_interval=0)
    bundle = diagram._repr_mimebundle_()
    img = ET.fromstring(bundle['text/html']).find('.//img')
    assert base64.b64decode(img.get('src').split(',', 1)[1]).decode() == diagram.html.value
    assert bundle['application/vnd.jupyter.widget-view+json']['model_id'] == diagram.widget.model_id
    sent = []
    diagram.html.send_state = lambda key=None: sent.append(key)
    worker = threading.Thread(target=publish, args=(log, 'a', 'video.upload', SEED), name='helpers-test-worker')
    worker.start()
    worker.join()
    diagram.wait_drawn()
    sent.clear()  # the worker thread's own send (which Colab would ignore)
    diagram.ticker.widget.value += 1  # the front end's tick, handled on the main thread
    assert sent == ['value'] and diagram.flushes == 1
    diagram.ticker.widget.value += 1
    assert diagram.flushes == 1  # nothing new since
    diagram.close()
    playing = 'playing' if diagram.ticker.widget.has_trait('playing') else '_playing'
    assert not getattr(diagram.ticker.widget, playing) and not diagram.ticker.running
