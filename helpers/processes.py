"""Worker processes started, watched and stopped from a notebook (05_scaling_out).

Each process runs ``python -m helpers.worker --json``, or a learner's worker
script (``WorkerFleet(script=...)``), and prints one JSON line per event
(``helpers.worker_cli`` writes and reads them).  A reader thread per process
(it never prints) turns those lines into events in the process's own EventLog,
so the notebook waits on events as it does for worker threads, and learns which
process handled which message.  No process outlives the Python that started it
(stdin EOF, and an atexit hook); starting a fleet stops the one before on the
same queues.  Also here: ``replay`` (05's outputs recorded on RabbitMQ, shown
where a broker cannot run a cell); 05's exercise check is ``helpers.checks.scaling``.
"""
from __future__ import annotations

import atexit
import base64
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from . import config
from . import namespace as namespaces
from .events import ACKED, DELIVERED, Event, EventLog
from .topology import Topology
from .worker_cli import ERROR, READY, STOPPED, read_line

__all__ = ['WorkerProcess', 'WorkerFleet', 'worker_command', 'script_command', 'needs_rabbitmq', 'shares_queues',
           'replay', 'idle_hint']

_HELPERS_ROOT = str(Path(__file__).resolve().parent.parent)


def needs_rabbitmq(url: str | None = None) -> str:
    """'' on RabbitMQ, else one line saying why the scaling-out cells are skipped on this broker."""
    transport = config.transport_of(url)
    if transport == 'amqp':
        return ''
    why = {'memory': config.MEMORY_IS_PRIVATE,
           'redis': "redis:// gives unacked messages back only after a visibility timeout (1 h)"}
    return f'skipped on {transport}://: {why[transport]}; set BROKER_URL=amqp://... to run it'


def shares_queues(url: str | None = None) -> bool:
    """Whether processes other than this one can reach the broker's queues (not on memory://)."""
    return config.transport_of(url) != 'memory'


def idle_hint(fleet: WorkerFleet | None, need: int = 1) -> str:
    """'' when at least ``need`` of the fleet's processes run, else a hint saying which cell to run again."""
    running = len(fleet.running()) if fleet is not None else 0
    if running >= need:
        return ''
    return (f'{running} worker process{"" if running == 1 else "es"} running here, {need} needed '
            '(they were stopped, or never started): run the cell that starts them again, then this one')


def script_command(script: str, topology: Topology, queues: Iterable[str] | None = None, *, name: str = 'w1',
                   python: str = 'python') -> list[str]:
    """The command line that runs a worker script: ``python SCRIPT NAME EXCHANGE QUEUE=KEY...`` (broker names)."""
    wanted = set(topology.queue_names if queues is None else queues)
    binds = [f'{topology.broker_queue_name(queue)}={key}' for queue, key in topology.bindings if queue in wanted]
    return [python, script, name, topology.broker_exchange_name, *binds]


# Runs a script as __main__ after starting a thread that ends the process when stdin closes:
# a script started by a kernel that dies then goes too, without a line of its own for it.
_LAUNCHER = ('import os, runpy, sys, threading\n'
             'threading.Thread(target=lambda: (sys.stdin.read(), os._exit(3)), daemon=True).start()\n'
             'sys.argv = sys.argv[1:]\n'
             "runpy.run_path(sys.argv[0], run_name='__main__')\n")


def _launched(command: list[str]) -> list[str]:
    """``[python, script, *args]`` run through the launcher that stops it when its parent goes."""
    python, script, *args = command
    return [python, '-c', _LAUNCHER, script, *args]


def worker_command(topology: Topology, queues: Iterable[str] | None = None, *, name: str = 'w1',
                   prefetch: int = 1, work_seconds: float = 0.0, python: str = 'python') -> list[str]:
    """The command line that runs one worker process for ``topology`` (the broker comes from $BROKER_URL)."""
    command = [python, '-m', 'helpers.worker', '--exchange', topology.exchange_name]
    for queue, key in topology.bindings:
        command += ['--bind', f'{queue}={key}']
    if queues is not None:
        command += ['--queues', ','.join(queues)]
    command += ['--prefetch', str(prefetch), '--name', name]
    if work_seconds:
        command += ['--work-seconds', f'{work_seconds:g}']
    return command


class WorkerProcess:
    """One ``python -m helpers.worker`` process whose events land in ``self.log``."""

    def __init__(self, command: list[str], name: str, url: str, on_event: Callable[[], None],
                 course_options: bool = True, namespace: str | None = None) -> None:
        self.name = name
        self.log = EventLog()
        self.stopped_line: dict | None = None
        self.error_line: dict | None = None  # the process's error line, if it could not run
        self._terminated = False
        self._ready = threading.Event()
        self._on_event = on_event
        env = {**os.environ, 'BROKER_URL': url, 'PYTHONUNBUFFERED': '1',
               'PYTHONPATH': os.pathsep.join(filter(None, [_HELPERS_ROOT, os.environ.get('PYTHONPATH')]))}
        if namespace is not None:  # the process builds its topology in the namespace of its parent's
            env[namespaces.ENV_VAR] = namespace
        self._errors = tempfile.TemporaryFile('w+')  # a file, not a pipe: a chatty worker never blocks on it
        # stdin stays open as a pipe: if this Python process dies, the worker sees EOF and stops
        # (the course's worker with --stop-on-eof; a script through the launcher, which exits on EOF).
        command = [*command, '--json', '--stop-on-eof'] if course_options else _launched(command)
        self.popen = subprocess.Popen(command, env=env, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._errors, text=True)
        _every_process.add(self)
        self._reader = threading.Thread(target=self._read, name=f'helpers-reader-{name}', daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def is_running(self) -> bool:
        return self.popen.poll() is None

    def _read(self) -> None:
        for line in self.popen.stdout:
            fields = read_line(line)
            if fields is None:
                continue  # not one of ours
            kind = fields['kind']
            if kind == READY:
                self._ready.set()
            elif kind == STOPPED:
                self.stopped_line = fields
            elif kind == ERROR:
                self.error_line = fields
            else:
                self.log.record(kind, fields.get('message_id', ''), fields.get('routing_key', ''),
                                fields.get('queue', ''), fields.get('detail', ''))
            self._on_event()
        self._on_event()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the process consumes; raise RuntimeError with its error output if it exits first."""
        # A ceiling, not a pause: a process consumes about 1 s after its start on idle cores; a class of eight
        # on 2 cores (load average 21) once took over 30 s.
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if not self.is_running or time.monotonic() > deadline:
                if self.is_running:
                    self.popen.kill()
                self.popen.wait()
                self._errors.seek(0)  # before _close() closes it
                error = self._errors.read().strip().splitlines()
                self._close()
                why = error[-1] if error else f'not consuming after {timeout:g} s'
                raise RuntimeError(f'worker process {self.name} did not start: {why}')

    def handled(self) -> list[str]:
        """The ids of the messages this process acked, in order."""
        return self.log.ids(ACKED)

    def kill(self) -> None:
        """SIGKILL: the process dies at once, in the middle of whatever it was doing."""
        if self.is_running:
            self.popen.kill()
        self._close()

    def terminate(self) -> None:
        """Send SIGTERM once (a second one could land while Python shuts down and kill it)."""
        if self.is_running and not self._terminated:
            self._terminated = True
            self.popen.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then wait: the worker finishes the message in hand, acks it and exits; returns its exit code."""
        self.terminate()
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)
            raise RuntimeError(f'worker process {self.name} ignored SIGTERM for {timeout:g} s; killed it') from None
        self._close()
        return code

    def _close(self) -> None:
        self.popen.wait()
        self._reader.join(5)
        for stream in (self.popen.stdin, self.popen.stdout, self._errors):
            try:
                stream.close()
            except OSError:  # stdin of a killed process: nobody left to flush to
                pass

    def __repr__(self) -> str:
        state = 'running' if self.is_running else f'exited ({self.popen.returncode})'
        return f'<WorkerProcess {self.name} {state}>'


class WorkerFleet:
    """Several worker processes on one topology; ``wait_*`` methods block on their events.

    By default each runs the course's ``python -m helpers.worker``; with ``script=`` each runs
    ``python SCRIPT NAME EXCHANGE QUEUE=KEY...`` instead (``script_command``), a script that prints
    the same JSON lines (``helpers.worker_cli.event_line``: ready, delivered, acked).  Starting a fleet
    stops any fleet started before on one of its queues: re-running a cell never leaves two.
    """

    def __init__(self, size: int, topology: Topology, queues: Iterable[str] | None = None, *,
                 url: str | None = None, prefetch: int = 1, work_seconds: float = 0.0,
                 script: str | None = None) -> None:
        self.url = config.broker_url(url)
        if not shares_queues(self.url):
            raise RuntimeError(needs_rabbitmq(self.url))
        self.topology = topology
        self.queues = list(queues) if queues is not None else topology.queue_names
        self.size = size
        self.prefetch = prefetch
        self.work_seconds = work_seconds
        self.script = script
        self.processes: list[WorkerProcess] = []
        self._changed = threading.Condition()
        # {kind: {message id: the first process that logged it}}, kept as events arrive: O(1) waits.
        self._first: dict[str, dict[str, WorkerProcess]] = {DELIVERED: {}, ACKED: {}}

    @property
    def claims(self) -> set[str]:
        """The broker names of the queues this fleet consumes from."""
        return {self.topology.broker_queue_name(queue) for queue in self.queues}

    def command(self, name: str) -> list[str]:
        """The command line of the process called ``name``."""
        if self.script is not None:
            return script_command(self.script, self.topology, self.queues, name=name, python=sys.executable)
        return worker_command(self.topology, self.queues, name=name, prefetch=self.prefetch,
                              work_seconds=self.work_seconds, python=sys.executable)

    def start(self, timeout: float = 60.0) -> WorkerFleet:
        """Start every process, then return once all of them consume."""
        for other in list(_started):
            if other is not self and other.claims & self.claims:
                other.stop()  # a re-run cell: the fleet it started before goes first
        for number in range(1, self.size + 1):
            name = f'w{number}'
            process = WorkerProcess(self.command(name), name, self.url, self._notify,
                                    course_options=self.script is None, namespace=self.topology.namespace)
            self._index(process)
            self.processes.append(process)
        _started.append(self)
        try:
            for process in self.processes:
                process.wait_ready(timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def _index(self, process: WorkerProcess) -> None:
        def note(event: Event) -> None:
            if event.kind in self._first:
                self._first[event.kind].setdefault(event.message_id, process)
        process.log.subscribe(note)
        for event in process.log.events():  # anything its reader logged before the subscription
            note(event)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def __iter__(self) -> Iterator[WorkerProcess]:
        return iter(self.processes)

    def running(self) -> list[WorkerProcess]:
        """The processes that have not exited."""
        return [p for p in self.processes if p.is_running]

    def handled(self) -> dict[str, list[str]]:
        """{process name: ids of the messages it acked}."""
        return {p.name: p.handled() for p in self.processes}

    def acked_ids(self) -> Counter:
        """How many times each message id was acked, over all processes."""
        return Counter(mid for p in self.processes for mid in p.handled())

    def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0, what: str = 'the events') -> None:
        """Block until ``condition()`` is true; raise TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f'waited {timeout:g} s for {what}; handled so far: {self.handled()}')
                self._changed.wait(min(remaining, 0.5))

    def wait_acked(self, count: int, timeout: float = 30.0) -> None:
        """Block until ``count`` acks in total were reported."""
        self.wait_until(lambda: sum(p.log.count(ACKED) for p in self.processes) >= count, timeout,
                        f'{count} acked messages')

    def wait_received(self, message_id: str, timeout: float = 30.0) -> WorkerProcess:
        """Block until some process received ``message_id``; return the first that did."""
        return self._wait_first(DELIVERED, message_id, timeout, f'a process to receive {message_id}')

    def wait_handled(self, message_id: str, timeout: float = 30.0) -> WorkerProcess:
        """Block until some process acked ``message_id``; return the first that did."""
        return self._wait_first(ACKED, message_id, timeout, f'a process to ack {message_id}')

    def _wait_first(self, kind: str, message_id: str, timeout: float, what: str) -> WorkerProcess:
        first = self._first[kind]
        self.wait_until(lambda: message_id in first, timeout, what)
        return first[message_id]

    def stop(self, timeout: float = 10.0) -> dict[str, int]:
        """SIGTERM every running process, wait for each; return {name: exit code}."""
        for process in self.running():
            process.terminate()  # all at once, so they stop in parallel
        try:
            codes = {p.name: p.stop(timeout) for p in self.processes}
        finally:
            if self in _started:
                _started.remove(self)
        return codes

    def __enter__(self) -> WorkerFleet:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


_started: list[WorkerFleet] = []
_every_process: weakref.WeakSet[WorkerProcess] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """Kill every worker process started here and not stopped (in a fleet or alone): none outlives this Python."""
    for process in [*(p for fleet in list(_started) for p in fleet.processes), *list(_every_process)]:
        if process.is_running:
            process.popen.kill()


# -- outputs recorded on RabbitMQ, shown where a cell cannot run (memory://, or redis:// for a kill) ----------

_WHY_RECORDED = {
    'memory': 'memory:// lives inside this kernel, so no worker process can reach it',
    'redis': "redis:// gives a killed worker's message back only after a visibility timeout (1 h by default)",
}


def replay(name: str, url: str | None = None) -> None:
    """Print what cell ``name`` printed on RabbitMQ, under one line saying where, when and why it is recorded."""
    from . import recorded_05  # the outputs of 05_scaling_out as stored from RabbitMQ (write_recordings)

    cell = recorded_05.CELLS[name]
    why = _WHY_RECORDED.get(config.transport_of(url), 'this broker cannot run it')
    print(f'(recorded on RabbitMQ {recorded_05.RABBITMQ} with kombu {recorded_05.KOMBU}, '
          f'{recorded_05.DATE}: {why})')
    print(cell['text'], end='')
    if cell.get('png'):
        from IPython.display import Image, display
        display(Image(data=base64.b64decode(cell['png'])))


def write_recordings(notebook: str | Path, url: str, target: str | Path | None = None) -> Path:
    """Store the outputs of the cells tagged ``recorded:NAME`` in ``notebook`` (run on RabbitMQ at ``url``)."""
    import datetime
    import json

    import kombu

    with config.connect(url) as conn:
        conn.ensure_connection(max_retries=1)
        version = conn.connection.server_properties.get('version', '?')
    if isinstance(version, bytes):
        version = version.decode()
    cells = {}
    for cell in json.loads(Path(notebook).read_text())['cells']:
        names = [t.split(':', 1)[1] for t in cell.get('metadata', {}).get('tags', []) if t.startswith('recorded:')]
        if not names:
            continue
        text, png = '', ''
        for output in cell.get('outputs', []):
            if output.get('output_type') == 'stream' and output.get('name') == 'stdout':
                text += ''.join(output['text'])
            elif 'image/png' in output.get('data', {}):
                png = ''.join(output['data']['image/png']).replace('\n', '')
        cells[names[0]] = {'text': text, 'png': png} if png else {'text': text}
    target = Path(target) if target else Path(__file__).with_name('recorded_05.py')
    lines = ['# ruff: noqa: E501 (recorded output lines are kept whole)',
             '"""Outputs of 05_scaling_out\'s RabbitMQ-only cells, stored from RabbitMQ (processes.write_recordings).',
             '', 'Shown by ``processes.replay`` where the broker cannot run those cells; regenerate after',
             're-storing the notebook: python -m helpers.processes NOTEBOOK AMQP_URL', '"""',
             f'RABBITMQ = {version!r}', f'KOMBU = {kombu.__version__!r}',
             f'DATE = {datetime.date.today().isoformat()!r}', 'CELLS = {']
    for name, cell in sorted(cells.items()):
        lines.append(f'    {name!r}: {{')
        lines.append(f"        'text': {cell['text']!r},")
        if 'png' in cell:
            png = cell['png']
            lines.append("        'png': (")
            lines += [f'            {png[i:i + 4000]!r}' for i in range(0, len(png), 4000)]
            lines.append('        ),')
        lines.append('    },')
    lines.append('}')
    target.write_text('\n'.join(lines) + '\n')
    return target


if __name__ == '__main__':
    import argparse

    parser = argparse.ArgumentParser(description="store 05's RabbitMQ outputs in helpers/recorded_05.py")
    parser.add_argument('notebook', help='notebooks/05_scaling_out.ipynb, executed on RabbitMQ')
    parser.add_argument('url', help='the RabbitMQ it ran on (its version goes in the recording)')
    args = parser.parse_args()
    print(write_recordings(args.notebook, args.url))
