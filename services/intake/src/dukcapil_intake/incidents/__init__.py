"""Incidents: dead letters and stalled requests, followed up by the operators (the /incidents API)."""
