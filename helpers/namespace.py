"""One learner's own names on a shared broker: ``LAB_NAMESPACE`` (read like ``BROKER_URL``) (00_setup).

With ``LAB_NAMESPACE=ada`` every exchange and queue the course declares gets a
broker name of ada's own: the seed's ``video_queue`` becomes
``ada.media_exchange.video_queue`` on the broker, while notebooks, workers and
event logs keep saying ``video_queue``.  A queue's broker name includes its
exchange, so two topologies that both have a ``video_queue`` (SEED and MEDIA)
never share one.  Unset (or empty), the broker names are the course's names.
"""
from __future__ import annotations

import os
import re

__all__ = ['ENV_VAR', 'NamespaceError', 'current', 'validate', 'exchange_name', 'queue_name', 'owner']

ENV_VAR = 'LAB_NAMESPACE'
SEPARATOR = '.'
CONNECTION_PREFIX = 'lab:'  # a learner's RabbitMQ connections are named 'lab:<namespace>'
_VALID = re.compile(r'[A-Za-z0-9_-]{1,40}')


class NamespaceError(ValueError):
    """A namespace that cannot name a learner's part of the broker."""


def validate(namespace: str) -> str:
    """Return ``namespace`` if it is 1-40 letters, digits, '_' or '-', else raise NamespaceError."""
    if not isinstance(namespace, str) or not _VALID.fullmatch(namespace):
        raise NamespaceError(
            f'{ENV_VAR}={namespace!r}: use 1-40 letters, digits, "_" or "-", as in LAB_NAMESPACE=ada'
        )
    if namespace.lower().startswith('amq'):
        raise NamespaceError(f'{ENV_VAR}={namespace!r}: RabbitMQ reserves names starting with "amq"')
    return namespace


def current(namespace: str | None = None) -> str:
    """The namespace: ``namespace`` if given, else ``$LAB_NAMESPACE``, else '' (the course's own names)."""
    value = namespace if namespace is not None else os.environ.get(ENV_VAR, '').strip()
    return validate(value) if value else ''


def exchange_name(exchange: str, namespace: str | None = None) -> str:
    """The broker's name for the course exchange ``exchange``."""
    ns = current(namespace)
    return f'{ns}{SEPARATOR}{exchange}' if ns else exchange


def queue_name(exchange: str, queue: str, namespace: str | None = None) -> str:
    """The broker's name for ``queue`` of the topology on ``exchange``."""
    ns = current(namespace)
    return SEPARATOR.join((ns, exchange, queue)) if ns else queue


def owner(broker_name: str, namespaces) -> str:
    """Which of ``namespaces`` a broker name belongs to ('' when none)."""
    for ns in sorted(namespaces, key=len, reverse=True):
        if broker_name.startswith(ns + SEPARATOR):
            return ns
    return ''
