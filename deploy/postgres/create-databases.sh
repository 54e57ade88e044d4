#!/bin/sh
# Run by the postgres image on the first start of an empty data volume (/docker-entrypoint-initdb.d): for each
# service a database owned by <service>_owner (the migrations) and used by <service> (the service itself), see
# service-database.sql; and the monitoring role postgres-exporter signs in as. Passwords from the secrets.
set -eu
for service in intake review documents shipping; do
  psql --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
    -v database="$service" -v owner="${service}_owner" -v runtime="$service" \
    -v owner_password="$(cat "/run/secrets/db-$service-owner")" -v runtime_password="$(cat "/run/secrets/db-$service")" \
    -f /etc/dukcapil/service-database.sql
done
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v password="$(cat /run/secrets/db-monitoring)" <<'SQL'
CREATE ROLE monitoring LOGIN PASSWORD :'password' IN ROLE pg_monitor;
SQL
