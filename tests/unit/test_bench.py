"""The benchmark's arithmetic and table, without running it (tests/broker runs it)."""
from benchmarks.compare import percentile, run_bench


def test_latency_percentiles_are_read_from_the_values_in_ascending_order():
    samples = [9.0, 1.0, 5.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0, 10.0, 0.5]  # as measured: not sorted
    assert percentile(samples, 0.50) == 5.0
    assert percentile(samples, 0.99) == 10.0
    assert percentile(samples, 0.0) == 0.5


def test_the_table_shows_medians_and_spreads_and_no_row_for_what_was_not_measured():
    result = run_bench('memory://', messages=20, latency_messages=5, repeat=3)
    text = result.table()
    assert 'median of 3 tries' in text and 'pika' not in text
    machine = result.machine
    assert len(machine.load_start) == len(machine.load_end) == 3 and machine.cpus >= 1
    assert f'on {machine.cpus} CPUs: ' in text and 'at the start' in text and 'at the end' in text
    assert 0 <= machine.others_cpu <= 1 and 0 < machine.ours_cpu <= 1
    assert f'other processes used {machine.others_cpu:.0%} of the CPUs' in text
    assert set(result.cpu_us) == {'ours', 'bare'} and min(result.cpu_us.values()) > 0
    assert f'{result.cpu_us["bare"] / result.cpu_us["ours"]:.2f}' in text
    low, high = result.spreads['ours']
    assert low <= result.helpers_msgs_per_s <= high
