#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster, then stop and delete the cluster.
#
#   scripts/with-postgres.sh .venv/bin/pytest tests/test_migrations.py
#   scripts/with-postgres.sh --check      # prints the PostgreSQL bin folder, or fails
#
# The command sees TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/cocreate_test.
# The cluster lives in a temporary folder on a free port and never touches a developer's own
# cluster. It is stopped even when the command fails or is interrupted; the script exits with
# the command's status.
set -euo pipefail

# initdb and pg_ctl are on PATH on some machines; a plain Debian install keeps them in the
# versioned folder instead (newest version wins).
pg_bindir() {
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        # Resolve symlinks: createdb lives next to the real pg_ctl.
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    local dir
    dir=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
        echo "$dir"
        return 0
    fi
    return 1
}

if [[ "${1:-}" == "--check" ]]; then
    pg_bindir
    exit
fi
if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARG...] | --check" >&2
    exit 2
fi

if ! bindir=$(pg_bindir); then
    echo "with-postgres: PostgreSQL (initdb, pg_ctl) not found; run scripts/ensure-system-deps.sh" >&2
    exit 127
fi

free_port() {
    "${PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# initdb refuses to run as root: the cluster belongs to the postgres user then. (runuser is in
# /usr/sbin, which is not always on PATH.)
runuser=$(PATH="$PATH:/usr/sbin:/sbin" command -v runuser || true)
if [[ $EUID -eq 0 ]] && { [[ -z "$runuser" ]] || ! id postgres >/dev/null 2>&1; }; then
    echo "with-postgres: as root, initdb must run as the postgres user: needs runuser and that user" >&2
    exit 1
fi
as_owner() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && "$runuser" -u postgres -- "$@")
    else
        "$@"
    fi
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/cocreate-pg.XXXXXX")
if [[ $EUID -eq 0 ]]; then chown postgres: "$dir"; fi
port=$(free_port)
started=""

cleanup() {
    if [[ -n "$started" ]]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" stop -m fast -w >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail_with_log() {
    echo "with-postgres: $1" >&2
    [[ -f "$dir/server.log" ]] && tail -n 30 "$dir/server.log" >&2
    exit 1
}

# --no-sync, fsync=off and friends: a throwaway cluster needs no durability, and this is
# what keeps set-up and the suite fast.
as_owner "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-locale \
    --no-sync --no-instructions >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; fail_with_log "initdb failed"; }
started=yes
as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || fail_with_log "pg_ctl start failed"
as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres cocreate_test \
    || fail_with_log "createdb failed"

export TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$port/cocreate_test"
echo "with-postgres: PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port" >&2

status=0
"$@" || status=$?
exit "$status"
