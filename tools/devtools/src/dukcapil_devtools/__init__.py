"""Development stand-ins for the outside systems: the courier simulator (JNE API shape) and the message sinks (SMTP and SMS gateway); never deployed to an office."""
