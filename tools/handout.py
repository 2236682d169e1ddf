"""Make a learners' copy of the course without the exercise solutions: python tools/handout.py DEST.

The copy holds every file git tracks except ``helpers/solutions/nb*.py``. In it,
``%load solutions.nb02_worker`` fails with "this copy was handed out without solutions".
Push the copy to a repository of your own and point ``course.toml`` at it for Colab.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def is_solution(path: str) -> bool:
    """True for a solution file (the package's ``__init__`` and README stay)."""
    name = Path(path).name
    return path.startswith('helpers/solutions/') and name.startswith('nb') and name.endswith('.py')


def handout(dest: Path) -> list[str]:
    """Copy the tracked files except the solutions into ``dest``; return the paths left out."""
    if dest.exists() and any(dest.iterdir()):
        raise SystemExit(f'{dest} exists and is not empty: choose a new folder')
    tracked = subprocess.run(['git', 'ls-files'], cwd=ROOT, check=True, capture_output=True, text=True)
    left_out = []
    for path in tracked.stdout.splitlines():
        if is_solution(path):
            left_out.append(path)
            continue
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, target)
    return left_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dest', type=Path, help='a new, empty folder for the learners\' copy')
    args = parser.parse_args(argv)
    left_out = handout(args.dest)
    print(f'copied the course to {args.dest} without {len(left_out)} solution files')
    return 0


if __name__ == '__main__':
    sys.exit(main())
