"""Stand-ins for the outside world that notices go to, for development and tests: an SMTP sink and an SMS
gateway simulator. They keep what they receive (the last few hundred messages) and show it at `GET /messages`.

They stand for a mail server and an SMS company, so they share no code with intake's adapters: only the
protocols (SMTP; a JSON POST `{to, message}` with an API key header).
"""
