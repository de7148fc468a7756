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

# The browser tests drive Debian's chromium (Playwright without its browser download).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium and CJK fonts from Debian packages…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq chromium fonts-noto-cjk >&2
  elif [ "${CI:-}" = "true" ]; then
    echo "CI: chromium is missing and cannot be installed (not root)" >&2; exit 1
  else
    echo "chromium not available: browser tests will be skipped" >&2
  fi
fi

workers=${PYTEST_WORKERS:-2}
# not exec: the EXIT trap above stops the throwaway cluster (exec'd, pytest replaced the shell
# and every run left a PostgreSQL server behind)
.venv/bin/python -m pytest -n "$workers" "$@"
