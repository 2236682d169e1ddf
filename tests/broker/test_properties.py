"""check_broker on garbage URLs (it may try to connect): only ever a one-line BrokerError."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import config

schemes = st.sampled_from(['amqp', 'redis', 'memory', 'ampq', 'rabbit', 'AMQP', 'redis+', 'http', ''])

separators = st.sampled_from(['://', ':/', ':', '//', '', ':///'])

url_garbage = st.text(alphabet=st.characters(blacklist_categories=['Cs']), max_size=30)

garbage_urls = st.one_of(st.text(max_size=60), st.builds(lambda s, sep, rest: s + sep + rest,
                                                          schemes, separators, url_garbage))

# check_broker really connects: point every garbage URL at a port where nothing listens.
unreachable_urls = st.builds(
    lambda scheme, user, password, vhost: f'{scheme}://{user}:{password}@127.0.0.1:1/{vhost}',
    st.sampled_from(['amqp', 'redis', 'pyamqp']),
    st.text(alphabet='abc:@/%?#[] ', max_size=6), st.text(alphabet='xyz:@/%?# ', max_size=6),
    st.text(alphabet='01/%?#', max_size=4),
)

url_typos = st.one_of(garbage_urls, unreachable_urls)


@pytest.mark.slow
@settings(max_examples=25, deadline=None)  # each example really connects (about 0.5 s)
@given(url_typos)
def test_check_broker_on_garbage_raises_only_a_one_line_broker_error(url):
    try:
        info = config.check_broker(url or 'memory://', timeout=1)
    except config.BrokerError as exc:
        assert str(exc) and '\n' not in str(exc)
    else:
        assert info.transport in ('memory', 'amqp', 'redis')  # e.g. 'AMQP://' means the local broker
