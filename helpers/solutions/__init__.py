"""Exercise solutions, loaded into an answer cell with ``%load solutions.nb02_worker`` (00_setup).

Every notebook imports this module as ``solutions`` in its set-up cell. IPython's ``%load`` evaluates
``solutions.nb02_worker`` and pastes the string it gets: the text of ``nb02_worker.py`` beside this
file. The same line works in a checkout and in Colab, where only the installed package is there.
A learners' copy made with ``python tools/handout.py`` has no solution files but a list of them,
``handed_out.py``: there ``%load solutions.nb02_worker`` pastes a cell that says so and prints it when run.
"""
from __future__ import annotations

import importlib
from importlib import resources

__all__ = ['available', 'left_out', 'WITHOUT', 'ANSWER_LINE']

WITHOUT = 'This copy of the course was handed out without solutions'
# The first line of an answer cell in a learners' copy (tools/handout.py writes it)
ANSWER_LINE = f'# Your answer. {WITHOUT}: the check above says when it is right.'
NOT_HERE = f"""\
# {WITHOUT}: there is no solutions.{{name}} to load.
# Write your own answer in this cell; the self-check above it says when the answer is right.
print('{WITHOUT}: there is no solutions.{{name}} to load. '
      'Write your own answer in this cell; the self-check above it says when the answer is right.')
"""


class SolutionMissing(AttributeError):
    """Raised for a solution this copy of the course does not have."""


def available() -> list[str]:
    """Return the names of the solutions this copy holds, sorted."""
    files = resources.files(__name__).iterdir()
    return sorted(f.name[:-3] for f in files if f.name.startswith('nb') and f.name.endswith('.py'))


def left_out() -> list[str]:
    """Return the names of the solutions this copy was handed out without (none in the course itself)."""
    try:
        handed_out = importlib.import_module(f'{__name__}.handed_out')
    except ModuleNotFoundError:
        return []
    return sorted(handed_out.LEFT_OUT)


def __getattr__(name: str) -> str:
    if name.startswith('_'):
        raise AttributeError(name)
    source = resources.files(__name__).joinpath(f'{name}.py')
    if not (name.startswith('nb') and source.is_file()):
        if name in left_out():
            return NOT_HERE.format(name=name)  # what %load pastes: it explains itself, and prints why when run
        have = ', '.join(available()) or 'none: this copy was handed out without solutions'
        raise SolutionMissing(f'there is no solution called {name!r} (solutions here: {have})')
    return source.read_text(encoding='utf-8')
