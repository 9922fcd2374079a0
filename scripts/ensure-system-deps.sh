#!/usr/bin/env bash
# Make sure the programs the test suite drives are installed: PostgreSQL (initdb, pg_ctl),
# Redis (redis-server), Chromium (the browser tests) and wrk (the benchmark smoke run).
#
# Installs only what is missing, with apt-get, and only when allowed to (root, or passwordless
# sudo). When everything is present it does nothing and takes no time. When something is
# missing and cannot be installed: with CI=true that is an error; otherwise a warning, and
# scripts/run-tests.sh skips the tests that need it.
set -euo pipefail
cd "$(dirname "$0")/.."

in_ci() { [[ "${CI:-}" == "true" ]]; }

missing=()
scripts/with-postgres.sh --check >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v chromium >/dev/null || missing+=(chromium)
command -v wrk >/dev/null || missing+=(wrk)

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $EUID -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    message="missing ${missing[*]}, and installing needs root or passwordless sudo"
    if in_ci; then
        echo "ensure-system-deps: error: $message" >&2
        exit 1
    fi
    echo "ensure-system-deps: warning: $message; the tests that need them will be skipped" >&2
    echo "ensure-system-deps: install them with: sudo apt-get install ${missing[*]}" >&2
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "ensure-system-deps: missing ${missing[*]} and there is no apt-get; install them by hand" >&2
    in_ci && exit 1
    exit 0
fi

echo "ensure-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    # The tests start their own throwaway clusters; Debian would otherwise create and start a
    # "main" cluster on port 5432 that nothing uses. (`pg_createcluster 15 main` makes one later.)
    "${sudo[@]}" mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" \
        | "${sudo[@]}" tee /etc/postgresql-common/createcluster.d/cocreate-tests.conf >/dev/null
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Check again: a package that installed but put its programs elsewhere is still a failure.
still_missing=()
scripts/with-postgres.sh --check >/dev/null 2>&1 || still_missing+=(postgresql)
command -v redis-server >/dev/null || still_missing+=(redis-server)
command -v chromium >/dev/null || still_missing+=(chromium)
command -v wrk >/dev/null || still_missing+=(wrk)
if [[ ${#still_missing[@]} -gt 0 ]]; then
    echo "ensure-system-deps: ${still_missing[*]} still missing after apt-get install" >&2
    in_ci && exit 1
fi
exit 0
