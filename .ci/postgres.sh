#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the journal tests and print its DSN on stdout.
#
# Uses the distribution's packages: installs `postgresql` with apt-get when no server
# binaries are found (unless BANDCTL_PG_NO_INSTALL=1), then runs a private cluster owned
# by the `postgres` user (the server refuses to run as root) in BANDCTL_PG_DIR
# (default /tmp/bandctl-pg), listening on 127.0.0.1 only, port BANDCTL_PG_PORT (default:
# a free port). Idempotent: a cluster already running there is reused. Typical use:
#
#   export BANDCTL_TEST_POSTGRES_DSN="$(bash .ci/postgres.sh)"
#
# Stop it with:  bash .ci/postgres.sh stop
# Diagnostics go to stderr; stdout carries only the DSN.
set -euo pipefail

PG_DIR="${BANDCTL_PG_DIR:-/tmp/bandctl-pg}"
DATA="$PG_DIR/data"
SOCKETS="$PG_DIR/sockets"
ROLE=bandctl
DATABASE=bandctl_test
PASSWORD=bandctl-test-only

log() { printf 'postgres.sh: %s\n' "$*" >&2; }

find_bindir() {
    local dir
    for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Run a command as the cluster's owner (root when we are not root ourselves is not needed).
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

BINDIR="$(find_bindir || true)"

if [ "${1:-}" = "stop" ]; then
    if [ -n "$BINDIR" ] && [ -f "$DATA/postmaster.pid" ]; then
        as_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >&2
    fi
    exit 0
fi

if [ -z "$BINDIR" ]; then
    if [ "${BANDCTL_PG_NO_INSTALL:-}" = 1 ]; then
        log "no PostgreSQL server binaries under /usr/lib/postgresql and installing is disabled"
        exit 2
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        log "no PostgreSQL server binaries, and apt-get as root is not available to install them"
        exit 2
    fi
    log "installing postgresql from the distribution's packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
    BINDIR="$(find_bindir)" || { log "postgresql installed but no server binaries found"; exit 2; }
fi

if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir "$PG_DIR" --shell /usr/sbin/nologin postgres
fi

mkdir -p "$PG_DIR" "$SOCKETS"
if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_DIR" "$SOCKETS"
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
    pwfile="$(mktemp)"
    printf '%s\n' "$PASSWORD" >"$pwfile"
    chmod 644 "$pwfile"
    as_owner "$BINDIR/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >&2 \
        || as_owner "$BINDIR/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            --pwfile="$pwfile" -E UTF8 --no-locale >&2
    rm -f "$pwfile"
fi

if as_owner "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    PORT="$(sed -n '4p' "$DATA/postmaster.pid")"
    log "reusing the server already running on port $PORT"
else
    PORT="${BANDCTL_PG_PORT:-$(free_port)}"
    as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $SOCKETS -c fsync=off" start >&2 \
        || { tail -n 20 "$PG_DIR/server.log" >&2 || true; log "the server did not start on port $PORT (its log is above)"; exit 1; }
fi

psql_admin() {
    as_owner "$BINDIR/psql" -h "$SOCKETS" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
    psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >&2
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]; then
    psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE" >&2
fi

printf 'postgresql://%s:%s@127.0.0.1:%s/%s\n' "$ROLE" "$PASSWORD" "$PORT" "$DATABASE"
