"""Long runs show progress from the start, publishing included, on stderr (helpers.progress, fullrun, demo)."""
from pathlib import Path

from helpers.fullrun import full_run, scenario
from helpers.topology import MEDIA

ROOT = Path(__file__).resolve().parents[2]


def test_full_run_reports_from_before_the_first_publish_to_the_last_settled_copy():
    calls = []
    run = full_run('memory://', messages=60, workers=2, producers=2, topology=MEDIA.renamed('progress'),
                   progress=lambda *args: calls.append(args))
    expected = sum(len(MEDIA.route(key)) for key, _ in scenario(60))
    assert calls[0] == (0, 0, expected)  # before any producer thread started
    assert calls[-1] == (60, expected, expected)
    published = [call[0] for call in calls]
    settled = [call[1] for call in calls]
    assert published == sorted(published) and settled == sorted(settled)
    assert run.reconciliation.ok
