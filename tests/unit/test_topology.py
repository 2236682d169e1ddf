"""The AMQP topic matcher, routes and key validators, as a table of cases."""
import pytest

from helpers.course_names import AUDIT_QUEUE, SEED_EXCHANGE, THUMBNAIL_QUEUE, USER_QUEUE, VIDEO_QUEUE
from helpers.topology import (
    MEDIA,
    SEED,
    BindingKeyError,
    RoutingKeyError,
    matches,
    route,
    split_words,
    validate_binding_key,
    validate_routing_key,
)

# (binding key, routing key, does RabbitMQ deliver?)
CASES = [
    ('video.#', 'video.upload', True),
    ('video.#', 'video', True),              # '#' may match zero words
    ('video.#', 'video.upload.hd', True),
    ('video.#', 'videos.upload', False),
    ('video.*', 'video', False),             # '*' needs exactly one word
    ('video.*', 'video.upload', True),
    ('video.*', 'video.upload.hd', False),
    ('*', '', False),                        # the empty key has no words
    ('#', '', True),
    ('', '', True),
    ('', 'video', False),
    ('*', '.', False),                       # '.' is two empty words
    ('*.*', '.', True),
    ('#.a', 'a', True),
    ('a.#.b', 'a.b', True),
    ('a.#.b', 'a.x.y.b', True),
    ('a.*.b', 'a.b', False),
    ('#.#', 'a', True),
    ('*.#', 'a', True),
    ('#.*', '', False),
    ('*.*.#', 'a', False),
    ('a*', 'a*', True),                      # '*' inside a word is a literal character
    ('a*', 'ab', False),
    ('a.*', 'a.*', True),
    ('#', 'a.b.c', True),
    ('video.upload', 'video.upload', True),
    ('video.upload', 'Video.upload', False), # case matters
]


@pytest.mark.parametrize(('binding_key', 'routing_key', 'expected'), CASES)
def test_matches_like_rabbitmq(binding_key, routing_key, expected):
    assert matches(binding_key, routing_key) is expected


def test_split_words_keeps_empty_words():
    assert split_words('') == ()
    assert split_words('.') == ('', '')
    assert split_words('a..b') == ('a', '', 'b')


@pytest.mark.parametrize(('routing_key', 'queues'), [
    ('video.upload', sorted([AUDIT_QUEUE, VIDEO_QUEUE])),
    ('user.login', [AUDIT_QUEUE]),
    ('video', sorted([AUDIT_QUEUE, VIDEO_QUEUE])),
])
def test_seed_routes(routing_key, queues):
    assert route(routing_key) == queues


def test_media_routes_multi_word_keys():
    assert MEDIA.route('video.upload.hd') == sorted([AUDIT_QUEUE, THUMBNAIL_QUEUE, VIDEO_QUEUE])
    assert MEDIA.route('user.login') == sorted([AUDIT_QUEUE, USER_QUEUE])
    assert MEDIA.route('user.login.eu') == [AUDIT_QUEUE]


@pytest.mark.parametrize(('key', 'fragment'), [
    ('video upload', 'contains a space'),
    ('video.*', 'wildcards only work in binding keys'),
    ('video.#', 'wildcards only work in binding keys'),
    ('video.up*', 'not patterns here'),
    ('', 'empty'),
    ('.video', 'empty word'),
    ('video..upload', 'empty word'),
    ('x' * 256, 'at most 255'),
    ('é' * 128, 'at most 255'),             # 256 bytes in UTF-8
    (42, 'must be a string'),
])
def test_bad_routing_keys_explain_themselves(key, fragment):
    with pytest.raises(RoutingKeyError, match=fragment):
        validate_routing_key(key)


@pytest.mark.parametrize('key', ['video.upload', 'a', 'x' * 255, 'user.login.eu'])
def test_good_routing_keys_pass(key):
    assert validate_routing_key(key) == key


@pytest.mark.parametrize(('key', 'fragment'), [
    ('*a', 'whole word'),
    ('video.up#', 'whole word'),
    ('video #', 'contains a space'),
    ('x' * 256, 'at most 255'),
])
def test_bad_binding_keys_explain_themselves(key, fragment):
    with pytest.raises(BindingKeyError, match=fragment):
        validate_binding_key(key)


@pytest.mark.parametrize('key', ['#', '*', '', 'video.#', '*.upload.*', 'a.#.b'])
def test_good_binding_keys_pass(key):
    assert validate_binding_key(key) == key


def test_topology_describes_itself():
    assert SEED.describe() == {
        'exchange': SEED_EXCHANGE, 'type': 'topic',
        'queues': {AUDIT_QUEUE: ['#'], VIDEO_QUEUE: ['video.#']},
        'dead_letter_queue': f'{SEED_EXCHANGE}.dead_letters',
    }
