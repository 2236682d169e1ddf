"""The topic matcher's case table and the virtual transports' surprises, no broker (tests/broker asks RabbitMQ)."""
from __future__ import annotations

import functools
from fnmatch import fnmatchcase

import pytest
from matcher_cases import PAIRS

from helpers.course_names import AUDIT_QUEUE, VIDEO_QUEUE
from helpers.topology import SEED, matches, route, split_words, virtual_matches


def topic_matcher(hash_min=0, hash_max=None, star_min=1, words=split_words, glob_words=False, whole=True):
    """A topic matcher with knobs: at the defaults RabbitMQ's rules; a plausible mistake turns one knob."""
    def match(binding_key: str, routing_key: str) -> bool:
        pattern, key = words(binding_key), words(routing_key)

        @functools.cache
        def fits(i: int, j: int) -> bool:  # does pattern[i:] match key[j:]?
            if i == len(pattern):
                return j == len(key) or not whole
            token = pattern[i]
            if token == '#':
                last = len(key) if hash_max is None else min(len(key), j + hash_max)
                return any(fits(i + 1, k) for k in range(j + hash_min, last + 1))
            if token == '*' and star_min == 0 and fits(i + 1, j):
                return True
            same = j < len(key) and (token in ('*', key[j]) or (glob_words and fnmatchcase(key[j], token)))
            return same and fits(i + 1, j + 1)
        return fits(0, 0)
    return match


LIKELY_MISTAKES = {
    "'#' needs a word": topic_matcher(hash_min=1),
    "'#' takes at most one word": topic_matcher(hash_max=1),
    "'*' may take no word": topic_matcher(star_min=0),
    'empty words are skipped': topic_matcher(words=lambda key: tuple(w for w in key.split('.') if w)),
    "'' is one empty word": topic_matcher(words=lambda key: tuple(key.split('.'))),
    "'*' inside a word is a wildcard": topic_matcher(glob_words=True),
    'a prefix of the routing key is enough': topic_matcher(whole=False),
    "kombu's virtual exchange": virtual_matches,
}


def test_the_case_table_catches_every_likely_mistake_of_the_matcher():
    """The RabbitMQ comparison below can only fail for a mistake the table has a case for."""
    assert all(topic_matcher()(b, r) is matches(b, r) for b, r in PAIRS)  # the knobs at RabbitMQ's rules
    missed = [name for name, mistake in LIKELY_MISTAKES.items()
              if all(mistake(b, r) is matches(b, r) for b, r in PAIRS)]
    assert not missed, f'no case in the table tells matches() from these mistakes: {missed}'
    assert 100 <= sum(matches(b, r) for b, r in PAIRS) <= len(PAIRS) - 100  # plenty of both outcomes


# (binding key, routing key, RabbitMQ and matches(), kombu's virtual transports)
SURPRISES = [
    ('video.#', 'video', True, False),      # '#' may take no words, but the regex needs 'video.'
    ('#.upload', 'upload', True, False),
    ('a.#.b', 'a.b', True, False),
    ('#.*', 'a', True, False),
    ('*.#', 'a', True, False),
    ('#.#', '', True, False),
    ('*.*', 'a.', True, False),             # an empty word is still a word for '*'
    ('a*', 'a*', True, False),              # '*' inside a word is literal on RabbitMQ...
    ('a*', 'a', False, True),               # ...but a regex quantifier on memory:// and redis://
    ('a*', '', False, True),
]


@pytest.mark.parametrize(('binding_key', 'routing_key', 'amqp', 'virtual'), SURPRISES)
def test_virtual_transports_disagree_on_the_surprises(binding_key, routing_key, amqp, virtual):
    assert matches(binding_key, routing_key) is amqp
    assert virtual_matches(binding_key, routing_key) is virtual


def test_route_differs_from_the_virtual_exchange_for_the_seed():
    """RabbitMQ sends a bare 'video' to video_queue too; memory:// and redis:// do not."""
    virtual_route = sorted({q for q, key in SEED.bindings if virtual_matches(key, 'video')})
    assert route('video') == sorted([AUDIT_QUEUE, VIDEO_QUEUE])
    assert virtual_route == [AUDIT_QUEUE]
