"""The exercises' self-checks: run the learner's answer on the broker, then say ✅, or ❌ with a hint (05_scaling_out).

Beside ``solutions``: a check is the exercise's machinery, not a lesson; ``scaling`` checks 05's worker
script, ``celery_routing`` 06's ``task_queues``/``task_routes``.
"""
