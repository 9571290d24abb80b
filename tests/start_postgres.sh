#!/usr/bin/env bash
# A local PostgreSQL server for the tests, from Debian's postgresql package (installed when
# missing; run as root). Prints the URL of a role that may create databases:
#   export VMR_TEST_POSTGRES=$(bash tests/start_postgres.sh)
set -euo pipefail

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
if [ -z "$(pg_lsclusters --no-header)" ]; then  # the package made none (no locale, say)
    pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -1)" main >&2
fi
read -r version cluster port status _ < <(pg_lsclusters --no-header | head -1)
if [ "$status" != online ]; then
    pg_ctlcluster "$version" "$cluster" start >&2
fi

psql_admin() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_admin -c "DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vmr') THEN
        CREATE ROLE vmr LOGIN CREATEDB PASSWORD 'vmr';
    END IF; END \$\$;"
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'vmr'")" ]; then
    psql_admin -c "CREATE DATABASE vmr OWNER vmr"
fi
echo "postgresql+psycopg://vmr:vmr@127.0.0.1:$port/vmr"
