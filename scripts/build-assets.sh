#!/usr/bin/env bash
# Install the front-end libraries from package-lock.json and copy the files the pages load into
# app/static/vendor/ (gitignored). Safe to run again: it reinstalls only when the lockfile is
# newer than the last install, and copies only files that changed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

modules="node_modules"
stamp="$modules/.cocreate-installed"
vendor="app/static/vendor"

if [[ ! -f "$stamp" || package-lock.json -nt "$stamp" || package.json -nt "$stamp" ]]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "build-assets: npm is not installed; install Node.js 18+ first." >&2
        exit 1
    fi
    echo "build-assets: installing front-end libraries (npm ci)"
    if ! npm ci --no-audit --no-fund; then
        echo "build-assets: npm ci failed; app/static/vendor was not updated." >&2
        exit 1
    fi
    touch "$stamp"
fi

# source (under node_modules)                         destination (under app/static/vendor)
files=(
    "bootstrap/dist/css/bootstrap.min.css"              "bootstrap/bootstrap.min.css"
    "bootstrap/dist/css/bootstrap.rtl.min.css"          "bootstrap/bootstrap.rtl.min.css"
    "bootstrap/dist/js/bootstrap.bundle.min.js"         "bootstrap/bootstrap.bundle.min.js"
    "htmx.org/dist/htmx.min.js"                         "htmx/htmx.min.js"
    "socket.io-client/dist/socket.io.min.js"            "socket.io/socket.io.min.js"
    "bootstrap-icons/font/bootstrap-icons.min.css"      "bootstrap-icons/bootstrap-icons.min.css"
    "bootstrap-icons/font/fonts/bootstrap-icons.woff2"  "bootstrap-icons/fonts/bootstrap-icons.woff2"
    "bootstrap-icons/font/fonts/bootstrap-icons.woff"   "bootstrap-icons/fonts/bootstrap-icons.woff"
)

copied=0
for ((i = 0; i < ${#files[@]}; i += 2)); do
    src="$modules/${files[i]}"
    dest="$vendor/${files[i + 1]}"
    if [[ ! -f "$src" ]]; then
        echo "build-assets: $src is missing; is package-lock.json complete?" >&2
        exit 1
    fi
    if [[ ! -f "$dest" ]] || ! cmp -s "$src" "$dest"; then
        mkdir -p "$(dirname "$dest")"
        cp "$src" "$dest.tmp"
        mv "$dest.tmp" "$dest"
        copied=$((copied + 1))
    fi
done

echo "build-assets: $vendor is up to date ($copied file(s) copied)"
