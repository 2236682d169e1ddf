"""Drive JupyterLab (and Notebook 7) in headless Chromium: open, run and poke notebooks like a learner does.

The fixtures in ``conftest.py`` start one JupyterLab server (on a copy of ``notebooks/``,
``helpers/`` and ``tests/browser/fixtures/``) and give each test a fresh ``page``; ``notebook7``
and ``notebook7_page`` do the same for Notebook 7 (``jupyter notebook``), and every function
below works on both (Notebook 7 is built from JupyterLab's notebook, menus and commands).
A test (in this package, so ``from .harness import ...``) then reads like a learner's session::

    @pytest.mark.browser
    def test_panel(page, lab):
        run_notebook(page, lab, 'notebooks/03_producer.ipynb')    # Run All: every cell
        panel = widget_area(page).filter(has=button(page, 'Publish')).last
        click_button(panel, 'video.upload')                       # a real click on a real button
        wait_text(panel, 'video_queue: 1 acked')                  # bounded wait, no sleep
        fill_text(panel, 'Routing key:', 'audit.login')
        click_button(panel, 'Publish')
        screenshot(page, 'producer-after-click', full=True)
        assert not page_problems(page)                           # no traceback anywhere

Functions (every wait is bounded and raises ``AssertionError`` saying what did not happen):

- ``open_notebook(page, lab, path)``   open ``path`` (relative to the copy's root) in a fresh workspace
                                       (Notebook 7: at ``/notebooks/<path>``).
- ``wait_kernel_idle(page)``           JupyterLab: the status bar says ``| Idle``; Notebook 7: the kernel
                                       is connected and its execution indicator says idle.
- ``run_all(page)``                    Run menu → Run All Cells, retried until the first prompt moves.
- ``wait_executed(page, upto=None)``   the first ``upto`` (default: all) code cells show ``[n]:``;
                                       fails at once with the traceback if a cell raised.
- ``run_notebook(page, lab, path)``   the above in order (Run All runs EVERY cell, as a learner's
                                       does); returns step timings (s). Cells are found by tag, read
                                       with nbformat (``lab.tagged(path, tag)``), never by text.
- ``restart_and_run_all(page)``        Kernel menu → Restart Kernel and Run All Cells…, confirmed.
- ``run_cell(page, cell)``             Run menu → Run Selected Cell; waits for its ``[n]:``.
- ``run_fresh(page, cell)``            the same, waiting for a NEW prompt number; returns the output text.
- ``page_problems(page)``              error outputs and tracebacks anywhere in the notebook.
- ``run_all_above(page, cell)`` / ``run_rest(page, cell)``   Run menu → above ``cell`` /
                                       ``cell`` and below (then waits for every cell).
- ``button(scope, name)`` / ``click_button(scope, name)``   a widget button by its accessible name
                                       (its description); ``scope`` is the page or a locator.
- ``text_box(scope, name)`` / ``fill_text(scope, name, value, submit=False)``   by label or placeholder.
- ``wait_text(locator, text)``         the locator's text contains ``text`` (or matches a regex).
- ``click_latency(page, name, locator, text, scope=None)``   seconds from the click to ``text``,
                                       timed inside the browser (no polling error).
- ``widget_area(page)``                the widget views in the notebook (for screenshots, waits).
- ``screenshot(page, name, full=False)``   PNG in ``test-artifacts/screenshots/``; ``full`` grows the
                                       viewport so the whole notebook panel is in the picture.
- ``screenshot_element(locator, name)``   PNG of one element (e.g. a control panel).
- ``code_cell_at(page, index)``        the ``index``-th code cell (0-based), as nbformat counts them.
- ``clear_all_outputs(page)``          Edit menu → Clear Outputs of All Cells; waits for empty prompts.
- ``set_cell_source(page, cell, text)``   replace a cell's text as a learner would (select all, type).
- ``stored_output_problems(page)``     texts a notebook opened before running must not show
                                       (``VBox(children=…``, a missing widget model, …).
- ``text_contrast(page, scope)``       WCAG contrast of every text in ``scope`` (a CSS selector) against
                                       what is painted behind it, from computed colours.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Union
from urllib.parse import quote

import pytest

try:
    from playwright.sync_api import Locator, Page, expect
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ModuleNotFoundError as exc:  # a test module importing the harness is skipped, or fails under CI
    if os.environ.get('CI', '').lower() in ('1', 'true', 'yes') or not (exc.name or '').startswith('playwright'):
        raise
    pytest.skip(f'Playwright is not installed ({exc}); pip install -r requirements-dev.txt',
                allow_module_level=True)

__all__ = [
    'expect', 'ARTIFACTS', 'open_notebook', 'in_lab', 'close_documents', 'wait_kernel_idle', 'run_all',
    'run_all_above', 'run_rest',
    'run_cell', 'wait_executed', 'run_notebook', 'restart_and_run_all', 'run_fresh', 'page_problems',
    'button', 'click_button', 'text_box', 'fill_text', 'wait_text', 'click_latency', 'widget_area',
    'screenshot', 'screenshot_element', 'code_cell_at', 'clear_all_outputs', 'set_cell_source',
    'stored_output_problems', 'text_contrast',
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / 'test-artifacts' / 'screenshots'

KERNEL_TIMEOUT = 60.0     # seconds: JupyterLab (or Notebook 7) loads, the kernel starts
RUN_TIMEOUT = 120.0       # seconds: all cells of one notebook execute
WIDGET_TIMEOUT = 10.0     # seconds: a widget reacts to a click or a key press

Text = Union[str, 're.Pattern[str]']

_CELLS = '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell'
_PROMPT_STATE_JS = """(upto) => {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')];
  const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt')?.textContent || '').trim());
  const wanted = upto === null ? prompts : prompts.slice(0, upto);
  const errors = [...document.querySelectorAll(
      '.jp-NotebookPanel:not(.lm-mod-hidden) [data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent).filter(t => /Error|Traceback|Exception/.test(t));
  return {
    total: prompts.length,
    wanted: wanted.length,
    done: wanted.filter(p => /^\\[\\d+\\]:$/.test(p)).length,
    running: prompts.filter(p => p === '[*]:').length,
    errors: errors.map(t => t.slice(0, 2000)),
  };
}"""
_STARTED = re.compile(r'^\[(\*|\d+)\]:$')
_MENU_BAR = '#jp-MainMenu'  # the main menu bar: the same widget id in JupyterLab and Notebook 7
# Is the kernel connected and idle?  JupyterLab: the status bar says "| Idle".  Notebook 7 has no
# status bar: its top-bar kernel status gets the class -fade alone (no -info/-warn/-error, no text)
# only once the kernel is connected and idle or busy (before a session it has no class at all, while
# the toolbar's execution indicator already says idle), and the execution indicator tells idle from busy.
_KERNEL_STATE_JS = """() => {
  const bar = document.querySelector('#jp-main-statusbar');
  if (bar) return {idle: bar.textContent.includes('| Idle'), shows: `status bar: ${bar.innerText}`};
  const status = document.querySelector('.jp-NotebookKernelStatus');
  const indicator = document.querySelector(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
  if (!status || !indicator) return {idle: false, shows: 'no kernel status on the page yet'};
  const flags = ['fade', 'info', 'warn', 'error'].filter(
      f => status.classList.contains(`jp-NotebookKernelStatus-${f}`));
  const connected = flags.length === 1 && flags[0] === 'fade' && status.textContent.trim() === '';
  const state = indicator.getAttribute('data-status');
  return {idle: connected && state === 'idle',
          shows: `kernel status ${JSON.stringify(status.textContent)} [${flags}], execution indicator ${state}`};
}"""


def open_notebook(page: Page, lab, path: str) -> None:
    """Open ``path`` (relative to the server's root) and wait for its panel: in the JupyterLab the page
    already shows (as a learner opens the next notebook; see ``in_lab``), else in a fresh workspace."""
    app = getattr(lab, 'app', 'lab')
    if app == 'notebook':  # Notebook 7: one notebook per browser tab, no workspace to reset
        url = f'{lab.url}/notebooks/{quote(path)}?token={lab.token}'
    else:
        url = f'{lab.url}/lab/tree/{quote(path)}?reset&token={lab.token}'
    if app != 'notebook' and in_lab(page, lab):
        page.evaluate("path => window.jupyterapp.commands.execute('docmanager:open', {path, factory: 'Notebook'})",
                      path)
    else:
        page.goto(url, wait_until='domcontentloaded', timeout=KERNEL_TIMEOUT * 1000)
    panel = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)')
    try:
        expect(panel).to_have_count(1, timeout=KERNEL_TIMEOUT * 1000)
        expect(panel.locator('.jp-Cell').first).to_be_visible(timeout=KERNEL_TIMEOUT * 1000)
    except AssertionError as exc:
        raise AssertionError(f'jupyter {app} did not show the notebook {path}: {exc}') from None


def in_lab(page: Page, lab) -> bool:
    """Does ``page`` show ``lab``'s JupyterLab, started (its app object exposed, see tests/browser/conftest.py)?"""
    return page.url.startswith(f'{lab.url}/lab') and page.evaluate(
        '() => !!(window.jupyterapp && window.jupyterapp.shell && window.jupyterapp.commands)')


def close_documents(page: Page, lab) -> bool:
    """Close every open document of the JupyterLab ``page`` shows, unsaved, without a dialog (its kernel keeps
    running, as JupyterLab leaves it on close); True when the page is ready for the next notebook (no dialog
    left open over it)."""
    if not in_lab(page, lab):
        return True  # not JupyterLab (a test replaced the page): the next open loads it
    return page.evaluate("""() => {
      for (const w of [...window.jupyterapp.shell.widgets('main')]) w.dispose();
      return !document.querySelector('.jp-Dialog'); }""")


def wait_kernel_idle(page: Page, timeout: float = KERNEL_TIMEOUT) -> None:
    """Wait until the kernel is connected and idle (accepting a kernel-choice dialog if one appears).

    JupyterLab: the status bar reports ``| Idle``; Notebook 7: see ``_KERNEL_STATE_JS``.
    """
    deadline = time.monotonic() + timeout
    while True:
        dialog = page.locator('.jp-Dialog .jp-mod-accept')
        if dialog.count():
            dialog.first.click()
        try:
            page.wait_for_function(f'() => ({_KERNEL_STATE_JS})().idle', timeout=1000, polling=100)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                shows = page.evaluate(_KERNEL_STATE_JS)['shows']
                raise AssertionError(f'the kernel never became idle in {timeout:.0f} s; {shows}') from None


def _prompt_state(page: Page, upto: int | None = None) -> dict:
    return page.evaluate(_PROMPT_STATE_JS, upto)


def _run_from_menu(page: Page, command: str, select: Locator, started: Locator, attempts: int) -> None:
    """Select a cell, pick ``command`` in the Run menu, retry until ``started``'s prompt moves."""
    for _attempt in range(attempts):
        select.locator('.jp-InputPrompt, .jp-MarkdownCell').first.click()
        page.locator(f'{_MENU_BAR} .lm-MenuBar-item', has_text=re.compile(r'^Run$')).click()
        page.locator(f'li.lm-Menu-item[data-command="{command}"]').click()
        try:
            expect(started.locator('.jp-InputPrompt')).to_have_text(_STARTED, timeout=5000)
            return
        except AssertionError:
            page.keyboard.press('Escape')
    raise AssertionError(f'Run menu {command!r} did not start a cell after {attempts} attempts '
                         f"(the prompt is {started.locator('.jp-InputPrompt').inner_text()!r})")


def run_all(page: Page, attempts: int = 3) -> None:
    """Run menu → Run All Cells; retried until the first code cell's prompt turns ``[*]:``/``[n]:``."""
    first = page.locator(_CELLS).first
    _run_from_menu(page, 'runmenu:run-all', first, first, attempts)


def run_all_above(page: Page, cell: Locator, attempts: int = 3) -> None:
    """Select ``cell``, then Run menu → Run All Above Selected Cell (``cell`` itself is not run)."""
    _run_from_menu(page, 'notebook:run-all-above', cell, page.locator(_CELLS).first, attempts)


def run_cell(page: Page, cell: Locator, timeout: float = RUN_TIMEOUT, attempts: int = 3) -> None:
    """Run one cell (Run menu → Run Selected Cell) and wait until its prompt shows ``[n]:``."""
    _run_from_menu(page, 'notebook:run-cell', cell, cell, attempts)
    try:
        expect(cell.locator('.jp-InputPrompt')).to_have_text(re.compile(r'^\[\d+\]:$'), timeout=timeout * 1000)
    except AssertionError:
        raise AssertionError(f'the cell still runs after {timeout:.0f} s') from None
    state = _prompt_state(page)
    if state['errors']:
        raise AssertionError('a cell raised:\n' + state['errors'][0])


def run_rest(page: Page, cell: Locator, timeout: float = RUN_TIMEOUT, attempts: int = 3) -> None:
    """Run ``cell`` and every cell below it (e.g. a notebook's clean-up), and wait until all show ``[n]:``."""
    last = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').last
    is_last = cell.evaluate('(el, last) => el === last', last.element_handle())
    # JupyterLab disables "Run Selected Cell and All Below" on the last cell: run just that one then
    _run_from_menu(page, 'notebook:run-cell' if is_last else 'notebook:run-all-below', cell, cell, attempts)
    wait_executed(page, timeout=timeout)


def wait_executed(page: Page, upto: int | None = None, timeout: float = RUN_TIMEOUT) -> None:
    """Wait until the first ``upto`` code cells (all if None) show ``[n]:``; fail at once if a cell raised."""
    try:
        page.wait_for_function(
            f'(upto) => {{ const s = ({_PROMPT_STATE_JS})(upto); '
            f'return s.wanted > 0 && (s.done === s.wanted || (s.errors.length > 0 && s.running === 0)); }}',
            arg=upto, timeout=timeout * 1000, polling=100)
    except PlaywrightTimeout:
        raise AssertionError(f'cells still running after {timeout:.0f} s: {_prompt_state(page, upto)}') from None
    state = _prompt_state(page, upto)
    if state['errors']:
        raise AssertionError('a cell raised:\n' + state['errors'][0])
    if state['done'] != state['wanted']:
        raise AssertionError(f'execution stopped early: {state}')


def run_notebook(page: Page, lab, path: str) -> dict[str, float]:
    """Open ``path``, wait for the kernel, Run All (every cell, as a learner's Run All does).

    Returns the seconds each step took.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    open_notebook(page, lab, path)
    timings['open'] = time.perf_counter() - start
    wait_kernel_idle(page)
    timings['kernel_idle'] = time.perf_counter() - start - timings['open']
    mark = time.perf_counter()
    total = page.locator(_CELLS).count()
    if total != lab.code_cells(path):
        raise AssertionError(f'the page shows {total} code cells, {path} has {lab.code_cells(path)}')
    run_all(page)
    wait_executed(page)
    timings['run_all'] = time.perf_counter() - mark
    return timings


def restart_and_run_all(page: Page, timeout: float = RUN_TIMEOUT, attempts: int = 3) -> None:
    """Kernel menu → Restart Kernel and Run All Cells…, confirm, and wait until every cell shows ``[n]:``.

    Clear the outputs first (``clear_all_outputs``) so that stored prompt numbers cannot pass for new ones.
    """
    item = page.locator('li.lm-Menu-item[data-command="runmenu:restart-and-run-all"]')
    first = page.locator(_CELLS).first.locator('.jp-InputPrompt')
    for _attempt in range(attempts):
        page.locator(f'{_MENU_BAR} .lm-MenuBar-item', has_text=re.compile(r'^Kernel$')).click()
        item.click()
        page.locator('.jp-Dialog .jp-mod-accept').click(timeout=10_000)  # "Restart"
        try:
            expect(first).to_have_text(_STARTED, timeout=30_000)
            break
        except AssertionError:
            page.keyboard.press('Escape')
    else:
        raise AssertionError(f'Restart Kernel and Run All did not start a cell after {attempts} attempts')
    wait_executed(page, timeout=timeout)


def run_fresh(page: Page, cell: Locator, timeout: float = RUN_TIMEOUT) -> str:
    """Run ``cell`` (Run menu → Run Selected Cell) and wait for a NEW prompt number; returns its output text.

    Unlike ``run_cell`` this cannot mistake the prompt of an earlier run for the end of this one.
    """
    prompt = cell.locator('.jp-InputPrompt')
    before = prompt.inner_text().strip()
    for _attempt in range(3):
        cell.locator('.jp-InputPrompt').first.click()
        page.locator(f'{_MENU_BAR} .lm-MenuBar-item', has_text=re.compile(r'^Run$')).click()
        page.locator('li.lm-Menu-item[data-command="notebook:run-cell"]').click()
        try:
            page.wait_for_function(
                '([el, before]) => { const t = el.textContent.trim(); return t !== before; }',
                arg=[prompt.element_handle(), before], timeout=5000, polling=50)
            break
        except PlaywrightTimeout:
            page.keyboard.press('Escape')
    else:
        raise AssertionError(f'Run Selected Cell did not start the cell (its prompt stays {before!r})')
    try:
        expect(prompt).to_have_text(re.compile(r'^\[\d+\]:$'), timeout=timeout * 1000)
    except AssertionError:
        raise AssertionError(f'the cell still runs after {timeout:.0f} s') from None
    return cell.locator('.jp-OutputArea').inner_text()


def page_problems(page: Page) -> list[str]:
    """Error outputs and tracebacks anywhere in the open notebook (stderr with an error, or 'Traceback').

    A message a cell prints on purpose (``BrokerError: …`` caught and shown as a lesson) is not one.
    """
    return page.evaluate(r"""() => {
      const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
      if (!panel) return [];
      const found = [...panel.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')]
        .map(e => e.textContent).filter(t => /Error|Traceback|Exception/.test(t));
      for (const out of panel.querySelectorAll('.jp-OutputArea-output')) {
        if (/Traceback \(most recent call last\)/.test(out.textContent)) found.push(out.textContent);
      }
      return [...new Set(found)].map(t => t.slice(0, 1500));
    }""")


Scope = Union[Page, Locator]


def button(scope: Scope, name: Text) -> Locator:
    """Buttons in ``scope`` (the page, or e.g. one panel) whose accessible name (description) is ``name``."""
    return scope.get_by_role('button', name=name, exact=isinstance(name, str))


def click_button(scope: Scope, name: Text, timeout: float = WIDGET_TIMEOUT) -> None:
    """Click the one button named ``name`` in ``scope`` (a real mouse click)."""
    target = button(scope, name)
    try:
        expect(target).to_have_count(1, timeout=timeout * 1000)
    except AssertionError:
        raise AssertionError(f'expected exactly one button named {name!r}, found {target.count()}') from None
    target.click(timeout=timeout * 1000)


def text_box(scope: Scope, name: str) -> Locator:
    """Text boxes in ``scope`` by label (a widget's description) or, failing that, by placeholder."""
    by_label = scope.get_by_role('textbox', name=name, exact=True)
    return by_label if by_label.count() else scope.get_by_placeholder(name, exact=True)


def fill_text(scope: Scope, name: str, value: str, submit: bool = False,
              timeout: float = WIDGET_TIMEOUT) -> None:
    """Type ``value`` into the one text box named ``name`` in ``scope``; ``submit`` presses Enter after."""
    box = text_box(scope, name)
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


def click_latency(page: Page, name: str, locator: Locator, text: str, timeout: float = WIDGET_TIMEOUT,
                  scope: Scope | None = None) -> float:
    """Click button ``name`` (in ``scope``, default the page); seconds until ``locator`` contains ``text``.

    Both instants are taken inside the browser (a capture-phase click listener and a
    MutationObserver), so the number has no polling error.
    """
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
    click_button(scope if scope is not None else page, name, timeout)
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


def code_cell_at(page: Page, index: int) -> Locator:
    """The ``index``-th code cell of the open notebook (0-based, in the order nbformat reads them)."""
    return page.locator(_CELLS).nth(index)


def clear_all_outputs(page: Page) -> None:
    """Edit menu → Clear Outputs of All Cells; waits until no cell shows a prompt number or output."""
    page.locator(f'{_MENU_BAR} .lm-MenuBar-item', has_text=re.compile(r'^Edit$')).click()
    page.locator('li.lm-Menu-item[data-command="editmenu:clear-all"]').click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')].every(
             c => !/\\d/.test(c.querySelector('.jp-InputPrompt')?.textContent || '')
                  && !c.querySelector('.jp-OutputArea-output'))""", timeout=10_000)


def set_cell_source(page: Page, cell: Locator, text: str) -> None:
    """Replace ``cell``'s text with ``text``: click into its editor, select all, type."""
    editor = cell.locator('.cm-content')
    editor.click()
    page.keyboard.press('ControlOrMeta+a')
    page.keyboard.insert_text(text)
    try:  # line by line, exactly: the editor may neither re-indent nor close brackets of its own
        page.wait_for_function(
            "([el, text]) => [...el.querySelectorAll('.cm-line')].map(l => l.textContent)"
            ".join('\\n').replace(/\\n+$/, '') === text",
            arg=[editor.element_handle(), text.rstrip('\n')], timeout=5000, polling=50)
    except PlaywrightTimeout:
        shown = editor.evaluate("el => [...el.querySelectorAll('.cm-line')].map(l => l.textContent).join('\\n')")
        raise AssertionError(f'the cell shows\n{shown}\ninstead of\n{text}') from None


#: What stored widget outputs must never show when a notebook is opened before it runs.
STORED_OUTPUT_PROBLEMS = re.compile(r'VBox\(children=|HBox\(children=|HTML\(value=|Error displaying widget|'
                                    r'model not found|could not be displayed')


def stored_output_problems(page: Page) -> list[str]:
    """Outputs of the open notebook that show a widget's text form or a widget error instead of a picture."""
    texts = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output').all_inner_texts()
    return [text[:200] for text in texts if STORED_OUTPUT_PROBLEMS.search(text)]


_CONTRAST_JS = """(scope) => {
  const parse = (text) => {
    let m = /^rgba?\\(([^)]*)\\)/.exec(text);
    if (m) { const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
             return [p[0] / 255, p[1] / 255, p[2] / 255, p.length > 3 ? p[3] : 1]; }
    m = /^color\\(srgb ([^)]*)\\)/.exec(text);
    if (m) { const p = m[1].split(/[\\s\\/]+/).filter(Boolean).map(Number);
             return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
    return null;
  };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const lum = (c) => { const f = v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
                       return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const alpha = (el) => { let a = 1; for (let e = el; e && e.nodeType === 1; e = e.parentElement)
                            a *= Number(getComputedStyle(e).opacity); return a; };
  const shapes = new Set(['rect', 'circle', 'ellipse', 'polygon', 'path']);
  const paintOf = (el) => {  // what ``el`` paints behind text, as [r, g, b, a], or null
    const style = getComputedStyle(el);
    if (shapes.has(el.localName)) {
      const fill = parse(style.fill);
      return fill && [fill[0], fill[1], fill[2], fill[3] * Number(style.fillOpacity) * alpha(el)];
    }
    if (el.localName === 'text' || el.localName === 'tspan' || el.localName === 'g') return null;
    return parse(style.backgroundColor);
  };
  const backdrop = (el) => {
    const box = el.getBoundingClientRect();
    const layers = [];
    for (const e of document.elementsFromPoint(box.left + box.width / 2, box.top + box.height / 2)) {
      const paint = paintOf(e);
      if (paint && paint[3] > 0) { layers.push(paint); if (paint[3] >= 1) break; }
    }
    return layers.reverse().reduce((below, layer) => over(layer, below), [1, 1, 1, 1]);
  };
  const found = [];
  for (const root of document.querySelectorAll(scope)) {
    const candidates = [...root.querySelectorAll('*')].filter(el => {
      if (el.localName === 'text') return true;
      if (el.closest('svg') || el.localName === 'style' || el.localName === 'script') return false;
      if (el.localName === 'input' || el.localName === 'textarea') return (el.value || '').trim() !== '';
      return [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim() !== '');
    });
    for (const el of candidates) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      el.scrollIntoView({block: 'center', inline: 'nearest'});
      const style = getComputedStyle(el);
      const ink = parse(el.localName === 'text' ? style.fill : style.color);
      if (!ink) {
        found.push({text: el.textContent.trim().slice(0, 60), ratio: 0, ink: style.fill || style.color});
        continue;
      }
      const bg = backdrop(el);
      const fg = over([ink[0], ink[1], ink[2], ink[3] * alpha(el)], bg);
      found.push({text: (el.value || el.textContent).trim().slice(0, 60), ratio: ratio(fg, bg),
                  ink: el.localName === 'text' ? style.fill : style.color,
                  paper: `rgb(${bg.slice(0, 3).map(v => Math.round(v * 255)).join(', ')})`});
    }
  }
  return found;
}"""


def text_contrast(page: Page, scope: str) -> list[dict]:
    """Every text in the elements matching ``scope``: {text, ratio, ink, paper}, lowest ratio first.

    The ink is the computed ``color`` (``fill`` for SVG text) times the opacity of the text and its
    ancestors; the paper is what is painted at the text's centre (backgrounds and SVG shapes, from
    ``elementsFromPoint``), blended down to the first opaque layer.
    """
    return sorted(page.evaluate(_CONTRAST_JS, scope), key=lambda found: found['ratio'])
