#!/bin/sh
# Runs once, when the docker-compose Postgres volume is first created: pgvector, and the role Cairn
# serves requests as. That role has neither superuser nor BYPASSRLS, so row-level security isolates
# tenants; `cairn db migrate` (run by `cairn serve` at start) grants it access to Cairn's tables.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<EOSQL
CREATE EXTENSION IF NOT EXISTS vector;
CREATE ROLE cairn_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
    PASSWORD '${CAIRN_APP_PASSWORD}';
EOSQL
