# Solution to the exercise in 01_topology: one binding key per queue.
MY_BINDINGS = {
    'thumbnail_queue': '*.upload',   # exactly two words, the second is "upload"
    'login_queue': '*.login.#',      # one word, "login", then anything (even nothing)
    'eu_queue': '#.eu',              # anything (even nothing), then "eu"
}
print(check_bindings(MY_BINDINGS))  # defined in the self-check cell above
