"""The course in Notebook 7 (``jupyter notebook``), not only JupyterLab: 03's control panel works there.

Notebook 7 is built from JupyterLab's notebook, menus and commands, so the same harness drives it;
only the URL (``/notebooks/<path>``) and the kernel-idle signal differ (see ``harness.py``).
"""
from __future__ import annotations

import re

import pytest

from .harness import (
    button,
    click_latency,
    code_cell,
    expect,
    run_cell,
    run_notebook,
    screenshot,
    wait_text,
    widget_area,
)

pytestmark = pytest.mark.browser

PRODUCER = 'notebooks/03_producer.ipynb'
CLEANUP = 'panel.close()'


def test_notebook7_control_panel(notebook7_page, notebook7):
    """03_producer in Notebook 7: run up to the clean-up cell, a real click on 'video.upload' adds one
    to the 'video_queue: N acked' counter, then the notebook's own clean-up closes the panel."""
    page = notebook7_page
    if not (notebook7.root / PRODUCER).exists():
        pytest.skip('notebook not written yet')
    timings = run_notebook(page, notebook7, PRODUCER, until=CLEANUP)
    panel = widget_area(page).filter(has=button(page, 'Publish')).last
    counter = panel.locator('.widget-label', has_text=re.compile(r'^video_queue: '))
    wait_text(counter, re.compile(r'^video_queue: \d+ acked'))
    acked = int(re.match(r'video_queue: (\d+) acked', counter.inner_text()).group(1))

    latency = click_latency(page, 'video.upload', counter, f'video_queue: {acked + 1} acked', scope=panel)
    wait_text(counter, re.compile(rf'^video_queue: {acked + 1} acked'))  # up by exactly one
    wait_text(panel, re.compile(r'acked\s+video_queue\s+video\.upload'))
    screenshot(page, 'notebook7-03_producer', full=True)

    run_cell(page, code_cell(page, CLEANUP))
    # the stored output already says "panel closed: True": the closed panel's buttons leaving the page
    # is what shows the clean-up really ran in this kernel
    expect(button(page, 'video.upload')).to_have_count(0, timeout=10_000)
    print(f'\nNotebook 7 {PRODUCER}: open {timings["open"]:.2f} s, kernel idle +{timings["kernel_idle"]:.2f} s, '
          f'run above clean-up {timings["run_all"]:.2f} s, click -> counter {latency * 1000:.0f} ms')
