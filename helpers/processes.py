"""Worker processes started, watched and stopped from a notebook (05_scaling_out).

Each process runs ``python -m helpers.worker --json``, or a learner's worker
script (``WorkerFleet(script=...)``), and prints one JSON line per event
(``helpers.worker_cli`` writes and reads them).  A reader thread per process
(it never prints) turns those lines into events in the process's own EventLog,
so the notebook waits on events as it does for worker threads, and learns which
process handled which message.  No process outlives the Python that started it
(stdin EOF, and an atexit hook); starting a fleet stops the one before on the
same queues.  Also here: ``replay`` (05's outputs recorded on RabbitMQ, shown
where a broker cannot run a cell) and ``check_worker_script`` (05's exercise).
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
from .events import ACKED, DELIVERED, Event, EventLog
from .topology import Topology
from .worker_cli import ERROR, READY, STOPPED, read_line

__all__ = ['WorkerProcess', 'WorkerFleet', 'worker_command', 'script_command', 'needs_rabbitmq', 'shares_queues',
           'replay', 'check_worker_script', 'idle_hint']

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
                 course_options: bool = True) -> None:
        self.name = name
        self.log = EventLog()
        self.stopped_line: dict | None = None
        self.error_line: dict | None = None  # the process's error line, if it could not run
        self._terminated = False
        self._ready = threading.Event()
        self._on_event = on_event
        env = {**os.environ, 'BROKER_URL': url, 'PYTHONUNBUFFERED': '1',
               'PYTHONPATH': os.pathsep.join(filter(None, [_HELPERS_ROOT, os.environ.get('PYTHONPATH')]))}
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

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the process consumes; raise RuntimeError with its error output if it exits first."""
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

    def start(self, timeout: float = 30.0) -> WorkerFleet:
        """Start every process, then return once all of them consume."""
        for other in list(_started):
            if other is not self and other.claims & self.claims:
                other.stop()  # a re-run cell: the fleet it started before goes first
        for number in range(1, self.size + 1):
            name = f'w{number}'
            process = WorkerProcess(self.command(name), name, self.url, self._notify,
                                    course_options=self.script is None)
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


# -- the exercise of 05_scaling_out: a learner's worker script, run as several copies -----------------------

JOB_KEYS = ('video.upload', 'video.transcode', 'image.upload', 'video.upload', 'image.upload', 'video.transcode')
SLOW_ID = 'job-slow'


class _ThreadCopies:
    """On memory://: copies of a script's ConsumerMixin as threads of this kernel, their JSON lines in logs."""

    def __init__(self, namespace: dict, topology: Topology, url: str, size: int) -> None:
        from kombu import Queue
        from kombu.mixins import ConsumerMixin

        classes = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, ConsumerMixin)
                   and v is not ConsumerMixin and v.__module__ == namespace['__name__']]
        if len(classes) != 1:
            raise _Verdict(f'❌ your script defines {len(classes)} ConsumerMixin classes. Hint: keep one, '
                           'class Worker(ConsumerMixin), built as Worker(connection, name, queues)')
        self.channels: list = []
        channels = self.channels

        class Probe(classes[0]):  # notes each channel, to see which messages are still unacked
            def on_consume_ready(self, connection, channel, consumers, **kwargs):
                channels.append(channel)
                return super().on_consume_ready(connection, channel, consumers, **kwargs)

        exchange = topology.exchange()  # the queues as a script builds them from its command line
        queues = [Queue(topology.broker_queue_name(q), exchange, routing_key=key) for q, key in topology.bindings]
        self.names = [f'w{n}' for n in range(1, size + 1)]
        self.logs = {name: EventLog() for name in self.names}
        self.errors: dict[str, str] = {}
        self._buffers: dict[str, str] = {name: '' for name in self.names}
        self.workers = {}
        for name in self.names:
            try:
                self.workers[name] = Probe(config.connect(url), name, queues)
            except Exception as exc:  # noqa: BLE001 (the learner's __init__)
                raise _Verdict(f'❌ Worker(connection, name, queues) raised {config.one_line(exc)}. Hint: keep '
                               'the starter\'s __init__(self, connection, name, queues)') from None
        self.threads = {name: threading.Thread(target=self._run, args=(name,), name=f'job-worker-{name}',
                                               daemon=True) for name in self.names}

    def _run(self, name: str) -> None:
        try:
            self.workers[name].run()
        except Exception as exc:  # noqa: BLE001 (the learner's code)
            self.errors[name] = f'{type(exc).__name__}: {config.one_line(exc)}'

    def write(self, text: str) -> int:
        """sys.stdout while the copies run: each thread's lines go to its own log, never to a cell."""
        name = threading.current_thread().name.removeprefix('job-worker-')
        if name not in self._buffers:
            return len(text)
        lines = (self._buffers[name] + text).split('\n')
        self._buffers[name] = lines.pop()
        for line in lines:
            _log_line(self.logs[name], read_line(line))
        return len(text)

    def flush(self) -> None:
        pass

    def start(self) -> None:
        for thread in self.threads.values():
            thread.start()

    def unacked(self, message_id: str) -> bool:
        return any(message.properties.get('message_id') == message_id
                   for channel in self.channels for tag, message in list(channel.qos._delivered.items())
                   if tag not in channel.qos._dirty)

    def stop(self) -> list[str]:
        """Stop every copy; return the names of those still running 5 s later."""
        for worker in self.workers.values():
            worker.should_stop = True
        for thread in self.threads.values():
            if thread.is_alive():
                thread.join(5)
        return [name for name, thread in self.threads.items() if thread.is_alive()]


class _Verdict(Exception):
    """A ❌ found before the end of the check."""


def _log_line(log: EventLog, fields: dict | None) -> None:
    if fields is not None and fields['kind'] not in (READY, STOPPED, ERROR):
        log.record(fields['kind'], str(fields.get('message_id', '')), str(fields.get('routing_key', '')),
                   str(fields.get('queue', '')), str(fields.get('detail', '') or ''))


def check_worker_script(script: object, topology: Topology, url: str | None = None, *, copies: int = 3) -> str:
    """✅ when ``script`` run as ``copies`` processes handles every copy once in its queue and acks after the work.

    On RabbitMQ the check also kills the copy holding a slow job (the job must come back) and stops the others
    with SIGTERM (exit code 0).  On memory:// the copies are threads of this kernel (no process reaches it).
    Never raises: every problem is a ❌ and a hint.  Every process or thread it starts is stopped before it returns.
    """
    try:
        return _check_worker_script(script, topology, config.broker_url(url), copies)
    except _Verdict as verdict:
        return str(verdict)
    except Exception as exc:  # noqa: BLE001 (never a traceback for the learner)
        return f'❌ the check stopped: {config.one_line(exc)}. Hint: run the cells above this one, then try again'


def _check_worker_script(script: object, topology: Topology, url: str, copies: int) -> str:
    if not isinstance(script, str):
        got = 'a class' if isinstance(script, type) else type(script).__name__
        raise _Verdict(f'❌ check_worker needs the text of your script (a string); it got {got}. '
                       "Hint: JOB_WORKER = '''...the script...''', then check_worker(JOB_WORKER)")
    if script.strip().endswith('.py') and '\n' not in script.strip():  # a file name, e.g. from %%writefile
        path = Path(script.strip())
        if not path.is_file():
            raise _Verdict(f'❌ there is no file {str(path)!r} next to this notebook. Hint: write it with '
                           f'%%writefile {path} in a cell above, or give check_worker the script\'s text')
        script = path.read_text()
    try:
        code = compile(script, 'job_worker.py', 'exec')
    except SyntaxError as exc:
        raise _Verdict(f'❌ line {exc.lineno} of your script: {exc.msg}. Hint: fix it; the script is Python') from None
    transport = config.transport_of(url)
    with config.connect(url) as conn:
        topology.reset(conn)  # what an earlier try left in the queues does not count
    if transport == 'memory':
        namespace = {'__name__': 'job_worker'}
        try:
            exec(code, namespace)
        except Exception as exc:  # noqa: BLE001 (the learner's module code)
            raise _Verdict(f'❌ importing your script raised {config.one_line(exc)}. Hint: keep what runs the '
                           "worker under if __name__ == '__main__':") from None
        fleet = _ThreadCopies(namespace, topology, url, copies)
        saved = sys.stdout
        sys.stdout = fleet  # the copies' prints go to their logs, not into this cell
        try:
            fleet.start()
            verdict = _exercise(fleet, fleet.logs, topology, url, transport)
        finally:
            alive = fleet.stop()
            sys.stdout = saved
        if alive:
            return (f'❌ {", ".join(alive)} did not stop 5 s after should_stop = True. Hint: let '
                    'ConsumerMixin.run() run its loop; do not block in get_consumers or a callback')
        return verdict
    with tempfile.TemporaryDirectory(prefix='job_worker_') as folder:
        path = Path(folder) / 'job_worker.py'
        path.write_text(script)
        fleet = WorkerFleet(copies, topology, url=url, script=str(path))
        try:
            try:
                fleet.start(timeout=20)
            except RuntimeError as exc:
                raise _Verdict(f'❌ {exc}. Hint: each copy prints a "ready" line in on_consume_ready; '
                               'the error above is its last line on stderr') from None
            verdict = _exercise(fleet, {p.name: p.log for p in fleet}, topology, url, transport)
        finally:
            try:
                codes = fleet.stop()
            except RuntimeError as exc:
                codes = {'': str(exc)}
    if '' in codes:
        return (f'❌ {codes[""]}. Hint: on SIGTERM set worker.should_stop = True, so a copy ends its job '
                'and stops')
    bad = {name: code for name, code in codes.items() if code not in (0, -signal.SIGKILL)}
    if verdict.startswith('✅') and bad:
        return (f'❌ after SIGTERM, exit codes {bad} (0 is a clean stop). Hint: install a SIGTERM handler that '
                'sets worker.should_stop = True: the copy finishes the job in hand, acks it and returns from run()')
    return verdict


def _exercise(fleet, logs: dict[str, EventLog], topology: Topology, url: str, transport: str) -> str:
    """Publish the jobs, wait, and judge what the copies report; the kill where the broker redelivers."""
    from kombu import Producer

    deadline = time.monotonic() + 20
    if isinstance(fleet, _ThreadCopies):
        while len(fleet.channels) < len(fleet.names) and time.monotonic() < deadline:
            if fleet.errors:
                name, error = sorted(fleet.errors.items())[0]
                raise _Verdict(f'❌ copy {name} stopped: {error}. Hint: look at get_consumers and your callback')
            time.sleep(0.05)
        if len(fleet.channels) < len(fleet.names):
            raise _Verdict('❌ your copies never started consuming. Hint: get_consumers returns a list of '
                           'Consumer objects, one per queue in self.queues')
    expected = Counter()
    jobs = {}
    with config.connect(url) as conn:
        producer = Producer(conn.default_channel, exchange=topology.exchange())
        declare = [topology.exchange(), *topology.queues()]
        for number, key in enumerate(JOB_KEYS, start=1):
            message_id = f'job-{number:02d}'
            jobs[message_id] = key
            producer.publish({'job': number, 'work_seconds': 0.05}, routing_key=key, message_id=message_id,
                             serializer='json', declare=declare)
            for queue in topology.route(key):
                expected[message_id, queue] += 1

        def acked() -> Counter:
            pairs = Counter()
            for log in logs.values():
                for event in log.events(ACKED):
                    try:
                        queue = topology.course_name(event.queue)
                    except ValueError:
                        queue = event.queue
                    pairs[event.message_id, queue] += 1
            return pairs

        wait_end = time.monotonic() + 15
        while sum(acked().values()) < sum(expected.values()) and time.monotonic() < wait_end:
            if len(_crashes(fleet)) == len(logs):
                break  # every copy died: nobody is left to wait for
            time.sleep(0.05)
        time.sleep(0.3)  # a copy handled twice shows up too
        verdict = _judge(acked(), expected, logs, topology)
        crashes = _crashes(fleet)
        if verdict and crashes:
            name, error = sorted(crashes.items())[0]
            return (f'❌ copy {name} stopped with {error}. Hint: that error comes from your worker while it '
                    'handled a job; the body of a job is a dict like {"job": 1, "work_seconds": 0.05}')
        if verdict:
            return verdict
        # A slow job: the copy that holds it must not have acked it before its work is done.
        producer.publish({'job': 'slow', 'work_seconds': 1.5}, routing_key='video.transcode', message_id=SLOW_ID,
                         serializer='json', declare=declare)
        holder = _wait_delivered(logs, SLOW_ID)
        if holder is None:
            return ('❌ no copy printed a "delivered" line for job-slow in 10 s. Hint: print the delivered line '
                    'when a job arrives, before the work')
        early = ('❌ job-slow was acked before its work was done{}. Hint: call message.ack() after the work '
                 '(the sleep), never before: a worker that dies mid-job then loses nothing')
        if transport == 'memory':
            time.sleep(0.4)
            if not fleet.unacked(SLOW_ID):
                return early.format('')
            _wait_acked(logs, SLOW_ID, 5)
            return _passed(logs, expected, 'on memory:// the copies ran as threads of this kernel (no process '
                                            'can reach memory://); run on RabbitMQ to check a kill and SIGTERM too')
        if transport == 'redis':
            time.sleep(0.4)
            channel = conn.default_channel
            held = [v for v in channel.client.hvals(channel.unacked_key) if SLOW_ID.encode() in v]
            if not held:
                return early.format('')
            _wait_acked(logs, SLOW_ID, 5)
            return _passed(logs, expected, 'on redis:// a killed copy\'s job would come back only after the '
                                           'visibility timeout: run on RabbitMQ to check a kill')
        victim = next(p for p in fleet if p.name == holder)
        victim.kill()
        rescuer = _wait_acked(logs, SLOW_ID, 10, besides=holder)
        if rescuer is None:
            return early.format(f' ({holder} was killed mid-job and job-slow never came back)')
        return _passed(logs, expected, f'{holder} was killed holding job-slow and {rescuer} handled it again')


def _crashes(fleet) -> dict[str, str]:
    """{copy: its last error line} for the copies that died on their own (not killed by the check)."""
    if isinstance(fleet, _ThreadCopies):
        return dict(fleet.errors)
    crashes = {}
    for process in fleet:
        if not process.is_running and process.popen.returncode != -signal.SIGKILL:
            process._errors.seek(0)
            lines = process._errors.read().strip().splitlines()
            crashes[process.name] = lines[-1] if lines else f'exit code {process.popen.returncode}'
    return crashes


def _wait_delivered(logs: dict[str, EventLog], message_id: str, timeout: float = 10) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, log in logs.items():
            if message_id in log.ids(DELIVERED):
                return name
        time.sleep(0.02)
    return None


def _wait_acked(logs: dict[str, EventLog], message_id: str, timeout: float, besides: str = '') -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, log in logs.items():
            if name != besides and message_id in log.ids(ACKED):
                return name
        time.sleep(0.02)
    return None


def _judge(pairs: Counter, expected: Counter, logs: dict[str, EventLog], topology: Topology) -> str:
    """'' when every (job, queue) copy was acked once, else ❌ and a hint for the first thing wrong."""
    if not pairs:
        deliveries = Counter(m for log in logs.values() for m in log.ids(DELIVERED))
        again = [(n, m) for m, n in deliveries.items() if n > 2]
        if again:
            times, message_id = max(again)
            return (f'❌ {message_id} was delivered {times} times and never acked: your handler fails on it, and '
                    'ConsumerMixin.run() reconnects after an error it counts as a lost connection (on redis:// a '
                    'KeyError is one) and gets the same job again. Hint: run your handler on a body by hand; the '
                    'body of a job is a dict like {"job": 1, "work_seconds": 0.05}')
        if deliveries:
            return ('❌ your copies received jobs but printed no "acked" line. Hint: after the work, '
                    'message.ack(), then print the acked line with the message id and the queue')
        return ('❌ no copy handled a job in 15 s. Hint: get_consumers returns one Consumer per queue in '
                'self.queues, each with your handler in callbacks; the handler acks and prints "acked"')
    strangers = sorted({queue for _id, queue in pairs if queue not in topology.queue_names})
    if strangers:
        return (f'❌ your "acked" lines name the queue {strangers[0]!r}, not one of {topology.queue_names}. '
                "Hint: report the name of the queue the message came from (the Consumer's queue.name)")
    for message_id in sorted({m for m, _q in expected}):
        want = sorted(q for m, q in expected if m == message_id)
        got = sorted(q for (m, q), n in pairs.items() if m == message_id for _ in range(n))
        if got == want:
            continue
        if len(got) == len(want):
            return (f'❌ {message_id} ({"copies" if len(want) > 1 else "a copy"} in {", ".join(want)}) was reported '
                    f'as handled in {", ".join(got)}. Hint: one Consumer over several queues cannot tell them '
                    'apart; give each queue its own Consumer, with a callback that knows its queue')
        if len(got) > len(want):
            return (f'❌ {message_id} was handled {len(got)} times, in {", ".join(got)}; it has {len(want)} '
                    f'cop{"ies" if len(want) > 1 else "y"} ({", ".join(want)}). Hint: one Consumer per queue, '
                    'each reading only its own queue; ack each message once')
        return (f'❌ {message_id} should be handled in {", ".join(want)}; your copies reported '
                f'{", ".join(got) or "nothing"}. Hint: every queue needs its own Consumer, and every job '
                'message.ack() after the work (with prefetch 1 an unacked job blocks its copy)')
    return ''


def _passed(logs: dict[str, EventLog], expected: Counter, note: str) -> str:
    busy = sum(1 for log in logs.values() if log.count(ACKED))
    return (f'✅ {sum(expected.values())} copies of {len({m for m, _q in expected})} jobs, each handled once in '
            f'its queue, by {busy} of {len(logs)} copies; job-slow stayed unacked until its work was done; '
            f'{note}')


if __name__ == '__main__':
    print(write_recordings(sys.argv[1], sys.argv[2]))
