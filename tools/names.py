"""The course's names in the notebooks: list the cells that spell them, rename them, check them.

    .venv/bin/python tools/names.py                        # every cell that spells a name, and which
    .venv/bin/python tools/names.py --name video_queue     # the cells that spell one name
    .venv/bin/python tools/names.py --rename old=new ...   # rewrite helpers/course_names.py and those cells
    .venv/bin/python tools/names.py --check                # exit 1 when a notebook spells a queue the course lacks

The names are those of ``helpers/course_names.py``: the exchanges, the queues (and 06's ``lab_<queue>``
copies), the binding keys, the panel buttons and the full run's event keys.  A rename rewrites the names file
and the sources of code and markdown cells (never the outputs: re-execute the notebooks with
``tools/execute.py`` afterwards).  A name is rewritten where it stands alone or inside a longer identifier
joined with ``_`` (``lab_video_queue``), never inside another word or key (``video_only_queue``, ``video.upload.hd``
for ``video.upload``).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's helpers, also when the package is not installed

NAMES_FILE = ROOT / 'helpers' / 'course_names.py'
NOTEBOOKS = ROOT / 'notebooks'
QUEUE_TOKEN = re.compile(r'(?<![A-Za-z0-9_])[a-z][a-z0-9_]*_queue(?![A-Za-z0-9_])')
#: Queue-like words that notebooks spell on purpose and that are not the course's queues: the lessons' own
#: small topologies (03's VIDEO_ONLY and exercise, 05's scaling_out), their variables, and Celery's setting.
LESSON_WORDS = frozenset({
    'dead_letter_queue', 'subscriber_queue',  # 02: a method, and a function that makes a subscriber's queue
    'video_only_queue', 'clip_queue', 'upload_queue',  # 03: VIDEO_ONLY and the exercise's topology
    'demo_queue',  # 04: the plain-kombu prefetch cell's queue
    'transcode_queue',  # 05: the scaling_out topology
    'course_queue', 'per_queue', 'task_default_queue',  # 06: variables and Celery's setting
})


@dataclass(frozen=True)
class Spelling:
    """One cell that spells some of the course's names."""

    notebook: str
    index: int
    cell_id: str
    kind: str
    names: tuple[str, ...]

    def where(self) -> str:
        return f'{self.notebook} cell {self.index} (id {self.cell_id}, {self.kind})'


def course_vocabulary() -> dict[str, list[str]]:
    """{kind: names} from helpers/course_names.py: exchanges, queues, binding keys, buttons, events."""
    from helpers import course_names as names
    bindings = [*names.SEED_BINDINGS, *names.MEDIA_BINDINGS]
    return {
        'exchange': sorted({names.SEED_EXCHANGE, names.MEDIA_EXCHANGE}),
        'queue': sorted({queue for queue, _key in bindings}),
        'binding key': sorted({key for _queue, key in bindings}),
        'button key': sorted({*names.SEED_BUTTONS, *names.MEDIA_BUTTONS}),
        'event key': sorted({key for key, _weight in names.MEDIA_EVENTS}),
    }


def pattern(name: str) -> re.Pattern:
    """Where ``name`` stands as a name of its own: an identifier (maybe inside a ``_``-joined one) or a key."""
    if re.fullmatch(r'[A-Za-z0-9_]+', name):
        return re.compile(r'(?<![A-Za-z0-9])' + re.escape(name) + r'(?![A-Za-z0-9])')
    if not re.search(r'[A-Za-z0-9]', name):  # '#' alone: only where quoted, not in comments and headings
        return re.compile(r'(?<=[\'"`])' + re.escape(name) + r'(?=[\'"`])')
    # a key: not inside a longer key (no word character, wildcard or dot-and-word on either side)
    return re.compile(r'(?<![\w*#.])' + re.escape(name) + r'(?![\w*#]|\.[\w*#])')


def notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    return sorted(folder.glob('*.ipynb'))


def spellings(names: list[str], paths: list[Path]) -> list[Spelling]:
    """Every cell of ``paths`` whose source spells one of ``names``."""
    found = []
    patterns = {name: pattern(name) for name in names}
    for path in paths:
        for index, cell in enumerate(json.loads(path.read_text(encoding='utf-8'))['cells']):
            source = ''.join(cell['source'])
            hits = tuple(name for name, pat in patterns.items() if pat.search(source))
            if hits:
                found.append(Spelling(_show(path), index, cell.get('id', '?'), cell['cell_type'], hits))
    return found


def unknown_queues(paths: list[Path]) -> list[tuple[Spelling, str]]:
    """(cell, word) for each queue-like word a notebook spells that is neither the course's nor a lesson's own."""
    queues = set(course_vocabulary()['queue'])
    allowed = queues | {f'lab_{queue}' for queue in queues} | LESSON_WORDS
    problems = []
    for path in paths:
        for index, cell in enumerate(json.loads(path.read_text(encoding='utf-8'))['cells']):
            words = sorted(set(QUEUE_TOKEN.findall(''.join(cell['source']))) - allowed)
            spot = Spelling(_show(path), index, cell.get('id', '?'), cell['cell_type'], tuple(words))
            problems += [(spot, word) for word in words]
    return problems


def rename(pairs: list[tuple[str, str]], paths: list[Path], names_file: Path = NAMES_FILE) -> list[str]:
    """Rewrite each old name as its new one in the names file and the cells' sources; lines saying what changed."""
    report = []
    text = names_file.read_text(encoding='utf-8')
    new_text, count = _substitute(text, pairs)
    if count:
        names_file.write_text(new_text, encoding='utf-8')
    report.append(f'{_show(names_file)}: {count} places')
    for path in paths:
        raw = path.read_text(encoding='utf-8')
        nb = json.loads(raw)
        cells = places = 0
        for cell in nb['cells']:
            source = ''.join(cell['source'])
            changed, n = _substitute(source, pairs)
            if n:
                cell['source'] = changed.splitlines(keepends=True)
                cells, places = cells + 1, places + n
        if places:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
            report.append(f'{_show(path)}: {places} places in {cells} cells')
    return report


def _substitute(text: str, pairs: list[tuple[str, str]]) -> tuple[str, int]:
    total = 0
    for old, new in pairs:
        text, n = pattern(old).subn(new, text)
        total += n
    return text, total


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _pair(text: str) -> tuple[str, str]:
    old, sep, new = text.partition('=')
    if not sep or not old or not new or old == new:
        raise argparse.ArgumentTypeError(f'{text!r}: write OLD=NEW, as in video_queue=clips_queue')
    return old, new


def main(argv: list[str] | None = None) -> int:
    """List, rename or check the course's names in the notebooks."""
    parser = argparse.ArgumentParser(prog='tools/names.py', description=main.__doc__)
    parser.add_argument('--rename', type=_pair, action='append', default=[], metavar='OLD=NEW',
                        help='rename a queue, exchange or key in helpers/course_names.py and every notebook cell')
    parser.add_argument('--name', action='append', default=[], metavar='NAME',
                        help='list only the cells that spell NAME (a queue, exchange or key; repeatable)')
    parser.add_argument('--check', action='store_true',
                        help='exit 1 if a notebook spells a queue that helpers/course_names.py does not have')
    parser.add_argument('notebooks', nargs='*', type=Path, help='notebooks (default: every one in notebooks/)')
    args = parser.parse_args(argv)
    paths = args.notebooks or notebooks()
    if args.rename:
        vocabulary = {name for names in course_vocabulary().values() for name in names}
        unknown = [old for old, _new in args.rename if old not in vocabulary]
        if unknown:
            print(f'error: {unknown} not in {_show(NAMES_FILE)}; its names: {sorted(vocabulary)}', file=sys.stderr)
            return 2
        for line in rename(args.rename, paths):
            print(line)
        print('now re-execute the notebooks: .venv/bin/python tools/execute.py')
        return 0
    if args.check:
        problems = unknown_queues(paths)
        for spot, word in problems:
            print(f'{spot.where()}: spells {word!r}, which is not a queue of {_show(NAMES_FILE)}')
        if problems:
            print(f'{len(problems)} disagreements: rename them with tools/names.py --rename OLD=NEW, '
                  f'or add the queue to {_show(NAMES_FILE)}')
            return 1
        print(f'{len(paths)} notebooks agree with {_show(NAMES_FILE)}')
        return 0
    wanted = args.name or [name for names in course_vocabulary().values() for name in names]
    for spot in spellings(wanted, paths):
        print(f'{spot.where()}: {", ".join(spot.names)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
