# Solution to the exercise in 03_producer: a 720p transcode request for cat.mp4, published from the panel.
MY_KEY = 'video.transcode.hd'
MY_PAYLOAD = '{"file": "cat.mp4", "height": 720}'

panel.last_receipt = None  # noqa: F821 (panel and check_exercise are defined in the notebook)
panel.key_box.value = MY_KEY  # noqa: F821
panel.payload_box.value = MY_PAYLOAD  # noqa: F821
panel.publish_button.click()  # noqa: F821
attempt = panel.last_receipt  # noqa: F821
print(panel.message)  # noqa: F821
print(check_exercise(attempt))  # noqa: F821
