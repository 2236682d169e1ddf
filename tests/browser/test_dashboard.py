"""The teacher's dashboard in JupyterLab: a stuck learner shows in red with its queue, and clears once drained."""
from __future__ import annotations

import os
import shutil
import time
import uuid

import pytest

from helpers import config
from helpers.course_names import VIDEO_QUEUE
from helpers.producer import Publisher
from helpers.topology import SEED
from teacher import classroom
from teacher.rabbitadmin import ManagementAPI

from .conftest import ROOT, unavailable
from .harness import (
    click_button,
    code_cell_at,
    open_notebook,
    run_all_above,
    run_cell,
    screenshot_element,
    wait_executed,
    wait_kernel_idle,
    wait_text,
    widget_area,
)

pytestmark = pytest.mark.browser

NOTEBOOK = 'docs/class-dashboard.ipynb'


def _amqp_url() -> str:
    for url in (os.environ.get('AMQP_URL'), 'amqp://guest:guest@127.0.0.1:5672/krl_tests'):
        if url:
            try:
                config.check_broker(url, timeout=3)
                return url
            except config.BrokerError:
                continue
    unavailable('no RabbitMQ for the dashboard test')


def test_dashboard_flags_a_stuck_learner_until_its_queue_drains(page, lab, monkeypatch):
    if not ManagementAPI().available():
        unavailable('the RabbitMQ management API does not answer on 127.0.0.1:15672')
    url = _amqp_url()
    learners = classroom.plan(2, 'namespaces', prefix=f'class_b{uuid.uuid4().hex[:4]}_', url=url)
    stuck = learners[0]
    (lab.root / 'docs').mkdir(exist_ok=True)
    shutil.copy(ROOT / NOTEBOOK, lab.root / NOTEBOOK)
    classroom.save_roster(lab.root / 'docs' / 'class.json', learners)
    monkeypatch.setenv('LAB_NAMESPACE', stuck.namespace)
    seed = SEED.in_namespace(stuck.namespace)  # a Topology keeps the namespace it was built with
    try:
        with config.connect(url) as conn:
            seed.reset(conn)
        with Publisher(url, topology=seed) as publisher:
            publisher.publish('video.upload', {'file': 'a.mp4'})
        # The management API counts a queue's messages every 5 s (RabbitMQ's statistics interval): the board
        # can show no more than the API knows, and in JupyterLab, with the kernel's thread sends dropped as
        # Colab drops them, the watch thread's redraws do not reach the page.  Open it once the API knows.
        admin = ManagementAPI()
        deadline = time.monotonic() + 30
        while not any(q.stuck for s in classroom.status(admin, [stuck]) for q in s.queues) \
                and time.monotonic() < deadline:
            time.sleep(0.5)
        [cleanup] = lab.tagged(NOTEBOOK, 'cleanup')  # the teacher's notebook stops its watch in a last cell
        open_notebook(page, lab, NOTEBOOK)
        wait_kernel_idle(page)
        run_all_above(page, code_cell_at(page, cleanup))
        wait_executed(page, upto=cleanup)
        board = widget_area(page).last
        wait_text(board, f'{stuck.name}')
        wait_text(board, f'stuck: {SEED.exchange_name}/{VIDEO_QUEUE} (1 waiting, no consumer)')
        wait_text(board, '1 of 2 learners to look at')
        screenshot_element(board, 'class-dashboard')
        with config.connect(url) as conn:
            seed.delete(conn)
        click_button(board, 'Refresh')  # a real click; the notebook's watch(5) would also redraw
        wait_text(board, 'all clear')
        run_cell(page, code_cell_at(page, cleanup))
    finally:
        with config.connect(url) as conn:
            seed.delete(conn)
