"""A RabbitMQ of your own on Colab's VM, installed with apt and started on request (05_scaling_out).

Colab gives each notebook a Linux VM (Ubuntu, root, apt) but no broker. ``local_rabbitmq()`` makes one:
if a broker already answers at ``url`` it only says so; if ``rabbitmq-server`` is installed it starts it;
otherwise it installs it with apt first (root only). It reports how long each step took.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence

from . import config

__all__ = ['LOCAL_URL', 'LocalBrokerError', 'local_rabbitmq']

LOCAL_URL = 'amqp://guest:guest@127.0.0.1:5672//'
INSTALL = (['apt-get', 'update', '-qq'],
           ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'rabbitmq-server'])
START = ['rabbitmq-server', '-detached']

Runner = Callable[[Sequence[str]], None]


class LocalBrokerError(RuntimeError):
    """The local RabbitMQ could not be installed or started; the message says why and what to do."""


def _run(command: Sequence[str]) -> None:
    """Run a system command quietly; raise LocalBrokerError with its last output line if it fails."""
    done = subprocess.run(list(command), capture_output=True, text=True,
                          env={**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'})
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ['no output']
        raise LocalBrokerError(f'`{" ".join(command)}` failed ({done.returncode}): {last[0]}')


def _answers(url: str) -> bool:
    try:
        config.check_broker(url, timeout=3)
        return True
    except config.BrokerError:
        return False


def local_rabbitmq(url: str = LOCAL_URL, *, timeout: float = 120.0, run: Runner = _run) -> str:
    """Make sure a RabbitMQ answers at ``url`` on this machine; return one line saying what it took.

    Already answering: nothing is installed or started. Installed but stopped: started. Not installed:
    installed with apt (needs root, as on Colab), then started. Raises LocalBrokerError otherwise.
    """
    began = time.monotonic()
    if _answers(url):
        return f'RabbitMQ already answers at {config.safe_url(url)}: nothing to install or start'
    steps = []
    if shutil.which('rabbitmq-server') is None:
        if shutil.which('apt-get') is None or os.geteuid() != 0:
            raise LocalBrokerError('rabbitmq-server is not installed and this is not a root machine with apt '
                                   '(as Colab is): install RabbitMQ yourself, or use a broker your teacher runs')
        for command in INSTALL:
            run(command)
        steps.append(f'installed in {time.monotonic() - began:.0f} s')
    started = time.monotonic()
    run(START)
    deadline = started + timeout
    while not _answers(url):
        if time.monotonic() > deadline:
            raise LocalBrokerError(f'started rabbitmq-server, but nothing answered at {config.safe_url(url)} '
                                   f'within {timeout:g} s')
        time.sleep(1)  # RabbitMQ takes several seconds to boot; polled, bounded by the deadline
    steps.append(f'started in {time.monotonic() - started:.0f} s')
    return f'RabbitMQ at {config.safe_url(url)}: {", ".join(steps)}'
