"""Exercise data for notebooks/00_setup.ipynb (see tests/exercise_data.py)."""
_HEAD = '# Your answer. To see a solution, replace this cell with: %load solutions.nb00_setup\n'

WRONG = [
    (_HEAD + "MY_URL = 'amqp://student:hunter2@rabbit.school.example/lab'\nprint(check_classroom_url(MY_URL))",
     'the port should be 5672'),
    (_HEAD + "MY_URL = 'amqp://student:hunter2@rabbit.school.example:5672//lab'\nprint(check_classroom_url(MY_URL))",
     "the path should be '/lab'"),
    (_HEAD + "MY_URL = 'rabbit.school.example:5672'\nprint(check_classroom_url(MY_URL))",
     'Hint: amqp://USER:PASSWORD@HOST:PORT/VHOST'),
    (_HEAD + "MY_URL = 'amqp://student:hunter2@rabbit.school.example:port/lab'\nprint(check_classroom_url(MY_URL))",
     'the port should be 5672'),
]

OWN = _HEAD + '''\
user, password, host, port, vhost = 'student', 'hunter2', 'rabbit.school.example', 5672, 'lab'
MY_URL = f'amqp://{user}:{password}@{host}:{port}/{vhost}'
print(check_classroom_url(MY_URL))
'''
