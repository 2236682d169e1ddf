"""Every notebook's exercise as a learner does it, in a fresh kernel per notebook and broker (no browser).

The notebook is read with nbformat and its cells are found by tag (``self-check``, ``answer``), never by
their text; the answers come from ``tests/exercises/nbNN_name.py`` (``WRONG`` and ``OWN``, see
``tests/exercise_data.py``). One kernel per notebook and broker (memory://, then RabbitMQ) runs every
code cell above the answer cell; then, in that kernel, as the learner's next cells:

- the stored starter prints ❌ and a hint;
- each code cell above the answer, run again one after the other, shows no error (Run All, then play);
- each WRONG answer prints ❌ and its expected substring;
- the OWN answer prints ✅;
- ``%load solutions.nbNN_name`` pastes the solution, which prints ✅ run twice; in a learners' copy made
  by tools/handout.py, which has neither the solutions nor tests/exercises/, it pastes a cell that says the
  copy was handed out without solutions, and prints that when run.

Output holding 'Traceback', or an error output, fails the test. Last, the kernel is shut down (no
clean-up cell ran) and nothing it started may outlive it: no process of its family (psutil) and, on
RabbitMQ, no connection from it (``rabbitmqctl list_connections`` or the management API; see
tests/kernel_leftovers.py).
RabbitMQ is ``AMQP_URL``, else the test vhost ``krl_tests`` (see tests/conftest.py); without it the
RabbitMQ half skips locally and fails under CI=true.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import exercise_data
import nbformat
import psutil
import pytest
from conftest import BROKERS, LATE_OUTPUT, require_broker
from kernel_leftovers import Snapshot, broker_connections, snapshot, vhost_of
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from helpers import solutions
from tools import kernel_retry

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(path.stem for path in (ROOT / 'notebooks').glob('[0-9][0-9]_*.ipynb'))
FIRST_LINE = '# Your answer. To see a solution, replace this cell with: %load solutions.nb{name}'


def tagged(nb, tag: str) -> list[int]:
    """The indices of the cells carrying ``tag``."""
    return [i for i, cell in enumerate(nb.cells) if tag in cell.metadata.get('tags', [])]


def exercise_cells(nb) -> tuple[int, int]:
    """The indices of the one self-check cell and the one answer cell (the self-check first)."""
    checks, answers = tagged(nb, 'self-check'), tagged(nb, 'answer')
    assert len(checks) == 1 and len(answers) == 1, f'self-check cells {checks}, answer cells {answers}'
    [check], [answer] = checks, answers
    assert check < answer, 'the self-check must come before the answer cell'
    return check, answer


# A notebook of the new shape (no clean-up cell), its exercise data beside it: proves these tests on it too
FIXTURE = '99_learner_fixture'
FIXTURES = ROOT / 'tests' / 'browser' / 'fixtures'


def _folder(name: str) -> Path:
    return FIXTURES if name == FIXTURE else ROOT / 'notebooks'


def _read(name: str):
    return nbformat.read(_folder(name) / f'{name}.ipynb', as_version=4)


def _data(name: str):
    return exercise_data.load(name, FIXTURES if name == FIXTURE else exercise_data.FOLDER)


WITH_ANSWER = [name for name in NOTEBOOKS if tagged(_read(name), 'answer')]
KERNELS = [*WITH_ANSWER, FIXTURE]


def output_text(outputs) -> str:
    """Everything a cell showed, as text: streams, plain-text results, error tracebacks."""
    parts = []
    for out in outputs:
        if out.output_type == 'stream':
            parts.append(out.text)
        elif out.output_type == 'error':
            parts.append('\n'.join(out.traceback) or f'{out.ename}: {out.evalue}')
        else:
            parts.append(str(out.get('data', {}).get('text/plain', '')))
    return ''.join(parts)


class ExerciseKernel:
    """A kernel that has run a notebook's cells above its answer cell; runs more cells in that place."""

    def __init__(self, name: str, url: str) -> None:
        self.name, self.url = name, url
        self.nb = _read(name)
        _check, answer = exercise_cells(self.nb)
        self.starter = self.nb.cells[answer].source
        self.answer = answer  # the cells above it are the notebook's; those appended later are the learner's
        self.nb.cells = self.nb.cells[:answer]
        self.replies: list[dict] = []
        self.client = NotebookClient(self.nb, timeout=180, kernel_name='python3', **LATE_OUTPUT,
                                     resources={'metadata': {'path': str(ROOT / 'notebooks')}},  # helpers import
                                     on_cell_executed=lambda **kw: self.replies.append(kw['execute_reply']))
        self.open = False  # the kernel starts in __enter__
        self.noted = Snapshot()

    def __enter__(self) -> ExerciseKernel:
        kernel_retry.once_more(self._start)  # its ports taken before it bound them: once more, on new ports
        self.open = True
        try:
            for index, cell in enumerate(list(self.nb.cells)):
                if cell.cell_type == 'code':
                    self.client.execute_cell(cell, index)
                    assert 'Traceback' not in output_text(cell.outputs), output_text(cell.outputs)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        """Start the kernel (a new session each time: a failed start cleans its own up)."""
        self.session = self.client.setup_kernel(env={**os.environ, 'BROKER_URL': self.url})
        self.session.__enter__()

    @property
    def pid(self) -> int:
        return self.client.km.provisioner.process.pid

    def close(self) -> None:
        """Shut the kernel down as Jupyter does (a shutdown request, then a kill if it lingers)."""
        if self.open:
            self.open = False
            self.session.__exit__(None, None, None)

    def run(self, source: str) -> str:
        """Run ``source`` as the next cell; an error or a traceback fails the test; returns what it showed."""
        self.nb.cells.append(nbformat.v4.new_code_cell(source))
        try:
            cell = self.client.execute_cell(self.nb.cells[-1], len(self.nb.cells) - 1)
        except CellExecutionError as exc:
            pytest.fail(f'{self.name} on {self.url.split(":")[0]}: the cell raised\n{source}\n---\n{exc}')
        text = output_text(cell.outputs)
        assert 'Traceback' not in text, f'{self.name}: a traceback from\n{source}\n---\n{text}'
        return text

    def load(self, line: str) -> str:
        """Run the ``%load`` line and return the text IPython puts in the cell in its place."""
        self.run(line)
        [payload] = [p for p in self.replies[-1]['content'].get('payload', []) if p['source'] == 'set_next_input']
        return payload['text']

    def snapshot(self) -> None:
        """Note the kernel's process family and its AMQP connections (before it is shut down)."""
        self.noted = snapshot(self.pid)

    def leftovers(self, timeout: float = 10.0) -> tuple[list[str], list[str]]:
        """After ``close``: the noted processes still alive, and the noted connections the broker still has."""
        return self.noted.leftovers(self.url, timeout)


def verdict(out: str) -> str:
    """The last line that carries a ✅ or ❌ (what the check printed last)."""
    marked = [line for line in out.splitlines() if '✅' in line or '❌' in line]
    return marked[-1] if marked else ''


BROKER_NAMES = ['memory', 'amqp']


@pytest.fixture(scope='module', params=[(name, broker) for broker in BROKER_NAMES for name in KERNELS],
                ids=lambda p: f'{p[0]}-{p[1]}')
def kernel(request):
    name, broker = request.param
    url = require_broker(BROKERS[broker])
    with ExerciseKernel(name, url) as kernel:
        yield kernel


def handed_out_without(name: str) -> bool:
    """True in a learners' copy (tools/handout.py) that was handed out without this notebook's solution."""
    return f'nb{name}' in solutions.left_out()


def test_every_notebook_has_a_solution_and_every_solution_a_notebook():
    assert sorted(solutions.available() + solutions.left_out()) == [f'nb{name}' for name in NOTEBOOKS]


@pytest.mark.parametrize('name', WITH_ANSWER)
def test_every_exercise_has_its_data(name):
    if handed_out_without(name):
        pytest.skip('a learners\' copy: tools/handout.py leaves out tests/exercises/ (it holds right answers)')
    data = exercise_data.load(name)
    assert data is not None, f'tests/exercises/nb{name}.py is missing (WRONG and OWN, see tests/exercise_data.py)'
    for source, _expected in data.wrong:
        assert source.splitlines()[0] == FIRST_LINE.format(name=name), source
    assert data.own.splitlines()[0] == FIRST_LINE.format(name=name), data.own


@pytest.mark.parametrize('name', WITH_ANSWER)
def test_the_answer_cell_says_how_to_load_the_solution(name):
    nb = _read(name)
    _check, answer = exercise_cells(nb)
    first = solutions.ANSWER_LINE if handed_out_without(name) else FIRST_LINE.format(name=name)
    assert nb.cells[answer].source.splitlines()[0] == first


@pytest.mark.parametrize('name', WITH_ANSWER)
def test_the_exercise_states_its_expected_time(name):
    """Issue 18: each exercise says how long it should take, in its '## Exercise' heading."""
    nb = _read(name)
    check, _answer = exercise_cells(nb)
    headings = [line for cell in nb.cells[:check] if cell.cell_type == 'markdown'
                for line in cell.source.splitlines() if line.startswith('## Exercise')]
    assert headings, f'{name}: no "## Exercise" heading above the self-check'
    assert re.search(r'\(about \d+(–\d+)? minutes\)', headings[-1]), headings[-1]


# What a solution that is kombu or Celery code contains (declarations, a consumer, a publisher, routes)
KOMBU_OR_CELERY = re.compile(r'\b(Queue|Exchange|binding|Producer|Consumer|ConsumerMixin)\(|\bConsumerMixin\b|'
                             r'\.publish\(|\btask_(queues|routes)\b')


def test_at_least_five_exercises_ask_for_kombu_or_celery_code():
    """Issue 18: at least 5 of the 7 exercises are solved by writing kombu or Celery code."""
    if solutions.left_out():
        pytest.skip("a learners' copy: tools/handout.py leaves the solutions out")
    names = solutions.available()
    kombu = [name for name in names if KOMBU_OR_CELERY.search(getattr(solutions, name))]
    assert len(kombu) >= 5, f'{len(kombu)} of {len(names)} solutions are kombu or Celery code: {kombu}'


def test_the_stored_starter_prints_a_cross(kernel):
    out = kernel.run(kernel.starter)
    assert verdict(out).lstrip().startswith('❌') and '✅' not in out, out


def test_after_run_all_each_cell_runs_again(kernel):
    """Run All, then play (issue 18): each code cell above the answer, run again one after the other in the same
    kernel, shows no error and no traceback (a cell that cannot run again says why).  Found this way: 03's
    serializer cell timed out with a traceback while the panel's worker, alive after Run All, took its bodies."""
    problems = []
    for index, cell in enumerate(list(kernel.nb.cells)):
        if cell.cell_type != 'code' or index >= kernel.answer:
            continue
        try:
            kernel.client.execute_cell(cell, index)
        except CellExecutionError as exc:
            problems.append(f'cell {index} ({cell.get("id")}): {str(exc).strip().splitlines()[-1]}')
            continue
        text = output_text(cell.outputs)
        if 'Traceback' in text or any(out.output_type == 'error' for out in cell.outputs):
            problems.append(f'cell {index} ({cell.get("id")}): {text[-300:]}')
    assert not problems, f'{kernel.name} on {kernel.url}, run again after Run All:\n' + '\n'.join(problems)


def test_each_wrong_answer_prints_a_cross_and_its_hint(kernel):
    data = _data(kernel.name)
    if data is None:
        pytest.skip(f'no tests/exercises/nb{kernel.name}.py')
    problems = []
    for source, expected in data.wrong:
        out = kernel.run(source)
        if '❌' not in out or '✅' in out or expected not in out:
            answer = ' / '.join(source.splitlines()[1:])[:300]
            problems.append(f'--- {answer}\n    wanted ❌ and {expected!r}; printed: {out.strip()!r}')
    assert not problems, f'{kernel.name}: {len(problems)} of {len(data.wrong)} wrong answers:\n' + '\n'.join(problems)


def test_an_own_right_answer_prints_a_tick(kernel):
    data = _data(kernel.name)
    if data is None:
        pytest.skip(f'no tests/exercises/nb{kernel.name}.py')
    out = kernel.run(data.own)
    assert verdict(out).lstrip().startswith('✅') and '❌' not in out, out


def test_the_loaded_solution_prints_a_tick_twice(kernel):
    if handed_out_without(kernel.name):
        pytest.skip('a learners\' copy, without this solution (see the next test)')
    text = kernel.load(f'%load solutions.nb{kernel.name}')
    assert text.startswith(f'# %load solutions.nb{kernel.name}\n')
    if kernel.name != FIXTURE:  # the fixture's stand-in for helpers.solutions is its own
        assert text.endswith(getattr(solutions, f'nb{kernel.name}'))
    for _ in range(2):  # run twice, as a learner might
        out = kernel.run(text)
        assert verdict(out).lstrip().startswith('✅') and '❌' not in out, out


def test_a_left_out_solution_explains_itself(kernel):
    """In a learners' copy, %load pastes a cell saying there is no solution, which prints so when run."""
    if not handed_out_without(kernel.name):
        pytest.skip('this copy has the solution (tools/handout.py makes one without)')
    text = kernel.load(f'%load solutions.nb{kernel.name}')
    assert text.startswith(f'# %load solutions.nb{kernel.name}\n# {solutions.WITHOUT}'), text
    out = kernel.run(text)
    assert f'{solutions.WITHOUT}: there is no solutions.nb{kernel.name} to load' in out, out
    assert '✅' not in out and '❌' not in out, out


def test_nothing_outlives_the_kernel(kernel):
    """Last for each kernel: shut it down (no clean-up cell ran); its processes and connections go with it."""
    kernel.snapshot()
    print(f'{kernel.name}: {len(kernel.noted.processes)} processes, {len(kernel.noted.ports)} AMQP connections '
          'before shutdown')
    kernel.close()
    processes, connections = kernel.leftovers()
    assert not processes, f'{kernel.name}: processes outlived the kernel: {processes}'
    assert not connections, f'{kernel.name}: RabbitMQ connections outlived the kernel: {connections}'


# -- the check above can fail: a kernel that leaves a process (holding an AMQP connection) behind ------

LINGER = """\
import subprocess, sys
lingerer = subprocess.Popen([sys.executable, '-c', {code!r}], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)  # out of the kernel's process group: its signals miss it
print(lingerer.stdout.readline().strip(), lingerer.pid)
"""
LINGER_CODE = """\
import time
from kombu import Connection
conn = Connection({url!r})
conn.connect()
print('connected', flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize('broker', BROKER_NAMES)
def test_the_leftover_check_sees_a_process_and_its_connection(broker, tmp_path):
    """The control: a process the kernel started and never stopped is reported, with its connection."""
    url = require_broker(BROKERS[broker])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LINGER.format(code=LINGER_CODE.format(url=url)))])
    probe = ExerciseKernel.__new__(ExerciseKernel)
    probe.name, probe.url, probe.nb, probe.replies, probe.open = 'probe', url, nb, [], False
    probe.client = NotebookClient(nb, timeout=60, kernel_name='python3', **LATE_OUTPUT,
                                  resources={'metadata': {'path': str(tmp_path)}})
    probe.session = probe.client.setup_kernel(env={**os.environ, 'BROKER_URL': url})
    probe.session.__enter__()
    probe.open = True
    lingerer = None
    try:
        cell = probe.client.execute_cell(nb.cells[0], 0)
        said, pid = output_text(cell.outputs).split()
        assert said == 'connected', output_text(cell.outputs)
        lingerer = psutil.Process(int(pid))
        probe.snapshot()
        assert lingerer in probe.noted.processes
        if url.startswith('amqp'):
            assert probe.noted.ports, 'the lingering process holds no AMQP connection'
            deadline = time.monotonic() + 10
            while not broker_connections(vhost_of(url), probe.noted.ports) and time.monotonic() < deadline:
                time.sleep(0.5)  # the management API lists a new connection up to 5 s late; bounded
            assert broker_connections(vhost_of(url), probe.noted.ports), 'the broker never listed it'
        probe.close()
        processes, connections = probe.leftovers(timeout=2)
        assert [p for p in processes if p.startswith(f'{lingerer.pid} ')], processes
        if url.startswith('amqp'):
            assert connections, 'the check did not see the lingering connection'
    finally:
        probe.close()
        if lingerer is not None and lingerer.is_running():
            lingerer.kill()  # ours, by id
            lingerer.wait(5)
