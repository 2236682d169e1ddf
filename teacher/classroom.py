"""A class on one RabbitMQ: make each learner's place, print their settings, watch them, clean up (teacher's guide).

    python -m teacher.classroom create 20 --mode vhosts       # needs the broker's admin
    python -m teacher.classroom create 20 --mode namespaces --url amqp://class:pw@rabbit/course
    python -m teacher.classroom status [--watch 5]            # the terminal dashboard
    python -m teacher.classroom remove

``create`` writes the roster (``class.json``, passwords included: keep it to
yourself) and prints one line per learner to hand out.  ``--mode vhosts``
gives every learner a vhost and a user of their own through the management
API (or ``rabbitmqctl``); ``--mode namespaces`` needs no admin rights: all
learners share the URL the teacher was given, each with a ``LAB_NAMESPACE``.
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from helpers import config, namespace

from .rabbitadmin import DEFAULT_API, AdminError, admin_client

__all__ = ['Learner', 'QueueStatus', 'LearnerStatus', 'plan', 'create', 'remove', 'status', 'table',
           'save_roster', 'load_roster', 'main']

MODES = ('vhosts', 'namespaces')
DEFAULT_ROSTER = 'class.json'


@dataclass(frozen=True)
class Learner:
    """One learner's place on the broker: a vhost of their own, or a namespace on a shared vhost."""

    name: str
    url: str
    vhost: str
    namespace: str = ''  # '' in vhost mode
    user: str = ''  # set when the learner has a user of their own

    @property
    def env_line(self) -> str:
        """The settings to hand out, as shell assignments."""
        line = f'BROKER_URL={self.url}'
        return f'{line} LAB_NAMESPACE={self.namespace}' if self.namespace else line


@dataclass(frozen=True)
class QueueStatus:
    """One queue of a learner, by the course's name."""

    name: str
    ready: int
    unacked: int
    consumers: int

    @property
    def stuck(self) -> bool:
        """Messages wait and nothing consumes them."""
        return self.ready > 0 and self.consumers == 0


@dataclass(frozen=True)
class LearnerStatus:
    """What the broker shows of one learner right now."""

    learner: Learner
    connections: int
    queues: tuple[QueueStatus, ...] = field(default_factory=tuple)

    @property
    def consumers(self) -> int:
        return sum(q.consumers for q in self.queues)

    @property
    def flags(self) -> list[str]:
        """What a teacher should look at: stuck queues, workers still consuming."""
        found = [f'stuck: {q.name} ({q.ready} waiting, no consumer)' for q in self.queues if q.stuck]
        if self.consumers:
            found.append(f'worker running: {self.consumers} consumer(s)')
        return found


def plan(count: int, mode: str, *, prefix: str = 'class_', url: str | None = None, host: str = '127.0.0.1',
         port: int = 5672) -> list[Learner]:
    """The learners' places, not yet created: ``prefix01``... in vhost mode, or namespaces on ``url``."""
    if mode not in MODES:
        raise ValueError(f'mode {mode!r}: choose one of {", ".join(MODES)}')
    if not 1 <= count <= 999:
        raise ValueError(f'{count} learners: ask for 1 to 999')
    names = [f'{prefix}{n:02d}' for n in range(1, count + 1)]
    for name in names:
        namespace.validate(name)
    if mode == 'namespaces':
        if not url:
            raise ValueError('--mode namespaces needs the URL every learner shares: --url amqp://user:pw@host/vhost')
        vhost = _vhost_of(url)
        return [Learner(name, url, vhost, namespace=name) for name in names]
    return [Learner(name, f'amqp://{name}:{secrets.token_urlsafe(9)}@{host}:{port}/{quote(name, safe="")}',
                    vhost=name, user=name) for name in names]


def _vhost_of(url: str) -> str:
    path = urlsplit(url).path
    return '/' if path in ('', '/', '//') else unquote(path[1:])


def _password(learner: Learner) -> str:
    return urlsplit(learner.url).password or ''


def create(admin, learners: list[Learner]) -> None:
    """Make each learner's vhost and user (vhost mode); namespaces need nothing on the broker."""
    for learner in learners:
        if learner.user:
            admin.add_vhost(learner.vhost)
            admin.add_user(learner.user, _password(learner))
            admin.set_permissions(learner.vhost, learner.user)


def remove(admin, learners: list[Learner]) -> list[str]:
    """Delete what the learners left: their vhosts and users, or their namespaced queues and exchanges."""
    removed = []
    for learner in learners:
        if learner.user:
            admin.delete_vhost(learner.vhost)
            admin.delete_user(learner.user)
            removed.append(f'vhost and user {learner.vhost}')
            continue
        queues = [q['name'] for q in admin.queues(learner.vhost) if _owned(q['name'], learner)]
        exchanges = [e for e in admin.exchanges(learner.vhost) if _owned(e, learner)]
        for name in queues:
            admin.delete_queue(learner.vhost, name)
        for name in exchanges:
            _delete_exchange(admin, learner, name)
        removed.append(f'{len(queues)} queues and {len(exchanges)} exchanges of {learner.namespace}')
    return removed


def _owned(broker_name: str, learner: Learner) -> bool:
    """Whether a queue or exchange on the learner's vhost carries the learner's namespace."""
    return namespace.owner(broker_name, [learner.namespace]) == learner.namespace


def _delete_exchange(admin, learner: Learner, name: str) -> None:
    try:
        admin.delete_exchange(learner.vhost, name)
    except AdminError:  # rabbitmqctl cannot delete an exchange; the learner's own URL can
        with config.connect(learner.url) as conn, conn.channel() as channel:
            channel.exchange_delete(name)


def status(admin, learners: list[Learner]) -> list[LearnerStatus]:
    """Each learner's connections and queues (by the course's names), from one look at the broker."""
    vhosts = sorted({learner.vhost for learner in learners})
    queues = [q for vhost in vhosts for q in admin.queues(vhost)]
    connections = [c for vhost in vhosts for c in admin.connections(vhost)]
    result = []
    for learner in learners:
        if learner.namespace:
            own = [q for q in queues if q['vhost'] == learner.vhost and _owned(q['name'], learner)]
            conns = [c for c in connections
                     if c.get('user_provided_name') == f'{namespace.CONNECTION_PREFIX}{learner.namespace}']
        else:
            own = [q for q in queues if q['vhost'] == learner.vhost]
            conns = [c for c in connections if c['vhost'] == learner.vhost]
        rows = tuple(sorted((QueueStatus(_course_name(q['name'], learner.namespace), q['messages_ready'],
                                         q['messages_unacknowledged'], q['consumers']) for q in own),
                            key=lambda row: row.name))
        result.append(LearnerStatus(learner, len(conns), rows))
    return result


def _course_name(broker_name: str, learner_namespace: str) -> str:
    """'ada.media_exchange.video_queue' -> 'media_exchange/video_queue' (queues are shown with their exchange)."""
    if learner_namespace:
        broker_name = broker_name[len(learner_namespace) + 1:]
    return broker_name.replace(namespace.SEPARATOR, '/', 1) if '.' in broker_name else broker_name


def table(statuses: list[LearnerStatus]) -> str:
    """The terminal dashboard: one line per learner, then one per queue with messages or consumers."""
    lines = [f'{"learner":<12} {"conns":>5} {"consumers":>9} {"ready":>6} {"unacked":>7}  flags']
    for s in statuses:
        ready = sum(q.ready for q in s.queues)
        unacked = sum(q.unacked for q in s.queues)
        mark = '⚠ ' + '; '.join(s.flags) if s.flags else 'ok'
        lines.append(f'{s.learner.name:<12} {s.connections:>5} {s.consumers:>9} {ready:>6} {unacked:>7}  {mark}')
        for q in s.queues:
            if q.ready or q.unacked or q.consumers:
                lines.append(f'    {q.name:<36} ready {q.ready:>5}  unacked {q.unacked:>5}  consumers {q.consumers}')
    return '\n'.join(lines)


def save_roster(path: str | Path, learners: list[Learner]) -> None:
    Path(path).write_text(json.dumps([asdict(learner) for learner in learners], indent=1) + '\n')


def load_roster(path: str | Path) -> list[Learner]:
    try:
        rows = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f'no roster at {path}: run "python -m teacher.classroom create N" first') from None
    return [Learner(**row) for row in rows]


def main(argv: list[str] | None = None) -> int:
    """Create, watch and remove a class's places on one RabbitMQ."""
    parser = argparse.ArgumentParser(prog='python -m teacher.classroom', description=main.__doc__)
    parser.add_argument('--roster', default=DEFAULT_ROSTER, help=f'the class file (default {DEFAULT_ROSTER})')
    parser.add_argument('--api', default=DEFAULT_API, help=f'management API (default {DEFAULT_API})')
    parser.add_argument('--admin', default='guest:guest', help='USER:PASSWORD for the API (default guest:guest)')
    commands = parser.add_subparsers(dest='command', required=True)
    make = commands.add_parser('create', help='make N learners and print their settings')
    make.add_argument('count', type=int)
    make.add_argument('--mode', choices=MODES, default='vhosts')
    make.add_argument('--prefix', default='class_')
    make.add_argument('--url', default=None, help='namespaces mode: the URL all learners share')
    make.add_argument('--host', default='127.0.0.1', help='vhosts mode: the host learners connect to')
    make.add_argument('--port', type=int, default=5672)
    watch = commands.add_parser('status', help='the dashboard, as a table')
    watch.add_argument('--watch', type=float, default=0, metavar='SECONDS', help='redraw every SECONDS')
    commands.add_parser('remove', help="delete the learners' vhosts and users, or their namespaced queues")
    args = parser.parse_args(argv)
    user, _, password = args.admin.partition(':')
    try:
        if args.command == 'create':
            learners = plan(args.count, args.mode, prefix=args.prefix, url=args.url, host=args.host, port=args.port)
            if args.mode == 'vhosts':
                create(admin_client(args.api, user, password), learners)
            save_roster(args.roster, learners)
            for learner in learners:
                print(f'{learner.name}: {learner.env_line}')
            print(f'# roster saved to {args.roster}; remove with: python -m teacher.classroom remove', file=sys.stderr)
            return 0
        learners = load_roster(args.roster)
        admin = admin_client(args.api, user, password)
        if args.command == 'remove':
            for line in remove(admin, learners):
                print('removed', line)
            return 0
        while True:
            print(table(status(admin, learners)), flush=True)
            if not args.watch:
                return 0
            time.sleep(args.watch)
            print()
    except (AdminError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == '__main__':
    sys.exit(main())
