"""Development stand-ins for the outside systems, never deployed to an office:

- `python -m dukcapil_devtools.courier_simulator`: the courier simulator (JNE API shape), port 8010;
- `python -m dukcapil_devtools.register_simulator`: the population register (SIAK lookup shape), port 8012;
- `python -m dukcapil_devtools.message_sinks`: the SMTP sink (port 8025) and the SMS gateway simulator (8011).
"""
