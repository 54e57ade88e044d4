"""Staff accounts, sign-in and sessions: the /accounts API, and `python -m dukcapil_intake.accounts --help` (cli.py)."""
