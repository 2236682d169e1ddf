"""01_topology's exercise on every broker: its check grades what the broker does, so run it on all three.

A kernel per broker runs the notebook's cells above the answer cell (found by tag) with BROKER_URL set,
then the stored starter, the solution (twice), a right answer of our own and every typical wrong answer
from tests/exercises/nb01_topology.py.  Each must print one line: ✅, or ❌ with the expected hint.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest
from conftest import BROKERS, LATE_OUTPUT, require_broker
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location('exercise_01', ROOT / 'tests' / 'exercises' / 'nb01_topology.py')
EXERCISE = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(EXERCISE)
SOLUTION = (ROOT / 'helpers' / 'solutions' / 'nb01_topology.py').read_text()


class Kernel:
    """A kernel that has run 01's cells above the answer cell on one broker."""

    def __init__(self, url: str) -> None:
        self.nb = nbformat.read(ROOT / 'notebooks' / '01_topology.ipynb', as_version=4)
        [answer] = [i for i, cell in enumerate(self.nb.cells) if 'answer' in cell.metadata.get('tags', [])]
        self.starter = self.nb.cells[answer].source
        self.nb.cells = self.nb.cells[:answer]
        self.client = NotebookClient(self.nb, timeout=120, kernel_name='python3', **LATE_OUTPUT,
                                     resources={'metadata': {'path': str(ROOT / 'notebooks')}})
        self.session = self.client.setup_kernel(env={**os.environ, 'BROKER_URL': url})

    def __enter__(self) -> Kernel:
        self.session.__enter__()
        try:
            for index, cell in enumerate(list(self.nb.cells)):
                if cell.cell_type == 'code':
                    self.client.execute_cell(cell, index)
        except BaseException:
            self.session.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.session.__exit__(*exc)

    def run(self, source: str) -> str:
        """Run ``source`` as the next cell; return everything it printed (stdout and stderr)."""
        self.nb.cells.append(nbformat.v4.new_code_cell(source))
        cell = self.client.execute_cell(self.nb.cells[-1], len(self.nb.cells) - 1)
        return ''.join(out.get('text', '') for out in cell.outputs if out.output_type == 'stream')


@pytest.fixture(scope='module', params=sorted(BROKERS))
def kernel(request):
    with Kernel(require_broker(BROKERS[request.param])) as kernel:
        yield kernel


def test_the_starter_prints_a_cross_and_a_hint(kernel):
    out = kernel.run(kernel.starter)
    assert out.startswith('❌') and 'Hint:' in out and out.count('\n') == 1, out


@pytest.mark.parametrize('answer', ['solution', 'solution again', 'own'])
def test_a_right_answer_passes_on_this_broker_and_routes_alike_on_all(kernel, answer):
    out = kernel.run(EXERCISE.OWN if answer == 'own' else SOLUTION)
    assert out.startswith('✅ all 8 routing keys landed where they should on this broker (10 copies)'), out
    assert out.rstrip().endswith('RabbitMQ, memory:// and redis:// route them alike with your bindings'), out
    assert out.count('\n') == 1


@pytest.mark.parametrize(('answer', 'hint'), EXERCISE.WRONG, ids=[hint[:40] for _answer, hint in EXERCISE.WRONG])
def test_a_wrong_answer_gets_one_line_with_its_hint(kernel, answer, hint):
    out = kernel.run(answer)
    assert out.startswith('❌') and hint in out and out.count('\n') == 1 and 'Traceback' not in out, out


def test_an_answer_only_rabbitmq_reads_one_way_is_flagged(kernel):
    """'video.upload.eu.#' matches video.upload.eu on RabbitMQ ('#' takes no words) but not in kombu's regex."""
    out = kernel.run(EXERCISE.START + """thumbnails = Queue('thumbnails', bindings=[
    binding(events, routing_key=key) for key in ('video.upload.*', 'image.upload.*', 'video.upload.eu.#')])
eu_events = Queue('eu_events', exchange=events, routing_key='*.*.eu')
security = Queue('security', bindings=[binding(events, routing_key='admin.#'),
                                       binding(events, routing_key='*.login.*')])
print(check_queues([thumbnails, eu_events, security]))
""")
    assert out.startswith('✅') and "⚠ but RabbitMQ and kombu's regex" in out and "'video.upload.eu.#'" in out, out


def test_a_check_interrupted_by_a_broken_deliveries_still_answers(kernel):
    """Whatever fails inside the check becomes a ❌ line, and the next try works again."""
    kernel.run('_saved, deliveries = deliveries, None')
    try:
        out = kernel.run(SOLUTION)
    finally:
        kernel.run('deliveries = _saved')
    assert out.startswith('❌ the check could not use your queues (TypeError') and out.count('\n') == 1, out
    assert kernel.run(SOLUTION).startswith('✅')
