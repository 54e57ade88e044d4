-- One service's database and its two roles; run once by psql with these variables (create-databases.sh does it):
--   database          the database's name (the service's)
--   owner             owns the database and everything in it: the migrations run as this role, and only they
--   runtime           the role the service connects as: it reads and writes rows (SELECT, INSERT, UPDATE, DELETE,
--                     sequences), and can neither create, alter nor drop a table, a trigger or a function; so
--                     review's append-only audit triggers stay whatever the service's password falls to
--   owner_password, runtime_password
\set ON_ERROR_STOP on

CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"runtime" LOGIN PASSWORD :'runtime_password';
CREATE DATABASE :"database" OWNER :"owner";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO :"runtime";

\connect :"database"
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"runtime";
-- What the owner creates from now on (each migration) is granted as it is created.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"runtime";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"runtime";
