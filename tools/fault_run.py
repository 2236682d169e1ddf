"""Run ``python -m helpers.demo --json`` and drop its own broker connections a few times; print its JSON.

    .venv/bin/python tools/fault_run.py --broker redis://127.0.0.1:6379/5 --messages 20000 --drops 3

Only the demo process's connections are dropped: on Redis with CLIENT KILL ID of the clients whose
address is one of the demo's local ports, on RabbitMQ with ``rabbitmqctl close_connection`` of the
connections from those ports (in the URL's vhost).  A measurement for the teacher's guide.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psutil

ROOT = Path(__file__).resolve().parents[1]
RABBITMQCTL = os.environ.get('RABBITMQCTL', 'rabbitmqctl')


def ports_of(pid: int, broker_port: int) -> set[int]:
    """The local ports of process ``pid``'s established connections to ``broker_port``."""
    return {c.laddr.port for c in psutil.Process(pid).net_connections(kind='tcp')
            if c.raddr and c.raddr.port == broker_port and c.status == psutil.CONN_ESTABLISHED}


def drop_redis(url: str, pid: int) -> int:
    import redis
    ports = ports_of(pid, urlsplit(url).port or 6379)
    admin = redis.Redis.from_url(url)
    try:
        ids = [c['id'] for c in admin.client_list() if int(c['addr'].rpartition(':')[2]) in ports]
        return sum(admin.client_kill_filter(_id=i) for i in ids)
    finally:
        admin.close()


def drop_amqp(url: str, pid: int) -> int:
    vhost = unquote(urlsplit(url).path[1:]) or '/'
    ports = {str(p) for p in ports_of(pid, urlsplit(url).port or 5672)}
    listing = subprocess.run([RABBITMQCTL, 'list_connections', '--quiet', '--no-table-headers', 'name', 'pid', 'vhost'],
                             capture_output=True, text=True, check=True).stdout
    pids = []
    for line in listing.splitlines():
        name, conn_pid, conn_vhost = line.split('\t')
        if conn_vhost == vhost and name.partition(' -> ')[0].rpartition(':')[2] in ports:
            pids.append(conn_pid)
    procs = [subprocess.Popen([RABBITMQCTL, 'close_connection', p, 'fault run: dropped on purpose'],
                              stdout=subprocess.DEVNULL) for p in pids]
    return sum(proc.wait() == 0 for proc in procs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--broker', required=True)
    parser.add_argument('--messages', type=int, default=20000)
    parser.add_argument('--workers', type=int, default=4)
    parser.add_argument('--drops', type=int, default=3)
    parser.add_argument('--every', type=float, default=4.0, help='seconds between drops (first one after this)')
    args = parser.parse_args()
    drop = drop_amqp if args.broker.startswith('amqp') else drop_redis
    demo = subprocess.Popen([sys.executable, '-m', 'helpers.demo', '--broker', args.broker, '--json',
                             '--messages', str(args.messages), '--workers', str(args.workers)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dropped = []
    for _ in range(args.drops):
        time.sleep(args.every)
        if demo.poll() is not None:
            break
        dropped.append(drop(args.broker, demo.pid))
    out, err = demo.communicate(timeout=600)
    report = json.loads(out) if out.strip() else {'error': err.strip()}
    report.update(exit=demo.returncode, drops=len(dropped), connections_dropped=sum(dropped))
    print(json.dumps(report))
    return 0


if __name__ == '__main__':
    sys.exit(main())
