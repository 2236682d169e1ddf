"""The self-check of 05_scaling_out's exercise: a learner's worker script, run as several copies (05_scaling_out).

On RabbitMQ and Redis the copies are processes (``WorkerFleet(script=...)``); on memory://, which
processes cannot share, they are threads of the kernel.  The verdict is one line, ✅ or ❌ with a hint.
"""
from __future__ import annotations

import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from .. import config
from ..events import ACKED, DELIVERED, EventLog
from ..processes import WorkerFleet
from ..topology import Topology
from ..worker_cli import ERROR, READY, STOPPED, read_line

__all__ = ['check_worker_script']


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
                fleet.start()
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

