"""Property tests: the topic matcher against an independent reference; validators and URLs on garbage."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import config
from helpers.topology import (
    MAX_KEY_BYTES,
    MEDIA,
    BindingKeyError,
    RoutingKeyError,
    matches,
    validate_binding_key,
    validate_routing_key,
)

MODEST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_match(binding_key: str, routing_key: str) -> bool:
    """RabbitMQ's rule, written recursively: '' has no words, '*' is one word, '#' zero or more."""
    def match(pattern: list[str], words: list[str]) -> bool:
        if not pattern:
            return not words
        head, rest = pattern[0], pattern[1:]
        if head == '#':
            return match(rest, words) or (bool(words) and match(pattern, words[1:]))
        return bool(words) and head in ('*', words[0]) and match(rest, words[1:])
    return match(binding_key.split('.') if binding_key else [],
                 routing_key.split('.') if routing_key else [])


# Few distinct words, so matches are common and the edge cases (empty words, '#' at either end) show up.
routing_words = st.sampled_from(['a', 'b', 'video', '', '*a', 'a#'])
binding_words = st.sampled_from(['a', 'b', 'video', '', '*', '#', '*a'])
routing_keys = st.lists(routing_words, max_size=6).map('.'.join)
binding_keys = st.lists(binding_words, max_size=6).map('.'.join)
good_word = st.text(alphabet='abcdefghijklmnopqrstuvwxyz0123456789_-', min_size=1, max_size=12)
good_routing_keys = st.lists(good_word, min_size=1, max_size=8).map('.'.join)
good_binding_keys = st.lists(st.one_of(good_word, st.sampled_from(['*', '#'])), max_size=8).map('.'.join)


@MODEST
@given(binding_keys, routing_keys)
def test_matcher_agrees_with_the_reference(binding_key, routing_key):
    assert matches(binding_key, routing_key) == reference_match(binding_key, routing_key)


@MODEST
@given(st.text(max_size=40), st.text(max_size=40))
def test_matcher_agrees_on_arbitrary_text(binding_key, routing_key):
    assert matches(binding_key, routing_key) == reference_match(binding_key, routing_key)


@MODEST
@given(good_routing_keys)
def test_hash_matches_everything_and_a_key_matches_itself(routing_key):
    assert matches('#', routing_key) and matches(routing_key, routing_key)
    assert 'audit_queue' in MEDIA.route(routing_key)  # bound with '#'


@pytest.mark.parametrize(('validate', 'error'), [(validate_routing_key, RoutingKeyError),
                                                  (validate_binding_key, BindingKeyError)])
@MODEST
@given(st.one_of(st.text(max_size=300), st.binary(max_size=20), st.integers(), st.none()))
def test_key_validators_raise_only_their_own_one_line_error(validate, error, key):
    try:
        assert validate(key) is key
    except error as exc:
        assert str(exc) and '\n' not in str(exc)


@MODEST
@given(good_routing_keys)
def test_sensible_routing_keys_are_accepted(key):
    if len(key.encode()) <= MAX_KEY_BYTES:
        assert validate_routing_key(key) == key
    else:
        with pytest.raises(RoutingKeyError, match='bytes long'):
            validate_routing_key(key)


@MODEST
@given(good_binding_keys)
def test_sensible_binding_keys_are_accepted(key):
    assert validate_binding_key(key) == key


@MODEST
@given(routing_keys)
def test_validated_routing_keys_have_no_wildcards_or_empty_words(key):
    try:
        validate_routing_key(key)
    except RoutingKeyError:
        return
    words = key.split('.')
    assert all(words) and not any('*' in w or '#' in w for w in words)


schemes = st.sampled_from(['amqp', 'redis', 'memory', 'ampq', 'rabbit', 'AMQP', 'redis+', 'http', ''])
separators = st.sampled_from(['://', ':/', ':', '//', '', ':///'])
url_garbage = st.text(alphabet=st.characters(blacklist_categories=['Cs']), max_size=30)
garbage_urls = st.one_of(st.text(max_size=60), st.builds(lambda s, sep, rest: s + sep + rest,
                                                          schemes, separators, url_garbage))


@MODEST
@given(garbage_urls)
def test_transport_of_garbage_is_a_known_transport_or_one_line_broker_error(url):
    try:
        assert config.transport_of(url or 'memory://') in ('memory', 'amqp', 'redis')
    except config.BrokerError as exc:
        assert str(exc) and '\n' not in str(exc)
