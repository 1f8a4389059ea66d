#!/usr/bin/env bash
# Run pytest in .venv with the given extra arguments (no path: pytest.ini's testpaths, i.e. tests/).
# pytest exits 5 when it collects no test: report it, but it is not a failure of the run.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests"
    rc=0
fi
exit "$rc"
