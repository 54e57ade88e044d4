"""The web front end: the citizens' portal, server-rendered, talking only to the services' public HTTP APIs."""
