"""Real clicks in a real browser: the harness (``harness.py``) proven on a small fixture notebook.

The course's notebooks are driven by ``test_learner_path.py``; the views' front-end ticks by
``test_live_views.py``.
"""
from __future__ import annotations

import re
import statistics

import pytest

from .harness import (
    button,
    click_button,
    click_latency,
    fill_text,
    run_notebook,
    screenshot,
    screenshot_element,
    text_box,
    wait_text,
    widget_area,
)

pytestmark = pytest.mark.browser

FIXTURE = 'fixtures/widgets_fixture.ipynb'
CLICKS = 5


def test_harness_on_fixture_notebook(page, lab):
    """Run All, then click a button whose handler updates widgets from a thread, and type in a box."""
    timings = run_notebook(page, lab, FIXTURE)
    wait_text(page.locator('.jp-OutputArea-output').last, 'fixture ready')
    panel = widget_area(page).last
    clicks_label = panel.locator('.widget-label', has_text=re.compile(r'^clicks: '))
    pongs = panel.locator('.widget-output')
    wait_text(clicks_label, 'clicks: 0')

    latencies = []
    for n in range(1, CLICKS + 1):
        latencies.append(click_latency(page, 'Ping', clicks_label, f'clicks: {n}'))
        wait_text(pongs, f'pong {n} from fixture-worker')
    assert pongs.inner_text().count('pong') == CLICKS

    fill_text(page, 'Key', 'video.upload')
    wait_text(panel, 'echo: video.upload')
    assert text_box(page, 'routing key').input_value() == 'video.upload'  # same box, by placeholder
    assert button(page, 'Ping').is_enabled()

    screenshot(page, 'fixture-after-clicks')
    screenshot(page, 'fixture-full', full=True)
    screenshot_element(panel, 'fixture-panel')
    print(f'\nfixture notebook: open {timings["open"]:.2f} s, kernel idle +{timings["kernel_idle"]:.2f} s, '
          f'run all {timings["run_all"]:.2f} s')
    print(f'click -> widget updated ({CLICKS} clicks): median {statistics.median(latencies) * 1000:.0f} ms, '
          f'min {min(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms')


def test_missing_button_fails_clearly(page, lab):
    """The harness's own failure message names what it looked for."""
    page.set_content('<button>Other</button>')
    with pytest.raises(AssertionError, match="button named 'video.upload'"):
        click_button(page, 'video.upload', timeout=0.5)
