"""Kombu Routing Lab: the small modules the course notebooks import.

Each module names the notebook that introduces it.  The views (widgets and pictures) live in
``helpers.views``: nothing else here imports ipywidgets.  ``helpers.checks`` holds the exercises' self-checks,
``helpers.celery_bridge`` the Celery workers 06 runs and their task signals in the event log.
"""

__version__ = '0.1.0'
