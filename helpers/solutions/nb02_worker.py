# Solution to the exercise in 02_worker: a kombu worker with one Consumer per queue that acks after the
# work and rejects a message whose handler fails.
from functools import partial

from kombu.mixins import ConsumerMixin


class SafeWorker(ConsumerMixin):
    """One Consumer per queue; ack after the work; reject what the handler cannot do."""

    def __init__(self, connection, queues, handlers):
        self.connection = connection  # ConsumerMixin consumes on a clone of it
        self.queues = queues          # kombu Queue objects
        self.handlers = handlers      # {queue name: handler(body)}

    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[queue], accept=['json'], prefetch_count=1,
                         callbacks=[partial(self.on_message, queue.name)])
                for queue in self.queues]

    def on_message(self, queue_name, body, message):
        try:
            self.handlers[queue_name](body)
        except Exception:
            message.reject()  # requeue=False: it would fail again
        else:
            message.ack()     # only now, after the work


print(check_worker(SafeWorker))  # defined in the self-check cell above
