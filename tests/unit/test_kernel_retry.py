"""tools/kernel_retry.py: a kernel that never replied is started once more; nothing else is retried."""
from __future__ import annotations

import pytest
from nbclient.exceptions import CellExecutionError, DeadKernelError

from tools import kernel_retry


class Client:
    """Stands in for a NotebookClient whose ``execute`` raises the given errors in turn, then succeeds."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors, self.calls = list(errors), 0

    def execute(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return 'ran'


@pytest.mark.parametrize('message', ['Kernel died before replying to kernel_info',
                                     "Kernel didn't respond in 60 seconds"])
def test_a_kernel_that_never_replied_is_started_once_more(message):
    client = Client(RuntimeError(message))
    assert kernel_retry.execute(client) == 'ran' and client.calls == 2


def test_only_once():
    client = Client(RuntimeError('Kernel died before replying to kernel_info'),
                    RuntimeError('Kernel died before replying to kernel_info'))
    with pytest.raises(RuntimeError, match='kernel_info'):
        kernel_retry.execute(client)
    assert client.calls == 2


@pytest.mark.parametrize('error', [DeadKernelError('Kernel died'), CellExecutionError('boom', 'ValueError', 'bad'),
                                   RuntimeError('No kernel is running!')])
def test_a_failure_after_the_kernel_replied_is_not_retried(error):
    client = Client(error)
    with pytest.raises(type(error)):
        kernel_retry.execute(client)
    assert client.calls == 1


def test_as_a_pytest_plugin_it_wraps_nbvals_kernel_start(monkeypatch):
    nbval_kernel = pytest.importorskip('nbval.kernel')
    starts = []

    def start(*args, **kwargs):
        starts.append(kwargs)
        if len(starts) == 1:
            raise RuntimeError('Kernel died before replying to kernel_info')
        return 'km', 'kc'
    monkeypatch.setattr(nbval_kernel, 'start_new_kernel', start)
    kernel_retry.pytest_configure(None)
    assert nbval_kernel.start_new_kernel(kernel_name='python3') == ('km', 'kc') and len(starts) == 2
