"""The exercise's self-check: send the learner's tasks through Celery, see where they land (06_celery).

``check_routing(task_queues, task_routes, wanted)`` builds a Celery app from the learner's
settings, sends each task in ``wanted`` (no worker runs), reads on the broker which queues
hold it, and returns one line: ✅, or ❌ with a hint for the first task that landed wrong.
It never raises: a learner's mistake is a ❌ and a hint, not a traceback.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from celery import Celery
from celery.app.routes import prepare
from kombu import Exchange, Queue, binding

from .. import config
from ..celery_app import landing
from ..topology import delete_entities

__all__ = ['check_routing']

DEFAULT_QUEUE = 'celery'  # Celery's task_default_queue when nobody sets it


def _noop(*args, **kwargs) -> None:
    """The exercise's tasks do nothing: only where they land matters."""


def _exchanges(queues) -> list[Exchange]:
    found = []
    for queue in queues:
        for ex in [queue.exchange, *(b.exchange for b in queue.bindings or ())]:
            if ex is not None and ex.name and ex not in found:
                found.append(ex)
    return found


def _forget(url: str, queues, exchanges, extra_queues=()) -> None:
    """Delete queues and exchanges (each on a channel of its own: a failed delete closes it on RabbitMQ)."""
    with config.connect(url) as conn:
        delete_entities(conn, [*queues, *(Queue(name) for name in extra_queues), *exchanges])
        channel = conn.default_channel
        for exchange in exchanges if hasattr(channel, 'keyprefix_queue') else []:
            # redis:// keeps an exchange's bindings in one key that deleting from another
            # connection leaves behind: remove it (this exchange's name is the check's own).
            channel.client.delete(channel.keyprefix_queue % exchange.name)


def _bindings(queue: Queue) -> list[tuple[str, str, str]]:
    """(exchange name, exchange type, binding key) of each binding of ``queue``."""
    if queue.bindings:
        return [(b.exchange.name, b.exchange.type, b.routing_key) for b in queue.bindings]
    if queue.exchange is not None and queue.exchange.name:
        return [(queue.exchange.name, queue.exchange.type, queue.routing_key or '')]
    return []


def _shape_problem(task_queues, task_routes) -> str:
    """A hint when the settings do not have the shapes Celery expects, else ''."""
    if isinstance(task_queues, (str, bytes, Queue)) or not isinstance(task_queues, (list, tuple)):
        return ('❌ task_queues should be a list of kombu Queue objects, e.g. '
                "[Queue(PAYMENTS, shop, routing_key='orders.#'), ...]")
    strays = [q for q in task_queues if not isinstance(q, Queue)]
    if strays:
        return (f'❌ task_queues holds {strays[0]!r}, not a kombu Queue. Hint: write '
                "Queue(name, exchange, routing_key='…') for each queue")
    if not (isinstance(task_routes, (Mapping, list, tuple)) or callable(task_routes)):
        return ('❌ task_routes should be a dict {task name or pattern: route}, a router function, '
                f'or a list of them; got {type(task_routes).__name__}')
    return ''


def _route_problem(app: Celery, task: str) -> str:
    """Ask Celery's router for ``task``'s options; a hint when the router itself fails."""
    try:
        app.amqp.router.route({}, task)
    except TypeError as exc:
        return (f'❌ Celery could not call your router for {task!r}: {exc}. Hint: Celery calls a router '
                'function as router(name, args, kwargs, options, task=None, **kw)')
    except Exception as exc:  # noqa: BLE001 (the learner's router may raise anything)
        return f'❌ routing {task!r} raised {type(exc).__name__}: {exc}'
    return ''


def _first_route(routers, task: str):
    """What the first of ``routers`` that knows ``task`` returns, called as Celery calls it (else None)."""
    for router in routers:
        route = router(task, (), {}, {}, task=None)
        if route is not None:
            return route
    return None


def _lookup(task_routes, task: str):
    """The route the learner's task_routes give ``task`` (None when no name, pattern or router matches)."""
    try:
        return _first_route(prepare(task_routes), task)
    except Exception:  # noqa: BLE001
        return None


class _Renamed:
    """The learner's settings with every exchange renamed for one try of the check.

    Each try declares its exchanges afresh under a new name, so nothing an earlier try declared (an
    exchange of another type, a stray binding: brokers keep both) changes what this try observes.
    Queue names stay: the queues are emptied before each try.
    """

    def __init__(self, task_queues, task_routes) -> None:
        self.suffix = f'.try-{uuid.uuid4().hex[:8]}'
        self.queues = {q.name: self.queue(q) for q in task_queues}
        self.routers = prepare(task_routes)

    def exchange(self, ex: Exchange | str | None):
        if isinstance(ex, Exchange):
            if not ex.name:
                return ex
            return Exchange(ex.name + self.suffix, type=ex.type, durable=ex.durable, auto_delete=ex.auto_delete,
                            arguments=ex.arguments)
        return ex + self.suffix if isinstance(ex, str) and ex and ex != DEFAULT_QUEUE else ex

    def queue(self, q: Queue) -> Queue:
        return Queue(q.name, self.exchange(q.exchange), routing_key=q.routing_key,
                     bindings=[binding(self.exchange(b.exchange), routing_key=b.routing_key, arguments=b.arguments)
                               for b in q.bindings or ()] or None,
                     durable=q.durable, auto_delete=q.auto_delete, queue_arguments=q.queue_arguments)

    def route(self, name, args, kwargs, options, task=None, **kw):
        """The learner's routers, asked as Celery asks them, with the exchanges in their answer renamed."""
        route = _first_route(self.routers, name) if not kw else None
        if isinstance(route, Mapping):
            route = dict(route)
            if 'exchange' in route:
                route['exchange'] = self.exchange(route['exchange'])
            if isinstance(route.get('queue'), Queue):
                route['queue'] = self.queues.get(route['queue'].name, route['queue'])
        return route

    def exchanges(self) -> list[Exchange]:
        return _exchanges(self.queues.values())


def _diagnose(task_routes, task: str, want: str, got: dict[str, int], queues: list[Queue],
              short: Callable[[str], str]) -> str:
    """The ❌ line and hint for ``task``, which should have landed once in ``want`` and landed in ``got``."""
    route = _lookup(task_routes, task)
    where = ', '.join(f'{short(q)}' + (f' ({n} copies)' if n > 1 else '') for q, n in sorted(got.items()))
    only = 'only ' if want in got else ''
    said = f'❌ {task} landed in {where or "no queue"}, not {only}in {short(want)}.'
    mine = {q.name for q in queues}
    all_bindings = [b for q in queues for b in _bindings(q)]
    if isinstance(route, Mapping) and 'routing_key' in route and not route.get('routing_key') \
            and 'queue' not in route:
        return (f"{said} Hint: its route's routing_key is empty, and an empty key matches no binding "
                "(Celery even treats such a route as a direct one and sends it by queue name, and it names "
                f"no queue). Give the route a key that a binding of {short(want)} matches, "
                f"or route with {{'queue': …}} naming {short(want)}")
    if isinstance(route, str) and route not in mine:
        return (f"{said} Hint: your router returned the string {route!r}. Celery reads a string as a queue "
                f"*name* (and created a queue called {route!r} for it), not as a routing key. Return a dict: "
                "{'exchange': …, 'routing_key': …} or {'queue': …}")
    if DEFAULT_QUEUE in got and DEFAULT_QUEUE not in mine:
        if route is None:
            return (f"{said} Hint: {task!r} matched none of your task_routes (a name, a glob such as "
                    "'shop.orders.*', or a re.compile(...) pattern), so Celery used its default queue "
                    f"{DEFAULT_QUEUE!r}. Check the spelling of the pattern against the task's name")
        if isinstance(route, Mapping) and not route.get('exchange') and not route.get('queue'):
            return (f'{said} Hint: the route has a routing_key but no exchange or queue. Celery then takes its '
                    f"default queue {DEFAULT_QUEUE!r}, whose exchange is direct, and sends by that queue's name: "
                    "your key is ignored. Add 'exchange': SHOP to the route (or route with {'queue': …})")
    if want not in mine:
        return f'{said} Hint: task_queues has no queue {short(want)}: add Queue({short(want)}, shop, routing_key=…)'
    not_topic = sorted({(ex, kind) for ex, kind, key in all_bindings if kind != 'topic' and set(key) & {'*', '#'}})
    if not_topic and not got:
        ex, kind = not_topic[0]
        return (f"{said} Hint: exchange {short(ex)!r} is {kind!r}: a {kind} exchange compares keys as plain text, "
                "so a wildcard binding such as 'orders.#' never matches. Declare it with "
                f"Exchange({short(ex)!r}, type='topic')")
    if len(got) > 1:
        return (f'{said} Hint: a task runs in every queue its key reaches, so each task needs a key that only '
                "its own queue's bindings match. Bindings: "
                + '; '.join(f'{short(q.name)} ← {", ".join(repr(k) for _e, _t, k in _bindings(q))}' for q in queues))
    key = route.get('routing_key') if isinstance(route, Mapping) else None
    hint = f' Its routing key is {key!r}.' if key else ''
    return (f'{said}{hint} Hint: the broker matches the key against every binding of the exchange; '
            f"make {short(want)}'s binding match this task's key and no other queue's")


def check_routing(task_queues: Any, task_routes: Any, wanted: Mapping[str, str], url: str | None = None,
                  short: Callable[[str], str] = str) -> str:
    """✅ when every task in ``wanted`` ({task name: queue}) lands once in its queue and nowhere else.

    The tasks are sent with Celery (``send_task``) on the broker at ``url``; no worker runs, so the
    queues' message counts are where they landed.  ``short`` turns a broker name into the one to print.
    """
    url = config.broker_url(url)
    problem = _shape_problem(task_queues, task_routes)
    if problem:
        return problem
    queues = list(task_queues)
    app = Celery('exercise', broker=url, set_as_current=False)
    renamed = None
    try:
        renamed = _Renamed(queues, task_routes)
        _forget(url, renamed.queues.values(), [], [DEFAULT_QUEUE])  # every try starts with empty queues
        app.conf.update(task_queues=list(renamed.queues.values()), task_routes=[renamed.route],
                        broker_transport_options=dict(config.TRANSPORT_OPTIONS[config.transport_of(url)]),
                        broker_connection_retry_on_startup=True, task_ignore_result=True)
        for task in wanted:
            app.task(name=task, shared=False, lazy=False)(_noop)
        for task in wanted:
            problem = _route_problem(app, task)
            if problem:
                return problem
        done = []
        for task, want in wanted.items():
            got = landing(app, lambda task=task: app.send_task(task))
            if got != {want: 1}:
                return _diagnose(task_routes, task, want, got, queues, short)
            done.append(f'{task} → {short(want)}')
        return '✅ every task landed once, in its own queue: ' + '; '.join(done)
    except Exception as exc:  # noqa: BLE001 (a broker refusal, a bad Queue: a hint, never a traceback)
        text = str(exc)
        if 'PRECONDITION_FAILED' in text or 'inequivalent' in text or 'NotEquivalent' in type(exc).__name__:
            return (f'❌ the broker refused a declaration: {text}. Hint: two declarations of one exchange '
                    'disagree (say, type topic in one Queue and direct in another): use the same Exchange object')
        return f'❌ {type(exc).__name__}: {text}'
    finally:
        try:
            created = [q for name, q in app.amqp.queues.items() if name not in {q.name for q in queues}]
        except Exception:  # noqa: BLE001 (settings Celery could not even read)
            created = []
        if renamed is not None:
            _forget(url, [*renamed.queues.values(), *created], [*renamed.exchanges(), *_exchanges(created)],
                    [DEFAULT_QUEUE])
        app.close()
