"""RabbitMQ administration for a teacher: its management HTTP API, or ``rabbitmqctl`` where the plugin is off.

Both clients offer the same few calls (vhosts, users, permissions, queues,
connections, the node's memory), so ``teacher.classroom`` does not care which
one it talks to.  The management API needs ``rabbitmq-plugins enable
rabbitmq_management``; ``guest``/``guest`` works from localhost only.
"""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

__all__ = ['AdminError', 'ManagementAPI', 'RabbitmqCtl', 'admin_client']

DEFAULT_API = 'http://127.0.0.1:15672'
COUNTS = ('messages_ready', 'messages_unacknowledged', 'consumers')
CONNECTION_FIELDS = ('vhost', 'user', 'name', 'user_provided_name')


class AdminError(RuntimeError):
    """The broker refused or could not answer an administrative call; the message says which."""


def _q(name: str) -> str:
    return quote(name, safe='')


class ManagementAPI:
    """A small client of RabbitMQ's management HTTP API (``/api/...``)."""

    def __init__(self, base: str = DEFAULT_API, user: str = 'guest', password: str = 'guest',
                 timeout: float = 10.0) -> None:
        self.base = base.rstrip('/')
        self.timeout = timeout
        token = base64.b64encode(f'{user}:{password}'.encode()).decode()
        self._headers = {'Authorization': f'Basic {token}', 'Content-Type': 'application/json'}

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One call; returns the decoded JSON answer (None when empty); raises AdminError."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=self._headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as answer:
                text = answer.read().decode()
        except urllib.error.HTTPError as exc:
            raise AdminError(f'{method} {path}: HTTP {exc.code} {exc.read().decode(errors="replace")[:200]}') from None
        except (urllib.error.URLError, OSError) as exc:
            raise AdminError(f'the management API at {self.base} does not answer ({exc}); '
                             'enable it with: rabbitmq-plugins enable rabbitmq_management') from None
        return json.loads(text) if text.strip() else None

    def available(self) -> bool:
        """True when the API answers (and accepts our credentials)."""
        try:
            self.request('GET', '/api/overview')
        except AdminError:
            return False
        return True

    def vhosts(self) -> list[str]:
        return sorted(v['name'] for v in self.request('GET', '/api/vhosts'))

    def add_vhost(self, vhost: str) -> None:
        self.request('PUT', f'/api/vhosts/{_q(vhost)}', {})

    def delete_vhost(self, vhost: str) -> None:
        self._delete(f'/api/vhosts/{_q(vhost)}')

    def add_user(self, user: str, password: str) -> None:
        self.request('PUT', f'/api/users/{_q(user)}', {'password': password, 'tags': ''})

    def delete_user(self, user: str) -> None:
        self._delete(f'/api/users/{_q(user)}')

    def set_permissions(self, vhost: str, user: str, configure: str = '.*', write: str = '.*',
                        read: str = '.*') -> None:
        self.request('PUT', f'/api/permissions/{_q(vhost)}/{_q(user)}',
                     {'configure': configure, 'write': write, 'read': read})

    def queues(self, vhost: str | None = None) -> list[dict]:
        """Queues as dicts: vhost, name, messages_ready, messages_unacknowledged, consumers."""
        path = f'/api/queues/{_q(vhost)}' if vhost else '/api/queues'
        columns = ','.join(('vhost', 'name', *COUNTS))
        return [{'vhost': q['vhost'], 'name': q['name'], **{f: q.get(f) or 0 for f in COUNTS}}
                for q in self.request('GET', f'{path}?columns={columns}')]

    def delete_queue(self, vhost: str, name: str) -> None:
        self._delete(f'/api/queues/{_q(vhost)}/{_q(name)}')

    def exchanges(self, vhost: str) -> list[str]:
        return [e['name'] for e in self.request('GET', f'/api/exchanges/{_q(vhost)}?columns=name')]

    def delete_exchange(self, vhost: str, name: str) -> None:
        self._delete(f'/api/exchanges/{_q(vhost)}/{_q(name)}')

    def connections(self, vhost: str | None = None) -> list[dict]:
        """Client connections as dicts: vhost, user, name, user_provided_name."""
        path = f'/api/vhosts/{_q(vhost)}/connections' if vhost else '/api/connections'
        return [{f: c.get(f) or '' for f in CONNECTION_FIELDS}
                for c in self.request('GET', f'{path}?columns={",".join(CONNECTION_FIELDS)}')]

    def memory_bytes(self) -> int:
        """Memory the broker node uses, in bytes."""
        return sum(node.get('mem_used', 0) for node in self.request('GET', '/api/nodes?columns=mem_used'))

    def _delete(self, path: str) -> None:
        try:
            self.request('DELETE', path)
        except AdminError as exc:
            if 'HTTP 404' not in str(exc):  # already gone is what we wanted
                raise


class RabbitmqCtl:
    """The same calls through ``rabbitmqctl`` (on the broker's machine, as a user allowed to run it)."""

    def __init__(self, command: str = 'rabbitmqctl', timeout: float = 30.0) -> None:
        self.command = command
        self.timeout = timeout

    def run(self, *args: str) -> str:
        try:
            done = subprocess.run([self.command, '-q', *args], capture_output=True, text=True, timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AdminError(f'{self.command} {" ".join(args)}: {exc}') from None
        if done.returncode != 0:
            raise AdminError(f'{self.command} {" ".join(args)}: {(done.stderr or done.stdout).strip()[:200]}')
        return done.stdout

    def _rows(self, *args: str) -> list[dict]:
        text = self.run(*args, '--formatter', 'json').strip()
        return json.loads(text) if text else []

    def available(self) -> bool:
        try:
            self.run('status')
        except AdminError:
            return False
        return True

    def vhosts(self) -> list[str]:
        return sorted(row['name'] for row in self._rows('list_vhosts', 'name'))

    def add_vhost(self, vhost: str) -> None:
        if vhost not in self.vhosts():
            self.run('add_vhost', vhost)

    def delete_vhost(self, vhost: str) -> None:
        if vhost in self.vhosts():
            self.run('delete_vhost', vhost)

    def add_user(self, user: str, password: str) -> None:
        users = {row['user'] for row in self._rows('list_users')}
        if user in users:
            self.run('change_password', user, password)
        else:
            self.run('add_user', user, password)

    def delete_user(self, user: str) -> None:
        if user in {row['user'] for row in self._rows('list_users')}:
            self.run('delete_user', user)

    def set_permissions(self, vhost: str, user: str, configure: str = '.*', write: str = '.*',
                        read: str = '.*') -> None:
        self.run('set_permissions', '-p', vhost, user, configure, write, read)

    def queues(self, vhost: str | None = None) -> list[dict]:
        rows = []
        for v in ([vhost] if vhost else self.vhosts()):
            for row in self._rows('list_queues', '-p', v, 'name', *COUNTS):
                rows.append({'vhost': v, 'name': row['name'], **{f: row.get(f) or 0 for f in COUNTS}})
        return rows

    def delete_queue(self, vhost: str, name: str) -> None:
        self.run('delete_queue', '-p', vhost, name)

    def exchanges(self, vhost: str) -> list[str]:
        return [row['name'] for row in self._rows('list_exchanges', '-p', vhost, 'name')]

    def delete_exchange(self, vhost: str, name: str) -> None:
        raise AdminError('rabbitmqctl cannot delete an exchange: enable the management plugin, '
                         'or delete the vhost (its exchanges go with it)')

    def connections(self, vhost: str | None = None) -> list[dict]:
        rows = self._rows('list_connections', 'vhost', 'user', 'name', 'client_properties')
        return [{'vhost': row.get('vhost') or '', 'user': row.get('user') or '', 'name': row.get('name') or '',
                 'user_provided_name': _connection_name(row.get('client_properties') or [])}
                for row in rows if vhost is None or row.get('vhost') == vhost]

    def memory_bytes(self) -> int:
        status = json.loads(self.run('status', '--formatter', 'json'))
        memory = status.get('memory', {})
        return int(memory.get('total', {}).get('rss', 0) or 0) if isinstance(memory, dict) else 0


def _connection_name(client_properties: list) -> str:
    """The 'connection_name' in rabbitmqctl's [[key, type, value], ...] client properties ('' if none)."""
    return next((value for key, _type, value in client_properties if key == 'connection_name'), '')


def admin_client(api: str = DEFAULT_API, user: str = 'guest', password: str = 'guest'):
    """The management API if it answers, else ``rabbitmqctl`` if it runs here; AdminError otherwise."""
    client = ManagementAPI(api, user, password)
    if client.available():
        return client
    if shutil.which('rabbitmqctl') and RabbitmqCtl().available():
        return RabbitmqCtl()
    raise AdminError(f'neither the management API at {api} nor rabbitmqctl answers: '
                     'run rabbitmq-plugins enable rabbitmq_management on the broker, or ask its admin')
