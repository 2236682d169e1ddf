"""The learner's path through every notebook, in JupyterLab (light and dark) and Notebook 7.

For each notebook in ``notebooks/`` (and a fixture that follows the same conventions):

1. open it as stored: every stored widget view carries a static snapshot, and they show (pictures), never
   ``VBox(children=…`` or a widget error;
2. clear the outputs and Run All (every cell above the first ``cleanup`` cell: those close the
   widgets, and come last);
3. the ``answer`` cell, as stored, prints ❌ with a hint;
4. use every widget in the cells tagged ``widget``: type a bad routing key into each text box and
   press Enter (a warning), click each button, then type a good key and press Enter;
5. every text in the widgets has a contrast of at least 4.5:1 (WCAG AA) with what is behind it;
6. replace the ``answer`` cell with ``%load solutions.nbNN_name``, run it twice: ✅;
7. run the ``cleanup`` cells; no error output anywhere.

JupyterLab Dark does the whole path too; Notebook 7 does it on every course notebook.
Cells are found by their tags (read with nbformat), never by their text.  A notebook without the tags its contents need
(``answer`` when it has a solution, ``widget`` when it stores widget views) is skipped locally and
fails under CI=true.  JupyterLab's kernels drop widget updates sent from worker threads (see
``conftest.py``), so the counters and logs seen here arrived through the views' front-end ticks.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from .conftest import ROOT, unavailable
from .harness import (
    clear_all_outputs,
    code_cell_at,
    expect,
    open_notebook,
    run_all,
    run_all_above,
    run_cell,
    run_rest,
    screenshot,
    screenshot_element,
    set_cell_source,
    stored_output_problems,
    text_contrast,
    wait_executed,
    wait_kernel_idle,
    wait_text,
)

pytestmark = pytest.mark.browser

WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'
MIN_CONTRAST = 4.5
TYPED_KEY = 'video.upload'  # a routing key every course topology routes
BAD_KEY = 'video\tupload'  # refused with a warning (a tab between the words)
FIXTURE = 'fixtures/99_learner_fixture.ipynb'
# a typed key or a clicked routing-key button shows one of these in its view
TYPED_SHOWS = re.compile(rf"routing key '{re.escape(TYPED_KEY)}'|published {re.escape(TYPED_KEY)} ")


@dataclass(frozen=True)
class Plan:
    """What the learner does with one notebook, read from its cell tags."""

    path: str  # relative to the server's root
    solution: str  # the name after 'solutions.'
    widgets: tuple[int, ...]  # code-cell indices tagged 'widget'
    answer: int | None
    cleanup: int | None  # the first code cell tagged 'cleanup'
    snapshots: int  # stored outputs that carry a view's static snapshot
    stored_views: int  # stored outputs that carry a widget view
    bare_views: int  # stored widget views without a snapshot (shown as text when the state is not restored)
    missing: tuple[str, ...]  # tags the notebook needs but lacks


def read_plan(file: Path, path: str) -> Plan:
    """Read ``file``'s tags and stored outputs (``path``: where the server serves it)."""
    notebook = nbformat.read(file, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == 'code']

    def tagged(tag: str) -> list[int]:
        return [i for i, cell in enumerate(code) if tag in cell.metadata.get('tags', [])]
    outputs = [out for cell in code for out in cell.get('outputs', [])]
    stored_views = sum(WIDGET_VIEW in out.get('data', {}) for out in outputs)
    snapshots = sum('helpers-snapshot' in out.get('data', {}).get('text/html', '') for out in outputs)
    bare_views = sum(WIDGET_VIEW in out.get('data', {}) and 'helpers-snapshot' not in out['data'].get('text/html', '')
                     for out in outputs)
    solution = f'nb{file.stem}'
    has_solution = (ROOT / 'helpers' / 'solutions' / f'{solution}.py').is_file() or path == FIXTURE
    missing = []
    if has_solution and not tagged('answer'):
        missing.append(f"'answer' (helpers/solutions/{solution}.py exists)")
    if stored_views and not tagged('widget'):
        missing.append(f"'widget' (it stores {stored_views} widget views)")
    cleanup = tagged('cleanup')
    return Plan(path, solution, tuple(tagged('widget')), (tagged('answer') or [None])[0],
                cleanup[0] if cleanup else None, snapshots, stored_views, bare_views, tuple(missing))


def plans() -> list[Plan]:
    found = [read_plan(file, f'notebooks/{file.name}') for file in sorted((ROOT / 'notebooks').glob('*.ipynb'))]
    return [*found, read_plan(ROOT / 'tests' / 'browser' / FIXTURE, FIXTURE)]


PLANS = plans()
COURSE = [plan for plan in PLANS if plan.path != FIXTURE]  # Notebook 7: the course only (time budget)


def _name(plan: Plan) -> str:
    return Path(plan.path).stem


# -- the steps -------------------------------------------------------------------------------------

def open_as_stored(page, server, plan: Plan, shot: str) -> None:
    """Step 1: the stored widget outputs show their snapshots, not text or errors."""
    assert not plan.bare_views, (f'{plan.path} stores {plan.bare_views} widget views without a snapshot: '
                                 're-execute it with tools/execute.py')
    open_notebook(page, server, plan.path)
    snapshots = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .helpers-snapshot')
    expect(snapshots).to_have_count(plan.snapshots, timeout=15_000)
    assert not stored_output_problems(page), \
        f'{plan.path} opened as stored shows widgets as text: {stored_output_problems(page)}'
    if plan.snapshots:
        screenshot_element(snapshots.first, f'{shot}-stored-{_name(plan)}')


def run_above_cleanup(page, plan: Plan) -> None:
    """Step 2: clear the outputs, then run every cell above the clean-up (all of them if there is none)."""
    wait_kernel_idle(page)
    clear_all_outputs(page)
    if plan.cleanup is None:
        run_all(page)
        wait_executed(page)
    elif plan.cleanup > 0:
        run_all_above(page, code_cell_at(page, plan.cleanup))
        wait_executed(page, upto=plan.cleanup)


def use_widgets(page, plan: Plan, shot: str, click: bool = True) -> float:
    """Step 4: click every button (if ``click``) and type a key + Enter in every text box of the
    'widget' cells; a bad key first, whose warning is measured for contrast (step 5), then a good one.
    Returns the lowest contrast seen with the warnings showing."""
    lowest = float('inf')
    for index in plan.widgets:
        output = code_cell_at(page, index).locator('.jp-OutputArea')
        expect(output.locator('.jupyter-widgets').first).to_be_visible(timeout=15_000)
        boxes = output.locator('input[type="text"]')
        for i in range(boxes.count()):
            boxes.nth(i).fill(BAD_KEY)
            boxes.nth(i).press('Enter')
            wait_text(output, '⚠')
        if boxes.count():
            lowest = min(lowest, check_contrast(page, plan, f'{shot} (bad key)'))
        buttons = output.get_by_role('button')
        names = [buttons.nth(i).inner_text().strip() for i in range(buttons.count())] if click else []
        for i, name in enumerate(names):
            buttons.nth(i).click()
            if re.fullmatch(r'[\w-]+(\.[\w-]+)+', name):  # a routing-key button publishes that key
                wait_text(output, f'published {name} ')
                wait_text(output, re.compile(rf'acked\s+\S+\s+{re.escape(name)}\b'))  # via the ticks
        for i in range(boxes.count()):  # a good key last: the widgets are left clean
            boxes.nth(i).fill(TYPED_KEY)
            boxes.nth(i).press('Enter')
            wait_text(output, TYPED_SHOWS)
        _named_screenshots(output, plan, shot)
        assert not _errors(page), f'using the widgets of {plan.path} gave errors: {_errors(page)}'
    return lowest


def _named_screenshots(output, plan: Plan, shot: str) -> None:
    """The README's pictures: the panel, the diagram and the key tester, as the learner sees them."""
    name = _name(plan) if shot == 'lab' else f'{shot}-{_name(plan)}'
    if output.get_by_role('button', name='Publish', exact=True).count():
        screenshot_element(output.locator('.widget-vbox').first, f'{name}-panel')
    diagram = output.locator('.widget-html:has(svg.routing-diagram)')  # the SVG itself is replaced on redraw
    if diagram.count():
        screenshot_element(diagram.first, f'{name}-diagram')
    if output.get_by_text(f'routing key {TYPED_KEY!r}').count():
        screenshot_element(output.locator('.widget-vbox').first, f'{name}-tester-{TYPED_KEY}')


def check_contrast(page, plan: Plan, shot: str) -> float:
    """Step 5: every text in the widget outputs reaches MIN_CONTRAST; returns the lowest ratio."""
    found = text_contrast(page, '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output:has(.jupyter-widgets)')
    if not found:
        return float('nan')
    low = [f for f in found if f['ratio'] < MIN_CONTRAST]
    assert not low, f'{plan.path} in {shot}: texts below {MIN_CONTRAST}:1: {json.dumps(low[:8], ensure_ascii=False)}'
    return found[0]['ratio']


def answer_with_solution(page, plan: Plan) -> None:
    """Steps 3 and 6: the stored answer prints ❌; the loaded solution, run twice, prints ✅."""
    cell = code_cell_at(page, plan.answer)
    wait_text(cell.locator('.jp-OutputArea'), '❌')
    set_cell_source(page, cell, f'%load solutions.{plan.solution}')
    run_cell(page, cell)  # %load pastes the solution into the cell
    expect(cell.locator('.cm-content')).to_contain_text(f'# %load solutions.{plan.solution}', timeout=10_000)
    run_cell(page, cell)
    wait_text(cell.locator('.jp-OutputArea'), '✅', timeout=60)


def run_cleanup(page, plan: Plan) -> None:
    """Step 7: the clean-up cells run without error."""
    if plan.cleanup is not None:
        run_rest(page, code_cell_at(page, plan.cleanup))


def _errors(page) -> list[str]:
    texts = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) '
                         '[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    return [t[:500] for t in texts if re.search(r'Error|Traceback|Exception', t)]


def learner_path(page, server, plan: Plan, shot: str, full: bool = True) -> dict[str, float]:
    """The whole path (``full``) or open + Run All + contrast; returns timings and the lowest contrast."""
    if plan.missing:
        unavailable(f'{plan.path} lacks the tags {", ".join(plan.missing)}')
    started = time.perf_counter()
    open_as_stored(page, server, plan, shot)
    run_above_cleanup(page, plan)
    ran = time.perf_counter()
    warned = use_widgets(page, plan, shot, click=full)
    lowest = min(warned, check_contrast(page, plan, shot)) if plan.widgets else float('nan')
    if full:
        if plan.answer is not None:
            answer_with_solution(page, plan)
        run_cleanup(page, plan)
        assert not _errors(page), f'{plan.path}: error output: {_errors(page)}'
    screenshot(page, f'{shot}-{_name(plan)}', full=True)
    result = {'run': ran - started, 'total': time.perf_counter() - started, 'contrast': lowest}
    print(f'\n{shot} {plan.path}: open + run {result["run"]:.1f} s, total {result["total"]:.1f} s, '
          f'lowest text contrast {lowest:.2f}:1')
    return result


# -- the tests -------------------------------------------------------------------------------------

@pytest.mark.parametrize('plan', PLANS, ids=_name)
def test_learner_path_jupyterlab(page, lab, plan):
    """JupyterLab (light), worker-thread sends dropped: the whole path."""
    learner_path(page, lab, plan, 'lab')


@pytest.mark.parametrize('plan', PLANS, ids=_name)
def test_learner_path_jupyterlab_dark(dark_page, lab, plan):
    """JupyterLab Dark: the whole path, with the widgets' contrast measured on the dark theme."""
    learner_path(dark_page, lab, plan, 'dark')


@pytest.mark.parametrize('plan', COURSE, ids=_name)
def test_learner_path_notebook7(notebook7_page, notebook7, plan):
    """Notebook 7: the whole path."""
    learner_path(notebook7_page, notebook7, plan, 'notebook7')
