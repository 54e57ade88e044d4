from dukcapil_shared.db import run_migrations_in_env

from dukcapil_documents.adapters.tables import metadata

run_migrations_in_env(metadata)
