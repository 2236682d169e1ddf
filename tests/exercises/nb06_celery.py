"""Exercise data for notebooks/06_celery.ipynb: typical wrong answers (with what their ❌ says), one more right one.

Each source is a whole answer cell; it runs in the notebook's kernel after the cells above the answer cell.
"""

_HEAD = '# Your answer. To see a solution, replace this cell with: %load solutions.nb06_celery\n'

_QUEUES = '''shop = Exchange(SHOP, type='topic')
task_queues = [Queue(PAYMENTS, shop, routing_key='orders.#'), Queue(EMAILS, shop, routing_key='email.*'),
               Queue(REPORTS, shop, routing_key='report.#')]
'''

_WRONG = [
    # the stored starter: a route whose routing_key is there but empty
    (_QUEUES + "task_routes = {'shop.*': {'exchange': SHOP, 'routing_key': ''}}\n"
     'print(check_shop_routing(task_queues, task_routes))\n', "routing_key is empty"),
    # a routing key alone: Celery takes its default queue, a direct one, and ignores the key
    (_QUEUES + "task_routes = {'shop.orders.*': {'routing_key': 'orders.pay'},\n"
     "               'shop.email.*': {'routing_key': 'email.x'},\n"
     "               'shop.report.*': {'routing_key': 'report.daily'}}\n"
     'print(check_shop_routing(task_queues, task_routes))\n', "your key is ignored"),
    # the exchange's type left at kombu's default, direct: wildcards never match
    ("shop = Exchange(SHOP)\n"
     "task_queues = [Queue(PAYMENTS, shop, routing_key='orders.#'), Queue(EMAILS, shop, routing_key='email.*'),\n"
     "               Queue(REPORTS, shop, routing_key='report.#')]\n"
     "task_routes = {'shop.orders.*': {'exchange': SHOP, 'routing_key': 'orders.pay'},\n"
     "               'shop.email.*': {'exchange': SHOP, 'routing_key': 'email.send'},\n"
     "               'shop.report.*': {'exchange': SHOP, 'routing_key': 'report.daily'}}\n"
     'print(check_shop_routing(task_queues, task_routes))\n', "type='topic'"),
    # a pattern that does not match the task's name
    (_QUEUES + "task_routes = {'shop.order.*': {'exchange': SHOP, 'routing_key': 'orders.pay'},\n"
     "               'shop.email.*': {'exchange': SHOP, 'routing_key': 'email.send'},\n"
     "               'shop.report.*': {'exchange': SHOP, 'routing_key': 'report.daily'}}\n"
     'print(check_shop_routing(task_queues, task_routes))\n', "matched none of your task_routes"),
    # a router function that returns a routing key as a string
    (_QUEUES + "def router(name, args, kwargs, options, task=None, **kw):\n"
     "    return name.split('.', 1)[1]\n"
     'print(check_shop_routing(task_queues, router))\n', "Celery reads a string as a queue *name*"),
    # a router function with the wrong arguments
    (_QUEUES + "def router(name):\n    return {'exchange': SHOP, 'routing_key': name}\n"
     'print(check_shop_routing(task_queues, router))\n', "router(name, args, kwargs, options"),
    # a key that reaches two queues
    ("shop = Exchange(SHOP, type='topic')\n"
     "task_queues = [Queue(PAYMENTS, shop, routing_key='orders.#'), Queue(EMAILS, shop, routing_key='email.*'),\n"
     "               Queue(REPORTS, shop, routing_key='#')]\n"
     "task_routes = {'shop.orders.*': {'exchange': SHOP, 'routing_key': 'orders.pay'},\n"
     "               'shop.email.*': {'exchange': SHOP, 'routing_key': 'email.send'},\n"
     "               'shop.report.*': {'exchange': SHOP, 'routing_key': 'report.daily'}}\n"
     'print(check_shop_routing(task_queues, task_routes))\n', "every queue its key reaches"),
    # queue names where kombu Queues are expected
    ("task_queues = [PAYMENTS, EMAILS, REPORTS]\ntask_routes = {}\n"
     'print(check_shop_routing(task_queues, task_routes))\n', "not a kombu Queue"),
    # nothing at all
    ('print(check_shop_routing(None, None))\n', "list of kombu Queue objects"),
]

WRONG = [(_HEAD + source, expected) for source, expected in _WRONG]

# Right, and written differently from the solution: one router function, bindings with '*'.
OWN = _HEAD + '''shop = Exchange(SHOP, type='topic')
task_queues = [
    Queue(PAYMENTS, shop, routing_key='orders.*'),
    Queue(EMAILS, shop, bindings=None, routing_key='email.*'),
    Queue(REPORTS, shop, routing_key='report.*'),
]


def shop_router(name, args, kwargs, options, task=None, **kw):
    """shop.<kind>.<what> is published with the key <kind>.<what>."""
    _shop, kind, what = name.split('.')
    return {'exchange': SHOP, 'routing_key': f'{kind}.{what}'}


print(check_shop_routing(task_queues, shop_router))
'''
