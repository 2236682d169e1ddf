"""What a kernel leaves behind once it is shut down: processes of its family and AMQP connections.

Note a kernel's family (the kernel and every descendant, with psutil) and the local ports of their
connections to RabbitMQ BEFORE the shutdown: a worker process whose kernel died is re-parented and can
no longer be found from it.  After the shutdown, ``leftovers`` waits (bounded) and reports what is still
alive and which of those connections the broker still lists (``rabbitmqctl list_connections`` when it
runs here, else the management API).  Used by tests/notebooks/test_exercises.py and the browser tests.
"""
from __future__ import annotations

import functools
import os
import shutil
import time
from dataclasses import dataclass, field
from urllib.parse import unquote

import psutil
import pytest

from teacher.rabbitadmin import AdminError, RabbitmqCtl, admin_client

__all__ = ['Snapshot', 'broker_connections', 'snapshot', 'vhost_of']

AMQP_PORT = 5672
IN_CI = os.environ.get('CI', '').lower() in ('1', 'true', 'yes')


def vhost_of(url: str) -> str:
    """The vhost an amqp:// URL names ('/' for an empty path or '//')."""
    return unquote(url.rsplit('/', 1)[-1]) or '/'


@functools.cache
def _admin():
    """``rabbitmqctl`` when it runs here (it lists connections at once), else the management API.

    The management API lists a connection only after its first statistics (up to 5 s late).
    """
    if shutil.which('rabbitmqctl') and RabbitmqCtl().available():
        return RabbitmqCtl()
    return admin_client()


def broker_connections(vhost: str, ports: set[int]) -> list[str]:
    """The broker's names of the connections on ``vhost`` that come from one of the local ``ports``."""
    try:
        admin = _admin()
    except AdminError as exc:
        if IN_CI:
            pytest.fail(f'CI=true and neither the management API nor rabbitmqctl answers: {exc}')
        pytest.skip(f'cannot list RabbitMQ connections here: {exc}')
    # a connection's name is "127.0.0.1:CLIENT_PORT -> 127.0.0.1:5672"
    return [c['name'] for c in admin.connections(vhost)
            if any(c['name'].split(' -> ')[0].endswith(f':{port}') for port in ports)]


@dataclass
class Snapshot:
    """A kernel's (or a server's kernels') family and AMQP client ports, noted before a shutdown."""

    processes: list[psutil.Process] = field(default_factory=list)
    ports: set[int] = field(default_factory=set)

    def leftovers(self, url: str = '', timeout: float = 10.0) -> tuple[list[str], list[str]]:
        """The noted processes still alive, and the noted connections the broker (at ``url``) still lists."""
        _gone, alive = psutil.wait_procs(self.processes, timeout=timeout)
        processes = []
        for process in alive:
            try:
                processes.append(f'{process.pid} {" ".join(process.cmdline())[:160]}')
            except psutil.NoSuchProcess:
                continue
        connections: list[str] = []
        if self.ports and url.startswith('amqp'):
            deadline = time.monotonic() + timeout
            while (connections := broker_connections(vhost_of(url), self.ports)) and time.monotonic() < deadline:
                time.sleep(0.5)  # the broker notices a closed socket within moments; bounded by the deadline
        return processes, connections

    def kill(self) -> None:
        """Kill what is left of the noted processes (ours, by id), so one test's leftovers spare the next."""
        for process in self.processes:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue


def snapshot(pid: int, include_self: bool = True) -> Snapshot:
    """Note the process ``pid`` (unless ``include_self`` is False), its descendants and their AMQP ports."""
    try:
        root = psutil.Process(pid)
        processes = ([root] if include_self else []) + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return Snapshot()
    ports = set()
    for process in processes:
        try:
            connections = process.net_connections(kind='tcp')
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        ports |= {c.laddr.port for c in connections if c.raddr and c.raddr.port == AMQP_PORT}
    return Snapshot(processes, ports)
