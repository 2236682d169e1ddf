"""helpers.config: which broker, and one readable line when it cannot be used (00_setup)."""
import logging

import pytest

from helpers import config
from helpers.config import BrokerError, broker_url, check_broker, connect, safe_url, transport_of


@pytest.mark.parametrize(('url', 'fragment'), [
    ('localhost:5672', 'has no "://"'),
    ('memory:/', 'has no "://"'),
    ('guest:guest@127.0.0.1:5672//', 'has no "://"'),
])
def test_malformed_url_says_how_a_url_looks(url, fragment):
    with pytest.raises(BrokerError, match=fragment):
        check_broker(url)


@pytest.mark.parametrize('url', [
    'amqq://guest:guest@127.0.0.1:5672//',
    'http://127.0.0.1:15672/',
    'sqs://',
    'rabbitmq://localhost',
])
def test_unknown_scheme_lists_the_known_ones(url):
    with pytest.raises(BrokerError, match='the course knows memory://, amqp://, redis://'):
        transport_of(url)


def test_unknown_scheme_message_hides_the_password():
    with pytest.raises(BrokerError) as caught:
        check_broker('amqq://student:hunter2@rabbit.school.example//')
    assert 'hunter2' not in str(caught.value) and 'student:***@' in str(caught.value)


@pytest.mark.parametrize(('url', 'transport'), [
    ('memory://', 'memory'),
    ('amqp://guest:guest@localhost:5672//', 'amqp'),
    ('pyamqp://localhost//', 'amqp'),
    ('AMQP://localhost//', 'amqp'),
    ('redis://localhost:6379/0', 'redis'),
])
def test_transport_of_known_schemes(url, transport):
    assert transport_of(url) == transport


def test_memory_broker_is_always_reachable():
    info = check_broker('memory://')
    assert (info.transport, info.url) == ('memory', 'memory://')
    assert str(info) == 'memory broker at memory:// is reachable'


@pytest.mark.parametrize(('url', 'shown'), [
    ('amqp://guest:guest@127.0.0.1:5672//', 'amqp://guest:***@127.0.0.1:5672//'),
    ('amqp://student:hunter2@rabbit.school.example:5672/lab', 'amqp://student:***@rabbit.school.example:5672/lab'),
    ('redis://:s3cret@127.0.0.1:6379/0', 'redis://:***@127.0.0.1:6379/0'),
    ('amqp://user:p%40ss@host//', 'amqp://user:***@host//'),
    ('amqp://guest@localhost//', 'amqp://guest@localhost//'),
    ('memory://', 'memory://'),
])
def test_safe_url_masks_only_the_password(url, shown):
    assert safe_url(url) == shown


def test_explicit_url_beats_env_beats_default(monkeypatch):
    monkeypatch.setenv('BROKER_URL', 'redis://127.0.0.1:6379/0')
    assert broker_url() == 'redis://127.0.0.1:6379/0'
    assert transport_of() == 'redis'
    assert broker_url('amqp://localhost//') == 'amqp://localhost//'
    monkeypatch.setenv('BROKER_URL', 'amqp://guest:guest@h//')
    assert safe_url() == 'amqp://guest:***@h//'
    monkeypatch.setenv('BROKER_URL', '')
    assert broker_url() == 'memory://'
    monkeypatch.delenv('BROKER_URL')
    assert broker_url() == config.DEFAULT_URL == 'memory://'


def test_connect_follows_env_and_tunes_polling(monkeypatch):
    monkeypatch.setenv('BROKER_URL', 'memory://')
    with connect() as conn:
        assert conn.transport_cls == 'memory'
        assert conn.transport_options['polling_interval'] < 0.1


def test_quiet_kombu_logging_keeps_records_out_of_output(monkeypatch, caplog, capsys):
    for name in ('kombu', 'amqp'):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, 'propagate', True)
        monkeypatch.setattr(logger, 'handlers', [])
    config.quiet_kombu_logging()
    config.quiet_kombu_logging()  # twice is harmless
    with caplog.at_level(logging.INFO):
        logging.getLogger('kombu.connection').warning('Connected to somewhere')
        logging.getLogger('amqp').warning('heartbeat missed')
    assert caplog.records == []
    assert capsys.readouterr().err == ''  # not even Python's last-resort handler
    assert len(logging.getLogger('kombu').handlers) == 1
