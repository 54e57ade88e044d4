"""The agencies' command line: `python -m dukcapil_intake.agencies --help` (cli.py), a composition root of its own."""
