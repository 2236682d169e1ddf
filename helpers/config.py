"""Which broker the course talks to, and how to connect to it (00_setup).

The broker is a URL: ``BROKER_URL`` from the environment, else ``memory://``.
"""
from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from kombu import Connection

from . import memory_transport

__all__ = [
    'DEFAULT_URL', 'BrokerError', 'BrokerInfo', 'broker_url', 'transport_of',
    'safe_url', 'connect', 'check_broker', 'quiet_kombu_logging', 'one_line', 'MEMORY_IS_PRIVATE',
]

DEFAULT_URL = 'memory://'
#: Why memory:// cannot be shared between processes.
MEMORY_IS_PRIVATE = 'memory:// lives inside this Python process: no other process can reach its queues'
TRANSPORTS = {'memory': 'memory', 'amqp': 'amqp', 'amqps': 'amqp', 'pyamqp': 'amqp',
              'redis': 'redis', 'rediss': 'redis'}  # amqps:// and rediss:// use TLS

# memory:// polls for new messages; kombu's default of 1 s makes a message wait about half a second.  The course's
# 20 ms: a median wait of 10 ms, and an idle worker uses 1.0% of a core (5 ms: 4 ms, and 2.7% of a core for each
# idle worker, an open panel's two among them).  Redis blocks in BRPOP, which returns as soon as a message
# arrives: there the setting is only BRPOP's timeout, which bounds how long an idle worker takes to notice it
# should stop (tests/broker/test_polling.py).
# Redis keeps kombu's health_check_interval (25 s): kombu drops a BRPOP connection whose reply is overdue by
# that much, and a message Redis popped for it is then lost; 2 s turned a 2.1 s stall into a lost message.
memory_transport.install()  # before any thread uses memory://

TRANSPORT_OPTIONS = {
    'memory': {'polling_interval': 0.02},
    'redis': {'polling_interval': 0.1},
    'amqp': {},
}


class BrokerError(RuntimeError):
    """The broker cannot be used; the message says why in one line, ``cause`` the reason alone."""

    def __init__(self, message: str, cause: str = '') -> None:
        super().__init__(message)
        self.cause = cause or message


@dataclass(frozen=True)
class BrokerInfo:
    """What ``check_broker`` found: the transport and the URL without its password."""

    transport: str
    url: str

    def __str__(self) -> str:
        return f'{self.transport} broker at {self.url} is reachable'


def broker_url(url: str | None = None) -> str:
    """The broker URL: ``url`` if given, else ``$BROKER_URL``, else ``memory://``."""
    return url or os.environ.get('BROKER_URL') or DEFAULT_URL


def transport_of(url: str | None = None) -> str:
    """The transport name ('memory', 'amqp' or 'redis') of a broker URL."""
    url = broker_url(url)
    scheme, sep, _rest = url.partition('://')
    if not sep:
        raise BrokerError(f'broker URL {url!r} has no "://": write e.g. amqp://guest:guest@localhost:5672//')
    try:
        return TRANSPORTS[scheme.lower()]
    except KeyError:
        known = ', '.join(f'{name}://' for name in ('memory', 'amqp', 'redis'))
        raise BrokerError(f'broker URL {safe_url(url)!r} uses {scheme!r}; the course knows {known}') from None


def safe_url(url: str | None = None) -> str:
    """The URL with any password replaced by ``***``."""
    url = broker_url(url)
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[": mask whatever sits between "user:" and "@"
        return re.sub(r'(://[^:/@]*:)[^@]*@', r'\1***@', url)
    if parts.password:
        netloc = parts.netloc.replace(f':{parts.password}@', ':***@', 1)
        return parts._replace(netloc=netloc).geturl()
    return url


def connect(url: str | None = None, **options) -> Connection:
    """A new kombu Connection with transport options tuned for the course.

    Every thread that talks to the broker needs a connection of its own.
    """
    url = broker_url(url)
    transport = transport_of(url)
    transport_options = {**TRANSPORT_OPTIONS[transport], **_namespace_options(transport),
                         **options.pop('transport_options', {})}
    options.setdefault('connect_timeout', 4)
    return Connection(url, transport_options=transport_options, **options)


def _namespace_options(transport: str) -> dict:
    """On RabbitMQ, name the connection after $LAB_NAMESPACE, so a teacher's dashboard can tell learners apart."""
    from . import namespace

    learner = namespace.current()
    if transport != 'amqp' or not learner:
        return {}
    return {'client_properties': {'connection_name': f'{namespace.CONNECTION_PREFIX}{learner}'}}


def check_broker(url: str | None = None, timeout: float = 4.0) -> BrokerInfo:
    """Connect once and return BrokerInfo, or raise BrokerError with a one-line reason."""
    if url is not None and not url.strip():
        raise BrokerError('broker URL is empty: write e.g. amqp://guest:guest@localhost:5672// '
                          '(or leave it out for $BROKER_URL or memory://)')
    url = broker_url(url)
    transport = transport_of(url)
    shown = safe_url(url)
    _check_address(url, transport, shown)
    try:
        conn = connect(url, connect_timeout=timeout,
                       transport_options={'socket_timeout': timeout, 'socket_connect_timeout': timeout,
                                          'max_retries': 0})
    except ValueError as exc:  # kombu could not parse it, e.g. a port that is not a number
        raise BrokerError(f'broker URL {shown!r} is malformed: {_reason(exc)}') from None
    try:
        conn.ensure_connection(max_retries=1, timeout=timeout)
        with conn.channel():
            pass
    except Exception as exc:  # kombu raises many kinds; the learner needs one line
        other = _other_protocol(url, transport, timeout)
        why = (f'the server on that port speaks {other}, not {transport} (check the port in the URL)'
               if other else _reason(exc))
        raise BrokerError(f'cannot use the {transport} broker at {shown}: {why}', why) from None
    finally:
        conn.release()
    return BrokerInfo(transport, shown)


DEFAULT_PORTS = {'amqp': 5672, 'redis': 6379}


def _check_address(url: str, transport: str, shown: str) -> None:
    """Refuse a URL whose host is empty or whose port is 0 (kombu would quietly use its defaults)."""
    if transport == 'memory':
        return
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BrokerError(f'broker URL {shown!r} is malformed: {_reason(exc)}') from None
    if parts.netloc and not parts.hostname:
        raise BrokerError(f'broker URL {shown!r} has no host name: write one before the port, '
                          f'as in {transport}://localhost:{DEFAULT_PORTS[transport]}')
    if port == 0:
        raise BrokerError(f'broker URL {shown!r} has port 0, which no broker listens on: '
                          f'{transport} usually listens on {DEFAULT_PORTS[transport]}')


# A Redis server answers PING; RabbitMQ answers anything that is not its protocol header with that header.
_ANSWERS = ((b'AMQP', 'amqp', 'AMQP (RabbitMQ)'), (b'+PONG', 'redis', 'the Redis protocol'),
            (b'-', 'redis', 'the Redis protocol'), (b'HTTP/', 'http', 'HTTP'), (b'SSH-', 'ssh', 'SSH'))


def _other_protocol(url: str, transport: str, timeout: float) -> str:
    """The protocol the server at the URL's address answers in, when it is not ``transport``; else ''."""
    if transport not in DEFAULT_PORTS:
        return ''
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or 'localhost', parts.port or DEFAULT_PORTS[transport]
        with socket.create_connection((host, port), timeout=min(timeout, 2.0)) as sock:
            sock.sendall(b'PING\r\n\r\n')  # 8 bytes: RabbitMQ reads a whole protocol header first
            first = sock.recv(64)
    except (OSError, ValueError):
        return ''
    for start, name, protocol in _ANSWERS:
        if first.startswith(start):
            return '' if name == transport else protocol
    return ''


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its class name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lowered = text.lower()
    if 'access_refused' in lowered or 'auth' in lowered or 'password' in lowered:
        return 'the user name or password was refused (check the URL, e.g. guest:guest@)'
    if isinstance(exc, (ConnectionRefusedError, socket.timeout, TimeoutError)) or 'refused' in lowered:
        return f'nothing answered ({text}); is the broker running?'
    if isinstance(exc, socket.gaierror) or 'name or service' in lowered:
        return f'the host name could not be resolved ({text})'
    return one_line(exc)


def quiet_kombu_logging(*others: str) -> None:
    """Keep kombu's and py-amqp's (and the ``others``') log records out of notebook output: threads scatter them."""
    for name in ('kombu', 'amqp', *others):
        logger = logging.getLogger(name)
        logger.propagate = False
        if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
            logger.addHandler(logging.NullHandler())
