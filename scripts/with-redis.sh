#!/usr/bin/env bash
# Run a command with a throwaway Redis server, then stop the server.
#
#   scripts/with-redis.sh .venv/bin/pytest -m redis
#   scripts/with-redis.sh --check      # prints the redis-server path, or fails
#
# The command sees TEST_REDIS_URL=redis://127.0.0.1:PORT/0. The server keeps nothing on disk,
# listens on a free port and is stopped even when the command fails or is interrupted; the
# script exits with the command's status.
set -euo pipefail

if [[ "${1:-}" == "--check" ]]; then
    command -v redis-server
    exit
fi
if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARG...] | --check" >&2
    exit 2
fi
if ! command -v redis-server >/dev/null; then
    echo "with-redis: redis-server not found; run scripts/ensure-system-deps.sh" >&2
    exit 127
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/cocreate-redis.XXXXXX")
port=$("${PYTHON:-python3}" -c \
    'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
    if [[ -f "$dir/redis.pid" ]]; then
        local pid
        pid=$(<"$dir/redis.pid")
        kill "$pid" 2>/dev/null || true
        # Wait (at most 5 s) so no server outlives the script. Its parent is init, which may
        # reap it late: a zombie counts as stopped.
        for _ in $(seq 100); do
            [[ -r /proc/$pid/stat && $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) != Z ]] || break
            sleep 0.05
        done
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"

# Daemonized redis-server returns before it accepts connections.
ready=""
for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && [[ -f "$dir/redis.pid" ]]; then
        ready=yes
        break
    fi
    sleep 0.05
done
if [[ -z "$ready" ]]; then
    echo "with-redis: redis-server did not start on 127.0.0.1:$port" >&2
    cat "$dir/redis.log" >&2 || true
    exit 1
fi

export TEST_REDIS_URL="redis://127.0.0.1:$port/0"
echo "with-redis: Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$port" >&2

status=0
"$@" || status=$?
exit "$status"
