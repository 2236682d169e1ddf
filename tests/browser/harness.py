"""Drive JupyterLab in headless Chromium: open, run and poke notebooks like a learner does.

The fixtures in ``conftest.py`` start one JupyterLab server (on a copy of ``notebooks/``,
``helpers/`` and ``tests/browser/fixtures/``) and give each test a fresh ``page``.
A test (in this package, so ``from .harness import ...``) then reads like a learner's session::

    @pytest.mark.browser
    def test_panel(page, lab):
        run_notebook(page, lab, 'notebooks/03_producer.ipynb')   # open, wait idle, Run All, wait [n]:
        click_button(page, 'video.upload')                        # a real click on a real button
        wait_text(page.locator('.widget-output').last, 'video_queue')
        fill_text(page, 'routing key', 'audit.login', submit=True)
        screenshot(page, 'producer-after-click', full=True)

Functions (every wait is bounded and raises ``AssertionError`` saying what did not happen):

- ``open_notebook(page, lab, path)``   open ``path`` (relative to the copy's root) in a fresh workspace.
- ``wait_kernel_idle(page)``           the status bar says ``| Idle``.
- ``run_all(page)``                    Run menu → Run All Cells, retried until the first prompt moves.
- ``wait_all_executed(page)``          every code cell's prompt is ``[n]:``; fails early on an error output.
- ``run_notebook(page, lab, path)``    the four above in order; returns the seconds each step took.
- ``button(page, name)`` / ``click_button(page, name)``   a widget button by its accessible name.
- ``text_box(page, name)`` / ``fill_text(page, name, value, submit=False)``   by label or placeholder.
- ``wait_text(locator, text)``         the locator's text contains ``text`` (or matches a regex).
- ``click_latency(page, name, locator, text)``   seconds from the click to ``text`` appearing,
                                       timed inside the browser (no polling error).
- ``widget_area(page)``                the widget views in the notebook (for screenshots, waits).
- ``screenshot(page, name, full=False)``   PNG in ``test-artifacts/screenshots/``; ``full`` grows the
                                       viewport so the whole notebook panel is in the picture.
- ``screenshot_element(locator, name)``   PNG of one element (e.g. a control panel).
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Union
from urllib.parse import quote

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

__all__ = [
    'ARTIFACTS', 'open_notebook', 'wait_kernel_idle', 'run_all', 'wait_all_executed', 'run_notebook',
    'button', 'click_button', 'text_box', 'fill_text', 'wait_text', 'click_latency', 'widget_area',
    'screenshot', 'screenshot_element',
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / 'test-artifacts' / 'screenshots'

KERNEL_TIMEOUT = 60.0     # seconds: JupyterLab loads, the kernel starts
RUN_TIMEOUT = 120.0       # seconds: all cells of one notebook execute
WIDGET_TIMEOUT = 10.0     # seconds: a widget reacts to a click or a key press

Text = Union[str, 're.Pattern[str]']

_PROMPT_STATE_JS = """() => {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')];
  const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt')?.textContent || '').trim());
  const errors = [...document.querySelectorAll(
      '.jp-NotebookPanel:not(.lm-mod-hidden) [data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent).filter(t => /Error|Traceback|Exception/.test(t));
  return {
    total: prompts.length,
    done: prompts.filter(p => /^\\[\\d+\\]:$/.test(p)).length,
    running: prompts.filter(p => p === '[*]:').length,
    first: prompts[0] || '',
    errors: errors.map(t => t.slice(0, 2000)),
  };
}"""


def open_notebook(page: Page, lab, path: str) -> None:
    """Open ``path`` (relative to the server's root) in a fresh workspace and wait for its panel."""
    url = f'{lab.url}/lab/tree/{quote(path)}?reset&token={lab.token}'
    page.goto(url, wait_until='domcontentloaded', timeout=KERNEL_TIMEOUT * 1000)
    panel = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)')
    try:
        expect(panel).to_have_count(1, timeout=KERNEL_TIMEOUT * 1000)
        expect(panel.locator('.jp-Cell').first).to_be_visible(timeout=KERNEL_TIMEOUT * 1000)
    except AssertionError as exc:
        raise AssertionError(f'JupyterLab did not show the notebook {path}: {exc}') from None


def wait_kernel_idle(page: Page, timeout: float = KERNEL_TIMEOUT) -> None:
    """Wait until the status bar reports ``| Idle`` (accepting a kernel-choice dialog if one appears)."""
    status = page.locator('#jp-main-statusbar')
    deadline = time.monotonic() + timeout
    while True:
        dialog = page.locator('.jp-Dialog .jp-mod-accept')
        if dialog.count():
            dialog.first.click()
        try:
            expect(status).to_contain_text('| Idle', timeout=1000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError(f'the kernel never became idle in {timeout:.0f} s; '
                                     f'status bar says {status.inner_text()!r}') from None


def _prompt_state(page: Page) -> dict:
    return page.evaluate(_PROMPT_STATE_JS)


def run_all(page: Page, attempts: int = 3) -> None:
    """Run menu → Run All Cells; retried until the first code cell's prompt turns ``[*]:``/``[n]:``."""
    first_prompt = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt').first
    for _attempt in range(attempts):
        page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').first.click()
        page.locator('#jp-menu-panel .lm-MenuBar-item', has_text=re.compile(r'^Run$')).click()
        page.locator('li.lm-Menu-item[data-command="runmenu:run-all"]').click()
        try:
            expect(first_prompt).to_have_text(re.compile(r'^\[(\*|\d+)\]:$'), timeout=5000)
            return
        except AssertionError:
            page.keyboard.press('Escape')
    raise AssertionError(f'Run All did not start the first cell after {attempts} attempts '
                         f'(its prompt is {first_prompt.inner_text()!r})')


def wait_all_executed(page: Page, timeout: float = RUN_TIMEOUT, expected_cells: int | None = None) -> None:
    """Wait until every code cell shows ``[n]:``; fail at once with the traceback if a cell raised."""
    try:
        page.wait_for_function(
            f'() => {{ const s = ({_PROMPT_STATE_JS})(); '
            f'return s.total > 0 && (s.done === s.total || (s.errors.length > 0 && s.running === 0)); }}',
            timeout=timeout * 1000, polling=100)
    except PlaywrightTimeout:
        state = _prompt_state(page)
        raise AssertionError(f'cells still running after {timeout:.0f} s: {state}') from None
    state = _prompt_state(page)
    if state['errors']:
        raise AssertionError('a cell raised during Run All:\n' + state['errors'][0])
    if state['done'] != state['total']:
        raise AssertionError(f'Run All stopped early: {state}')
    if expected_cells is not None and state['total'] != expected_cells:
        raise AssertionError(f'the page shows {state["total"]} code cells, the file has {expected_cells}')


def run_notebook(page: Page, lab, path: str) -> dict[str, float]:
    """Open ``path``, wait for the kernel, Run All and wait for every cell; returns step timings (s)."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    open_notebook(page, lab, path)
    timings['open'] = time.perf_counter() - start
    wait_kernel_idle(page)
    timings['kernel_idle'] = time.perf_counter() - start - timings['open']
    mark = time.perf_counter()
    run_all(page)
    wait_all_executed(page, expected_cells=lab.code_cells(path))
    timings['run_all'] = time.perf_counter() - mark
    return timings


def button(page: Page, name: Text) -> Locator:
    """The one visible button whose accessible name (a widget's description) is ``name``."""
    return page.get_by_role('button', name=name, exact=isinstance(name, str))


def click_button(page: Page, name: Text, timeout: float = WIDGET_TIMEOUT) -> None:
    """Click the widget button named ``name`` (a real mouse click)."""
    target = button(page, name)
    try:
        expect(target).to_have_count(1, timeout=timeout * 1000)
    except AssertionError:
        raise AssertionError(f'expected exactly one button named {name!r}, found {target.count()}') from None
    target.click(timeout=timeout * 1000)


def text_box(page: Page, name: str) -> Locator:
    """A text box by its label (a widget's description) or, failing that, its placeholder."""
    by_label = page.get_by_role('textbox', name=name, exact=True)
    return by_label if by_label.count() else page.get_by_placeholder(name, exact=True)


def fill_text(page: Page, name: str, value: str, submit: bool = False,
              timeout: float = WIDGET_TIMEOUT) -> None:
    """Type ``value`` into the text box named ``name``; ``submit`` presses Enter afterwards."""
    box = text_box(page, name)
    try:
        expect(box).to_have_count(1, timeout=timeout * 1000)
    except AssertionError:
        raise AssertionError(f'expected exactly one text box named {name!r}, found {box.count()}') from None
    box.fill(value, timeout=timeout * 1000)
    if submit:
        box.press('Enter')


def wait_text(locator: Locator, text: Text, timeout: float = WIDGET_TIMEOUT) -> None:
    """Wait until ``locator``'s text contains ``text`` (a string or a compiled regex)."""
    try:
        expect(locator).to_contain_text(text, timeout=timeout * 1000)
    except AssertionError:
        shown = locator.all_inner_texts() if locator.count() else '(nothing matches the locator)'
        raise AssertionError(f'waited {timeout:.0f} s for {text!r}; the page shows {shown!r}') from None


def click_latency(page: Page, name: str, locator: Locator, text: str, timeout: float = WIDGET_TIMEOUT) -> float:
    """Click button ``name``; return seconds until ``locator`` first contains ``text``, timed in the browser."""
    element = locator.element_handle(timeout=timeout * 1000)
    page.evaluate("""([el, text]) => {
      window.__clickAt = null; window.__seenAt = null;
      const seen = () => { if (window.__seenAt === null && el.textContent.includes(text)) {
        window.__seenAt = performance.now(); observer.disconnect(); } };
      const observer = new MutationObserver(seen);
      observer.observe(el, {subtree: true, childList: true, characterData: true, attributes: true});
      document.addEventListener('click', () => { window.__clickAt = performance.now(); },
                                {capture: true, once: true});
    }""", [element, text])
    click_button(page, name, timeout)
    try:
        page.wait_for_function('() => window.__seenAt !== null', timeout=timeout * 1000, polling='raf')
    except PlaywrightTimeout:
        raise AssertionError(f'{text!r} did not appear within {timeout:.0f} s of clicking {name!r}; '
                             f'the element shows {element.inner_text()!r}') from None
    click_at, seen_at = page.evaluate('() => [window.__clickAt, window.__seenAt]')
    return (seen_at - click_at) / 1000


def widget_area(page: Page) -> Locator:
    """Every rendered widget view in the open notebook (outputs holding ipywidgets)."""
    return page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output:has(.jupyter-widgets)')


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r'[^A-Za-z0-9_.-]+', '-', name).strip('-') or 'screenshot'
    return ARTIFACTS / f'{safe}.png'


def screenshot(page: Page, name: str, full: bool = False) -> Path:
    """Save a PNG of the page; ``full`` grows the window so the whole notebook panel fits (max 10000 px)."""
    path = _artifact(name)
    if not full:
        page.screenshot(path=path)
        return path
    size = page.viewport_size or {'width': 1280, 'height': 900}
    extra = page.evaluate("""() => {
      const s = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
      if (!s) return 0;
      s.scrollTop = 0;
      return Math.max(0, s.scrollHeight - s.clientHeight); }""")
    page.set_viewport_size({'width': size['width'], 'height': min(10000, size['height'] + extra)})
    try:
        try:  # JupyterLab re-lays out the panel on resize: wait until nothing is left to scroll
            page.wait_for_function("""() => {
              const s = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
              return !s || s.scrollHeight - s.clientHeight <= 2; }""", timeout=3000)
        except PlaywrightTimeout:
            pass  # taller than the cap: the picture shows the top 10000 px
        page.screenshot(path=path, full_page=True)
    finally:
        page.set_viewport_size(size)
    return path


def screenshot_element(locator: Locator, name: str) -> Path:
    """Save a PNG of one element (scrolled into view), e.g. a widget control panel."""
    path = _artifact(name)
    locator.screenshot(path=path)
    return path
