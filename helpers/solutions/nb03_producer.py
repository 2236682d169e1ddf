# Solution to the exercise in 03_producer: a 720p transcode request for cat.mp4, published through the panel.
MY_KEY = 'video.transcode.hd'                   # three words, the first two "video.transcode"
MY_PAYLOAD = '{"file": "cat.mp4", "height": 720}'  # 720 without quotes: a JSON number
print(check_exercise(MY_KEY, MY_PAYLOAD))  # noqa: F821 (defined in the notebook)
