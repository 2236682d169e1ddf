"""benchmarks.machine: the load line says what it measured, and says so when the system does not tell."""
from benchmarks.machine import Usage, UsageReport


def test_a_run_reads_its_own_cpu_and_the_others():
    usage = Usage.start()
    sum(n * n for n in range(300_000))  # some CPU of this process's own
    report = usage.end()
    assert report.ours_cpu > 0 and 0 <= report.others_cpu <= 1 and report.cpus >= 1
    assert f'other processes used {report.others_cpu:.0%} of the CPUs, this one {report.ours_cpu:.0%}' in report.line()


def test_without_proc_stat_or_load_average_the_line_says_unknown_and_no_share():
    report = UsageReport(None, (1.0, 2.0, 3.0), 2, 5.0, 0.5, None)
    assert report.line() == 'load average (1, 5, 15 min) on 2 CPUs: unknown at the start, 1.00 2.00 3.00 at the end'
