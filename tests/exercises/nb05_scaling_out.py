"""05_scaling_out's exercise: typical wrong worker scripts (each a whole answer cell) and a right one of our own.

They run in the notebook's kernel after the cells above the answer cell (``check_worker`` and ``JOBS`` are
defined there), on memory:// (copies as threads) or RabbitMQ (copies as processes). ``WRONG`` pairs an
answer with a substring its ❌ output must contain, on both; the first is the most typical (the starter's
shape). ``OWN`` is a correct script written differently from ``helpers/solutions/nb05_scaling_out.py``.
"""

HEAD = '# Your answer. To see a solution, replace this cell with: %load solutions.nb05_scaling_out\n'
TOP = '''JOB_WORKER = \'\'\'
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
'''
MAIN = '''

if __name__ == '__main__':
    name, exchange_name, *binds = sys.argv[1:]
    exchange = Exchange(exchange_name, type='topic')
    queues = [Queue(queue, exchange, routing_key=key) for queue, key in (bind.split('=', 1) for bind in binds)]
    with Connection(os.environ['BROKER_URL']) as connection:
        worker = Worker(connection, name, queues)
        signal.signal(signal.SIGTERM, lambda signum, frame: setattr(worker, 'should_stop', True))
        worker.run()
\'\'\'
print(check_worker(JOB_WORKER))
'''
PER_QUEUE = '''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[queue], callbacks=[self.handler(queue.name)], accept=['json'], prefetch_count=1)
                for queue in self.queues]
'''


def _answer(body: str) -> str:
    return HEAD + TOP + body + MAIN


WRONG = [
    # The seed's shape: one Consumer over both queues; the callback names one queue for every message.
    (_answer('''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=self.queues, callbacks=[self.handle], accept=['json'], prefetch_count=1)]

    def handle(self, body, message):
        job = {'queue': self.queues[0].name, 'message_id': message.properties['message_id']}
        self.say('delivered', **job)
        time.sleep(body['work_seconds'])
        message.ack()
        self.say('acked', **job)
'''), 'one Consumer over several queues cannot tell them apart'),
    # One Consumer per queue, but the ack comes before the work.
    (_answer(PER_QUEUE + '''
    def handler(self, queue):
        def handle(body, message):
            job = {'queue': queue, 'message_id': message.properties['message_id']}
            self.say('delivered', **job)
            message.ack()
            time.sleep(body['work_seconds'])
            self.say('acked', **job)
        return handle
'''), 'acked before its work was done'),
    # The ack is forgotten: the acked line is printed, the message is never settled.
    (_answer(PER_QUEUE + '''
    def handler(self, queue):
        def handle(body, message):
            job = {'queue': queue, 'message_id': message.properties['message_id']}
            self.say('delivered', **job)
            time.sleep(body['work_seconds'])
            self.say('acked', **job)
        return handle
'''), 'message.ack() after the work'),
    # The queue reported by its binding key instead of its name.
    (_answer('''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[queue], callbacks=[self.handler(queue.routing_key)], accept=['json'])
                for queue in self.queues]

    def handler(self, queue):
        def handle(body, message):
            job = {'queue': queue, 'message_id': message.properties['message_id']}
            self.say('delivered', **job)
            time.sleep(body['work_seconds'])
            message.ack()
            self.say('acked', **job)
        return handle
'''), 'not one of'),
    # A handler that reads a field the jobs do not have: every copy crashes on its first job.
    (_answer(PER_QUEUE + '''
    def handler(self, queue):
        def handle(body, message):
            job = {'queue': queue, 'message_id': message.properties['message_id']}
            self.say('delivered', **job)
            time.sleep(body['seconds'])
            message.ack()
            self.say('acked', **job)
        return handle
'''), 'the body of a job is a dict like'),
    # The class passed instead of the script's text.
    (HEAD + 'from kombu.mixins import ConsumerMixin\n\n\nclass Worker(ConsumerMixin):\n    pass\n\n\n'
     'print(check_worker(Worker))\n', 'needs the text of your script'),
    # A file name that does not exist (the learner meant a %%writefile cell they have not run).
    (HEAD + "print(check_worker('job_worker.py'))\n", "there is no file 'job_worker.py'"),
]

# A right answer of our own: one handler method, the queue bound with functools.partial, and the
# redelivered flag reported; main() stops on SIGTERM or SIGINT.
OWN = HEAD + TOP + '''
    def get_consumers(self, Consumer, channel):
        from functools import partial
        return [Consumer(queues=[q], callbacks=[partial(self.on_job, q.name)], accept=['json'], prefetch_count=1)
                for q in self.queues]

    def on_job(self, queue, body, message):
        line = {'queue': queue, 'message_id': message.properties.get('message_id', '')}
        self.say('delivered', **line)
        time.sleep(body['work_seconds'])
        message.ack()
        self.say('acked', **line, detail='redelivered' if message.delivery_info.get('redelivered') else '')


if __name__ == '__main__':
    me, exchange_name, *binds = sys.argv[1:]
    topic = Exchange(exchange_name, type='topic')
    wanted = []
    for bind in binds:
        queue, key = bind.split('=', 1)
        wanted.append(Queue(queue, topic, routing_key=key))
    worker = Worker(Connection(os.environ['BROKER_URL']), me, wanted)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: setattr(worker, 'should_stop', True))
    worker.run()
\'\'\'
print(check_worker(JOB_WORKER))
'''
