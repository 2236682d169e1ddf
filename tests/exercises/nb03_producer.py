"""Exercise data for notebooks/03_producer.ipynb (see tests/exercise_data.py)."""
_HEAD = '# Your answer. To see a solution, replace this cell with: %load solutions.nb03_producer\n'


def _answer(key: str, payload: str) -> str:
    return f'{_HEAD}MY_KEY = {key!r}\nMY_PAYLOAD = {payload!r}\nprint(check_exercise(MY_KEY, MY_PAYLOAD))'


WRONG = [
    (_answer('video.transcode', '{"file": "cat.mp4", "height": 720}'), 'needs three words'),
    (_answer('video.transcode.hd', '{"file": "cat.mp4", "height": "720"}'), '720 without quotes is a number'),
    (_answer('video.transcode.hd', "{'file': 'cat.mp4', 'height': 720}"), 'It says:'),
    (_answer('', '{}'), 'It says:'),
]

OWN = _HEAD + '''\
import json

MY_KEY = 'video.transcode.small'
MY_PAYLOAD = json.dumps({'height': 720, 'file': 'cat.mp4'})
print(check_exercise(MY_KEY, MY_PAYLOAD))
'''
