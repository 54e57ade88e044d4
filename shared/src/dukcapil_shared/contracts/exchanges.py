"""The exchanges events travel on, by name: part of the contract with the services and the agencies (their
declarations, with the broker library, are in messaging/topology.py)."""

EVENTS = "dukcapil.events"
"""The services' domain events, for the services only."""
PUBLIC = "dukcapil.public"
"""Events for agencies, identity numbers masked."""
IDENTIFIED_PUBLIC = "dukcapil.public.identified"
"""Events for agencies, identity numbers in full, for the agencies entitled to them."""
