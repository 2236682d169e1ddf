"""helpers/course_names.py checks itself, and the notebooks agree with it (tools/names.py)."""
from __future__ import annotations

import ast
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from helpers import course_names, demo
from helpers.course_names import CourseNamesError
from helpers.fullrun import MEDIA_EVENTS
from helpers.topology import MEDIA, SEED, check_course_names

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location('names_tool', ROOT / 'tools' / 'names.py')
names_tool = sys.modules['names_tool'] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(names_tool)


def names(**changes) -> types.SimpleNamespace:
    """The course's names with some of them changed, as a teacher's edit would."""
    values = {key: getattr(course_names, key) for key in dir(course_names) if key.isupper()}
    return types.SimpleNamespace(**{**values, **changes})


def test_the_course_names_fit_together_and_build_the_topologies():
    check_course_names()
    assert SEED.bindings == course_names.SEED_BINDINGS and MEDIA.bindings == course_names.MEDIA_BINDINGS
    assert MEDIA_EVENTS is course_names.MEDIA_EVENTS


@pytest.mark.parametrize('changes, words', [
    ({'MEDIA_BINDINGS': course_names.MEDIA_BINDINGS + (('zz_new_queue', 'zz.new.#'),)},
     "MEDIA_EVENTS has no key that reaches 'zz_new_queue'"),
    ({'MEDIA_BUTTONS': ('zz.new.upload',), 'MEDIA_BINDINGS': (('user_queue', 'user.*'),)},
     "MEDIA_BUTTONS has 'zz.new.upload', which reaches no queue"),
    ({'SEED_BINDINGS': course_names.SEED_BINDINGS + (('zz_new_queue', 'zz.#'),)},
     "SEED_HANDLERS must name each queue of SEED_BINDINGS once: missing ['zz_new_queue']"),
    ({'SEED_BINDINGS': (('clips queue', 'video.#'),)}, "the queue 'clips queue'"),
    ({'MEDIA_BINDINGS': course_names.MEDIA_BINDINGS + (('zz_new_queue', 'zz.new*'),)}, 'a wildcard must be a whole'),
    ({'MEDIA_EVENTS': (('video', 1),) + course_names.MEDIA_EVENTS}, "memory:// and redis:// to"),
    ({'VIDEO_QUEUE': 'zz_new_queue'}, "VIDEO_QUEUE = 'zz_new_queue' is not a queue of SEED_BINDINGS"),
])
def test_a_mistake_names_the_file_and_what_to_edit(changes, words):
    with pytest.raises(CourseNamesError) as caught:
        check_course_names(names(**changes))
    assert str(caught.value).startswith('helpers/course_names.py: ') and words in str(caught.value)


def test_the_demo_has_a_handler_for_every_seed_queue():
    roles = {'transcode': demo._transcode, 'audit': demo._audit}
    assert sorted(course_names.SEED_HANDLERS) == SEED.queue_names
    assert all(role in roles for role in course_names.SEED_HANDLERS.values())


def test_every_notebook_agrees_with_the_course_names():
    problems = names_tool.unknown_queues(names_tool.notebooks())
    assert not problems, '\n'.join(f'{spot.where()} spells {word!r}, not a queue of helpers/course_names.py; '
                                   'rename it: tools/names.py --rename OLD=NEW' for spot, word in problems)


def notebook(tmp_path: Path, *sources: str) -> Path:
    cells = [{'cell_type': 'code', 'id': f'c{n}', 'metadata': {}, 'execution_count': None, 'outputs': [],
              'source': source.splitlines(keepends=True)} for n, source in enumerate(sources)]
    path = tmp_path / '09_lesson.ipynb'
    path.write_text(json.dumps({'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}, indent=1))
    return path


def test_the_check_names_the_notebook_and_cell_of_a_queue_the_course_lacks(tmp_path):
    path = notebook(tmp_path, 'ok = 1\n', "Worker(URL, queues=['gone_queue', 'audit_queue'])\n")
    [(spot, word)] = names_tool.unknown_queues([path])
    assert word == 'gone_queue' and spot.where() == f'{path} cell 1 (id c1, code)'


def test_rename_rewrites_names_and_lab_copies_but_not_longer_words(tmp_path):
    names_file = tmp_path / 'course_names.py'
    names_file.write_text("VIDEO_QUEUE = 'video_queue'\nBUTTONS = ('video.upload', 'video.upload.hd')\n")
    path = notebook(tmp_path, "q = ['video_queue', 'lab_video_queue', 'video_only_queue']\n",
                    "keys = ['video.upload', 'video.upload.hd', 'x.video.upload']  # video.upload.\n")
    report = names_tool.rename([('video_queue', 'clips_queue'), ('video.upload', 'clip.new')], [path],
                               names_file=names_file)
    sources = [''.join(cell['source']) for cell in json.loads(path.read_text())['cells']]
    assert sources == ["q = ['clips_queue', 'lab_clips_queue', 'video_only_queue']\n",
                       "keys = ['clip.new', 'video.upload.hd', 'x.video.upload']  # clip.new.\n"]
    assert names_file.read_text() == "VIDEO_QUEUE = 'clips_queue'\nBUTTONS = ('clip.new', 'video.upload.hd')\n"
    assert report[0].endswith('course_names.py: 2 places') and report[1].endswith('4 places in 2 cells')


def test_the_listing_shows_each_cell_that_spells_a_name(tmp_path):
    path = notebook(tmp_path, '# a heading\n', f"SEED.queue('{course_names.VIDEO_QUEUE}')  # video.#\n")
    [spot] = names_tool.spellings(['#', course_names.VIDEO_QUEUE, 'video.#'], [path])
    assert (spot.index, spot.names) == (1, (course_names.VIDEO_QUEUE, 'video.#'))


def test_a_handler_table_with_an_old_queue_name_says_how_to_rename():
    from helpers.worker import Worker
    stale = {f'{course_names.VIDEO_QUEUE}_old': print, course_names.AUDIT_QUEUE: print}
    with pytest.raises(ValueError) as caught:
        Worker('memory://', handlers=stale)
    assert f"no handler for queues ['{course_names.VIDEO_QUEUE}']" in str(caught.value)
    assert 'tools/names.py --rename OLD=NEW' in str(caught.value) and 'helpers/course_names.py' in str(caught.value)


def test_no_helper_spells_a_queue_or_exchange_of_the_course_but_the_names_file():
    spelled = {*SEED.queue_names, *MEDIA.queue_names, SEED.exchange_name, MEDIA.exchange_name}
    found = [f'{path.relative_to(ROOT)}:{node.lineno} {node.value!r}'
             for path in sorted((ROOT / 'helpers').rglob('*.py')) if path.name != 'course_names.py'
             for node in ast.walk(ast.parse(path.read_text(encoding='utf-8')))
             if isinstance(node, ast.Constant) and node.value in spelled]
    assert found == [], 'take these from helpers/course_names.py: ' + ', '.join(found)
