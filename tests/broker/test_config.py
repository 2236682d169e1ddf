"""helpers.config on the network: an unreachable port and a refused password, each told in one line."""
import time
from urllib.parse import urlsplit

import pytest
from conftest import BROKERS, require_broker

from helpers.config import BrokerError, check_broker


@pytest.mark.parametrize('url', ['amqp://guest:guest@127.0.0.1:1//', 'redis://127.0.0.1:1/0'])
def test_unreachable_port_fails_fast_with_one_line(url):
    started = time.monotonic()
    with pytest.raises(BrokerError) as caught:
        check_broker(url)
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert 'nothing answered' in message and 'is the broker running?' in message
    assert '\n' not in message
    assert elapsed < 5, f'an unreachable broker took {elapsed:.1f} s to report (the spec is < 5 s)'


def test_wrong_password_on_rabbitmq_is_named_and_masked():
    good = urlsplit(require_broker(BROKERS['amqp']))
    netloc = f'{good.username or "guest"}:not-the-password@{good.hostname}:{good.port or 5672}'
    wrong = good._replace(netloc=netloc).geturl()
    with pytest.raises(BrokerError, match='user name or password was refused') as caught:
        check_broker(wrong)
    assert 'not-the-password' not in str(caught.value)
