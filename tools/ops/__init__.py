"""Not a runtime package: it makes pytest (importlib mode) name these tests `ops.tests.*`, so that they do not
collide with a service's or the repository's top-level `tests` package in a run over the whole repository."""
