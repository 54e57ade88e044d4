"""The agencies' command line: `python -m dukcapil_intake.agencies --help` (entrypoints/agency_cli.py)."""
