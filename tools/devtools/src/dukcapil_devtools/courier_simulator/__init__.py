"""A JNE-like courier, run as its own process: `python -m dukcapil_devtools.courier_simulator`."""
