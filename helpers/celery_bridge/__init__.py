"""The Celery bridge: Celery workers run for the notebook, and their task signals in the course's event log (06_celery).

``workers`` runs Celery's own worker in a thread, or as a process (``python -m helpers.celery_bridge.workers``);
``events`` records Celery's task signals in an ``EventLog``, so every view and reconciliation works for Celery.
Not a lesson: 06 teaches ``task_queues`` and ``task_routes`` (``helpers.celery_app``); this runs them.
"""
