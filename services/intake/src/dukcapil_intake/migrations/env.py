from dukcapil_intake.adapters.tables import metadata
from dukcapil_shared.db import run_migrations_in_env

run_migrations_in_env(metadata)
