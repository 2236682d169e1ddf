"""helpers.colab_broker: 05's opt-in local RabbitMQ. What it would run is recorded, never executed here."""
from __future__ import annotations

import pytest
from conftest import BROKERS, require_broker

from helpers import colab_broker
from helpers.colab_broker import INSTALL, START, LocalBrokerError, local_rabbitmq

NOBODY = 'amqp://guest:guest@127.0.0.1:1//'  # nothing listens on port 1


class Recorder:
    """Stands in for the command runner: remembers each command instead of running it."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    def __call__(self, command) -> None:
        self.commands.append(list(command))


def machine(monkeypatch, *, rabbitmq: bool, apt: bool, root: bool) -> None:
    tools = {'rabbitmq-server': rabbitmq, 'apt-get': apt}
    monkeypatch.setattr(colab_broker.shutil, 'which', lambda name: f'/usr/bin/{name}' if tools.get(name) else None)
    monkeypatch.setattr(colab_broker.os, 'geteuid', lambda: 0 if root else 1000)


@pytest.mark.broker
def test_a_running_rabbitmq_is_only_checked():
    """This machine has RabbitMQ installed and running: nothing is installed or started."""
    url = require_broker(BROKERS['amqp'])
    recorder = Recorder()
    assert local_rabbitmq(url, run=recorder).startswith('RabbitMQ already answers at amqp://guest:***@')
    assert recorder.commands == []


def test_installed_but_stopped_is_started(monkeypatch):
    machine(monkeypatch, rabbitmq=True, apt=True, root=True)
    recorder = Recorder()
    with pytest.raises(LocalBrokerError, match='nothing answered at amqp://guest:\\*\\*\\*@127.0.0.1:1//'):
        local_rabbitmq(NOBODY, timeout=0, run=recorder)
    assert recorder.commands == [START]


def test_missing_on_a_root_machine_with_apt_is_installed_then_started(monkeypatch):
    machine(monkeypatch, rabbitmq=False, apt=True, root=True)
    recorder = Recorder()
    with pytest.raises(LocalBrokerError, match='started rabbitmq-server'):
        local_rabbitmq(NOBODY, timeout=0, run=recorder)
    assert recorder.commands == [*map(list, INSTALL), START]


@pytest.mark.parametrize('apt, root', [(False, True), (True, False)])
def test_missing_without_root_and_apt_is_explained_and_nothing_runs(monkeypatch, apt, root):
    machine(monkeypatch, rabbitmq=False, apt=apt, root=root)
    recorder = Recorder()
    with pytest.raises(LocalBrokerError, match='not installed and this is not a root machine with apt'):
        local_rabbitmq(NOBODY, run=recorder)
    assert recorder.commands == []


def test_a_failing_command_says_which_and_why(monkeypatch):
    machine(monkeypatch, rabbitmq=True, apt=False, root=False)
    monkeypatch.setattr(colab_broker, 'START', ['false'])  # the real runner, on a start command that fails
    with pytest.raises(LocalBrokerError, match=r'`false` failed \(1\)'):
        local_rabbitmq(NOBODY, timeout=1)
