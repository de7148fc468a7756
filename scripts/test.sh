#!/usr/bin/env bash
# The whole test suite: SQLite always, PostgreSQL on a throwaway cluster.
# On CI (CI=true) a PostgreSQL that cannot be started is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${ZHIKU_TEST_POSTGRES_URL:-}" ]; then
  pgdir=$(mktemp -d /tmp/zhiku-pg.XXXXXX)
  chmod 755 "$pgdir"
  trap 'scripts/pg-throwaway.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
  if url=$(scripts/pg-throwaway.sh start "$pgdir"); then
    export ZHIKU_TEST_POSTGRES_URL="$url"
    echo "PostgreSQL test server: $url"
  elif [ "${CI:-}" = "true" ]; then
    echo "CI: could not start PostgreSQL" >&2; exit 1
  else
    echo "PostgreSQL not available: postgres tests will be skipped" >&2
  fi
fi

workers=${PYTEST_WORKERS:-2}
exec .venv/bin/python -m pytest -n "$workers" "$@"
