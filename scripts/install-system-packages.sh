#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages kstore needs, only those missing (idempotent, and never
# upgrades a PostgreSQL server that may be running). Runs apt as root, or through sudo.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing() { for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || echo "$pkg"; done; }
apt_install() {
    [ "$#" -eq 0 ] && return 0
    echo "setup: installing $*"
    if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install $(missing python3-venv)

# The PostgreSQL server: keep an installed major version, else the distribution's default.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt_install $(missing postgresql postgresql-contrib)
fi
major=$(ls /usr/lib/postgresql | sort -n | tail -1)
apt_install $(missing "postgresql-$major-pgtap" libtap-parser-sourcehandler-pgtap-perl postgresql-client)

echo "setup: system packages ready (PostgreSQL $major)"
