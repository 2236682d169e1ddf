"""Write every notebook's Colab badge and Colab install line from the repository named in course.toml.

Usage (from the repository root):

    python tools/colab.py           # rewrite notebooks/NN_*.ipynb where they are out of date
    python tools/colab.py --check   # change nothing; exit 1 if a notebook is out of date (for CI)

Only two places change: the "Open in Colab" badge in the title cell (the first cell) and the
``git+https://...`` target of the Colab-guarded ``%pip install`` in the first code cell.  Running it
twice changes nothing the second time.  A notebook that needs no change keeps its bytes; one that
changes is written in the JSON layout Jupyter itself writes (indent 1, sorted keys).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ['Course', 'load_course', 'badge', 'install_target', 'update_notebook', 'main']

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = 'notebooks/[0-9][0-9]_*.ipynb'
DEFAULT_BRANCH = 'main'
BADGE_IMAGE = 'https://colab.research.google.com/assets/colab-badge.svg'
BADGE_RE = re.compile(r'\[!\[Open In Colab\]\(' + re.escape(BADGE_IMAGE)
                      + r'\)\]\(https://colab\.research\.google\.com/github/[^)\s]*\)')
INSTALL_RE = re.compile(r"""(run_line_magic\(\s*(['"])pip\2\s*,\s*(['"])install -q )git\+[^'"\s]+(\3\s*\))""")
COLAB_GUARD = "'google.colab' in sys.modules"
GITHUB_RE = re.compile(r'^https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$')


class CourseError(ValueError):
    """course.toml or a notebook is not in the shape this tool expects; the message says what to fix."""


@dataclass(frozen=True)
class Course:
    """The repository the course is served from: ``https://github.com/OWNER/REPO`` and a branch."""

    owner: str
    repo: str
    branch: str = DEFAULT_BRANCH

    @property
    def url(self) -> str:
        return f'https://github.com/{self.owner}/{self.repo}'


def _read_toml(path: Path) -> dict:
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # Python 3.10: tomli, the same parser (pytest, in requirements.txt, brings it there)
        try:
            import tomli as tomllib
        except ImportError:
            raise CourseError(f'reading {path.name} on Python 3.10 needs tomli: pip install tomli') from None
    return tomllib.loads(path.read_text(encoding='utf-8'))


def load_course(path: Path) -> Course:
    """Read the [repository] table of course.toml."""
    if not path.is_file():
        raise CourseError(f'{path} not found: create it with a [repository] table holding url and branch')
    table = _read_toml(path).get('repository', {})
    url, branch = table.get('url', ''), table.get('branch', DEFAULT_BRANCH)
    found = GITHUB_RE.match(url)
    if not found:
        raise CourseError(f'{path}: url {url!r} must look like https://github.com/OWNER/REPO '
                          '(Colab opens notebooks from GitHub only)')
    if not branch or any(ch.isspace() for ch in branch):
        raise CourseError(f'{path}: branch {branch!r} must be a branch name such as "main"')
    return Course(found.group(1), found.group(2), branch)


def badge(course: Course, notebook: str) -> str:
    """The markdown of the Colab badge for ``notebook`` (its path inside the repository)."""
    target = f'https://colab.research.google.com/github/{course.owner}/{course.repo}/blob/{course.branch}/{notebook}'
    return f'[![Open In Colab]({BADGE_IMAGE})]({target})'


def install_target(course: Course) -> str:
    """What Colab pip-installs: the repository, pinned to the branch unless it is the default one."""
    ref = '' if course.branch == DEFAULT_BRANCH else f'@{course.branch}'
    return f'git+{course.url}{ref}'


def _source(cell: dict) -> str:
    source = cell.get('source', '')
    return ''.join(source) if isinstance(source, list) else source


def _set_source(cell: dict, text: str) -> None:
    cell['source'] = text.splitlines(keepends=True) if isinstance(cell.get('source'), list) else text


def _dumps(nb: dict) -> str:
    """The JSON layout Jupyter and nbconvert write."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False, separators=(',', ': ')) + '\n'


def update_notebook(path: Path, course: Course, relative: str) -> tuple[str, str]:
    """Return (old text, new text) of the notebook file at ``path``; raise CourseError if it lacks a place."""
    old = path.read_text(encoding='utf-8')
    nb = json.loads(old)
    cells = nb.get('cells', [])
    if not cells or cells[0].get('cell_type') != 'markdown' or not BADGE_RE.search(_source(cells[0])):
        raise CourseError(f'{relative}: the title cell (the first cell, markdown) has no Colab badge; add the line\n'
                          f'    {badge(course, relative)}')
    title = cells[0]
    _set_source(title, BADGE_RE.sub(lambda _m: badge(course, relative), _source(title), count=1))
    first_code = next((cell for cell in cells if cell.get('cell_type') == 'code'), None)
    text = _source(first_code) if first_code else ''
    if COLAB_GUARD not in text or not INSTALL_RE.search(text):
        raise CourseError(f"{relative}: the first code cell needs the Colab-guarded install: IN_COLAB = {COLAB_GUARD} "
                          f"and get_ipython().run_line_magic('pip', 'install -q {install_target(course)}')")
    target = install_target(course)
    _set_source(first_code, INSTALL_RE.sub(lambda m: f'{m.group(1)}{target}{m.group(4)}', text, count=1))
    new = _dumps(nb)
    if new == _dumps(json.loads(old)):
        return old, old  # nothing to change: leave the file's bytes exactly as they are
    return old, new


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with --check, verify) the Colab badges and install lines of the notebooks."""
    parser = argparse.ArgumentParser(prog='python tools/colab.py', description=main.__doc__)
    parser.add_argument('--check', action='store_true', help='change nothing; exit 1 if a notebook is out of date')
    parser.add_argument('--root', type=Path, default=ROOT, help='the repository root (holds course.toml)')
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        course = load_course(root / 'course.toml')
    except CourseError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    notebooks = sorted(root.glob(NOTEBOOKS))
    if not notebooks:
        print(f'error: no notebooks match {NOTEBOOKS} under {root}', file=sys.stderr)
        return 2
    stale, broken = [], []
    for path in notebooks:
        relative = path.relative_to(root).as_posix()
        try:
            old, new = update_notebook(path, course, relative)
        except (CourseError, ValueError) as exc:
            broken.append(relative)
            print(f'error: {exc}', file=sys.stderr)
            continue
        if new != old:
            stale.append(relative)
            if not args.check:
                path.write_text(new, encoding='utf-8')
    verb = 'out of date' if args.check else 'updated'
    for relative in stale:
        print(f'{verb}: {relative}')
    print(f'{len(notebooks)} notebooks, {len(stale)} {verb}, {len(broken)} with errors '
          f'(repository {course.url}, branch {course.branch})')
    if broken or (args.check and stale):
        if args.check and stale:
            print('run `python tools/colab.py` to update them', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
