#!/bin/sh
# First start of the postgres container: the seed's roles and extensions.
#   screenplay_user  the schema owner (migrations, DBA work, maintenance)
#   screenplay_app   the server's role, under row-level security
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v owner_password="$DB_PASSWORD" -v app_password="$APP_DB_PASSWORD" <<'EOSQL'
CREATE ROLE screenplay_user LOGIN CREATEROLE PASSWORD :'owner_password';
CREATE ROLE screenplay_app LOGIN NOINHERIT PASSWORD :'app_password';
ALTER DATABASE screenplay_db OWNER TO screenplay_user;
-- Only the owner and the server connect: PUBLIC may not (a role that can
-- connect can NOTIFY on the database; grant CONNECT to any other role that needs it).
REVOKE CONNECT ON DATABASE screenplay_db FROM PUBLIC;
GRANT CONNECT ON DATABASE screenplay_db TO screenplay_app;
-- Every session's statistics for connection_stats and slow_queries.
GRANT pg_monitor TO screenplay_user;
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
EOSQL
