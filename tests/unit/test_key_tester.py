"""The routing-key tester's widget: a text box and the explanation under it, without a browser."""
from helpers.explain import PROMPT, explain_key
from helpers.key_tester import KeyTester
from helpers.topology import MEDIA, SEED


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
    assert tester.result.endswith('→ delivered to: audit_queue, image_queue, thumbnail_queue')
    assert '<pre' in tester.output.value and 'thumbnail_queue' in tester.output.value


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
    assert 'Routing key:' in bundle['text/html'] and 'delivered to: audit_queue, video_queue' in bundle['text/html']
    assert bundle['text/plain'] == f'<KeyTester for {SEED.exchange_name}>'
    assert tester.text.style.description_width == 'initial'
    assert tester.widget._repr_mimebundle_() == bundle  # `tester.widget` as a cell's value: the same
    tester.close()
    assert 'application/vnd.jupyter.widget-view+json' not in tester._repr_mimebundle_()
