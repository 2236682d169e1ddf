"""Exercise data for notebooks/05_scaling_out.ipynb (see tests/exercise_data.py)."""
_HEAD = '# Your answer. To see a solution, replace this cell with: %load solutions.nb05_scaling_out\n'


def _answer(value: str) -> str:
    return f'{_HEAD}REDELIVERED = {value}\nprint(check_redelivered(REDELIVERED))'


WRONG = [
    (_answer("{'j-02'}"), 'a prefetched message is delivered but not yet acked'),
    (_answer("{'j-01', 'j-02', 'j-03', 'j-04'}"), 'j-01 was acked'),
    (_answer('set()'), 'your set is empty'),
    (_answer('None'), 'write a set of job ids'),
]

OWN = _HEAD + '''\
REDELIVERED = {f'j-{n:02d}' for n in range(2, 5)}
print(check_redelivered(REDELIVERED))
'''
