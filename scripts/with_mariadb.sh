#!/usr/bin/env bash
# Run a command against a throwaway MariaDB server:
#   scripts/with_mariadb.sh CMD [ARGS...]
# Creates a fresh datadir in a temp dir (mariadb-install-db), starts mariadbd on 127.0.0.1 at a free port
# (never assumes 3306 is free) with its socket in the temp dir, creates a 'ch' user and database, exports
# TEST_MARIADB_URL (PyMySQL URL), runs CMD, then stops the server and removes the dir in a trap (also on
# failure or Ctrl-C). Exits with CMD's exit code.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

MARIADBD=$(command -v mariadbd || ls /usr/sbin/mariadbd 2>/dev/null || true)
INSTALL_DB=$(command -v mariadb-install-db || true)
CLIENT=$(command -v mariadb || true)
if [ -z "$MARIADBD" ] || [ -z "$INSTALL_DB" ] || [ -z "$CLIENT" ]; then
    echo "with_mariadb: no MariaDB server (mariadbd, mariadb-install-db) (run scripts/install_system_deps.sh)" >&2
    exit 1
fi

# mariadbd refuses to run as root: run it (and mariadb-install-db) as the mysql user then.
if [ "$(id -u)" -eq 0 ]; then
    AS_MY=(runuser -u mysql --)
else
    AS_MY=()
fi

free_port() {
    local py
    py=$(command -v python3 || command -v python)
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A temp dir outside the work tree, reachable by the mysql user, never in git.
MYTMP=$(mktemp -d "${TMPDIR:-/tmp}/countinghouse-mariadb.XXXXXX")
chmod 700 "$MYTMP"
[ ${#AS_MY[@]} -gt 0 ] && chown mysql: "$MYTMP"
DATA="$MYTMP/data"
SOCK="$MYTMP/mysqld.sock"
PIDFILE="$MYTMP/mysqld.pid"
LOG="$MYTMP/server.log"

cleanup() {
    local rc=$?
    # Ignore further signals while stopping: make, for one, sends a second SIGTERM to its children.
    trap '' INT TERM HUP
    trap - EXIT
    if [ -f "$PIDFILE" ]; then
        local pid
        pid=$(head -n 1 "$PIDFILE" 2>/dev/null || true)
        if [ -n "$pid" ]; then
            kill -TERM "$pid" 2>/dev/null || true                  # by PID, never by name
            for _ in $(seq 1 300); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "$MYTMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"${AS_MY[@]}" "$INSTALL_DB" --no-defaults --datadir="$DATA" --auth-root-authentication-method=normal \
    --skip-test-db >"$MYTMP/install-db.log" 2>&1 || { cat "$MYTMP/install-db.log" >&2; exit 1; }

started=""
for attempt in 1 2 3; do
    PORT=$(free_port)
    # No binary log, no fsync per commit: a throwaway server trades durability for speed.
    "${AS_MY[@]}" "$MARIADBD" --no-defaults --datadir="$DATA" --socket="$SOCK" --pid-file="$PIDFILE" \
        --port="$PORT" --bind-address=127.0.0.1 --log-error="$LOG" --skip-log-bin --skip-name-resolve \
        --innodb-flush-log-at-trx-commit=0 --innodb-buffer-pool-size=64M --max-connections=200 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci >/dev/null 2>&1 &
    server=$!
    for _ in $(seq 1 300); do
        if "$CLIENT" --no-defaults --socket="$SOCK" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
            started=1
            break
        fi
        kill -0 "$server" 2>/dev/null || break   # it exited (port taken, …): try another port
        sleep 0.1
    done
    [ -n "$started" ] && break
    echo "with_mariadb: start on port $PORT failed (attempt $attempt):" >&2
    tail -n 5 "$LOG" >&2 || true
done
[ -n "$started" ] || exit 1

"$CLIENT" --no-defaults --socket="$SOCK" -uroot <<'SQL'
CREATE USER 'ch'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'ch'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE ch CHARACTER SET utf8mb4;
SQL

export TEST_MARIADB_URL="mysql+pymysql://ch@127.0.0.1:$PORT/ch?charset=utf8mb4"
echo "with_mariadb: MariaDB $("$MARIADBD" --version | awk '{print $3}') on 127.0.0.1:$PORT (TEST_MARIADB_URL)"

set +e
"$@"
rc=$?
set -e
exit "$rc"
