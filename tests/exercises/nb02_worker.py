"""02_worker's exercise: typical wrong answers (each a whole answer cell) and a right one of our own.

They run in the notebook's kernel after the cells above the answer cell (``check_worker`` is defined
there). ``WRONG`` pairs an answer with a substring its ❌ output must contain; the first is the most
typical. ``OWN`` is a correct answer written differently from ``helpers/solutions/nb02_worker.py``.
"""

HEAD = '# Your answer. To see a solution, replace this cell with: %load solutions.nb02_worker\n'
INIT = '''
    def __init__(self, connection, queues, handlers):
        self.connection = connection
        self.queues = queues
        self.handlers = handlers
'''
CALL = '\n\nprint(check_worker(SafeWorker))\n'

WRONG = [
    # The seed's shape: one Consumer over both queues, the handler chosen by the routing key.
    (HEAD + 'class SafeWorker(ConsumerMixin):' + INIT + '''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=self.queues, accept=['json'], prefetch_count=1, callbacks=[self.on_message])]

    def on_message(self, body, message):
        video = 'video' in message.delivery_info['routing_key']
        name = next(q.name for q in self.queues if ('video' in q.name) == video)
        try:
            self.handlers[name](body)
        except Exception:
            message.reject()
        else:
            message.ack()
''' + CALL, 'one Consumer reads 2 queues'),
    # Ack first, work afterwards.
    (HEAD + 'from functools import partial\n\n\nclass SafeWorker(ConsumerMixin):' + INIT + '''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[q], accept=['json'], prefetch_count=1, callbacks=[partial(self.on_message, q.name)])
                for q in self.queues]

    def on_message(self, queue_name, body, message):
        message.ack()
        try:
            self.handlers[queue_name](body)
        except Exception:
            pass
''' + CALL, 'acked before its handler ran'),
    # No ack at all.
    (HEAD + 'from functools import partial\n\n\nclass SafeWorker(ConsumerMixin):' + INIT + '''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[q], accept=['json'], prefetch_count=1, callbacks=[partial(self.on_message, q.name)])
                for q in self.queues]

    def on_message(self, queue_name, body, message):
        try:
            self.handlers[queue_name](body)
        except Exception:
            message.reject()
''' + CALL, 'message.ack()'),
    # The failure neither acked nor rejected: with prefetch 1 the worker stalls.
    (HEAD + 'from functools import partial\n\n\nclass SafeWorker(ConsumerMixin):' + INIT + '''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[q], accept=['json'], prefetch_count=1, callbacks=[partial(self.on_message, q.name)])
                for q in self.queues]

    def on_message(self, queue_name, body, message):
        try:
            self.handlers[queue_name](body)
            message.ack()
        except Exception:
            pass
''' + CALL, 'neither acked nor rejected'),
    # The exception is not caught at all.
    (HEAD + 'from functools import partial\n\n\nclass SafeWorker(ConsumerMixin):' + INIT + '''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[q], accept=['json'], prefetch_count=1, callbacks=[partial(self.on_message, q.name)])
                for q in self.queues]

    def on_message(self, queue_name, body, message):
        self.handlers[queue_name](body)
        message.ack()
''' + CALL, 'message.reject()'),
    # requeue=True: the failure comes back for ever.
    (HEAD + 'from functools import partial\n\n\nclass SafeWorker(ConsumerMixin):' + INIT + '''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[q], accept=['json'], prefetch_count=1, callbacks=[partial(self.on_message, q.name)])
                for q in self.queues]

    def on_message(self, queue_name, body, message):
        try:
            self.handlers[queue_name](body)
        except Exception:
            message.reject(requeue=True)
        else:
            message.ack()
''' + CALL, 'requeue'),
    # accept forgotten.
    (HEAD + 'from functools import partial\n\n\nclass SafeWorker(ConsumerMixin):' + INIT + '''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[q], prefetch_count=1, callbacks=[partial(self.on_message, q.name)])
                for q in self.queues]

    def on_message(self, queue_name, body, message):
        try:
            self.handlers[queue_name](body)
        except Exception:
            message.reject()
        else:
            message.ack()
''' + CALL, "accept=['json']"),
    # prefetch_count forgotten.
    (HEAD + 'from functools import partial\n\n\nclass SafeWorker(ConsumerMixin):' + INIT + '''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[q], accept=['json'], callbacks=[partial(self.on_message, q.name)])
                for q in self.queues]

    def on_message(self, queue_name, body, message):
        try:
            self.handlers[queue_name](body)
        except Exception:
            message.reject()
        else:
            message.ack()
''' + CALL, 'prefetch_count=1'),
    # A callback with one argument: kombu passes (body, message).
    (HEAD + 'class SafeWorker(ConsumerMixin):' + INIT + '''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[q], accept=['json'], prefetch_count=1, callbacks=[self.on_message])
                for q in self.queues]

    def on_message(self, body):
        pass
''' + CALL, 'callback(body, message)'),
    # A callback that does not return (here for 10 s): the check stops waiting and says so.
    (HEAD + 'import time\nfrom functools import partial\n\n\nclass SafeWorker(ConsumerMixin):' + INIT + '''
    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[q], accept=['json'], prefetch_count=1, callbacks=[partial(self.on_message, q.name)])
                for q in self.queues]

    def on_message(self, queue_name, body, message):
        time.sleep(10)
        message.ack()
''' + CALL, 'still busy'),
    # Not a ConsumerMixin.
    (HEAD + 'class SafeWorker:' + INIT + CALL, 'not a kombu ConsumerMixin'),
    # __init__ that raises.
    (HEAD + '''class SafeWorker(ConsumerMixin):
    def __init__(self, connection, handlers):
        self.connection = connection
''' + CALL, 'creating your worker raised TypeError'),
    # An instance instead of the class.
    (HEAD + 'class SafeWorker(ConsumerMixin):' + INIT + '\n\nprint(check_worker(SafeWorker(None, [], {})))\n',
     'needs your class itself'),
    # Not a class at all.
    (HEAD + "print(check_worker('SafeWorker'))\n", 'needs your class itself'),
    # get_consumers forgotten.
    (HEAD + 'class SafeWorker(ConsumerMixin):' + INIT + CALL, 'write get_consumers'),
]

OWN = HEAD + '''class SafeWorker(ConsumerMixin):
    def __init__(self, connection, queues, handlers):
        self.connection, self.queues, self.handlers = connection, queues, handlers

    def get_consumers(self, Consumer, channel):
        consumers = []
        for queue in self.queues:
            handler = self.handlers[queue.name]

            def on_message(body, message, handler=handler):
                try:
                    handler(body)
                except Exception:
                    message.reject(requeue=False)
                    return
                message.ack()

            consumers.append(Consumer(queues=[queue], accept=['json'], prefetch_count=1, callbacks=[on_message]))
        return consumers


print(check_worker(SafeWorker))
'''
