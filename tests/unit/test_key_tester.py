"""The routing-key tester's widget: a text box and the explanation under it, without a browser."""
import pytest

from helpers.course_names import AUDIT_QUEUE, IMAGE_QUEUE, THUMBNAIL_QUEUE, VIDEO_QUEUE
from helpers.explain import PROMPT, explain_key
from helpers.topology import MEDIA, SEED
from helpers.views.key_tester import KeyTester


def test_widget_starts_empty_with_the_prompt():
    tester = KeyTester(MEDIA)
    assert tester.text.value == ''
    assert tester.result == PROMPT
    assert PROMPT in tester.output.value
    assert tester.widget.children == (tester.text, tester.output)


def test_typing_a_key_updates_the_output():
    tester = KeyTester(MEDIA)
    tester.text.value = 'image.upload.hd'
    assert tester.result == explain_key('image.upload.hd', MEDIA)
    assert tester.result.endswith(f'→ delivered to: {AUDIT_QUEUE}, {IMAGE_QUEUE}, {THUMBNAIL_QUEUE}')
    assert '<pre' in tester.output.value and THUMBNAIL_QUEUE in tester.output.value


def test_test_method_drives_the_box_like_a_learner():
    tester = KeyTester()
    assert tester.test('video.upload') == explain_key('video.upload')
    assert tester.text.value == 'video.upload'
    assert tester.test('video upload').startswith('⚠ ')
    assert tester.test('') == PROMPT


def test_output_is_html_escaped():
    tester = KeyTester()
    tester.text.value = 'a<b>'
    assert '<b>' not in tester.output.value and '&lt;b&gt;' in tester.output.value


def test_tester_shows_a_static_snapshot_with_the_live_widget():
    tester = KeyTester(SEED)
    tester.test('video.upload')
    bundle = tester._repr_mimebundle_()
    assert bundle['application/vnd.jupyter.widget-view+json']['model_id'] == tester.widget.model_id
    assert 'Routing key:' in bundle['text/html']
    assert f'delivered to: {AUDIT_QUEUE}, {VIDEO_QUEUE}' in bundle['text/html']
    assert bundle['text/plain'] == f'<KeyTester for {SEED.exchange_name}>'
    assert tester.text.style.description_width == 'initial'
    assert tester.widget._repr_mimebundle_() == bundle  # `tester.widget` as a cell's value: the same
    tester.close()
    assert 'application/vnd.jupyter.widget-view+json' not in tester._repr_mimebundle_()


def test_tester_shows_the_current_brokers_routing(monkeypatch):
    """On memory:// a bare 'video' misses video_queue; RabbitMQ's answer is beside it, labelled."""
    monkeypatch.setenv('BROKER_URL', 'memory://')
    tester = KeyTester(SEED)
    assert tester.broker == 'memory'
    assert tester.test('video').splitlines()[-2:] == [
        f'→ memory:// delivers to: {AUDIT_QUEUE}', f'  (RabbitMQ would deliver to: {AUDIT_QUEUE}, {VIDEO_QUEUE})']
    monkeypatch.setenv('BROKER_URL', 'amqp://guest:guest@localhost:5672//')
    assert KeyTester(SEED).test('video').splitlines()[-2:] == [
        f'→ RabbitMQ delivers to: {AUDIT_QUEUE}, {VIDEO_QUEUE}',
        f'  (memory:// and redis:// would deliver to: {AUDIT_QUEUE})']
    assert KeyTester(SEED, broker='redis').test('video').splitlines()[-2] == f'→ redis:// delivers to: {AUDIT_QUEUE}'


def test_tester_says_one_answer_where_every_broker_agrees():
    for broker in ('amqp', 'memory', 'redis'):
        assert KeyTester(MEDIA, broker=broker).test('image.upload.hd') == explain_key('image.upload.hd', MEDIA)


def test_tester_refuses_an_unknown_broker():
    with pytest.raises(ValueError, match='broker'):
        KeyTester(SEED, broker='rabbitmq')


def test_queues_names_where_the_key_lands_on_the_testers_broker():
    assert KeyTester(SEED, broker='memory').queues('video') == [AUDIT_QUEUE]
    assert KeyTester(SEED, broker='redis').queues('video') == [AUDIT_QUEUE]
    assert KeyTester(SEED, broker='amqp').queues('video') == sorted([AUDIT_QUEUE, VIDEO_QUEUE])
    assert KeyTester(MEDIA, broker='memory').queues('image.upload.hd') == [
        AUDIT_QUEUE, IMAGE_QUEUE, THUMBNAIL_QUEUE]
