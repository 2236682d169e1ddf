# Solution to the exercise in 00_setup: the classroom broker's URL.
MY_URL = 'amqp://student:hunter2@rabbit.school.example:5672/lab'
print(check_classroom_url(MY_URL))  # noqa: F821 (defined in the notebook)
