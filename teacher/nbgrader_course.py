"""The course as an nbgrader course: python -m teacher.nbgrader_course build [--course DIR].

``build`` writes nbgrader's ``source/`` (one assignment per notebook, named after its solution file,
e.g. ``nb03_producer``; course.toml's ``[grading]`` table chooses notebooks and points) and an
``nbgrader_config.py`` into the course folder (default ``nbgrader-course/``). In each notebook:

- the ``answer`` cell becomes nbgrader's solution cell: the header line, the solution file between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``, then the course's starter inside a string whose two
  lines carry ``### END SOLUTION`` too.  ``nbgrader generate_assignment`` (with this folder's config)
  deletes the region and every ``END SOLUTION`` line, which leaves exactly the course's starter cell;
- the ``self-check`` cell becomes a read-only cell (autograde restores its source);
- a new autograder test cell follows the answer cell, entirely between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS``: it runs the self-check cell's source afresh (so an answer that redefines the
  check or prints a tick gains nothing) and calls the check the way the solution's last line does
  (``print(check_publisher(publish_events))`` -> ``check_publisher(publish_events)``).  ✅ earns the
  points; a ❌ from an attempt (the kernel never ran the untouched starter) earns the ``partial``
  fraction and shows the hint; the untouched starter earns 0 and the hint.

The release therefore holds the course's notebooks unchanged (nbgrader metadata aside): the hidden test
cell is empty after ClearHiddenTests and is dropped; ``nbgrader autograde`` adds it back from the
gradebook (``OverwriteCells.add_missing_cells``).  ``autograde`` runs ``nbgrader autograde`` once per
student with ``LAB_NAMESPACE=<student>``, so submissions graded on one RabbitMQ vhost never meet.
"""
from __future__ import annotations

import argparse
import ast
import copy
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / 'notebooks'
SOLUTIONS = ROOT / 'helpers' / 'solutions'
HEADER = '# Your answer. To see a solution, replace this cell with: %load solutions.'
BEGIN, END = '### BEGIN SOLUTION', '### END SOLUTION'
BEGIN_HIDDEN, END_HIDDEN = '### BEGIN HIDDEN TESTS', '### END HIDDEN TESTS'
DEFAULT_COURSE = 'nbgrader-course'
NBGRADER_KEYS = ('nbgrader', 'editable', 'deletable')  # cell metadata nbgrader adds in a release


class CourseError(ValueError):
    """The course is not in the shape this tool expects; the message says what to fix."""


@dataclass
class Exercise:
    """One notebook's exercise, found by its tags."""
    notebook: Path          # notebooks/03_producer.ipynb
    solution_name: str      # nb03_producer (also the assignment's name)
    self_check_index: int
    answer_index: int
    starter: str            # the answer cell's source
    starter_verdict: str    # what the untouched starter printed (its stored output)
    solution: str           # helpers/solutions/nb03_producer.py
    check_call: str         # check_publisher(publish_events)


def tagged(nb, tag: str) -> list[int]:
    return [i for i, cell in enumerate(nb.cells) if tag in cell.get('metadata', {}).get('tags', [])]


def check_call_of(solution: str) -> str:
    """The self-check call of a solution's last statement: print(check(x)) -> 'check(x)'."""
    tree = ast.parse(solution)
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr):
        raise CourseError('a solution must end by calling the self-check, e.g. print(check_x(answer))')
    call = last.value
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == 'print' and call.args:
        call = call.args[0]
    return ast.get_source_segment(solution, call) or ast.unparse(call)


def stored_text(cell) -> str:
    return ''.join(out.get('text', '') for out in cell.get('outputs', []) if out.get('output_type') == 'stream')


def find_exercise(path: Path) -> Exercise:
    """The exercise of a notebook in the course's form (one self-check cell, one answer cell, a solution)."""
    nb = nbformat.read(path, as_version=4)
    checks, answers = tagged(nb, 'self-check'), tagged(nb, 'answer')
    if len(checks) != 1 or len(answers) != 1:
        raise CourseError(f'{path.name}: needs ONE cell tagged self-check and ONE tagged answer '
                          f'(found {len(checks)} and {len(answers)})')
    starter = nb.cells[answers[0]].source
    first = starter.splitlines()[0] if starter else ''
    if not first.startswith(HEADER):
        raise CourseError(f'{path.name}: the answer cell must start with {HEADER}nbNN_name')
    name = first[len(HEADER):].strip()
    solution_file = SOLUTIONS / f'{name}.py'
    if not solution_file.is_file():
        raise CourseError(f'{path.name}: no solution file {solution_file.relative_to(ROOT)}')
    if checks[0] > answers[0]:
        raise CourseError(f'{path.name}: the self-check cell must come before the answer cell')
    solution = solution_file.read_text(encoding='utf-8')
    return Exercise(path, name, checks[0], answers[0], starter, stored_text(nb.cells[answers[0]]).strip(),
                    solution, check_call_of(solution))


def has_form(path: Path) -> bool:
    try:
        find_exercise(path)
    except (CourseError, SyntaxError):
        return False
    return True


# ------------------------------------------------------------------ course.toml [grading]

def read_toml(path: Path) -> dict:
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # Python 3.10: tomli, the same parser (pytest, in requirements.txt, brings it there)
        import tomli as tomllib
    return tomllib.loads(path.read_text(encoding='utf-8'))


def read_grading(path: Path = ROOT / 'course.toml') -> dict:
    grading = read_toml(path).get('grading', {}) if path.is_file() else {}
    points = grading.get('points', 2)
    partial = float(grading.get('partial', 0.5))
    if not 0 <= partial < 1:
        raise CourseError('course.toml [grading] partial is a fraction of the points, 0 <= partial < 1')
    return {'notebooks': list(grading.get('notebooks', [])), 'points': points, 'partial': partial}


def points_for(grading: dict, stem: str) -> float:
    points = grading['points']
    if isinstance(points, dict):  # [grading.points] 03_producer = 3, default = 2
        return float(points.get(stem, points.get('default', 2)))
    return float(points)


def chosen_notebooks(grading: dict) -> list[Path]:
    if grading['notebooks']:
        paths = [NOTEBOOKS / f'{stem}.ipynb' for stem in grading['notebooks']]
        for path in paths:
            find_exercise(path)  # fail loudly on a notebook the teacher named that is not in the form
        return paths
    return [path for path in sorted(NOTEBOOKS.glob('[0-9][0-9]_*.ipynb')) if has_form(path)]


# ------------------------------------------------------------------ the source notebook

def solution_cell_source(ex: Exercise) -> str:
    """Header, the solution between the markers, the starter kept inert in a string (see the module doc)."""
    header, _, body = ex.starter.partition('\n')
    quote = "'''" if "'''" not in body else '"""'
    if quote in body:
        raise CourseError(f'{ex.notebook.name}: the starter holds both kinds of triple quotes')
    if body.endswith('\\'):
        raise CourseError(f'{ex.notebook.name}: the starter ends with a backslash')
    solution = ex.solution.rstrip('\n')
    return '\n'.join([header, BEGIN, solution,
                      f'_STARTER = r{quote}  # the learners\' starter, kept by generate_assignment  {END}',
                      body,
                      f'{quote}  {END}'])


def test_cell_source(ex: Exercise, self_check: str, points: float, partial: float) -> str:
    """The hidden autograder test: the self-check afresh, the check called, points by its verdict."""
    partial_points = round(points * partial, 2)
    return f'''{BEGIN_HIDDEN}
# Autograder test for {ex.notebook.name} ({points:g} points): the notebook's self-check, run afresh on
# the learner's code.  ✅ -> {points:g}; ❌ after an attempt -> {partial_points:g}; the untouched starter -> 0.
_check_ns = dict(globals())
exec(compile({self_check!r}, 'self-check', 'exec'), _check_ns)
try:
    _verdict = str(eval({ex.check_call!r}, _check_ns))
except Exception as _exc:  # a name the answer did not define, or a check that crashed
    _verdict = f'❌ {{type(_exc).__name__}}: {{_exc}}'
print(_verdict)
_attempted = {ex.starter.strip()!r} not in [src.strip() for src in globals().get('In', [])]  # starter not run as is
assert _verdict.startswith('✅') or _attempted, 'no answer yet: the starter ran unchanged'
{points:g} if _verdict.startswith('✅') else {partial_points:g}
{END_HIDDEN}'''


def source_notebook(ex: Exercise, points: float, partial: float):
    nb = nbformat.read(ex.notebook, as_version=4)
    check_cell = nb.cells[ex.self_check_index]
    check_cell.metadata['nbgrader'] = {'grade': False, 'solution': False, 'locked': True, 'task': False,
                                       'grade_id': 'self_check', 'schema_version': 3}
    answer = nb.cells[ex.answer_index]
    answer.source = solution_cell_source(ex)
    answer.metadata['nbgrader'] = {'grade': False, 'solution': True, 'locked': False, 'task': False,
                                   'grade_id': 'answer', 'schema_version': 3}
    test = nbformat.v4.new_code_cell(test_cell_source(ex, check_cell.source, points, partial))
    test.metadata['nbgrader'] = {'grade': True, 'solution': False, 'locked': True, 'task': False,
                                 'points': points, 'grade_id': 'test_answer', 'schema_version': 3}
    test.metadata['tags'] = ['autograder-test']
    nb.cells.insert(ex.answer_index + 1, test)
    return nb


CONFIG = '''# Written by: python -m teacher.nbgrader_course build   (edit course.toml, not this file)
import json
import os
import sys

REPO = {repo!r}
sys.path.insert(0, REPO)  # the teacher package (the preprocessors below)
# Kernels nbgrader starts import the course's helpers from the checkout (the notebooks' own
# "../helpers" is not next to submitted/<student>/<assignment>/).
os.environ['PYTHONPATH'] = os.pathsep.join(p for p in (REPO, os.environ.get('PYTHONPATH')) if p)
# nbgrader runs `alembic` (its gradebook migrations) by name: find it next to this Python (the venv).
os.environ['PATH'] = os.pathsep.join((os.path.dirname(sys.executable), os.environ.get('PATH', '')))

from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,  # noqa: E402
                                    ComputeChecksums, IncludeHeaderFooter, LockCells, SaveCells)

from teacher.nbgrader_course import ClearToStarter, DropHiddenTestCells  # noqa: E402

c = get_config()  # noqa: F821
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# The release is the course: keep the outputs (no ClearOutput), turn each solution cell back into the
# course's starter (ClearToStarter) and drop the test cells that are hidden from top to bottom.
c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter, LockCells, ClearToStarter, CheckCellMetadata, ComputeChecksums, SaveCells,
    ClearHiddenTests, DropHiddenTestCells, ClearMarkScheme, ComputeChecksums, CheckCellMetadata,
]
# Autograde puts the hidden test cells back after the answer cell, from the gradebook.
c.OverwriteCells.add_missing_cells = True
c.OverwriteCells.missing_cell_notification = 'Autograder test (hidden in the release, added back by nbgrader)\\n'
c.Execute.timeout = {timeout}  # seconds per cell (nbgrader's default is 30)
# Feedback pages (static HTML) show each view's stored picture (text/html) instead of a widget whose
# code would come from a CDN: offline, or once the CDN moves, that widget area stays blank.
with open(os.path.join(REPO, 'jupyter-config', 'jupyter_nbconvert_config.json'), encoding='utf-8') as _fh:
    c.WidgetsDataTypeFilter.display_data_priority = json.load(_fh)['WidgetsDataTypeFilter']['display_data_priority']
'''


def build(course: Path, grading: dict | None = None, timeout: int = 30) -> list[str]:
    """Write course/source/<assignment>/<notebook> and course/nbgrader_config.py; return the assignments."""
    grading = grading or read_grading()
    course.mkdir(parents=True, exist_ok=True)
    names = []
    for path in chosen_notebooks(grading):
        ex = find_exercise(path)
        nb = source_notebook(ex, points_for(grading, path.stem), grading['partial'])
        folder = course / 'source' / ex.solution_name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / path.name)
        names.append(ex.solution_name)
    (course / 'nbgrader_config.py').write_text(CONFIG.format(repo=str(ROOT), timeout=timeout), encoding='utf-8')
    return names


# ------------------------------------------------------------------ nbgrader preprocessors

try:
    from nbgrader import utils as _nbutils
    from nbgrader.preprocessors import ClearSolutions, NbGraderPreprocessor
except ModuleNotFoundError:  # pragma: no cover - only the builder runs without nbgrader
    ClearSolutions = NbGraderPreprocessor = object
    _nbutils = None


def clear_to_starter(source: str) -> str:
    """Remove each BEGIN..END SOLUTION region and every END SOLUTION line (no stub lines)."""
    kept, inside = [], False
    for line in source.split('\n'):
        if BEGIN in line:
            if inside:
                raise RuntimeError('nested ### BEGIN SOLUTION')
            inside = True
        elif END in line:
            inside = False
        elif not inside:
            kept.append(line)
    if inside:
        raise RuntimeError('### BEGIN SOLUTION without ### END SOLUTION')
    return '\n'.join(kept)


class ClearToStarter(ClearSolutions):
    """nbgrader's ClearSolutions, except that a solution region leaves no stub behind (see the module doc)."""

    def _replace_solution_region(self, cell, language):
        if BEGIN not in cell.source:
            return False
        cell.source = clear_to_starter(cell.source)
        return True


class DropHiddenTestCells(NbGraderPreprocessor):
    """Drop the autograder test cells that ClearHiddenTests emptied: the release keeps the course's cells."""

    def preprocess(self, nb, resources):
        nb.cells = [cell for cell in nb.cells
                    if not (_nbutils.is_grade(cell) and not _nbutils.is_solution(cell) and not cell.source.strip())]
        return nb, resources


# ------------------------------------------------------------------ comparing a release with the course

def course_view(nb) -> list[dict]:
    """Cells as a learner sees them: type, source, outputs, and metadata without nbgrader's keys."""
    cells = []
    for cell in nb.cells:
        meta = {k: v for k, v in cell.get('metadata', {}).items() if k not in NBGRADER_KEYS}
        cells.append({'cell_type': cell.cell_type, 'source': cell.source, 'metadata': meta,
                      'outputs': copy.deepcopy(cell.get('outputs', []))})
    return cells


def release_differences(release_nb: Path, course_nb: Path) -> list[str]:
    """What differs between a released notebook and the course's (empty when they are the same)."""
    got, want = nbformat.read(release_nb, as_version=4), nbformat.read(course_nb, as_version=4)
    a, b = course_view(got), course_view(want)
    diffs = []
    if len(a) != len(b):
        diffs.append(f'{len(a)} cells in the release, {len(b)} in the course')
    for i, (x, y) in enumerate(zip(a, b)):
        for key in x:
            if x[key] != y[key]:
                diffs.append(f'cell {i}: {key} differs')
    meta_a = {k: v for k, v in got.metadata.items() if k != 'celltoolbar'}
    if meta_a != dict(want.metadata):
        diffs.append('notebook metadata differs')
    return diffs


# ------------------------------------------------------------------ autograde, one namespace per student

def autograde(course: Path, assignment: str, students: list[str], broker_url: str | None = None,
              nbgrader: str | None = None, parallel: int = 1) -> dict[str, float]:
    """``nbgrader autograde`` per student with LAB_NAMESPACE=<student>; return seconds per student.

    With ``parallel`` > 1 several students are graded at once: each kernel declares its exchanges and
    queues under its own namespace, so on one RabbitMQ vhost their messages never meet.
    """
    from concurrent.futures import ThreadPoolExecutor

    nbgrader = nbgrader or str(Path(sys.executable).with_name('nbgrader'))

    def one(student: str) -> float:
        env = dict(os.environ, LAB_NAMESPACE=re.sub(r'[^A-Za-z0-9_-]', '_', student)[:40])
        if broker_url:
            env['BROKER_URL'] = broker_url
        started = time.monotonic()
        done = subprocess.run([nbgrader, 'autograde', assignment, '--student', student, '--force'],
                              cwd=course, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f'nbgrader autograde {assignment} --student {student} failed:\n{done.stderr[-3000:]}')
        return time.monotonic() - started

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return dict(zip(students, pool.map(one, students)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m teacher.nbgrader_course', description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    b = sub.add_parser('build', help="write nbgrader's source/ and nbgrader_config.py from the course")
    b.add_argument('--course', default=DEFAULT_COURSE, help='the nbgrader course folder (default %(default)s)')
    b.add_argument('--timeout', type=int, default=30, help="seconds per cell when autograding (default: nbgrader's 30)")
    a = sub.add_parser('autograde', help='nbgrader autograde per student, each with LAB_NAMESPACE=<student>')
    a.add_argument('assignment')
    a.add_argument('students', nargs='*', help='default: every folder in submitted/')
    a.add_argument('--course', default=DEFAULT_COURSE)
    a.add_argument('--broker', help='BROKER_URL for the kernels (default: the environment, else memory://)')
    a.add_argument('--parallel', type=int, default=1, help='students graded at once (default 1)')
    args = parser.parse_args(argv)
    course = Path(args.course).resolve()
    if args.command == 'build':
        names = build(course, timeout=args.timeout)
        for name in names:
            print(f'source/{name}/  ({", ".join(p.name for p in (course / "source" / name).glob("*.ipynb"))})')
        print(f'{len(names)} assignments and nbgrader_config.py in {course}')
        print(f'next: cd {args.course} && nbgrader generate_assignment {names[0] if names else "<name>"}')
        return 0
    students = args.students or sorted(p.name for p in (course / 'submitted').iterdir() if p.is_dir())
    for student, secs in autograde(course, args.assignment, students, args.broker, parallel=args.parallel).items():
        print(f'{student}: autograded in {secs:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
