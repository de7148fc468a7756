#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1 for the test suite.
#   scripts/pg-throwaway.sh start DIR   -> prints the server URL on stdout
#   scripts/pg-throwaway.sh stop DIR
#   scripts/pg-throwaway.sh pause DIR    -> stops the server, keeps its data (database-down drills)
#   scripts/pg-throwaway.sh resume DIR   -> starts it again on the same port
# Installs Debian's postgresql package when no server binaries are found and we are root.
# The cluster is tuned for tests (fsync off): never point it at real data.
set -euo pipefail

cmd=${1:?start|stop}; dir=${2:?data directory}

find_bin() {
  local b
  for b in "$(command -v "$1" 2>/dev/null || true)" /usr/lib/postgresql/*/bin/"$1"; do
    [ -n "$b" ] && [ -x "$b" ] && { echo "$b"; return 0; }
  done
  return 1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  if ! find_bin initdb >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing postgresql from Debian packages…" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
    else
      echo "no PostgreSQL server binaries found" >&2; exit 1
    fi
  fi
  initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_owner "$initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || as_owner "$initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1
  echo "$port" >"$dir/port"
  as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2
  echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  ;;
pause)
  pg_ctl=$(find_bin pg_ctl)
  as_owner "$pg_ctl" -D "$dir/data" -m fast -w stop >&2
  ;;
resume)
  pg_ctl=$(find_bin pg_ctl); port=$(cat "$dir/port")
  as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2
  ;;
stop)
  pg_ctl=$(find_bin pg_ctl) || exit 0
  [ -d "$dir/data" ] && as_owner "$pg_ctl" -D "$dir/data" -m immediate stop >&2 || true
  ;;
*) echo "usage: $0 start|stop|pause|resume DIR" >&2; exit 2 ;;
esac
