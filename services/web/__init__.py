"""Not a runtime package: it makes pytest (importlib mode) name these tests `web.tests.*`, so that they
do not collide with another service's top-level `tests` package in a run over the whole repository."""
