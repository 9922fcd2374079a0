#!/usr/bin/env bash
# Run the whole suite twice: on SQLite, then on a throwaway PostgreSQL cluster, both with a
# throwaway Redis server. Extra arguments go to both pytest runs:
#
#   scripts/run-tests.sh                 # what `make test` runs
#   scripts/run-tests.sh -x -k login     # a subset, on both databases
#   SKIP_POSTGRES=1 scripts/run-tests.sh # only the SQLite pass (a quick local loop)
#   BENCH_SMOKE=0 scripts/run-tests.sh   # without the benchmark's T1 smoke run at the end
#
# With CI=true a missing PostgreSQL, Redis or Chromium fails the run; elsewhere it is a warning
# and the tests that need it are skipped. Exits non-zero when either pass fails, including
# when pytest collects no tests (its exit code 5).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTEST=(.venv/bin/python -m pytest)
export PYTHON=.venv/bin/python  # for the free-port snippet in with-*.sh

in_ci() { [[ "${CI:-}" == "true" ]]; }

problems=()
missing() {
    if in_ci; then
        echo "run-tests: error: $1 (CI=true: nothing may be skipped; see scripts/ensure-system-deps.sh)" >&2
        problems+=("$1")
    else
        echo "run-tests: warning: $1; skipping the tests that need it" >&2
    fi
}

command -v chromium >/dev/null || missing "chromium is not installed (browser tests)"
have_redis=yes
scripts/with-redis.sh --check >/dev/null || { have_redis=""; missing "redis-server is not installed"; }
have_postgres=yes
scripts/with-postgres.sh --check >/dev/null || {
    have_postgres=""
    missing "PostgreSQL (initdb, pg_ctl) is not installed"
}
if [[ ${#problems[@]} -gt 0 ]]; then
    exit 1
fi

# Each pass gets a fresh Redis server (no rate-limit counters carried over); without
# redis-server the passes run without one and the Redis tests skip themselves.
with_redis=()
if [[ -n "$have_redis" ]]; then
    with_redis=(scripts/with-redis.sh)
fi

elapsed() { awk -v start="$1" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", now - start }'; }

run_pass() {
    local name=$1
    shift
    local start status=0
    start=$EPOCHREALTIME
    echo
    echo "=== run-tests: $name ==="
    "$@" || status=$?
    if [[ $status -eq 5 ]]; then
        echo "run-tests: $name: pytest collected no tests (exit 5): that is a failure" >&2
    elif [[ $status -ne 0 ]]; then
        echo "run-tests: $name: FAILED (exit $status)" >&2
    fi
    echo "=== run-tests: $name: exit $status, $(elapsed "$start") ==="
    return "$status"
}

sqlite_status=0
postgres_status=0
# Ctrl+C reaches pytest too, which stops with its own status; do not start another pass then.
interrupted=""
trap 'interrupted=yes' INT TERM
stop_if_interrupted() {
    if [[ -n "$interrupted" ]]; then
        echo "run-tests: interrupted" >&2
        exit 130
    fi
}

run_pass "SQLite" env -u TEST_DATABASE_URL "${with_redis[@]}" "${PYTEST[@]}" "$@" \
    || sqlite_status=$?
stop_if_interrupted

if [[ -n "${SKIP_POSTGRES:-}" ]]; then
    if in_ci; then
        echo "run-tests: error: SKIP_POSTGRES is not allowed with CI=true" >&2
        exit 1
    fi
    echo "run-tests: SKIP_POSTGRES is set: not running the PostgreSQL pass" >&2
elif [[ -n "$have_postgres" ]]; then
    run_pass "PostgreSQL" scripts/with-postgres.sh "${with_redis[@]}" "${PYTEST[@]}" "$@" \
        || postgres_status=$?
    stop_if_interrupted
fi

# The benchmark's smoke run (make bench TIER=T1 on SQLite, about two minutes): it fails only
# when requests fail, never on speed. Its results go to bench/.work/, not bench/results/.
# BENCH_SMOKE=0 skips it.
bench_status=0
run_bench=""
if [[ "${BENCH_SMOKE:-1}" != "0" ]]; then
    if command -v wrk >/dev/null; then
        run_bench=yes
        run_pass "Bench smoke (T1, SQLite)" env -u TEST_DATABASE_URL \
            BENCH_RESULTS_DIR=bench/.work/smoke-results \
            .venv/bin/python -m bench.run --tier T1 --db sqlite || bench_status=$?
        stop_if_interrupted
    elif in_ci; then
        echo "run-tests: error: wrk is not installed (bench smoke run; see scripts/ensure-system-deps.sh)" >&2
        bench_status=1
    else
        echo "run-tests: warning: wrk is not installed; skipping the bench smoke run" >&2
    fi
fi

echo
echo "run-tests: SQLite pass: $([[ $sqlite_status -eq 0 ]] && echo passed || echo "FAILED ($sqlite_status)")"
if [[ -n "$have_postgres" && -z "${SKIP_POSTGRES:-}" ]]; then
    echo "run-tests: PostgreSQL pass: $([[ $postgres_status -eq 0 ]] && echo passed || echo "FAILED ($postgres_status)")"
else
    echo "run-tests: PostgreSQL pass: skipped"
fi
if [[ -n "$run_bench" ]]; then
    echo "run-tests: bench smoke: $([[ $bench_status -eq 0 ]] && echo passed || echo "FAILED ($bench_status)")"
elif [[ $bench_status -ne 0 ]]; then
    echo "run-tests: bench smoke: FAILED (wrk missing)"
else
    echo "run-tests: bench smoke: skipped"
fi
[[ $sqlite_status -eq 0 && $postgres_status -eq 0 && $bench_status -eq 0 ]]
