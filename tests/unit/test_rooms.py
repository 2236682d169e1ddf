"""helpers/ holds the lessons: each module in it is reached by a notebook (or a README command) and names the first.

Read from the source, nothing imported: a notebook reaches a module it imports, directly or through
other helpers modules (imports at any level of their code); ``python -m helpers.X`` in README.md
reaches X (its ``__main__`` for a package) and what it imports.
"""
from __future__ import annotations

import ast
import functools
import re

import nbformat
import pytest

from .test_import_graph import ROOT, _imports, _modules

HELPERS = {name: path for name, path in _modules().items() if name.split('.')[0] == 'helpers'}
NOTEBOOKS = sorted((ROOT / 'notebooks').glob('[0-9][0-9]_*.ipynb'))
#: What the notebooks may reach of the lessons, in lines of code (issue 19 asked for at most 4,000).
MOST_LINES = 4_000
#: Rooms of their own inside helpers/, left out of the lessons' size (their lines are shown beside it).
ROOMS = ('helpers.views', 'helpers.checks', 'helpers.celery_bridge')


def _notebook_imports(path) -> set[str]:
    """The helpers modules a notebook's code cells import (IPython magics and shell lines left out)."""
    found = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != 'code' or cell.source.startswith('%%'):
            continue
        code = '\n'.join(line for line in cell.source.splitlines() if not line.lstrip().startswith(('%', '!')))
        found |= _imports('__notebook__', ROOT / 'x.py', set(HELPERS), tree=ast.parse(code))
    return found


def _reach(starts: set[str]) -> set[str]:
    """``starts`` and every helpers module they import, and those import, and so on."""
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += _imports(name, HELPERS[name], set(HELPERS))
            todo += [parent for parent in (name.rsplit('.', 1)[0],) if parent in HELPERS]  # a package's __init__
    return seen


@functools.cache
def _first_notebook() -> dict[str, str]:
    """{module: the first notebook (by number) that reaches it}."""
    first: dict[str, str] = {}
    for path in NOTEBOOKS:
        for name in _reach(_notebook_imports(path)):
            first.setdefault(name, path.stem)
    return first


@functools.cache
def _readme_commands() -> dict[str, set[str]]:
    """{'python -m helpers.X': the modules it reaches} for each such command in README.md."""
    commands = {}
    for name in set(re.findall(r'python -m (helpers\.[a-z_.]+)', (ROOT / 'README.md').read_text(encoding='utf-8'))):
        start = f'{name}.__main__' if f'{name}.__main__' in HELPERS else name
        commands[f'python -m {name}'] = _reach({start})
    return commands


def _direct_modules() -> list[str]:
    """The modules directly in helpers/ (a file, or a package's __init__)."""
    return sorted(name for name in HELPERS if name.count('.') == 1 and not name.endswith('__main__'))


def _summary(name: str) -> str:
    return (ast.get_docstring(ast.parse(HELPERS[name].read_text(encoding='utf-8'))) or '').split('\n')[0]


def test_the_scan_sees_what_the_notebooks_import():
    first = _first_notebook()
    assert first['helpers.config'] == '00_setup' and first['helpers.worker'] == '02_worker'
    assert 'helpers.worker_cli' in _readme_commands()['python -m helpers.worker']


@pytest.mark.parametrize('name', _direct_modules())
def test_every_module_in_helpers_is_a_lesson_and_names_the_notebook_that_first_teaches_it(name):
    first = _first_notebook()
    if name in first:
        tag = first[name]
    else:
        commands = [command for command, reached in sorted(_readme_commands().items()) if name in reached]
        assert commands, f'{name} is reached by no notebook and no README command: move it to its room'
        tag = commands[0]
    assert f'({tag}' in _summary(name), f'{name}: its docstring should name ({tag}), not: {_summary(name)}'


def _lines(names: set[str]) -> int:
    return sum(len(HELPERS[name].read_text(encoding='utf-8').splitlines()) for name in names)


def test_the_notebooks_reach_small_lessons():
    reached = set().union(*(_reach(_notebook_imports(path)) for path in NOTEBOOKS))
    rooms = {name for name in reached if name.startswith(ROOMS)}
    lessons = reached - rooms
    assert lessons and rooms and _lines(lessons) + _lines(rooms) > MOST_LINES  # the scan sees both
    assert _lines(lessons) <= MOST_LINES, (f'the notebooks reach {_lines(lessons)} lines of lessons '
                                           f'({len(lessons)} modules) and {_lines(rooms)} of {", ".join(ROOMS)}')
