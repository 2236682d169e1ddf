"""Real clicks in a real browser: JupyterLab + headless Chromium, on a copy of the notebooks.

The harness (``harness.py``) is proven first on a small fixture notebook, then used on the course.
"""
from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest

from .harness import (
    button,
    click_button,
    click_latency,
    code_cell,
    fill_text,
    run_cell,
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


TOPOLOGY = 'notebooks/01_topology.ipynb'
TESTER_CASES = [
    # routing key      queues it must reach            queues it must not reach
    ('video.upload', ['audit_queue', 'video_queue'], []),
    ('audit.login', ['audit_queue'], ['video_queue']),
]


def check_key_tester(page, lab, path: str, label: str = 'Routing key:') -> None:
    """Run ``path``; type each key of TESTER_CASES into the tester box; check the ✔/✘ queues shown."""
    run_notebook(page, lab, path)
    tester = widget_area(page).filter(has=page.get_by_role('textbox', name=label)).first
    box = tester.get_by_role('textbox', name=label)
    for routing_key, reached, missed in TESTER_CASES:
        box.fill(routing_key)
        wait_text(tester, f'routing key {routing_key!r}')
        for queue in reached:
            wait_text(tester, re.compile(rf'✔ {queue}\b'))
        for queue in missed:
            wait_text(tester, re.compile(rf'✘ {queue}\b'))
        screenshot_element(tester, f'{Path(path).stem}-tester-{routing_key}')
    screenshot(page, f'{Path(path).stem}-full', full=True)


def test_topology_routing_key_tester(page, lab):
    """01_topology: typing a routing key into the tester shows which queues receive it."""
    if not (lab.root / TOPOLOGY).exists():
        pytest.skip('notebook not written yet')
    check_key_tester(page, lab, TOPOLOGY)


def check_control_panel(page, lab, path: str, key: str, queue: str, free_key: str,
                        cleanup: str = 'panel.close()') -> list[float]:
    """Run ``path`` up to its clean-up cell; click ``key`` (its counter for ``queue`` goes up by one),
    publish ``free_key`` from the routing-key box, then run the clean-up cell. Returns click latencies (s).
    Cells after the clean-up (e.g. 04's full run and benchmarks) are left to nbval.
    """
    run_notebook(page, lab, path, until=cleanup)
    panel = widget_area(page).filter(has=page.get_by_role('button', name='Publish', exact=True)).last
    counter = panel.locator('.widget-label', has_text=re.compile(rf'^{queue}: '))
    wait_text(counter, re.compile(rf'^{queue}: \d+ acked'))
    latencies = []
    for _click in range(3):
        acked = int(re.match(rf'{queue}: (\d+) acked', counter.inner_text()).group(1))
        latencies.append(click_latency(page, key, counter, f'{queue}: {acked + 1} acked', scope=panel))
    wait_text(panel, re.compile(rf'acked\s+{queue}\s+{re.escape(key)}'))
    fill_text(panel, 'Routing key:', free_key)
    click_button(panel, 'Publish')
    wait_text(panel, f'published {free_key}')
    wait_text(panel, re.compile(rf'acked\s+\S+\s+{re.escape(free_key)}'))
    name = Path(path).stem
    screenshot_element(panel, f'{name}-panel')
    check_live_diagram(page, name, queue, clicked=3)
    screenshot(page, f'{name}-full', full=True)
    run_cell(page, code_cell(page, cleanup))
    return latencies


def check_live_diagram(page, name: str, queue: str, clicked: int) -> None:
    """If the notebook shows a live routing diagram, its ``queue`` box counts the clicks too."""
    # Only the live widget counts: stored outputs further down may hold static diagrams.
    box = page.locator(f'.jupyter-widgets svg g.queue[data-queue="{queue}"]')
    if not box.count():
        return
    page.wait_for_function(
        """([queue, clicked]) => [...document.querySelectorAll(`.jupyter-widgets svg g.queue[data-queue="${queue}"]`)]
             .some(g => Number(g.getAttribute('data-acked')) >= clicked)""",
        arg=[queue, clicked], timeout=15_000)
    lit = page.locator('.jupyter-widgets svg g.edge[data-lit="true"]')
    assert lit.count() >= 1, 'the diagram lights no route after the last publish'
    screenshot_element(box.first.locator('xpath=ancestor::*[local-name()="svg"][1]'), f'{name}-diagram')


PANEL_NOTEBOOKS = [
    # notebook                       button          its queue       a key typed into the box
    ('notebooks/03_producer.ipynb', 'video.upload', 'video_queue', 'audit.login'),
    ('notebooks/04_full_run.ipynb', 'video.upload.hd', 'video_queue', 'user.signup'),
]


@pytest.mark.parametrize(('path', 'key', 'queue', 'free_key'), PANEL_NOTEBOOKS)
def test_control_panel(page, lab, path, key, queue, free_key):
    """ControlPanel in 03 and 04: a real click publishes, the worker thread updates the counter
    and the log, a typed key is published with the Publish button, and the notebook's clean-up runs."""
    if not (lab.root / path).exists():
        pytest.skip('notebook not written yet')
    latencies = check_control_panel(page, lab, path, key, queue, free_key)
    print(f'\n{path}: click -> counter updated: {", ".join(f"{t * 1000:.0f} ms" for t in latencies)}')
