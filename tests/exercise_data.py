"""Reads the exercise data in ``tests/exercises/nbNN_name.py``: the typical wrong answers and an own right one.

Each file is a plain module, written by whoever writes the notebook's exercise (issue 18)::

    WRONG = [(answer_cell_source, 'a substring its ❌ output must contain'), ...]  # most typical first
    OWN = '''...'''   # a right answer written differently from helpers/solutions/nbNN_name.py (prints ✅)

Both are whole answer-cell sources; they run in the notebook's kernel after every cell above its
``answer`` cell.  The learner-path tests (kernels and browser) and the nbgrader tool read them here.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

__all__ = ['FOLDER', 'Exercise', 'available', 'load']

FOLDER = Path(__file__).resolve().parent / 'exercises'


@dataclass(frozen=True)
class Exercise:
    """One notebook's exercise data (``name`` like 'nb02_worker')."""

    name: str
    wrong: tuple[tuple[str, str], ...]
    own: str
    path: Path


def available() -> list[str]:
    """The names (``nbNN_name``) that have a file in tests/exercises/, sorted."""
    return sorted(path.stem for path in FOLDER.glob('nb[0-9][0-9]_*.py'))


def load(name: str, folder: Path = FOLDER) -> Exercise | None:
    """The exercise data for ``name`` ('nb02_worker' or '02_worker') in ``folder``; None when it has no file.

    A file that lacks ``WRONG`` or ``OWN``, or holds them in another shape, raises ``ValueError``
    naming the file and what is wrong, so a test fails with that sentence.
    """
    stem = name if name.startswith('nb') else f'nb{name}'
    path = folder / f'{stem}.py'
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f'_exercise_{stem}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    wrong, own = getattr(module, 'WRONG', None), getattr(module, 'OWN', None)
    if not isinstance(wrong, (list, tuple)) or not wrong or not all(
            isinstance(case, (list, tuple)) and len(case) == 2 and all(isinstance(s, str) and s for s in case)
            for case in wrong):
        raise ValueError(f'{path}: WRONG must be a non-empty list of (answer cell source, expected substring)')
    if not isinstance(own, str) or not own.strip():
        raise ValueError(f'{path}: OWN must be the source of a right answer cell (a non-empty string)')
    return Exercise(stem, tuple((source, expected) for source, expected in wrong), own, path)
