"""The worker's JSON decoder, built once, gives what kombu's ``message.decode()`` gives, errors included."""
import datetime
import decimal
import uuid

import pytest
from kombu import serialization
from kombu.exceptions import DecodeError
from kombu.utils import json as kombu_json

from helpers.worker import Worker

BODIES = ['{"n": 1, "file": "clip-1.mp4"}', '[1, 2.5, null, true, "é"]', '"text"', '{"a": {"b": [{}]}}',
          kombu_json.dumps({'when': datetime.datetime(2026, 1, 2, 3, 4, 5), 'price': decimal.Decimal('1.10'),
                            'id': uuid.UUID(int=7), 'day': datetime.date(2026, 1, 2)})]


class _Message:
    """Just what Worker._decode reads, decoded the way kombu's Message.decode does it."""

    def __init__(self, body, content_type='application/json', accept=('application/json',)):
        self.body, self.content_type, self.content_encoding, self.accept = body, content_type, 'utf-8', set(accept)
        self.decoded_by_kombu = 0

    def decode(self):
        self.decoded_by_kombu += 1
        return serialization.loads(self.body, self.content_type, self.content_encoding, accept=self.accept)


@pytest.fixture
def worker():
    return Worker('memory://', name='decode-test')


@pytest.mark.parametrize('body', BODIES)
@pytest.mark.parametrize('kind', [str, bytes, bytearray, memoryview])
def test_json_bodies_decode_to_what_kombu_gives_without_kombu(worker, body, kind):
    data = body if kind is str else kind(body.encode('utf-8'))
    message = _Message(data)
    assert worker._decode(message) == serialization.loads(data, 'application/json', 'utf-8')
    assert message.decoded_by_kombu == 0  # the decoder built once did it


@pytest.mark.parametrize('body', ['{"n": ', b'\xff\xfe', '\ufeff{"n": 1}', '{"__type__": "nope", "__value__": 1}'])
def test_a_body_that_fails_fails_with_kombus_own_error(worker, body):
    message = _Message(body)
    with pytest.raises(DecodeError) as caught:
        worker._decode(message)
    with pytest.raises(DecodeError) as kombus:
        serialization.loads(body, 'application/json', 'utf-8')
    assert str(caught.value) == str(kombus.value) and message.decoded_by_kombu == 1


@pytest.mark.parametrize('message', [_Message('', ), _Message('{"n": 1}', content_type='text/plain'),
                                     _Message(b'{"n": 1}', content_type='application/x-yaml')],
                         ids=['empty body', 'other content type', 'not accepted'])
def test_anything_but_a_json_body_is_left_to_kombu(worker, message):
    try:
        worker._decode(message)
    except Exception:  # whether kombu raises for it is not what this test is about
        pass
    assert message.decoded_by_kombu == 1


def test_a_worker_that_does_not_accept_json_leaves_it_to_kombu():
    worker = Worker('memory://', accept=['pickle'], name='decode-test')
    message = _Message('{"n": 1}')
    with pytest.raises(serialization.ContentDisallowed):
        message.accept = set(serialization.prepare_accept_content(['pickle']))
        worker._decode(message)
    assert message.decoded_by_kombu == 1


def test_a_json_decoder_registered_in_kombus_place_is_used(monkeypatch):
    monkeypatch.setitem(serialization.registry._decoders, 'application/json', lambda data: 'custom')
    message = _Message('{"n": 1}')
    assert Worker('memory://', name='decode-test')._decode(message) == 'custom'
    assert message.decoded_by_kombu == 1


