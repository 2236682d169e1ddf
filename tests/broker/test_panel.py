"""The panel on each broker: each click publishes once and the counters match the log."""
from __future__ import annotations

from helpers.course_names import AUDIT_QUEUE, VIDEO_QUEUE
from helpers.events import ACKED, PUBLISHED
from helpers.views.panel import ControlPanel, log_line
from helpers.worker import Worker


def test_each_click_publishes_once_and_counters_match_the_log(broker_url, unique_topology, log):
    keys = ['video.upload', 'user.login']
    panel = ControlPanel(broker_url, topology=unique_topology, log=log, routing_keys=keys, max_lines=4)
    with Worker(broker_url, topology=unique_topology, log=log):
        for key in [*keys, 'video.upload']:
            panel.buttons[key].click()
        panel.key_box.value = 'video.transcode.hd'
        panel.publish_button.click()
        assert [e.routing_key for e in log.events(PUBLISHED)] == [*keys, 'video.upload', 'video.transcode.hd']
        mine = set(log.ids(PUBLISHED))
        assert len(mine) == 4
        # audit_queue gets all 4, video_queue 3.  (Queue names are shared on a real broker: other test
        # runs may put messages into them, so count only ours.)
        log.wait_until(lambda lg: len([i for i in lg.ids(ACKED) if i in mine]) >= 7, what='7 acks')
        log.wait_settled()
        panel.wait_drawn()  # the worker thread drew the last events, no refresh needed
        shown = panel.counts()
    ours = {q: len([i for i in log.ids(ACKED, q) if i in mine]) for q in unique_topology.queue_names}
    assert ours == {AUDIT_QUEUE: 4, VIDEO_QUEUE: 3}
    assert shown == {q: f'{q}: {n} acked' for q, n in log.per_queue(ACKED).items()}
    assert len(panel.lines()) == 4
    assert panel.refresh().counts() == shown
    # The worker may ack before the main thread logs 'published': after refresh the view follows the log.
    assert panel.lines() == [log_line(e, len(AUDIT_QUEUE)) for e in log.events()[-4:]]
    panel.close()
