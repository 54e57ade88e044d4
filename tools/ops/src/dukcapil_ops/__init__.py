"""The operators' command line (dukcapil-ops): dead letters, replays and the services' operations endpoints."""
