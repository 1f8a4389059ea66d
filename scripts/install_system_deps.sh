#!/usr/bin/env bash
# Install the Debian packages the tests need, only when they are missing:
#   postgresql (server: initdb/pg_ctl under /usr/lib/postgresql/*/bin), chromium (/usr/bin/chromium),
#   Pango (WeasyPrint's text layout).
# Runs `apt-get update` once, and only if something has to be installed.
set -euo pipefail

missing=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
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

$APT install "${missing[@]}" >/dev/null
