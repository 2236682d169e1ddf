"""The key tester's text without widgets: why a binding key matches a routing key or not, per queue."""
import importlib
import sys

import pytest

from helpers.course_names import AUDIT_QUEUE, VIDEO_QUEUE
from helpers.explain import PROMPT, explain_key, why
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
    assert explain_key('video.upload', SEED).splitlines() == [
        "routing key 'video.upload': 2 words (video | upload)",
        f"  ✔ {VIDEO_QUEUE}  'video.#'  # takes 'upload'",
        f"  ✔ {AUDIT_QUEUE}  '#'        # takes 'video.upload'",
        f'→ delivered to: {AUDIT_QUEUE}, {VIDEO_QUEUE}',
    ]


def test_explain_key_on_rabbitmq_names_what_memory_and_redis_do_where_they_differ():
    assert explain_key('video', SEED, 'amqp').splitlines() == [
        "routing key 'video': 1 word (video)",
        f"  ✔ {VIDEO_QUEUE}  'video.#'  # takes no words "
        "(memory://, redis://: kombu's regex ^video\\..*?$ does not match)",
        f"  ✔ {AUDIT_QUEUE}  '#'        # takes 'video'",
        f'→ RabbitMQ delivers to: {AUDIT_QUEUE}, {VIDEO_QUEUE}',
        f'  (memory:// and redis:// would deliver to: {AUDIT_QUEUE})',
    ]


@pytest.mark.parametrize('broker', ['memory', 'redis'])
def test_explain_key_on_a_virtual_broker_shows_its_own_routing_and_rabbitmqs_labelled(broker):
    assert explain_key('video', SEED, broker).splitlines() == [
        "routing key 'video': 1 word (video)",
        f"  ✘ {VIDEO_QUEUE}  'video.#'  kombu's regex ^video\\..*?$ does not match (RabbitMQ: # takes no words)",
        f"  ✔ {AUDIT_QUEUE}  '#'        # takes 'video'",
        f'→ {broker}:// delivers to: {AUDIT_QUEUE}',
        f'  (RabbitMQ would deliver to: {AUDIT_QUEUE}, {VIDEO_QUEUE})',
    ]


def test_explain_key_labels_both_answers_on_a_custom_topology():
    lines = explain_key('a', Topology('t', (('q', 'a.#'), ('r', '#'))), 'memory').splitlines()
    assert lines[-2:] == ['→ memory:// delivers to: r', '  (RabbitMQ would deliver to: q, r)']
    with pytest.raises(ValueError, match='broker'):
        explain_key('a', SEED, 'rabbitmq')


def test_explain_key_says_when_nothing_receives_the_key():
    only_video = Topology('t', ((VIDEO_QUEUE, 'video.*'),))
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


def test_why_works_where_ipywidgets_cannot_be_imported(monkeypatch):
    """A terminal without ipywidgets still gets the reasons (only the views import widgets)."""
    monkeypatch.setitem(sys.modules, 'ipywidgets', None)  # what an interpreter without ipywidgets sees
    package = sys.modules['helpers']
    for name in [name for name in sys.modules if name.startswith('helpers.')]:
        if hasattr(package, name.split('.')[1]):  # the fresh import rebinds it: put the old one back after
            monkeypatch.setattr(package, name.split('.')[1], getattr(package, name.split('.')[1]))
        monkeypatch.delitem(sys.modules, name)  # import the course afresh; restored after the test
    explain = importlib.import_module('helpers.explain')
    assert explain.why('video.#', 'video.upload') == "# takes 'upload'"
    assert explain.explain_key('video.upload').splitlines()[-1] == f'→ delivered to: {AUDIT_QUEUE}, {VIDEO_QUEUE}'
    with pytest.raises(ModuleNotFoundError, match='import of ipywidgets halted'):
        importlib.import_module('helpers.views.key_tester')  # the view does need widgets: the block is real
