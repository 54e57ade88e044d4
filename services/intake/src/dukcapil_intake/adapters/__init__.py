"""Not a layer any more (intake is laid out by feature): only tables.py is left here, for migrations/env.py."""
