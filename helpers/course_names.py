"""The course's names in one file: exchanges, queues, binding keys, panel buttons, full-run events (01_topology).

A teacher adapts the course here, and only here: ``helpers.topology`` builds ``SEED`` and ``MEDIA`` from
these values, the demo, the full run, the panels of 03 and 04, the self-checks and the tests read them.
To rename a name everywhere (this file and every notebook cell that spells it) run, from the course folder,
``.venv/bin/python tools/names.py --rename old=new``; ``tools/names.py`` alone lists those cells.
``helpers.topology`` checks these values when it is imported (``check_course_names``): a mistake raises
``CourseNamesError``, whose message says what to edit in this file.
"""
from __future__ import annotations

__all__ = ['FILE', 'CourseNamesError', 'VIDEO_QUEUE', 'AUDIT_QUEUE', 'IMAGE_QUEUE', 'AUDIO_QUEUE',
           'THUMBNAIL_QUEUE', 'USER_QUEUE', 'SEED_EXCHANGE', 'SEED_BINDINGS', 'SEED_HANDLERS', 'SEED_BUTTONS',
           'MEDIA_EXCHANGE', 'MEDIA_BINDINGS', 'MEDIA_EVENTS', 'MEDIA_BUTTONS']

#: Where a teacher edits the course's names (errors name it).
FILE = 'helpers/course_names.py'

# -- queues that code and tests refer to by role -------------------------------------------------------

VIDEO_QUEUE = 'video_queue'  # video events: the seed's transcoder (01-03) and the media platform's (04)
AUDIT_QUEUE = 'audit_queue'  # every event ('#'): the audit trail, in both topologies
IMAGE_QUEUE = 'image_queue'
AUDIO_QUEUE = 'audio_queue'
THUMBNAIL_QUEUE = 'thumbnail_queue'  # uploads of videos and images
USER_QUEUE = 'user_queue'

# -- 01-03: the seed tutorial's topic exchange ---------------------------------------------------------

SEED_EXCHANGE = 'media_exchange'
#: (queue, binding key) pairs; a queue appears once per binding key.
SEED_BINDINGS: tuple[tuple[str, str], ...] = ((VIDEO_QUEUE, 'video.#'), (AUDIT_QUEUE, '#'))
#: The handler the demo (python -m helpers.demo) gives each seed queue: 'transcode' or 'audit'.
SEED_HANDLERS: dict[str, str] = {VIDEO_QUEUE: 'transcode', AUDIT_QUEUE: 'audit'}
#: 03's control panel: one button per routing key.
SEED_BUTTONS: tuple[str, ...] = ('video.upload', 'user.login')

# -- 04: the media platform ------------------------------------------------------------------------------

MEDIA_EXCHANGE = 'media_events'
MEDIA_BINDINGS: tuple[tuple[str, str], ...] = (
    (VIDEO_QUEUE, 'video.#'),
    (IMAGE_QUEUE, 'image.#'),
    (AUDIO_QUEUE, 'audio.#'),
    (THUMBNAIL_QUEUE, 'video.upload.*'),
    (THUMBNAIL_QUEUE, 'image.upload.*'),
    (USER_QUEUE, 'user.*'),
    (AUDIT_QUEUE, '#'),
)
#: The full run's routing keys and how often each occurs (weights); every queue needs at least one key.
MEDIA_EVENTS: tuple[tuple[str, int], ...] = (
    ('video.upload.hd', 3), ('video.upload.sd', 2), ('video.transcode.done', 2),
    ('image.upload.png', 3), ('image.upload.jpeg', 3), ('image.resize.done', 2),
    ('audio.upload.mp3', 2), ('audio.normalize.done', 1),
    ('user.login', 3), ('user.signup', 1), ('user.password_reset', 1),
)
#: 04's control panel: one button per routing key.
MEDIA_BUTTONS: tuple[str, ...] = ('video.upload.hd', 'image.upload.png', 'audio.upload.mp3', 'user.login')


# -- errors ---------------------------------------------------------------------------------------------


class CourseNamesError(ValueError):
    """A mistake in helpers/course_names.py; the message says what to edit there."""
