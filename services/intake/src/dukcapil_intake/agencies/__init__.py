"""Agencies that subscribe to events, and the public event feed they get: `python -m dukcapil_intake.agencies --help`
(cli.py, a composition root of its own)."""
