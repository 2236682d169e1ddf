"""Exercise data for notebooks/02_worker.ipynb (see tests/exercise_data.py)."""
_HEAD = '# Your answer. To see a solution, replace this cell with: %load solutions.nb02_worker\n'


def _answer(handler: str, call: str = 'check_exercise(check_file)') -> str:
    return f'{_HEAD}{handler}\n\n\nprint({call})'


WRONG = [
    (_answer('def check_file(body, delivery):\n    return f"transcoded {body[\'file\']}"'),
     "❌ dead-lettered [], expected ['ex2']"),
    (_answer('def check_file(body, delivery):\n    return None'), '❌'),
    (_answer('def check_file(body, delivery):\n    return 1 / 0'), '❌'),
    (_answer('def check_file(body, delivery):\n    return "ok"', "check_exercise('check_file')"),
     '❌ check_exercise needs your handler function'),
]

OWN = _HEAD + '''\
def check_file(body, delivery):
    name = body.get('file') or ''
    if name == '':
        raise RuntimeError('no file to transcode')
    return 'transcoded ' + name


print(check_exercise(check_file))
'''
