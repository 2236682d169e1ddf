# Solution to the exercise in 02_worker: dead-letter uploads without a file name.
def check_file(body, delivery):
    """The video_queue handler: refuse an empty file name by raising; the worker dead-letters it."""
    if not body.get('file'):
        raise ValueError('the upload has no file name')
    return f"transcoded {body['file']}"


print(check_exercise(check_file))  # defined in the self-check cell above
