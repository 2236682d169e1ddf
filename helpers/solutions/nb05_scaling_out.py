# Solution to the exercise in 05_scaling_out: the jobs a killed worker gives back.
# j-01 was acked, so RabbitMQ has forgotten it.  j-02 (in hand) and j-03, j-04 (prefetched,
# waiting their turn) were delivered but never acked: all three come back with redelivered=True.
REDELIVERED = {'j-02', 'j-03', 'j-04'}
print(check_redelivered(REDELIVERED))  # noqa: F821 (defined in the notebook)
