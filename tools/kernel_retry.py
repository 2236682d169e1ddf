"""A kernel that fails to start is started again, once, on new ports, as a Jupyter server does: for nbval, nbclient.

jupyter_client picks a kernel's five ports free, and the kernel binds them a moment later.  A process that binds a
free port in between takes one (ZMQError "Address already in use"), and the kernel dies before its first reply: CI
starts kernels in many jobs at once and saw it about once a run.  A Jupyter server's restarter starts such a
kernel again on new ports (``KernelRestarter.random_ports_until_alive``); nbval and nbclient do not.

``python -m pytest -p tools.kernel_retry --nbval ...`` (from the repository's root) gives nbval's kernels that
second chance; ``once_more(start)`` gives it to any start, ``execute(client)`` to a ``NotebookClient``.  A failure
after the kernel replied is never retried.
"""
from __future__ import annotations

import sys

#: What jupyter_client raises when a kernel never gave its first reply.
START_FAILURES = ('Kernel died before replying to kernel_info', "Kernel didn't respond in")


def failed_to_start(exc: BaseException) -> bool:
    """Is ``exc`` jupyter_client's word that a kernel never replied to its first request?"""
    return isinstance(exc, RuntimeError) and str(exc).startswith(START_FAILURES)


def once_more(start, *args, **kwargs):
    """``start(*args, **kwargs)``, called again (once) if a kernel it started failed to start."""
    try:
        return start(*args, **kwargs)
    except RuntimeError as exc:
        if not failed_to_start(exc):
            raise
        print(f'kernel_retry: the kernel did not start ({exc}); starting it again on new ports', file=sys.stderr)
    return start(*args, **kwargs)


def execute(client):
    """``client.execute()``, run once more if its kernel failed to start (then no cell has run)."""
    return once_more(client.execute)


def pytest_configure(config) -> None:
    """Wrap nbval's kernel start (whichever is installed, e.g. tools/class_load_kernels.py's) with one retry."""
    import nbval.kernel

    start = nbval.kernel.start_new_kernel
    nbval.kernel.start_new_kernel = lambda *args, **kwargs: once_more(start, *args, **kwargs)
