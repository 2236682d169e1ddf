"""The teacher's path, checked: adapt a copy of the course as the teacher's guide says, then run it.

    .venv/bin/python tools/adapt_check.py [--keep]

Copies the course (the files git knows) to a temporary folder and adapts it there with the guide's steps only:
``tools/names.py --rename video_queue=clips_queue``, then three edits to ``helpers/course_names.py`` (a
``pdf_queue`` bound to ``doc.pdf.#``, a full-run event ``doc.pdf.upload``, and that key on one of 04's panel
buttons).  Then, on the copy and on ``memory://``: the names check, the notebooks that spell or print the
course's names re-executed by the guide's own command (step 5 there, run word for word, and it must name
exactly those notebooks), the unit suite (step 6), and each one's solution loaded in a kernel (it must print ✅).
nbval strict is not run again here: the re-execution has just run every cell, and a second run would only
repeat the determinism check CI makes on the course itself.
Exits 1 when a step fails, and prints each step's time.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.guide_commands import bash_blocks, guide  # noqa: E402

#: The notebooks whose cells or outputs carry the course's names (00 names none; 05 has its own topology).
NOTEBOOKS = ['01_topology', '02_worker', '03_producer', '04_full_run', '06_celery']
#: The guide's edits to helpers/course_names.py: (what is there, what the teacher writes instead).
EDITS = [
    ("    (AUDIT_QUEUE, '#'),\n)", "    (AUDIT_QUEUE, '#'),\n    ('pdf_queue', 'doc.pdf.#'),\n)"),
    ("    ('user.login', 3), ('user.signup', 1), ('user.password_reset', 1),\n)",
     "    ('user.login', 3), ('user.signup', 1), ('user.password_reset', 1),\n    ('doc.pdf.upload', 2),\n)"),
    ("MEDIA_BUTTONS: tuple[str, ...] = ('video.upload.hd', 'image.upload.png', 'audio.upload.mp3', 'user.login')",
     "MEDIA_BUTTONS: tuple[str, ...] = ('video.upload.hd', 'image.upload.png', 'doc.pdf.upload', 'user.login')"),
]


def copy_course(target: Path) -> int:
    """Copy the files git knows (committed or added, not ignored) to ``target``; how many."""
    listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split('\0')
    count = 0
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
            count += 1
    return count


def edit_names(course: Path) -> None:
    """Make the guide's three edits to the copy's helpers/course_names.py (each must apply exactly once)."""
    path = course / 'helpers' / 'course_names.py'
    text = path.read_text(encoding='utf-8')
    for old, new in EDITS:
        if text.count(old) != 1:
            raise SystemExit(f'adapt_check: helpers/course_names.py no longer has {old!r} once: update EDITS here '
                             'and the guide ("Changing routing keys and queues") together')
        text = text.replace(old, new)
    path.write_text(text, encoding='utf-8')


def guide_command() -> str:
    """The guide's command that re-executes the adapted notebooks on memory:// (continuation lines joined)."""
    for line in (line for block in bash_blocks(guide()) for line in block):
        words = shlex.split(line)
        if words[:3] == ['BROKER_URL=memory://', '.venv/bin/python', 'tools/execute.py'] and \
                all(w.startswith('notebooks/0') for w in words[3:]):
            if [Path(w).stem for w in words[3:]] != NOTEBOOKS:
                raise SystemExit(f'adapt_check: the guide re-executes {words[3:]}, this check expects '
                                 f'{NOTEBOOKS}: make them agree')
            return ' '.join(words)
    raise SystemExit("adapt_check: docs/teachers-guide.md gives no command that re-executes the notebooks")


def main(argv: list[str] | None = None) -> int:
    """Adapt a copy of the course as the guide says, then run the checks that prove the course followed."""
    parser = argparse.ArgumentParser(prog='tools/adapt_check.py', description=main.__doc__)
    parser.add_argument('--keep', action='store_true', help='keep the adapted copy and print where it is')
    args = parser.parse_args(argv)
    started = time.monotonic()
    course = Path(tempfile.mkdtemp(prefix='krl-adapt-'))
    py = sys.executable
    env = {**os.environ, 'BROKER_URL': 'memory://', 'PYTHONPATH': str(course)}
    steps = [
        ('rename', [py, 'tools/names.py', '--rename', 'video_queue=clips_queue']),
        ('edit helpers/course_names.py', None),
        ('the names check', [py, '-c', 'import helpers.topology, helpers; print("helpers from", helpers.__file__)']),
        ('notebooks agree', [py, 'tools/names.py', '--check']),
        ("re-execute (the guide's command)", ['bash', '-c', guide_command()]),
        ('unit suite', [py, '-m', 'pytest', '-p', 'no:cacheprovider', '-q', 'tests/unit']),
        ('loaded solutions print ✅', [py, '-m', 'pytest', '-p', 'no:cacheprovider', '-q',
                                      'tests/notebooks/test_exercises.py', '-k',
                                      f'loaded_solution and memory and ({" or ".join(NOTEBOOKS)})']),
    ]
    status = 0
    try:
        print(f'copied {copy_course(course)} files to {course}', flush=True)
        shim = course / '.venv' / 'bin' / 'python'  # the README's .venv/bin/python, which the guide's command runs
        shim.parent.mkdir(parents=True)
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(py)} "$@"\n')
        shim.chmod(0o755)
        for title, command in steps:
            t = time.monotonic()
            if command is None:
                edit_names(course)
                rc = 0
            else:
                print(f'--- {title}: {" ".join(command[1:])}', flush=True)
                rc = subprocess.run(command, cwd=course, env=env).returncode
            print(f'=== {title}: {"ok" if rc == 0 else f"FAILED (exit {rc})"} in {time.monotonic() - t:.0f} s',
                  flush=True)
            if rc:
                status = 1
                break
    finally:
        if args.keep:
            print('the adapted copy:', course)
        else:
            shutil.rmtree(course, ignore_errors=True)
    print(f'adapt_check: {"passed" if status == 0 else "FAILED"} in {time.monotonic() - started:.0f} s')
    return status


if __name__ == '__main__':
    sys.exit(main())
