from dukcapil_shared.db import run_migrations_in_env
from dukcapil_shipping.adapters.tables import metadata

run_migrations_in_env(metadata)
