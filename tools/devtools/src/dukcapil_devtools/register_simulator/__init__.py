"""A SIAK-like population register of synthetic Lebak residents: `python -m dukcapil_devtools.register_simulator`."""
