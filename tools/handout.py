"""Make a learners' copy of the course without the exercise solutions: python tools/handout.py DEST.

The copy holds every file git tracks except the solutions, ``helpers/solutions/nb*.py``, and the tests'
own right answers, ``tests/exercises/nb*.py``. It gains ``helpers/solutions/handed_out.py``, which lists
the solutions left out: ``%load solutions.nb02_worker`` then pastes a cell that says this copy was handed
out without solutions, and prints it when run. Each notebook's answer cell says so in its first line.
Push the copy to a repository of your own and point ``course.toml`` at it for Colab.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # README's set-up installs the requirements, not the helpers package
from helpers.solutions import ANSWER_LINE  # noqa: E402

LOAD_LINE = '# Your answer. To see a solution, replace this cell with: %load solutions.{name}'
HANDED_OUT = '''\
"""Written by tools/handout.py: the solutions this learners' copy of the course was handed out without."""

LEFT_OUT = (
{names})
'''


def is_solution(path: str) -> bool:
    """True for a solution or a right answer of the tests (the package's ``__init__`` and README stay)."""
    name = Path(path).name
    return path.startswith(('helpers/solutions/', 'tests/exercises/')) and name.startswith('nb') \
        and name.endswith('.py')


def without_solutions(text: str, names: list[str]) -> str:
    """A notebook's JSON text whose answer cells no longer offer ``%load``: their first line says why."""
    for name in names:
        text = text.replace(LOAD_LINE.format(name=name), ANSWER_LINE)
    return text


def handout(dest: Path) -> list[str]:
    """Copy the tracked files except the solutions into ``dest``; return the paths left out."""
    if dest.exists() and any(dest.iterdir()):
        raise SystemExit(f'{dest} exists and is not empty: choose a new folder')
    tracked = subprocess.run(['git', 'ls-files'], cwd=ROOT, check=True, capture_output=True, text=True)
    paths = tracked.stdout.splitlines()
    left_out = [path for path in paths if is_solution(path)]
    names = sorted(Path(path).stem for path in left_out if path.startswith('helpers/solutions/'))
    for path in paths:
        if path in left_out:
            continue
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.startswith('notebooks/') and path.endswith('.ipynb'):
            text = (ROOT / path).read_text(encoding='utf-8')
            target.write_text(without_solutions(text, names), encoding='utf-8')
        else:
            shutil.copy2(ROOT / path, target)
    listed = ''.join(f'    {name!r},\n' for name in names)
    (dest / 'helpers' / 'solutions' / 'handed_out.py').write_text(HANDED_OUT.format(names=listed), encoding='utf-8')
    return left_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dest', type=Path, help='a new, empty folder for the learners\' copy')
    args = parser.parse_args(argv)
    left_out = handout(args.dest)
    solutions = sum(path.startswith('helpers/') for path in left_out)
    print(f'copied the course to {args.dest} without {solutions} solution files '
          f'(nor the tests\' {len(left_out) - solutions} right answers)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
