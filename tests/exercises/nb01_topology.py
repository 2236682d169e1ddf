"""Exercise data for notebooks/01_topology.ipynb (see tests/exercise_data.py)."""
_HEAD = '# Your answer. To see a solution, replace this cell with: %load solutions.nb01_topology\n'


def _answer(bindings: str) -> str:
    return f'{_HEAD}MY_BINDINGS = {bindings}\nprint(check_bindings(MY_BINDINGS))'


WRONG = [
    (_answer("{'thumbnail_queue': '#.upload', 'login_queue': '*.login.#', 'eu_queue': '#.eu'}"), "'upload' reaches"),
    (_answer("{'thumbnail_queue': '*.upload', 'login_queue': '#.login.#', 'eu_queue': '#.eu'}"), "'login' reaches"),
    (_answer("{'thumbnail_queue': '*.upload', 'login_queue': '*.login.#', 'eu_queue': '*.eu'}"),
     "'user.login.eu' reaches"),
    (_answer("{'thumbnail_queue': '*.upload', 'login_queue': '*.login*', 'eu_queue': '#.eu'}"), '❌'),
    (_answer("{'thumbnail_queue': '*.upload', 'login_queue': None, 'eu_queue': '#.eu'}"), '❌'),
    (_answer("{'thumbnail_queue': '*.upload', 'login_queue': '*.login.#'}"), 'one binding key for each of'),
    (_answer('None'), 'one binding key for each of'),
    (_answer("['*.upload', '*.login.#', '#.eu']"), 'one binding key for each of'),
]

OWN = _HEAD + '''\
MY_BINDINGS = dict(thumbnail_queue='*.upload', eu_queue='#.eu')
MY_BINDINGS['login_queue'] = '*.login.#'
print(check_bindings(MY_BINDINGS))
'''
