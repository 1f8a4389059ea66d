#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster:
#   scripts/with_postgres.sh CMD [ARGS...]
# Starts a fresh cluster in a temp dir on 127.0.0.1 at a free port (never assumes 5432 is free),
# waits for pg_isready, exports TEST_POSTGRES_URL (psycopg 3 URL of the 'postgres' database),
# runs CMD, then stops the server and removes the dir in a trap (also on failure or Ctrl-C).
# Exits with CMD's exit code.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    echo "with_postgres: no PostgreSQL server under /usr/lib/postgresql/*/bin (run scripts/install_system_deps.sh)" >&2
    exit 1
fi

# initdb and pg_ctl refuse to run as root: run them as the postgres user then.
if [ "$(id -u)" -eq 0 ]; then
    AS_PG=(runuser -u postgres --)
else
    AS_PG=()
fi

free_port() {
    local py
    py=$(command -v python3 || command -v python)
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A temp dir outside the work tree: the postgres user must be able to reach it (a clone under
# /root would not be), and it must not end up in git.
PGTMP=$(mktemp -d "${TMPDIR:-/tmp}/countinghouse-pg.XXXXXX")
chmod 700 "$PGTMP"
[ ${#AS_PG[@]} -gt 0 ] && chown postgres: "$PGTMP"
DATA="$PGTMP/data"
LOG="$PGTMP/server.log"

cleanup() {
    local rc=$?
    # Ignore further signals while stopping: make, for one, sends a second SIGTERM to its children.
    trap '' INT TERM HUP
    trap - EXIT
    if [ -f "$DATA/postmaster.pid" ]; then
        local pid
        pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)
        if ! "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null 2>&1; then
            [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true   # by PID, never by name
        fi
    fi
    rm -rf "$PGTMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"${AS_PG[@]}" "$PGBIN/initdb" -D "$DATA" -A trust -U postgres -E UTF8 --no-locale >"$PGTMP/initdb.log" 2>&1 \
    || { cat "$PGTMP/initdb.log" >&2; exit 1; }

started=""
for attempt in 1 2 3; do
    PORT=$(free_port)
    # fsync etc. off: a throwaway cluster trades durability for speed.
    if "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null; then
        started=1
        break
    fi
    echo "with_postgres: start on port $PORT failed (attempt $attempt):" >&2
    tail -n 5 "$LOG" >&2 || true
done
[ -n "$started" ] || exit 1

for _ in $(seq 1 100); do
    if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres; then
        break
    fi
    sleep 0.1
done
"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres \
    || { echo "with_postgres: server not ready on port $PORT" >&2; tail -n 20 "$LOG" >&2; exit 1; }

export TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
echo "with_postgres: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (TEST_POSTGRES_URL)"

set +e
"$@"
rc=$?
set -e
exit "$rc"
