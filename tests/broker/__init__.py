"""Broker tests: memory://, RabbitMQ and Redis, worker processes and command lines, faults and soak."""
