"""01_topology's exercise as learners get it wrong, and a right answer unlike the solution.

Each source is a whole answer cell, run in the notebook's kernel after the cells above the answer cell;
the check declares the bindings on the broker the notebook runs on and prints one line.
"""

from helpers.course_names import SEED_EXCHANGE  # 01 names its Exchange variable after the exchange

START = '# Your answer. To see a solution, replace this cell with: %load solutions.nb01_topology\n'

# (answer cell, a substring its ❌ line must contain); the most typical mistake first.
WRONG = [
    # '*' where '#' is meant: admin.* needs exactly two words, the keys have three
    (START + """thumbnails = Queue('thumbnails', bindings=[binding(events, routing_key='video.upload.*'),
                                       binding(events, routing_key='image.upload.*')])
eu_events = Queue('eu_events', exchange=events, routing_key='*.*.eu')
security = Queue('security', bindings=[binding(events, routing_key='admin.*'),
                                       binding(events, routing_key='*.login.*')])
print(check_queues([thumbnails, eu_events, security]))
""", "'admin.*': needs exactly 2 words, the key has 3"),
    # a typo: the check names the key that was not matched and the word that differs
    (START + """thumbnails = Queue('thumbnails', bindings=[binding(events, routing_key='video.upload.*'),
                                       binding(events, routing_key='image.uplaod.*')])
eu_events = Queue('eu_events', exchange=events, routing_key='*.*.eu')
security = Queue('security', bindings=[binding(events, routing_key='admin.#'),
                                       binding(events, routing_key='*.login.*')])
print(check_queues([thumbnails, eu_events, security]))
""", "❌ 'image.upload.us' did not reach 'thumbnails' (its binding keys: 'image.uplaod.*': word 2 is 'upload', "
     "the binding needs 'uplaod'"),
    # too broad: '*.upload.*' lets audio in
    (START + """thumbnails = Queue('thumbnails', exchange=events, routing_key='*.upload.*')
eu_events = Queue('eu_events', exchange=events, routing_key='#.eu')
security = Queue('security', bindings=[binding(events, routing_key='admin.#'),
                                       binding(events, routing_key='*.login.*')])
print(check_queues([thumbnails, eu_events, security]))
""", "❌ 'audio.upload.eu' also reached 'thumbnails'"),
    # '*.eu': one word before eu, the keys have two
    (START + """thumbnails = Queue('thumbnails', bindings=[binding(events, routing_key='video.upload.*'),
                                       binding(events, routing_key='image.upload.*')])
eu_events = Queue('eu_events', exchange=events, routing_key='*.eu')
security = Queue('security', bindings=[binding(events, routing_key='admin.#'),
                                       binding(events, routing_key='*.login.*')])
print(check_queues([thumbnails, eu_events, security]))
""", "❌ 'video.upload.eu' did not reach 'eu_events' (its binding keys: '*.eu': needs exactly 2 words"),
    # forgot to bind
    (START + """thumbnails = Queue('thumbnails', bindings=[binding(events, routing_key='video.upload.*'),
                                       binding(events, routing_key='image.upload.*')])
eu_events = Queue('eu_events')
security = Queue('security', bindings=[binding(events, routing_key='admin.#'),
                                       binding(events, routing_key='*.login.*')])
print(check_queues([thumbnails, eu_events, security]))
""", "❌ 'eu_events' has no binding"),
    # a queue name where a Queue belongs
    (START + """thumbnails = Queue('thumbnails', bindings=[binding(events, routing_key='video.upload.*'),
                                       binding(events, routing_key='image.upload.*')])
security = Queue('security', bindings=[binding(events, routing_key='admin.#'),
                                       binding(events, routing_key='*.login.*')])
print(check_queues([thumbnails, 'eu_events', security]))
""", "❌ 'eu_events' is a string"),
    # bound to the seed's exchange instead of `events`
    (START + f"""thumbnails = Queue('thumbnails', bindings=[binding({SEED_EXCHANGE}, routing_key='video.upload.*'),
                                       binding({SEED_EXCHANGE}, routing_key='image.upload.*')])
eu_events = Queue('eu_events', exchange=events, routing_key='*.*.eu')
security = Queue('security', bindings=[binding(events, routing_key='admin.#'),
                                       binding(events, routing_key='*.login.*')])
print(check_queues([thumbnails, eu_events, security]))
""", f"❌ 'thumbnails' is bound to the exchange '{SEED_EXCHANGE}'"),
    # an exchange of its own with the right name but type direct
    (START + """mine = Exchange('events', type='direct')
thumbnails = Queue('thumbnails', bindings=[binding(mine, routing_key='video.upload.*'),
                                       binding(mine, routing_key='image.upload.*')])
eu_events = Queue('eu_events', exchange=mine, routing_key='*.*.eu')
security = Queue('security', bindings=[binding(mine, routing_key='admin.#'), binding(mine, routing_key='*.login.*')])
print(check_queues([thumbnails, eu_events, security]))
""", "has type 'direct'"),
    # exchange= and routing_key= together with bindings=: kombu drops the routing_key
    (START + """thumbnails = Queue('thumbnails', exchange=events, routing_key='video.upload.*',
                   bindings=[binding(events, routing_key='image.upload.*')])
eu_events = Queue('eu_events', exchange=events, routing_key='*.*.eu')
security = Queue('security', bindings=[binding(events, routing_key='admin.#'),
                                       binding(events, routing_key='*.login.*')])
print(check_queues([thumbnails, eu_events, security]))
""", "kombu ignores exchange= and routing_key='video.upload.*'"),
    # a binding with no exchange
    (START + """thumbnails = Queue('thumbnails', bindings=[binding(routing_key='video.upload.*'),
                                       binding(routing_key='image.upload.*')])
eu_events = Queue('eu_events', exchange=events, routing_key='*.*.eu')
security = Queue('security', bindings=[binding(events, routing_key='admin.#'),
                                       binding(events, routing_key='*.login.*')])
print(check_queues([thumbnails, eu_events, security]))
""", "names no exchange"),
    # one queue missing
    (START + """thumbnails = Queue('thumbnails', bindings=[binding(events, routing_key='video.upload.*'),
                                       binding(events, routing_key='image.upload.*')])
eu_events = Queue('eu_events', exchange=events, routing_key='*.*.eu')
print(check_queues([thumbnails, eu_events]))
""", "❌ no Queue named 'security'"),
    # a misspelt queue name
    (START + """thumbnails = Queue('thumbnail', bindings=[binding(events, routing_key='video.upload.*'),
                                      binding(events, routing_key='image.upload.*')])
print(check_queues([thumbnails]))
""", "❌ 'thumbnail' is not one of the exercise queues"),
    # one Queue, not a list; and nothing at all
    (START + "print(check_queues(Queue('eu_events', exchange=events, routing_key='*.*.eu')))\n",
     '❌ give a list of kombu Queues'),
    (START + 'print(check_queues(None))\n', '❌ give a list of kombu Queues'),
    # a wildcard glued to a word: refused before it reaches the broker (kombu's regex would misread it)
    (START + """eu_events = Queue('eu_events', exchange=events, routing_key='*.*.eu*')
print(check_queues([eu_events]))
""", "a wildcard must be a whole word"),
    # not a string as the key
    (START + """eu_events = Queue('eu_events', exchange=events, routing_key=['*', '*', 'eu'])
print(check_queues([eu_events]))
""", 'binding key must be a string'),
]

# Right, and written unlike the solution: one Queue object per binding (kombu binds them all), '#' at the ends.
OWN = START + """thumbnails = [Queue('thumbnails', exchange=events, routing_key=f'{kind}.upload.*')
              for kind in ('video', 'image')]
eu_events = Queue('eu_events', bindings=[binding(events, routing_key='#.eu')])
security = Queue('security', bindings=[binding(events, routing_key=key) for key in ('admin.*.*', '#.login.#')])
print(check_queues([*thumbnails, eu_events, security]))
"""
