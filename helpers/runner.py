"""A kombu consumer run in a background thread: start() returns once it consumes, stop() waits for it (02_worker).

``Worker`` and the seed's ``SeedWorker`` both consume this way, so a notebook
cell can start one, publish, wait on the event log and stop it again.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from kombu.mixins import ConsumerMixin

from . import config

__all__ = ['SAFETY_INTERVAL', 'ThreadedConsumer']

#: How often an idle consumer checks whether it should stop (kombu's default is 1 s).
SAFETY_INTERVAL = 0.05


class _Stopped(Exception):
    """Raised inside a wait for the broker when stop() was asked for: ends the wait at once."""


class ThreadedConsumer(ConsumerMixin):
    """``ConsumerMixin.run`` in a daemon thread; subclasses give ``url``, ``connection`` and ``get_consumers``."""

    #: The exception start() and stop() raise; a subclass may name its own.
    Error: type[Exception] = RuntimeError
    url: str

    def __init__(self, label: str, thread_name: str) -> None:
        self.label = label              # how messages name this consumer, e.g. "worker 'w1'"
        self.thread_name = thread_name  # threads are named helpers-... so tests can find leftovers
        self.should_stop = False
        self.last_error: BaseException | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def on_consume_ready(self, connection, channel, consumers, **kwargs) -> None:
        self._ready.set()

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 30.0) -> ThreadedConsumer:
        """Consume in a background thread; return once consuming, or raise ``Error`` saying why not."""
        if self.is_running:
            return self
        self.should_stop = False
        self._ready.clear()
        self._thread = threading.Thread(target=self._run_in_thread, name=self.thread_name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        # Woken at once when ready; the 0.1 s look for a thread that ended is rare enough not to take the
        # interpreter lock from the starting thread (every hand-off waits for the scheduler on a busy machine).
        # The timeout is a ceiling: a worker starts in milliseconds on idle cores, in over 10 s once under CI's load.
        while not self._ready.wait(0.1):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                why = config.one_line(self.last_error) if self.last_error else f'not consuming after {timeout:g} s'
                where = config.safe_url(self.url)
                raise self.Error(f'{self.label} could not start on {where}: {why}') from self.last_error
        return self

    @contextmanager
    def establish_connection(self):
        """ConsumerMixin's, except that stop() also ends a wait for a broker that is down (within about 1 s)."""
        with self.create_connection() as conn:
            conn.ensure_connection(self.on_connection_error, self.connect_max_retries, callback=self._stop_waiting)
            yield conn

    def _stop_waiting(self) -> None:
        if self.should_stop:
            raise _Stopped()

    def _run_in_thread(self) -> None:
        try:
            self.run(safety_interval=SAFETY_INTERVAL)
        except _Stopped:
            pass
        except Exception as exc:  # reported by start() or kept for stop(); an earlier cause stays unless this is ours
            if self.last_error is None or isinstance(exc, self.Error):
                self.last_error = exc
        finally:
            self.on_thread_end()

    def on_thread_end(self) -> None:
        """Called in the thread after consuming ended, however it ended."""

    def wait(self, timeout: float | None = None) -> bool:
        """Wait, without asking it to stop, until the thread has ended; whether it has (or never ran).

        One blocking wait: the waiting thread takes no interpreter lock from the consumer's until then.
        """
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return not self.is_running

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop (it finishes the message in hand) and wait for it."""
        self.should_stop = True
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                raise self.Error(f'{self.label} did not stop within {timeout:g} s')

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
