"""The routing-key tester of 01_topology: its text, its reasons and its widget, without a browser."""
import pytest

from helpers.key_tester import PROMPT, KeyTester, explain_key, why
from helpers.topology import MEDIA, SEED, Topology, matches

# (binding key, routing key, the reason shown)
REASONS = [
    ('video.#', 'video.upload', "# takes 'upload'"),
    ('video.#', 'video', '# takes no words'),
    ('#', 'video.upload.hd', "# takes 'video.upload.hd'"),
    ('user.*', 'user.login', "* takes 'login'"),
    ('video.upload', 'video.upload', 'same words'),
    ('user.*', 'user', 'needs exactly 2 words, the key has 1'),
    ('user.*', 'user.login.eu', 'needs exactly 2 words, the key has 3'),
    ('video.#', 'user.login', "word 1 is 'user', the binding needs 'video'"),
    ('a.#.b', 'a.x.c', "word 3 is 'c', the binding needs 'b'"),
    ('a.#.b', 'a', 'needs at least 2 words, the key has 1'),
    ('#.a.#', 'b.c', "no word 'a' between the first and the last '#'"),
    ('a*', 'ab', "word 1 is 'ab', the binding needs 'a*' (inside a word, * and # are ordinary characters)"),
]


@pytest.mark.parametrize(('binding_key', 'routing_key', 'reason'), REASONS)
def test_why_gives_the_reason(binding_key, routing_key, reason):
    assert why(binding_key, routing_key) == reason


@pytest.mark.parametrize('binding_key', ['#', '*', 'a.#', '#.a', 'a.*.b', '*.#.*', '#.a.#.b.#', 'a.b'])
@pytest.mark.parametrize('routing_key', ['a', 'b', 'a.b', 'b.a', 'a.x.b', 'x.a.y.b.z', 'a.b.c.d'])
def test_why_agrees_with_matches(binding_key, routing_key):
    """A matched pair is explained by what the wildcards take; a missed one never claims that."""
    reason = why(binding_key, routing_key)
    matched_wording = reason == 'same words' or ' takes ' in reason
    assert matched_wording is matches(binding_key, routing_key)


def test_explain_key_lists_every_binding_and_the_queues():
    assert explain_key('video', SEED).splitlines() == [
        "routing key 'video': 1 word (video)",
        "  ✔ video_queue  'video.#'  # takes no words",
        "  ✔ audit_queue  '#'        # takes 'video'",
        '→ delivered to: audit_queue, video_queue',
    ]


def test_explain_key_says_when_nothing_receives_the_key():
    only_video = Topology('t', (('video_queue', 'video.*'),))
    assert explain_key('user.login', only_video).splitlines()[-1] == (
        '→ delivered to no queue: the message is dropped')


@pytest.mark.parametrize(('key', 'fragment'), [
    ('video upload', 'contains a space'),
    ('video.*', 'wildcards only work in binding keys'),
    ('video..upload', 'empty word'),
])
def test_bad_keys_show_one_clear_message(key, fragment):
    text = explain_key(key, MEDIA)
    assert text.startswith('⚠ ') and fragment in text
    assert '\n' not in text


def test_empty_box_shows_the_prompt():
    assert explain_key('') == PROMPT


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
