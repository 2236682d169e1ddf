"""Exercise solutions, loaded into an answer cell with ``%load solutions.nb02_worker`` (00_setup).

Every notebook imports this module as ``solutions`` in its set-up cell. IPython's ``%load`` evaluates
``solutions.nb02_worker`` and pastes the string it gets: the text of ``nb02_worker.py`` beside this
file. The same line works in a checkout and in Colab, where only the installed package is there.
A teacher's copy made with ``python tools/handout.py`` has no solution files; asking for one then
says so.
"""
from __future__ import annotations

from importlib import resources

__all__ = ['available']


class SolutionMissing(AttributeError):
    """Raised for a solution this copy of the course does not have."""


def available() -> list[str]:
    """Return the names of the solutions this copy holds, sorted."""
    files = resources.files(__name__).iterdir()
    return sorted(f.name[:-3] for f in files if f.name.startswith('nb') and f.name.endswith('.py'))


def __getattr__(name: str) -> str:
    if name.startswith('_'):
        raise AttributeError(name)
    source = resources.files(__name__).joinpath(f'{name}.py')
    if not source.is_file():
        have = ', '.join(available()) or 'none: this copy was handed out without solutions'
        raise SolutionMissing(f'there is no solution called {name!r} (solutions here: {have})')
    return source.read_text(encoding='utf-8')
