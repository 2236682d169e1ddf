"""Widget state sent from worker threads dropped, as Colab's front end ignores it: the tests' stand-in for Colab.

``install()`` runs in the browser tests' kernels (an IPython start-up file made by tests/browser/conftest.py)
when ``HELPERS_DROP_THREAD_SENDS=1``; unit tests patch ``ipywidgets.Widget._send`` with ``dropping`` instead.
"""
from __future__ import annotations

import functools
import os

import ipywidgets

from helpers.views.repaint import handles_kernel_messages


def dropping(send):
    """``Widget._send`` that sends only from a thread that handles kernel messages (see ``views.repaint``)."""
    @functools.wraps(send)  # __wrapped__ lets a notebook that tests JupyterLab's own sends undo it
    def _send(self, msg, buffers=None):
        if handles_kernel_messages():
            send(self, msg, buffers=buffers)
    return _send


def install() -> None:
    """Drop every widget's thread sends in this process, if ``HELPERS_DROP_THREAD_SENDS`` asks for it."""
    if os.environ.get('HELPERS_DROP_THREAD_SENDS', '') not in ('', '0'):
        ipywidgets.Widget._send = dropping(ipywidgets.Widget._send)
