"""The whole nbgrader cycle with teacher.nbgrader_course, for every notebook whose exercise has the course's form.

source -> release (equal to the course) -> submissions per assignment (the release untouched, the solution,
WRONG[0] from tests/exercises/, and on 00 an answer that redefines the check) -> nbgrader autograde -> 0,
full, partial -> generate_feedback (the hint is in the learner's page) -> export (the grade table).  The
teacher's guide's commands run word for word for nb03_producer (build, generate_assignment, validate,
autograde, generate_feedback, export); the other assignments follow, each step one nbgrader process for all
of them.  No step leaves a process behind.
Then 03 once on RabbitMQ, one LAB_NAMESPACE per student, two students graded at once.
"""
from __future__ import annotations

import csv
import importlib.util
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

nbgrader_course = pytest.importorskip('teacher.nbgrader_course', reason='needs nbgrader (requirements-teacher.txt)')
pytest.importorskip('nbgrader', reason='needs nbgrader: pip install -r requirements-teacher.txt')

from teacher.nbgrader_course import NOTEBOOKS, ROOT, find_exercise, has_form, release_differences, tagged  # noqa: E402
from tools import kernel_retry  # noqa: E402
from tools.guide_commands import bash_blocks, guide, section  # noqa: E402

NBGRADER = str(Path(sys.executable).with_name('nbgrader'))
# The cycle is one module fixture: the whole course through nbgrader, 4 to 17 minutes here (idle to a load
# average of 20 on 2 cores).  A hang ceiling for it and the tests that wait on it:
pytestmark = pytest.mark.timeout(2400)
FORMED = [p for p in sorted(NOTEBOOKS.glob('[0-9][0-9]_*.ipynb')) if has_form(p)]


def wrong_answers(solution_name: str) -> list:
    path = ROOT / 'tests' / 'exercises' / f'{solution_name}.py'
    if not path.is_file():
        return []
    spec = importlib.util.spec_from_file_location(f'exercise_{solution_name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG


# A kernel's ports are picked free, then bound by the kernel a moment later (jupyter_client): with CI's other
# jobs starting kernels too, one was taken in between (ZMQError "Address already in use", the kernel died before
# its kernel_info reply).  Only that failure is run once more, and the test's output says so.
PORT_RACE = ('Address already in use', kernel_retry.START_FAILURES[0])


def run(command: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """Run ``command``; once more if a kernel lost the race for its ports (PORT_RACE), never for anything else."""
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and all(sign in done.stdout + done.stderr for sign in PORT_RACE):
        print(f'a kernel lost its port to another process; run again: {command[-3:]}')
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return done


def nbgrader(course: Path, *args: str, env: dict | None = None) -> str:
    done = run([NBGRADER, *args], course, env or dict(os.environ, BROKER_URL='memory://'))
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


def test_at_least_00_and_03_have_the_form():
    assert {p.stem for p in FORMED} >= {'00_setup', '03_producer'}


# Every notebook whose exercise has its wrong answers in tests/exercises/ (each has), and 00 in any case.
CYCLE = [p for p in FORMED if wrong_answers(find_exercise(p).solution_name) or p.stem == '00_setup']
GAMED = '00_setup'  # also graded with a self-check redefined to print ✅: the hidden test is the same code everywhere
AUTOGRADING = re.compile(r'^(\d+\.\d+) .*Autograding .*/autograded/([^/]+)/([^/]+)/', re.M)


@dataclass
class Cycle:
    """One course taken through nbgrader once: what each step left, shared by the tests below."""

    course: Path
    submissions: dict[str, dict[str, str | None]]  # assignment -> student -> answer cell (None: untouched)
    seconds: dict[tuple[str, str], float]  # (assignment, student) -> autograde seconds
    grades: dict[tuple[str, str], dict]


def submissions_for(path: Path) -> dict[str, str | None]:
    """The untouched release, the solution, WRONG[0] (and, for GAMED, a check redefined to print ✅)."""
    ex = find_exercise(path)
    wrong = (wrong_answers(ex.solution_name) or [(None, None)])[0][0]
    check = ex.check_call.split('(')[0]
    gamed = f'{ex.starter.splitlines()[0]}\ndef {check}(*args, **kwargs):\n    return "✅"\n\n\nprint({check}())\n'
    answers = {'untouched': None, 'solved': ex.solution, 'wrong': wrong, 'gamer': gamed}
    if wrong is None:
        del answers['wrong']
    if path.stem != GAMED:
        del answers['gamer']
    return answers


def guide_commands() -> tuple[list[list[str]], list[str]]:
    """The guide's nbgrader section: its bash blocks (a list of commands each) and its inline nbgrader commands."""
    body = section(guide(), 'Assign and grade with nbgrader')
    return bash_blocks(body), re.findall(r'`((?:[A-Z_]+=\S+ )?\.\./\.venv/bin/nbgrader [^`]+)`', body)


def run_verbatim(command: str, cwd: Path) -> str:
    """One of the guide's command lines, word for word, in a shell in ``cwd``; what it printed."""
    done = run(['bash', '-c', command], cwd, {**os.environ, 'PYTHONPATH': str(ROOT)})
    assert done.returncode == 0, f'{command}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}'
    return done.stdout + done.stderr


@pytest.fixture(scope='module')
def cycle(tmp_path_factory) -> Cycle:
    """The guide's commands, word for word, for nb03_producer, where the guide's reader stands (a folder with
    the README's .venv); then every other assignment, each step one nbgrader process for all of them (an
    nbgrader process takes seconds to start; '*' is nbgrader's own pattern, and what is done is skipped)."""
    import psutil

    top = tmp_path_factory.mktemp('teacher')
    venv = top / '.venv' / 'bin'
    venv.mkdir(parents=True)
    for name, target in [('python', sys.executable), ('nbgrader', NBGRADER)]:
        (venv / name).write_text(f'#!/bin/sh\nexec {target} "$@"\n')
        (venv / name).chmod(0o755)
    blocks, inline = guide_commands()
    setup, release_03, grade_03 = blocks[:3]
    assert setup[0].startswith('.venv/bin/pip install -r requirements-teacher.txt')  # installed by .ci/setup
    run_verbatim(setup[1], top)  # .venv/bin/python -m teacher.nbgrader_course build
    course = top / 'nbgrader-course'
    assert sorted(p.name for p in (course / 'source').iterdir()) == sorted(find_exercise(p).solution_name
                                                                        for p in FORMED)
    assert 'Writing' in run_verbatim('\n'.join(release_03), top)
    [validate] = [c for c in inline if ' validate ' in c]
    assert 'Success! Your notebook passes all the tests.' in run_verbatim(validate, course)
    nbgrader(course, 'generate_assignment', '*')  # the others; nb03_producer's release is skipped
    submissions = {}
    for path in CYCLE:
        assignment = find_exercise(path).solution_name
        submissions[assignment] = submissions_for(path)
        for student, answer in submissions[assignment].items():
            submit(course, student, assignment, path.name, answer)
    seconds = {}
    started = time.time()
    assert 'Autograding' in run_verbatim(grade_03[0], course)  # BROKER_URL=memory:// ... autograde nb03_producer
    each = (time.time() - started) / len(submissions['nb03_producer'])
    seconds.update({('nb03_producer', s): each for s in submissions['nb03_producer']})
    for command in grade_03[1:]:  # generate_feedback nb03_producer, export
        run_verbatim(command, course)
    assert psutil.Process().children(recursive=True) == []  # kernels, workers: all gone
    started = time.time()
    log = nbgrader(course, 'autograde', '*', '--Application.log_format=%(created).3f %(message)s')
    ended = time.time()
    assert psutil.Process().children(recursive=True) == []
    marks = [(float(t), assignment, student) for t, student, assignment in AUTOGRADING.findall(log)]
    assert len(marks) == sum(map(len, submissions.values())) - len(submissions['nb03_producer']), log[-3000:]
    seconds.update({(a, s): (marks[i + 1][0] if i + 1 < len(marks) else ended) - t
                    for i, (t, a, s) in enumerate(marks)})
    print(f'\nautograde on memory://: {ended - started:.0f} s for {len(marks)} submissions in one nbgrader process')
    nbgrader(course, 'generate_feedback', '*', '--student', 'wrong')
    nbgrader(course, 'export')  # grades.csv, as the guide's export wrote it for nb03_producer alone
    with open(course / 'grades.csv') as fh:
        grades = {(r['assignment'], r['student_id']): r for r in csv.DictReader(fh)}
    return Cycle(course, submissions, seconds, grades)


@pytest.mark.parametrize('path', FORMED, ids=[p.stem for p in FORMED])
def test_the_release_is_the_course(cycle, path):
    ex = find_exercise(path)
    released = cycle.course / 'release' / ex.solution_name / path.name
    assert release_differences(released, path) == []
    source = nbformat.read(cycle.course / 'source' / ex.solution_name / path.name, as_version=4)
    test_cell = source.cells[ex.answer_index + 1]
    assert test_cell.metadata.nbgrader['grade'] and '### BEGIN HIDDEN TESTS' in test_cell.source
    assert ex.check_call in test_cell.source


@pytest.mark.parametrize('path', CYCLE, ids=[p.stem for p in CYCLE])
def test_autograde_scores_feedback_and_export(cycle, path):
    ex = find_exercise(path)
    students = cycle.submissions[ex.solution_name]
    times = {s: round(cycle.seconds[(ex.solution_name, s)], 1) for s in students}
    print(f'{path.stem} autograde seconds per submission on memory://: {times}')
    rows = {s: cycle.grades[(ex.solution_name, s)] for s in students}
    full = float(rows['solved']['max_score'])
    scores = {s: float(row['score']) for s, row in rows.items()}
    assert full > 0 and scores['untouched'] == 0, scores
    assert scores['solved'] == full, scores
    if 'wrong' in scores:
        assert 0 < scores['wrong'] < full, scores  # a wrong attempt earns the partial points
    if 'gamer' in scores:
        assert 0 < scores['gamer'] < full, scores  # a check redefined to say ✅ is a wrong attempt

    if 'wrong' not in students:
        return
    hint = wrong_answers(ex.solution_name)[0][1]
    page = (cycle.course / 'feedback' / 'wrong' / ex.solution_name / path.with_suffix('.html').name).read_text()
    assert hint.replace('"', '&quot;') in page or hint in page
    assert '❌' in page  # the self-check's verdict (with its hint) is on the learner's page
    # the feedback page shows each view's stored picture, not a widget whose code is on a CDN
    assert '<script type="application/vnd.jupyter.widget-view+json">' not in page
    views = sum('application/vnd.jupyter.widget-view+json' in out.get('data', {})
                for cell in nbformat.read(path, as_version=4).cells for out in cell.get('outputs', []))
    assert page.count('class="helpers-snapshot"') >= views


@pytest.mark.broker
def test_autograde_on_rabbitmq_one_namespace_per_student(cycle):
    course = cycle.course
    from helpers import config
    url = os.environ.get('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672/krl_tests')
    try:
        config.check_broker(url, timeout=3)
    except config.BrokerError as exc:
        pytest.skip(f'RabbitMQ: {exc}')
    path = NOTEBOOKS / '03_producer.ipynb'
    ex = find_exercise(path)
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
