"""A pytest plugin for the class load test: nbval's kernels talk over IPC sockets beside their own connection file.

Many nbval runs at once each pick "free" TCP ports for their kernels, and two can pick the same
port between checking and binding.  Over IPC the sockets are files named after the kernel's own
connection file (in the learner's own folder, ``$CLASSLOAD_KERNEL_DIR``), so they cannot collide.
"""
from __future__ import annotations

import itertools
import os

import nbval.kernel
from jupyter_client.manager import KernelManager

_numbers = itertools.count(1)


def _start_new_kernel(startup_timeout=60, kernel_name='python', **kwargs):
    folder = os.environ['CLASSLOAD_KERNEL_DIR']
    km = KernelManager(kernel_name=kernel_name, kernel_spec_manager=nbval.kernel.NbvalKernelspecManager(),
                       transport='ipc', connection_file=os.path.join(folder, f'k{next(_numbers)}.json'))
    km.start_kernel(**kwargs)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=startup_timeout)
    except RuntimeError:
        kc.stop_channels()
        km.shutdown_kernel()
        raise
    return km, kc


nbval.kernel.start_new_kernel = _start_new_kernel
