#!/usr/bin/env bash
# A real PostgreSQL server for the store/API/editor tests: Debian's `postgresql` package, cluster started on
# loopback, a login role and an empty database made for the tests. Prints the URL on its last line.
# Usage: url=$(bash scripts/postgres.sh | tail -1)
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  echo "postgres.sh: installing Debian's postgresql" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main"' | grep -q .; then
  pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster "$version" main start
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')
psql_() { su postgres -c "psql -qtAX -p $port $*"; }
for _ in $(seq 1 30); do psql_ "-c 'select 1'" >/dev/null 2>&1 && break; sleep 1; done
if [ "$(psql_ "-c \"select 1 from pg_roles where rolname='notedraft'\"")" != 1 ]; then
  psql_ "-c \"create role notedraft login createdb password 'notedraft-test'\""
fi
# The tests make and drop a database each; dropping one may need to end an autovacuum worker inside it.
psql_ "-c 'grant pg_signal_backend to notedraft'" >/dev/null
if [ "$(psql_ "-c \"select 1 from pg_database where datname='notedraft_test'\"")" != 1 ]; then
  psql_ "-c 'create database notedraft_test owner notedraft'"
fi
echo "postgresql://notedraft:notedraft-test@127.0.0.1:${port}/notedraft_test"
