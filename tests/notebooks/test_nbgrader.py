"""The whole nbgrader cycle with teacher.nbgrader_course, for every notebook whose exercise has the course's form.

source -> release (equal to the course) -> submissions per assignment (the release untouched, the solution,
WRONG[0] from tests/exercises/, an answer that redefines the check) -> nbgrader autograde -> 0, full, partial ->
generate_feedback (the hint is in the learner's page) -> export (the grade table).  Then once on
RabbitMQ, one LAB_NAMESPACE per student.  Each nbgrader step is a process; none is left behind.
"""
from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

nbgrader_course = pytest.importorskip('teacher.nbgrader_course', reason='needs nbgrader (requirements-teacher.txt)')
pytest.importorskip('nbgrader', reason='needs nbgrader: pip install -r requirements-teacher.txt')

from teacher.nbgrader_course import NOTEBOOKS, ROOT, find_exercise, has_form, release_differences, tagged  # noqa: E402

NBGRADER = str(Path(sys.executable).with_name('nbgrader'))
FORMED = [p for p in sorted(NOTEBOOKS.glob('[0-9][0-9]_*.ipynb')) if has_form(p)]


def wrong_answers(solution_name: str) -> list:
    path = ROOT / 'tests' / 'exercises' / f'{solution_name}.py'
    if not path.is_file():
        return []
    spec = importlib.util.spec_from_file_location(f'exercise_{solution_name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG


def nbgrader(course: Path, *args: str, env: dict | None = None) -> str:
    done = subprocess.run([NBGRADER, *args], cwd=course, env=env or dict(os.environ, BROKER_URL='memory://'),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def submit(course: Path, student: str, assignment: str, notebook: str, answer: str | None) -> None:
    """What the teacher does with a notebook a learner hands in: put it in submitted/<student>/<assignment>/."""
    nb = nbformat.read(course / 'release' / assignment / notebook, as_version=4)
    if answer is not None:
        nb.cells[tagged(nb, 'answer')[0]].source = answer
    folder = course / 'submitted' / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / notebook)


_released: set[tuple[Path, str]] = set()


def release(course: Path, assignment: str) -> None:
    """``nbgrader generate_assignment``, once per assignment of a course (later tests reuse the release)."""
    if (course, assignment) not in _released:
        nbgrader(course, 'generate_assignment', assignment, '--force')
        _released.add((course, assignment))


def test_at_least_00_and_03_have_the_form():
    assert {p.stem for p in FORMED} >= {'00_setup', '03_producer'}


@pytest.fixture(scope='module')
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp('course')
    names = nbgrader_course.build(course)
    assert sorted(names) == sorted(find_exercise(p).solution_name for p in FORMED)
    return course


@pytest.mark.parametrize('path', FORMED, ids=[p.stem for p in FORMED])
def test_the_release_is_the_course(course, path):
    ex = find_exercise(path)
    release(course, ex.solution_name)
    released = course / 'release' / ex.solution_name / path.name
    assert release_differences(released, path) == []
    source = nbformat.read(course / 'source' / ex.solution_name / path.name, as_version=4)
    test_cell = source.cells[ex.answer_index + 1]
    assert test_cell.metadata.nbgrader['grade'] and '### BEGIN HIDDEN TESTS' in test_cell.source
    assert ex.check_call in test_cell.source


# Every notebook whose exercise has its wrong answers in tests/exercises/, and 00 (its URL exercise has none:
# it is graded untouched, solved and gamed only).
CYCLE = [p for p in FORMED if wrong_answers(find_exercise(p).solution_name) or p.stem == '00_setup']
GAMED = {'00_setup', '03_producer'}  # also graded with a self-check redefined to print ✅


@pytest.mark.parametrize('path', CYCLE, ids=[p.stem for p in CYCLE])
def test_autograde_feedback_and_export(course, path):
    import psutil

    ex = find_exercise(path)
    wrong, hint = (wrong_answers(ex.solution_name) or [(None, None)])[0]
    release(course, ex.solution_name)
    check = ex.check_call.split('(')[0]
    gamed = f'{ex.starter.splitlines()[0]}\ndef {check}(*args, **kwargs):\n    return "✅"\n\n\nprint({check}())\n'
    submissions = {'untouched': None, 'solved': ex.solution, 'wrong': wrong, 'gamer': gamed}
    if wrong is None:
        del submissions['wrong']
    elif path.stem not in GAMED:
        del submissions['gamer']  # the hidden test is the same code in every notebook: two notebooks show it
    for student, answer in submissions.items():
        submit(course, student, ex.solution_name, path.name, answer)
    started = time.monotonic()
    nbgrader(course, 'autograde', ex.solution_name, '--force')  # every submission, in one nbgrader process
    seconds = time.monotonic() - started
    assert psutil.Process().children(recursive=True) == []  # kernels, workers: all gone
    print(f'{path.stem} autograde on memory://: {seconds:.1f} s for {len(submissions)} submissions, '
          f'{seconds / len(submissions):.1f} s each')

    nbgrader(course, 'generate_feedback', ex.solution_name, '--force')
    page = (course / 'feedback' / ('wrong' if wrong else 'untouched') / ex.solution_name
            / path.with_suffix('.html').name).read_text()
    if hint:
        assert hint.replace('"', '&quot;') in page or hint in page
    assert '❌' in page  # the self-check's verdict (with its hint) is on the learner's page
    # the feedback page shows each view's stored picture, not a widget whose code is on a CDN
    assert '<script type="application/vnd.jupyter.widget-view+json">' not in page
    views = sum('application/vnd.jupyter.widget-view+json' in out.get('data', {})
                for cell in nbformat.read(path, as_version=4).cells for out in cell.get('outputs', []))
    assert page.count('class="helpers-snapshot"') >= views

    nbgrader(course, 'export', '--to', str(course / 'grades.csv'))
    with open(course / 'grades.csv') as fh:
        rows = {(r['assignment'], r['student_id']): r for r in csv.DictReader(fh)}
    full = float(rows[(ex.solution_name, 'solved')]['max_score'])
    scores = {s: float(rows[(ex.solution_name, s)]['score']) for s in submissions}
    assert scores['untouched'] == 0
    assert scores['solved'] == full
    if wrong:
        assert 0 < scores['wrong'] < full, scores  # a wrong attempt earns the partial points
    if 'gamer' in scores:
        assert 0 < scores['gamer'] < full, scores  # a check redefined to say ✅ is a wrong attempt


@pytest.mark.broker
def test_autograde_on_rabbitmq_one_namespace_per_student(course):
    from helpers import config
    url = os.environ.get('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672/krl_tests')
    try:
        config.check_broker(url, timeout=3)
    except config.BrokerError as exc:
        pytest.skip(f'RabbitMQ: {exc}')
    path = NOTEBOOKS / '03_producer.ipynb'
    ex = find_exercise(path)
    release(course, ex.solution_name)
    submit(course, 'ada', ex.solution_name, path.name, ex.solution)
    submit(course, 'bob', ex.solution_name, path.name, wrong_answers(ex.solution_name)[0][0])
    from urllib.parse import unquote, urlsplit

    from teacher.rabbitadmin import ManagementAPI
    api, vhost = ManagementAPI(), unquote(urlsplit(url).path[1:]) or '/'
    before = set()
    if api.available():  # the students' queues of an earlier run go first: this run must make its own
        for queue in api.queues(vhost):
            if queue['name'].startswith(('ada.', 'bob.')):
                api.delete_queue(vhost, queue['name'])
        before = {q['name'] for q in api.queues(vhost)}
    seconds = nbgrader_course.autograde(course, ex.solution_name, ['ada', 'bob'], broker_url=url, parallel=2)
    if api.available():  # each kernel declared under its learner's namespace, and closed its connections
        new = {q['name'] for q in api.queues(vhost)} - before
        assert new and all(name.startswith(('ada.', 'bob.')) for name in new), sorted(new)
        deadline = time.monotonic() + 10  # the management API reports closed connections with a delay
        while [c for c in api.connections(vhost) if c['user_provided_name'].startswith(('lab:ada', 'lab:bob'))]:
            assert time.monotonic() < deadline, api.connections(vhost)
            time.sleep(0.5)
    print('03 autograde seconds on RabbitMQ, two at once:', {k: round(v, 1) for k, v in seconds.items()})
    nbgrader(course, 'export', '--to', str(course / 'grades-rabbitmq.csv'))
    with open(course / 'grades-rabbitmq.csv') as fh:
        rows = {(r['assignment'], r['student_id']): r for r in csv.DictReader(fh)}
    ada, bob = rows[(ex.solution_name, 'ada')], rows[(ex.solution_name, 'bob')]
    assert float(ada['score']) == float(ada['max_score']) and 0 < float(bob['score']) < float(bob['max_score'])
