#!/bin/sh
# Start PostgreSQL in a container: create the cluster in $PGDATA on first start
# (the role and database safecall, password from $POSTGRES_PASSWORD), then run it
# as the postgres user in the foreground.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
PGPORT=${PGPORT:-5432}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD for the safecall role}"
    runuser -u postgres -- "$bin/initdb" -D "$PGDATA" -U postgres --auth-local=peer \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    echo "listen_addresses = '${POSTGRES_LISTEN:-*}'" >>"$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    runuser -u postgres -- "$bin/pg_ctl" -D "$PGDATA" -o "-p $PGPORT -c listen_addresses=''" -w start >/dev/null
    runuser -u postgres -- psql -q -p "$PGPORT" -v ON_ERROR_STOP=1 \
        -v pw="$POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE safecall LOGIN PASSWORD :'pw';
CREATE DATABASE safecall OWNER safecall;
SQL
    runuser -u postgres -- "$bin/pg_ctl" -D "$PGDATA" -w stop >/dev/null
fi
exec runuser -u postgres -- "$bin/postgres" -D "$PGDATA" -p "$PGPORT"
