#!/usr/bin/env bash
# Create .venv if missing and (re)install requirements.txt only when it changed.
# The stamp holds the sha256 of requirements.txt (and of the Python in use), not an mtime,
# so a fresh clone, a `git checkout` or a touched file does not trigger a reinstall by itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=${VENV:-.venv}
REQ=requirements.txt
STAMP="$VENV/.requirements.sha256"

pick_python() {
    if command -v python3.11 >/dev/null 2>&1 && python3.11 -c 'import sys' >/dev/null 2>&1; then
        echo python3.11
    else
        echo python3
    fi
}

if [ ! -x "$VENV/bin/python" ]; then
    PY=$(pick_python)
    echo "setup_venv: creating $VENV with $($PY --version 2>&1)"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    rm -f "$STAMP"
fi

want="$(sha256sum "$REQ" | cut -d' ' -f1) $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    echo "setup_venv: installing $REQ into $VENV"
    # (grep drops pip's notes about local index folders this machine's pip.conf names but lacks;
    #  pipefail keeps pip's own exit code)
    { "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"; } 2>&1 \
        | { grep -v "^WARNING: Location 'file://.*' is ignored" || true; }
    echo "$want" > "$STAMP"
fi
