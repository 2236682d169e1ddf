"""The learner's path through every notebook, literally (issue 18): Run All, then play.

For each notebook in ``notebooks/`` (and a fixture that follows the same conventions), in JupyterLab:

1. open it as stored: every stored widget view carries a static snapshot, and they show (pictures), never
   ``VBox(children=…`` or a widget error;
2. clear the outputs and Run All: EVERY cell, as a learner's Run All does (a clean-up cell, if a notebook
   still has one, runs too, and whatever it closed is then found closed);
3. the ``answer`` cell, as Run All left it, shows ❌;
4. use every widget in the cells tagged ``widget``: type a bad routing key into each text box and
   press Enter (a warning), click each button, then type a good key and press Enter;
5. every text in the widgets has a contrast of at least 4.5:1 (WCAG AA) with what is behind it;
6. the exercise as a learner does it, in the same kernel: write the first WRONG answer of
   ``tests/exercises/nbNN_name.py`` into the answer cell and run it (❌ and its hint), then the OWN
   answer (✅), then ``%load solutions.nbNN_name`` and run it twice (✅).  Every other WRONG answer runs
   in a kernel, on memory:// and RabbitMQ, in tests/notebooks/test_exercises.py: the page adds nothing
   to what they print, and one per notebook shows the page renders a hint;
7. no error output and no traceback anywhere on the page.

On RabbitMQ (a second JupyterLab whose kernels get ``BROKER_URL`` = the tests' RabbitMQ, chosen as
tests/conftest.py does: ``AMQP_URL``, else the vhost ``krl_tests``): steps 2, 3, 6 and 7.
Restart Kernel and Run All instead of Run All, and a widget cell re-run alone after step 6 (its widgets
used again), on the fixture and on the last course notebook with widgets. JupyterLab Dark: steps 1, 2,
4 (without clicks) and 5, on the fixture (it shows every view the course has). Notebook 7, on the
course notebooks with widgets: steps 2, 3, 4, the first WRONG answer, the OWN answer and the solution.
Cells are found by their tags (read with nbformat), never by their text.  A notebook without the tags its
contents need (``answer`` when it has a solution, ``widget`` when it stores widget views), or without its
exercise data, is skipped locally and fails under CI=true.  JupyterLab's kernels drop widget updates sent
from worker threads (see ``conftest.py``), so the counters and logs seen here arrived through the views'
front-end ticks.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import exercise_data
import nbformat
import pytest

from .conftest import FIXTURES, ROOT, unavailable
from .harness import (
    clear_all_outputs,
    code_cell_at,
    expect,
    open_notebook,
    page_problems,
    restart_and_run_all,
    run_all,
    run_fresh,
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
    return Plan(path, solution, tuple(tagged('widget')), (tagged('answer') or [None])[0],
                snapshots, stored_views, bare_views, tuple(missing))


def plans() -> list[Plan]:
    found = [read_plan(file, f'notebooks/{file.name}') for file in sorted((ROOT / 'notebooks').glob('*.ipynb'))]
    return [*found, read_plan(ROOT / 'tests' / 'browser' / FIXTURE, FIXTURE)]


PLANS = plans()
COURSE = [plan for plan in PLANS if plan.path != FIXTURE]
# JupyterLab Dark: the fixture, which shows every view the course has (key tester, panel, diagram)
DARK = [plan for plan in PLANS if plan.path == FIXTURE]
# Notebook 7: the course notebooks with widgets (where the two front ends differ); the exercise cells are
# the same code in both, and %load (set_next_input) is exercised there too.  Time budget: CI fits 12 min.
NOTEBOOK7 = [plan for plan in COURSE if plan.widgets]
# Restart Kernel and Run All (instead of Run All), and a widget cell re-run alone after the widgets were
# used: in JupyterLab on memory://, for the last course notebook with widgets and the fixture
RESTART = {plan.path for plan in [*[p for p in COURSE if p.widgets and p.answer is not None][-1:], PLANS[-1]]}


def exercise_of(plan: Plan):
    """The notebook's WRONG and OWN answers (tests/exercises/, or beside the fixture), or None."""
    return exercise_data.load(plan.solution, FIXTURES if plan.path == FIXTURE else exercise_data.FOLDER)


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


def run_everything(page, plan: Plan, restart: bool = False) -> None:
    """Step 2: clear the outputs, then Run All (or Restart Kernel and Run All): every cell."""
    wait_kernel_idle(page)
    clear_all_outputs(page)
    if restart:
        restart_and_run_all(page)
    else:
        run_all(page)
        wait_executed(page)
    problems = page_problems(page)
    assert not problems, f'{plan.path}: Run All gave errors: {problems}'


def use_widgets(page, plan: Plan, shot: str, click: bool = True) -> float:
    """Step 4: click every button (if ``click``) and type a key + Enter in every text box of the
    'widget' cells; a bad key first, whose warning is measured for contrast (step 5), then a good one.
    Returns the lowest contrast seen with the warnings showing."""
    lowest = float('inf')
    for index in plan.widgets:
        output = code_cell_at(page, index).locator('.jp-OutputArea')
        try:
            expect(output.locator('.jupyter-widgets').first).to_be_visible(timeout=15_000)
        except AssertionError:
            raise AssertionError(f'{plan.path}: after Run All the widgets of code cell {index} are gone '
                                 '(did a cell that Run All reaches close them?)') from None
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
        assert not page_problems(page), f'using the widgets of {plan.path} gave errors: {page_problems(page)}'
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


def _verdict(text: str) -> str:
    marked = [line.strip() for line in text.splitlines() if '✅' in line or '❌' in line]
    return marked[-1] if marked else ''


def answer(page, plan: Plan, source: str) -> str:
    """Write ``source`` into the answer cell as a learner would and run it; returns what it printed."""
    cell = code_cell_at(page, plan.answer)
    set_cell_source(page, cell, source)
    out = run_fresh(page, cell)
    assert 'Traceback' not in out and not page_problems(page), \
        f'{plan.path}: a traceback after running\n{source}\n---\n{out}\n{page_problems(page)}'
    return out


def do_exercise(page, plan: Plan, wrong: int | None = None) -> dict[str, int]:
    """Steps 3 and 6: the starter's ❌; each WRONG answer (the first ``wrong`` of them): ❌ and its hint;
    OWN: ✅; ``%load`` the solution and run it twice: ✅.  Returns how many answers of each kind ran."""
    if plan.answer is None:
        return {}
    cell = code_cell_at(page, plan.answer)
    starter = cell.locator('.jp-OutputArea').inner_text()
    assert _verdict(starter).startswith('❌'), f'{plan.path}: the stored starter shows {starter!r} after Run All'
    data = exercise_of(plan)
    done = {'wrong': 0, 'own': 0}
    if data is not None:
        problems = []
        for source, expected in data.wrong[:wrong]:
            out = answer(page, plan, source)
            if '❌' not in out or '✅' in out or expected not in out:
                problems.append(f'{" / ".join(source.splitlines()[1:])[:200]}: wanted ❌ and {expected!r}, '
                                f'the page shows {out.strip()!r}')
            done['wrong'] += 1
        assert not problems, f'{plan.path}: wrong answers:\n' + '\n'.join(problems)
        out = answer(page, plan, data.own)
        assert _verdict(out).startswith('✅') and '❌' not in out, f'{plan.path}: the OWN answer shows {out!r}'
        done['own'] = 1
    answer_with_solution(page, plan)
    if data is None:
        unavailable(f'{plan.path} has no exercise data: write tests/exercises/{plan.solution}.py (WRONG, OWN)')
    return done


def answer_with_solution(page, plan: Plan) -> None:
    """``%load solutions.nbNN_name`` in the answer cell, then run what it pasted twice: ✅ each time."""
    cell = code_cell_at(page, plan.answer)
    set_cell_source(page, cell, f'%load solutions.{plan.solution}')
    run_fresh(page, cell)  # %load pastes the solution into the cell
    expect(cell.locator('.cm-content')).to_contain_text(f'# %load solutions.{plan.solution}', timeout=10_000)
    for _ in range(2):
        out = run_fresh(page, cell)
        assert _verdict(out).startswith('✅') and '❌' not in out and 'Traceback' not in out, \
            f'{plan.path}: the loaded solution shows {out!r}'


def learner_path(page, server, plan: Plan, shot: str, clicks: bool = True, wrong: int | None = None,
                 exercise: bool = True, stored: bool = True, restart: bool = False) -> dict[str, float]:
    """The path (see the module's docstring); returns timings and the lowest contrast."""
    if plan.missing:
        unavailable(f'{plan.path} lacks the tags {", ".join(plan.missing)}')
    started = time.perf_counter()
    if stored:
        open_as_stored(page, server, plan, shot)
    else:
        open_notebook(page, server, plan.path)
    run_everything(page, plan, restart=restart)
    ran = time.perf_counter()
    warned = use_widgets(page, plan, shot, click=clicks)
    lowest = min(warned, check_contrast(page, plan, shot)) if plan.widgets else float('nan')
    played = time.perf_counter()
    done = do_exercise(page, plan, wrong) if exercise else {}
    if restart and plan.widgets:  # a panel/worker cell run again: still works, no traceback
        rerun = plan.widgets[-1]
        run_fresh(page, code_cell_at(page, rerun))
        assert not page_problems(page), f'{plan.path}: re-running code cell {rerun} gave {page_problems(page)}'
        use_widgets(page, Plan(**{**plan.__dict__, 'widgets': (rerun,)}), f'{shot}-rerun', click=clicks)
    assert not page_problems(page), f'{plan.path}: error output: {page_problems(page)}'
    screenshot(page, f'{shot}-{_name(plan)}', full=True)
    result = {'run': ran - started, 'widgets': played - ran, 'exercise': time.perf_counter() - played,
              'contrast': lowest}
    how = 'Restart and Run All' if restart else 'Run All'
    print(f'\n{shot} {plan.path}: open + {how} {result["run"]:.1f} s, widgets {result["widgets"]:.1f} s, '
          f'exercise {result["exercise"]:.1f} s ({done}), lowest text contrast {lowest:.2f}:1')
    return result


# -- the tests -------------------------------------------------------------------------------------

@pytest.mark.parametrize('plan', PLANS, ids=_name)
def test_learner_path_jupyterlab(page, lab, plan):
    """JupyterLab (light) on memory://, worker-thread sends dropped: the whole path (for RESTART, with
    Restart Kernel and Run All, and a widget cell run again alone)."""
    learner_path(page, lab, plan, 'lab', wrong=1, restart=plan.path in RESTART)


@pytest.mark.parametrize('plan', PLANS, ids=_name)
def test_learner_path_rabbitmq(amqp_page, lab_amqp, plan):
    """JupyterLab on RabbitMQ: Run All, then the exercise: a wrong answer, an own one, the solution (the
    widgets are played on memory://)."""
    if plan.missing:
        unavailable(f'{plan.path} lacks the tags {", ".join(plan.missing)}')
    started = time.perf_counter()
    open_notebook(amqp_page, lab_amqp, plan.path)
    run_everything(amqp_page, plan)
    ran = time.perf_counter()
    done = do_exercise(amqp_page, plan, wrong=1)
    assert not page_problems(amqp_page), f'{plan.path}: error output: {page_problems(amqp_page)}'
    print(f'\nrabbitmq {plan.path}: open + Run All {ran - started:.1f} s, '
          f'exercise {time.perf_counter() - ran:.1f} s ({done})')


@pytest.mark.parametrize('plan', DARK, ids=_name)
def test_learner_path_jupyterlab_dark(dark_page, lab, plan):
    """JupyterLab Dark: Run All and the widgets' contrast measured on the dark theme (no clicks, no exercise)."""
    learner_path(dark_page, lab, plan, 'dark', clicks=False, exercise=False)


@pytest.mark.parametrize('plan', NOTEBOOK7, ids=_name)
def test_learner_path_notebook7(notebook7_page, notebook7, plan):
    """Notebook 7: Run All, the widgets, the first wrong answer, an own one and the solution."""
    learner_path(notebook7_page, notebook7, plan, 'notebook7', wrong=1, stored=False)
