#!/usr/bin/env bash
# Install the Debian packages the tests need, only when they are missing:
#   postgresql (server: initdb/pg_ctl under /usr/lib/postgresql/*/bin), mariadb-server (mariadbd,
#   mariadb-install-db: scripts/with_mariadb.sh), chromium (/usr/bin/chromium), Pango (WeasyPrint's text layout).
# Runs `apt-get update` once, and only if something has to be installed.
set -euo pipefail

missing=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi
if ! command -v mariadb-install-db >/dev/null 2>&1 || [ ! -x /usr/sbin/mariadbd ]; then
    missing+=(mariadb-server)
fi
if [ ! -x /usr/bin/chromium ]; then
    missing+=(chromium)
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0'; then
    missing+=(libpango-1.0-0 libpangoft2-1.0-0)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install_system_deps: missing ${missing[*]} and not root (no sudo): install them with apt-get" >&2
        exit 1
    fi
fi

echo "install_system_deps: apt-get install ${missing[*]}"

APT="$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq

# The Debian server package creates and starts a 'main' cluster on 5432 unless told not to
# (as the official postgres image does): the tests start their own throwaway cluster instead.
if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    $APT install postgresql-common >/dev/null
    $SUDO sed -ri 's/^#?\s*(create_main_cluster)\s*=.*$/\1 = false/' /etc/postgresql-common/createcluster.conf
fi

# The Debian MariaDB package starts and enables a system server on 3306 unless service starts are refused:
# refuse them for this install (policy-rc.d, as Docker images do), then disable the unit. The tests start
# their own throwaway server (scripts/with_mariadb.sh).
POLICY=/usr/sbin/policy-rc.d
own_policy=""
if [[ " ${missing[*]} " == *" mariadb-server "* ]] && [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    own_policy=1
    trap '$SUDO rm -f "$POLICY"' EXIT   # removed again even when the install fails
fi

$APT install "${missing[@]}" >/dev/null
if [[ " ${missing[*]} " == *" mariadb-server "* ]] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now mariadb >/dev/null 2>&1 || true
fi
