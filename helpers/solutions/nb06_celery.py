# Solution to the exercise in 06_celery: a route that reaches user_queue (and audit_queue) only.
MY_ROUTE = {'exchange': MEDIA.exchange_name, 'routing_key': 'user.notify'}  # noqa: F821 ('user.*': two words)
print(check_notify_route(MY_ROUTE))  # noqa: F821 (defined in the notebook)
