"""Exercise data for notebooks/06_celery.ipynb (see tests/exercise_data.py)."""
_HEAD = '# Your answer. To see a solution, replace this cell with: %load solutions.nb06_celery\n'


def _answer(key: str) -> str:
    route = f"{{'exchange': MEDIA.exchange_name, 'routing_key': {key!r}}}"
    return f'{_HEAD}MY_ROUTE = {route}\nprint(check_notify_route(MY_ROUTE))'


WRONG = [
    (_answer('user.notify.email'), "Hint: 'user.*' matches two words"),
    (_answer('notify.user'), '❌'),
    (_answer('user.*'), '❌'),
    (_answer(''), "the route needs a 'routing_key'"),
]

OWN = _HEAD + '''\
MY_ROUTE = dict(exchange=MEDIA.exchange_name, routing_key='.'.join(['user', 'email']))
print(check_notify_route(MY_ROUTE))
'''
