# Solution to the exercise in 06_celery: a topic exchange, one queue per kind of work, and routes
# by name pattern (a glob, a regex) and by queue.
shop = Exchange(SHOP, type='topic')  # noqa: F821 (SHOP and the queue names are defined in the notebook)
task_queues = [
    Queue(PAYMENTS, shop, routing_key='orders.#'),  # noqa: F821
    Queue(EMAILS, shop, routing_key='email.*'),  # noqa: F821
    Queue(REPORTS, shop, routing_key='report.#'),  # noqa: F821
]
task_routes = {
    'shop.orders.*': {'exchange': SHOP, 'routing_key': 'orders.payment'},  # noqa: F821 (a glob pattern)
    re.compile(r'^shop\.email\.'): {'exchange': SHOP, 'routing_key': 'email.send'},  # noqa: F821 (a regex)
    'shop.report.daily': {'queue': REPORTS},  # noqa: F821 (the queue's exchange and its routing_key 'report.#')
}
print(check_shop_routing(task_queues, task_routes))  # noqa: F821 (defined in the notebook)
