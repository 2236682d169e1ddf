# Solution to the exercise in 05_scaling_out: a worker script that is correct as several processes.
# One Consumer per queue (each callback knows its queue), prefetch 1, the ack after the work, and a
# SIGTERM handler that lets the copy finish the job in hand before run() returns.
JOB_WORKER = '''
import json
import os
import signal
import sys
import time

from kombu import Connection, Exchange, Queue
from kombu.mixins import ConsumerMixin


class Worker(ConsumerMixin):
    def __init__(self, connection, name, queues):
        self.connection = connection
        self.name = name
        self.queues = queues

    def say(self, kind, **fields):
        print(json.dumps({'kind': kind, 'worker': self.name, **fields}), flush=True)

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self.say('ready')

    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[queue], callbacks=[self.handler(queue.name)], accept=['json'], prefetch_count=1)
                for queue in self.queues]

    def handler(self, queue):
        def handle(body, message):
            job = {'queue': queue, 'message_id': message.properties['message_id']}
            self.say('delivered', **job)
            time.sleep(body['work_seconds'])
            message.ack()
            self.say('acked', **job)
        return handle


if __name__ == '__main__':
    name, exchange_name, *binds = sys.argv[1:]
    exchange = Exchange(exchange_name, type='topic')
    queues = [Queue(queue, exchange, routing_key=key) for queue, key in (bind.split('=', 1) for bind in binds)]
    with Connection(os.environ['BROKER_URL']) as connection:
        worker = Worker(connection, name, queues)
        signal.signal(signal.SIGTERM, lambda signum, frame: setattr(worker, 'should_stop', True))
        worker.run()
'''
print(check_worker(JOB_WORKER))
