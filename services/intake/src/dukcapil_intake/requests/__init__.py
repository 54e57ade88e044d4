"""Requests: the citizen's and the counter's requests (catalogue, checks, history, access codes, scans, e-KTP recording
bookings), the handlers, the HTTP API and the consumers that follow the other stages."""
