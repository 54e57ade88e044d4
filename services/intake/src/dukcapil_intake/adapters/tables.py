"""Only for migrations/env.py, which imports `metadata` from here: the tables live in each feature's
adapters/tables.py now, and dukcapil_intake.schema gathers them. Delete once env.py imports dukcapil_intake.schema."""

from dukcapil_intake.schema import metadata

__all__ = ["metadata"]
