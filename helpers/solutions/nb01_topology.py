# Solution to the exercise in 01_topology: three queues, five bindings, on the topic exchange `events`.
thumbnails = Queue('thumbnails', bindings=[
    binding(events, routing_key='video.upload.*'),  # a video upload from any one region
    binding(events, routing_key='image.upload.*'),  # an image upload from any one region
])
eu_events = Queue('eu_events', exchange=events, routing_key='*.*.eu')  # any three-word key ending in "eu"
security = Queue('security', bindings=[
    binding(events, routing_key='admin.#'),    # everything an admin does
    binding(events, routing_key='*.login.*'),  # every login; admin.login.eu matches both, still one copy
])
print(check_queues([thumbnails, eu_events, security]))  # defined in the self-check cell above
