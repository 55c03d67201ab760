#!/usr/bin/env bash
# Run a command against a PostgreSQL primary and its streaming hot standby, both made here and gone after.
#
#   scripts/pg_replica_pair.sh COMMAND [ARGS...]
#
# Makes a throw-away cluster with the server binaries on this machine (initdb, pg_ctl, pg_basebackup -R),
# on two free loopback ports in 55432-55499, a database `kb` on the primary, and a hot standby that
# streams every change of the primary's whole cluster (a database created on the primary, pytest-django's
# test_kb included, appears on the standby under the same name). COMMAND runs with
#   DATABASE_URL=postgres://postgres@127.0.0.1:<primary>/kb
#   DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:<standby>/kb
# and its exit status is this script's. Both servers are stopped and their files removed on any exit
# (success, failure, Ctrl-C). The machine's own PostgreSQL is not touched.
#
# initdb refuses to run as root: as root, the servers run as the `postgres` system user (runuser);
# as anyone else, as that user. PG_BINDIR chooses the binaries (default: the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

PG_BINDIR="${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ ! -x "$PG_BINDIR/initdb" ]; then
  echo "pg_replica_pair: no PostgreSQL server binaries (initdb) found; install postgresql or set PG_BINDIR" >&2
  exit 2
fi

if [ "$(id -u)" = 0 ]; then
  PG_USER=postgres
  as_pg() { runuser -u "$PG_USER" -- "$@"; }
else
  PG_USER="$(id -un)"
  as_pg() { "$@"; }
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_ports=()
for port in $(seq 55432 55499); do
  if port_free "$port"; then free_ports+=("$port"); fi
  [ "${#free_ports[@]}" -eq 2 ] && break
done
if [ "${#free_ports[@]}" -lt 2 ]; then
  echo "pg_replica_pair: no two free ports in 127.0.0.1:55432-55499" >&2
  exit 2
fi
PRIMARY_PORT="${free_ports[0]}"
REPLICA_PORT="${free_ports[1]}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/kb-pg-pair.XXXXXX")"
chmod 700 "$WORK"
[ "$PG_USER" = postgres ] && [ "$(id -u)" = 0 ] && chown postgres: "$WORK"
PRIMARY="$WORK/primary"
REPLICA="$WORK/replica"

cleanup() {
  status=$?
  trap - EXIT INT TERM
  for data in "$REPLICA" "$PRIMARY"; do
    if [ -f "$data/postmaster.pid" ]; then
      as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  done
  if [ "$status" -ne 0 ] && [ -z "${COMMAND_RAN:-}" ]; then
    for log in "$WORK"/*.log; do
      [ -f "$log" ] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
    done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Settings for a disposable test cluster: loopback only, sockets in our folder, no fsync.
server_settings() {
  cat <<EOF

# pg_replica_pair.sh
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$WORK'
fsync = off
full_page_writes = off
wal_level = replica
max_wal_senders = 4
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
EOF
}

echo "pg_replica_pair: primary on 127.0.0.1:$PRIMARY_PORT, hot standby on 127.0.0.1:$REPLICA_PORT ($PG_BINDIR)"
as_pg "$PG_BINDIR/initdb" -D "$PRIMARY" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync \
  >"$WORK/initdb.log" 2>&1
server_settings "$PRIMARY_PORT" | as_pg tee -a "$PRIMARY/postgresql.conf" >/dev/null
as_pg "$PG_BINDIR/pg_ctl" -D "$PRIMARY" -l "$WORK/primary.log" -w -t 60 start >/dev/null

# The standby: a base backup of the running primary, with the replication settings written for it (-R).
as_pg "$PG_BINDIR/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$REPLICA" -R -X stream \
  -c fast >"$WORK/basebackup.log" 2>&1
server_settings "$REPLICA_PORT" | as_pg tee -a "$REPLICA/postgresql.conf" >/dev/null
as_pg "$PG_BINDIR/pg_ctl" -D "$REPLICA" -l "$WORK/replica.log" -w -t 60 start >/dev/null

psql_at() { "$PG_BINDIR/psql" -h 127.0.0.1 -p "$1" -U postgres -d postgres -XtAqc "$2"; }
psql_at "$PRIMARY_PORT" "CREATE DATABASE kb"
# Ready: both accept connections, the standby is in recovery, streams from the primary and has the new database.
for _ in $(seq 1 300); do
  if [ "$(psql_at "$REPLICA_PORT" "SELECT pg_is_in_recovery() AND EXISTS (SELECT FROM pg_database WHERE datname = 'kb')" 2>/dev/null)" = t ] \
    && [ "$(psql_at "$PRIMARY_PORT" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ]; then
    READY=1
    break
  fi
  sleep 0.1
done
if [ -z "${READY:-}" ]; then
  echo "pg_replica_pair: the standby did not start streaming within 30 s" >&2
  exit 1
fi

# For tests of an outage: `$KB_REPLICA_CTL stop` / `$KB_REPLICA_CTL start` stops or starts the standby.
RUNNER=""
[ "$(id -u)" = 0 ] && RUNNER="runuser -u postgres --"
cat >"$WORK/replica-ctl" <<CTL
#!/usr/bin/env bash
set -euo pipefail
case "\${1:-}" in
  stop) exec $RUNNER "$PG_BINDIR/pg_ctl" -D "$REPLICA" -m fast -w -t 60 stop ;;
  start) exec $RUNNER "$PG_BINDIR/pg_ctl" -D "$REPLICA" -l "$WORK/replica.log" -w -t 60 start ;;
  *) echo "usage: \$0 stop|start" >&2; exit 2 ;;
esac
CTL
chmod 755 "$WORK/replica-ctl"
export KB_REPLICA_CTL="$WORK/replica-ctl"

export DATABASE_URL="postgres://postgres@127.0.0.1:$PRIMARY_PORT/kb"
export DATABASE_REPLICA_URL="postgres://postgres@127.0.0.1:$REPLICA_PORT/kb"
COMMAND_RAN=1
# In the background, so that a signal to this script interrupts the wait, stops COMMAND and cleans up.
"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 130' INT
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 143' TERM
set +e
wait "$child"
status=$?
set -e
exit "$status"
